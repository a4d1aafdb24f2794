import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WireError } from '../../validators/types';
import {
  DEFAULT_LIMITS,
  ERRORS,
  IrcCodec,
  IrcCodecPair,
  encodeMessage,
  escapeTagValue,
  protocol,
  unescapeTagValue,
  validateLine,
  type IrcFrame,
  type IrcLimits,
} from '../../validators/irc';
import { corpus } from '../support/corpus/irc';
import { OTHER_SPLITS, caught, splitBuffer, type Split } from '../support/wire';

type Dir = 'toServer' | 'toClient';

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
/** A buffer with its own memory (not a slice of Node's shared pool). */
function own(s: string): Buffer {
  const b = utf8(s);
  const out = Buffer.alloc(b.length);
  b.copy(out);
  return out;
}

interface Snap {
  kind: string;
  raw: string;
  tags: [string, string][];
  prefix: { raw: string; name: string; user: string | null; host: string | null } | null;
  command: string;
  params: string[];
}

function snap(f: IrcFrame): Snap {
  return {
    kind: f.kind,
    raw: f.raw.toString('latin1'),
    tags: [...f.tags],
    prefix: f.prefix === null ? null : { ...f.prefix },
    command: f.command,
    params: [...f.params],
  };
}

function run(dir: Dir, data: Buffer, limits: Partial<IrcLimits> | undefined, split: Split): Snap[] {
  const codec = new IrcCodec(dir, { limits });
  const out: Snap[] = [];
  for (const chunk of splitBuffer(data, split, 23)) {
    for (const f of codec.push(chunk)) out.push(snap(f));
    if (codec.buffered > codec.maxLineBytes) throw new Error(`buffered ${codec.buffered} > ${codec.maxLineBytes}`);
  }
  expect(codec.buffered).toBe(0);
  return out;
}

/** Feeds `text` whole and checks that byte-by-byte and random splits give identical messages. */
function runAll(dir: Dir, text: string | Buffer, limits?: Partial<IrcLimits>): Snap[] {
  const data = typeof text === 'string' ? utf8(text) : text;
  const whole = run(dir, data, limits, 'whole');
  for (const split of OTHER_SPLITS) expect(run(dir, data, limits, split)).toEqual(whole);
  return whole;
}

function check(err: WireError, dir: Dir, spec: { code: string; close: number }, message: string): void {
  expect(err).toBeInstanceOf(WireError);
  expect(err.name).toBe('WireError');
  expect(err.protocol).toBe('irc');
  expect(err.direction).toBe(dir);
  expect({ code: err.code, message: err.message, close: err.closeCode }).toEqual({ code: spec.code, message, close: spec.close });
}

/** Asserts the stream fails with `spec`/`message`, fed whole and byte by byte. */
function expectFailure(dir: Dir, text: string | Buffer, spec: { code: string; close: number }, message: string, limits?: Partial<IrcLimits>): void {
  const data = typeof text === 'string' ? utf8(text) : text;
  for (const split of ['whole', 'bytes'] as const) check(caught(() => run(dir, data, limits, split)), dir, spec, message);
}

/** Asserts one message fails in message framing. */
function expectLineFailure(dir: Dir, text: string | Buffer, spec: { code: string; close: number }, message: string, limits?: Partial<IrcLimits>): void {
  const data = typeof text === 'string' ? utf8(text) : text;
  check(caught(() => validateLine(data, dir, limits)), dir, spec, message);
}

describe('IRC codec: valid streams', () => {
  test('irc-framework registration', () => {
    const frames = runAll('toServer', 'CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :Alice Liddell\r\n');
    expect(frames.map((f) => [f.command, f.params])).toEqual([
      ['CAP', ['LS', '302']],
      ['NICK', ['alice']],
      ['USER', ['alice', '0', '*', 'Alice Liddell']],
    ]);
    expect(frames[2]).toMatchObject({ kind: 'USER', raw: 'USER alice 0 * :Alice Liddell\r\n', tags: [], prefix: null });
  });

  test('server numerics with tags and a full prefix', () => {
    const [f] = runAll('toClient', '@time=2024-05-01T12:00:00.000Z;msgid=a\\sb\\:c\\\\d :bob!~bob@host.example PRIVMSG #chan :hi there\r\n');
    expect(f).toMatchObject({
      command: 'PRIVMSG',
      params: ['#chan', 'hi there'],
      tags: [
        ['time', '2024-05-01T12:00:00.000Z'],
        ['msgid', 'a b;c\\d'],
      ],
      prefix: { raw: 'bob!~bob@host.example', name: 'bob', user: '~bob', host: 'host.example' },
    });
    const [n] = runAll('toClient', ':irc.example.net 001 alice :Welcome alice!alice@198.51.100.7\r\n');
    expect(n).toMatchObject({ kind: '001', command: '001', prefix: { name: 'irc.example.net', user: null, host: null }, params: ['alice', 'Welcome alice!alice@198.51.100.7'] });
  });

  test('tag values: escapes, \\r \\n, dropped backslashes, missing and empty values, repeated keys', () => {
    const [f] = runAll('toClient', '@a=x\\r\\ny;b;c=;d=\\q\\;+vendor.example/e=1;a=last :s NOTICE * :x\r\n');
    expect(f.tags).toEqual([
      ['a', 'last'],
      ['b', ''],
      ['c', ''],
      ['d', 'q'],
      ['+vendor.example/e', '1'],
    ]);
  });

  test('client-only tags from a client', () => {
    const [f] = runAll('toServer', '@+typing=active;+draft/reply=42 TAGMSG #chan\r\n');
    expect(f.tags).toEqual([
      ['+typing', 'active'],
      ['+draft/reply', '42'],
    ]);
  });

  test('bare LF ends a line (default), CRLF and LF may mix', () => {
    const frames = runAll('toServer', 'NICK a\nUSER a 0 * :A\r\nQUIT\n');
    expect(frames.map((f) => f.raw)).toEqual(['NICK a\n', 'USER a 0 * :A\r\n', 'QUIT\n']);
  });

  test('empty lines are consumed and not returned', () => {
    const frames = runAll('toServer', '\r\n\nPING x\r\n\r\n');
    expect(frames.map((f) => f.raw)).toEqual(['PING x\r\n']);
  });

  test('commands are case-insensitive and upper-cased', () => {
    const [f] = runAll('toServer', 'privmsg #a :hi\r\n');
    expect([f.kind, f.command]).toEqual(['PRIVMSG', 'PRIVMSG']);
    expect(f.raw).toBe('privmsg #a :hi\r\n');
  });

  test('parameters: several spaces, trailing spaces, empty trailing, trailing with colons', () => {
    const frames = runAll('toServer', 'MODE  #a   +o  bob  \r\nPRIVMSG #a :\r\nPRIVMSG #a ::-) a :b\r\nPING\r\n');
    expect(frames.map((f) => f.params)).toEqual([['#a', '+o', 'bob'], ['#a', ''], ['#a', ':-) a :b'], []]);
  });

  test('fifteen parameters are accepted', () => {
    const params = Array.from({ length: 14 }, (_, i) => `p${i}`).join(' ');
    const [f] = runAll('toClient', `:srv 005 ${params} :last one\r\n`);
    expect(f.params).toHaveLength(15);
  });

  test('UTF-8 text and CTCP control characters', () => {
    const [f] = runAll('toServer', 'PRIVMSG #a :\u0001ACTION waves ✓ 😀\u0001\r\n');
    expect(f.params[1]).toBe('\u0001ACTION waves ✓ 😀\u0001');
  });

  test('requireUtf8: false decodes the rest of a non-UTF-8 message as Latin-1', () => {
    const data = Buffer.concat([utf8('@k=v :n!u@h PRIVMSG #a :caf'), Buffer.from([0xe9]), utf8('\r\n')]);
    const [f] = runAll('toClient', data, { requireUtf8: false });
    expect(f.params[1]).toBe('café');
    expect(f.tags).toEqual([['k', 'v']]);
  });

  test('lines exactly at the length limits are accepted', () => {
    const cmd = 'PRIVMSG #a :';
    runAll('toServer', cmd + 'x'.repeat(510 - cmd.length) + '\r\n');
    runAll('toServer', cmd + 'x'.repeat(510 - cmd.length) + '\n');
    runAll('toServer', '@+t=' + 'v'.repeat(4094 - 3) + ' ' + cmd + 'x\r\n');
    runAll('toClient', '@t=' + 'v'.repeat(8191 - 4) + ' :s ' + 'N'.repeat(510 - 3) + '\r\n');
    runAll('toClient', '@t=' + 'v'.repeat(8191 - 4) + ' :s ' + 'N'.repeat(510 - 3) + '\n');
  });

  test('every corpus stream is valid at any splitting', () => {
    for (const dir of ['toServer', 'toClient'] as const) {
      for (const stream of corpus[dir]) expect(runAll(dir, stream).length).toBeGreaterThan(3);
    }
  });
});

describe('IRC codec: raw bytes', () => {
  test('raw is a view into the chunk when the line lies inside it', () => {
    const codec = new IrcCodec('toServer');
    const chunk = own('NICK a\r\nUSER a 0 * :A\r\n');
    const frames = codec.push(chunk);
    expect(frames).toHaveLength(2);
    for (const f of frames) expect(f.raw.buffer).toBe(chunk.buffer);
    expect(frames[1].raw.byteOffset).toBe(chunk.byteOffset + 8);
  });

  test('raw is a copy only when the line spans chunks', () => {
    const codec = new IrcCodec('toServer');
    const a = own('NICK a\r\nUSER a 0');
    const b = own(' * :A\r\nQUIT\r\n');
    expect(codec.push(a).map((f) => f.raw.buffer === a.buffer)).toEqual([true]);
    expect(codec.buffered).toBe(8);
    const frames = codec.push(b);
    expect(frames.map((f) => f.raw.toString())).toEqual(['USER a 0 * :A\r\n', 'QUIT\r\n']);
    expect(frames[0].raw.buffer).not.toBe(a.buffer);
    expect(frames[0].raw.buffer).not.toBe(b.buffer);
    expect(frames[1].raw.buffer).toBe(b.buffer);
    expect(codec.buffered).toBe(0);
  });

  test('a CR at the end of a chunk completes with an LF in the next', () => {
    const codec = new IrcCodec('toServer');
    expect(codec.push(utf8('PING a\r'))).toEqual([]);
    expect(codec.push(utf8('\nPING b')).map((f) => f.raw.toString())).toEqual(['PING a\r\n']);
    expect(() => codec.push(utf8('\rX'))).toThrow(WireError);
  });
});

describe('IRC codec: limits', () => {
  test('undefined overrides keep the default', () => {
    const codec = new IrcCodec('toClient', { limits: { maxParams: undefined, maxMessageBytes: 100 } });
    expect(codec.limits).toEqual({ ...DEFAULT_LIMITS, maxMessageBytes: 100 });
    expect(codec.maxLineBytes).toBe(8291);
  });

  test('defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxMessageBytes: 512, maxTagBytes: 8191, maxClientTagBytes: 4094, maxParams: 15, allowBareLf: true, requireUtf8: true });
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
    expect(protocol.defaultLimits).toBe(DEFAULT_LIMITS);
    expect(new IrcCodec('toClient').maxLineBytes).toBe(8703);
    expect(new IrcCodec('toServer').maxLineBytes).toBe(4608);
  });

  test('message longer than 512 bytes with CRLF (maxMessageBytes)', () => {
    const cmd = 'PRIVMSG #a :';
    const msg = 'message longer than 512 bytes without tags, counting CRLF';
    expectFailure('toServer', cmd + 'x'.repeat(511 - cmd.length) + '\r\n', ERRORS.LINE_TOO_LONG, msg);
    expectFailure('toServer', cmd + 'x'.repeat(511 - cmd.length) + '\n', ERRORS.LINE_TOO_LONG, msg);
    expectFailure('toClient', '@a=b ' + cmd + 'x'.repeat(2000) + '\r\n', ERRORS.LINE_TOO_LONG, msg);
    expectFailure('toServer', 'PING 1234567890\r\n', ERRORS.LINE_TOO_LONG, 'message longer than 16 bytes without tags, counting CRLF', { maxMessageBytes: 16 });
    expectLineFailure('toServer', cmd + 'x'.repeat(511 - cmd.length), ERRORS.LINE_TOO_LONG, msg);
  });

  test('tags longer than 8191 bytes from a server (maxTagBytes)', () => {
    const msg = 'tags section longer than 8191 bytes';
    expectFailure('toClient', '@t=' + 'v'.repeat(8191 - 3) + ' :s N x\r\n', ERRORS.TAGS_TOO_LONG, msg);
    expectFailure('toClient', '@t=' + 'v'.repeat(9000), ERRORS.TAGS_TOO_LONG, msg);
    expectFailure('toClient', '@a=123456 PING\r\n', ERRORS.TAGS_TOO_LONG, 'tags section longer than 8 bytes', { maxTagBytes: 8 });
    expectLineFailure('toClient', '@t=' + 'v'.repeat(8191 - 3) + ' PING', ERRORS.TAGS_TOO_LONG, msg);
  });

  test('tag data longer than 4094 bytes from a client (maxClientTagBytes)', () => {
    const msg = 'client tag data longer than 4094 bytes';
    expectFailure('toServer', '@+t=' + 'v'.repeat(4094 - 2) + ' TAGMSG #a\r\n', ERRORS.TAGS_TOO_LONG, msg);
    expectFailure('toServer', '@+a=1234 TAGMSG #a\r\n', ERRORS.TAGS_TOO_LONG, 'client tag data longer than 6 bytes', { maxClientTagBytes: 6 });
    runAll('toServer', '@+a=123 TAGMSG #a\r\n', { maxClientTagBytes: 6 });
  });

  test('more than 15 parameters (maxParams)', () => {
    const params = Array.from({ length: 16 }, (_, i) => `p${i}`).join(' ');
    expectFailure('toClient', `:srv 005 ${params}\r\n`, ERRORS.TOO_MANY_PARAMS, 'more than 15 parameters');
    expectFailure('toServer', 'MODE #a +o :b\r\n', ERRORS.TOO_MANY_PARAMS, 'more than 2 parameters', { maxParams: 2 });
  });

  test('buffered stays within maxLineBytes while a long line arrives in small chunks', () => {
    const codec = new IrcCodec('toClient');
    const line = utf8('@t=' + 'v'.repeat(8000) + ' :s PRIVMSG #a :' + 'x'.repeat(400) + '\r\n');
    let n = 0;
    for (let i = 0; i < line.length; i += 5) {
      n += codec.push(line.subarray(i, i + 5)).length;
      expect(codec.buffered).toBeLessThanOrEqual(codec.maxLineBytes);
    }
    expect(n).toBe(1);
  });
});

describe('IRC codec: rules', () => {
  test('NUL anywhere is refused', () => {
    expectFailure('toServer', 'PRIVMSG #a :x\0y\r\n', ERRORS.FORBIDDEN_CHAR, 'NUL byte in a message');
    expectLineFailure('toServer', 'PRIVMSG #a :x\0y', ERRORS.FORBIDDEN_CHAR, 'NUL byte in a message');
  });

  test('bare CR is refused', () => {
    expectFailure('toServer', 'PRIVMSG #a :x\ry\r\n', ERRORS.FORBIDDEN_CHAR, 'CR not followed by LF inside a message');
    expectFailure('toClient', 'PING a\r\rPING b\r\n', ERRORS.FORBIDDEN_CHAR, 'CR not followed by LF inside a message');
  });

  test('bare LF is refused when allowBareLf is off', () => {
    expectFailure('toServer', 'NICK a\r\nQUIT\n', ERRORS.FORBIDDEN_CHAR, 'line ended by LF without CR', { allowBareLf: false });
    runAll('toServer', 'NICK a\r\nQUIT\r\n', { allowBareLf: false });
  });

  test('tags syntax', () => {
    expectFailure('toClient', '@ PING\r\n', ERRORS.BAD_TAG, 'empty tag key');
    expectFailure('toClient', '@a=1; PING\r\n', ERRORS.BAD_TAG, 'empty tag key');
    expectFailure('toClient', '@;a=1 PING\r\n', ERRORS.BAD_TAG, 'empty tag key');
    expectFailure('toClient', '@a_b=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "a_b"');
    expectFailure('toClient', '@=1 PING\r\n', ERRORS.BAD_TAG, 'empty tag key');
    expectFailure('toClient', '@++a PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "++a"');
    expectFailure('toClient', '@bad_vendor/x=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "bad_vendor/x"');
    expectFailure('toClient', '@+ PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "+"');
    expectFailure('toClient', '@a.b=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "a.b"');
    expectFailure('toClient', '@/a=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "/a"');
    expectFailure('toClient', '@a/=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "a/"');
    expectFailure('toClient', '@a/b/c=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "a/b/c"');
    expectFailure('toClient', '@ok=1;a.b/c.d=1 PING\r\n', ERRORS.BAD_TAG, 'invalid tag key "a.b/c.d"');
    expect(runAll('toClient', '@+ex-1.example/a-b=x;k;a.b/c;ok= PING\r\n')[0]?.tags).toEqual([
      ['+ex-1.example/a-b', 'x'],
      ['k', ''],
      ['a.b/c', ''],
      ['ok', ''],
    ]);
  });

  test('prefix syntax', () => {
    expectFailure('toClient', ': PING\r\n', ERRORS.BAD_PREFIX, 'empty prefix');
    expectFailure('toClient', ':nick!user PING\r\n', ERRORS.BAD_PREFIX, 'prefix "nick!user" has "!user" without "@host"');
    expectFailure('toClient', ':nick@host!user PING\r\n', ERRORS.BAD_PREFIX, 'prefix "nick@host!user" has "!user" without "@host"');
    expectFailure('toClient', ':a@b@c PING\r\n', ERRORS.BAD_PREFIX, 'prefix "a@b@c" has more than one "@"');
    expectFailure('toClient', ':!u@h PING\r\n', ERRORS.BAD_PREFIX, 'prefix "!u@h" has an empty part');
    expectFailure('toClient', ':n!@h PING\r\n', ERRORS.BAD_PREFIX, 'prefix "n!@h" has an empty part');
    expectFailure('toClient', ':n@ PING\r\n', ERRORS.BAD_PREFIX, 'prefix "n@" has an empty part');
  });

  test('missing command', () => {
    expectFailure('toClient', '@a=1\r\n', ERRORS.MISSING_COMMAND, 'tags without a command');
    expectFailure('toClient', ':srv\r\n', ERRORS.MISSING_COMMAND, 'prefix without a command');
    expectFailure('toClient', ':srv \r\n', ERRORS.MISSING_COMMAND, 'message without a command');
    expectFailure('toServer', ' NICK a\r\n', ERRORS.MISSING_COMMAND, 'message without a command');
    expectLineFailure('toServer', '', ERRORS.MISSING_COMMAND, 'empty message');
  });

  test('command must be letters or exactly three digits', () => {
    expectFailure('toServer', 'PRIV1 #a :x\r\n', ERRORS.BAD_COMMAND, 'command "PRIV1" is neither letters nor three digits');
    expectFailure('toClient', ':srv 01 a\r\n', ERRORS.BAD_COMMAND, 'command "01" is neither letters nor three digits');
    expectFailure('toClient', ':srv 0001 a\r\n', ERRORS.BAD_COMMAND, 'command "0001" is neither letters nor three digits');
    expectFailure('toServer', 'NİCK a\r\n', ERRORS.BAD_COMMAND, 'command "NİCK" is neither letters nor three digits');
  });

  test('clients must not send numerics or prefixes', () => {
    expectFailure('toServer', '001 alice :Welcome\r\n', ERRORS.COMMAND_NOT_ALLOWED, 'clients must not send numeric 001');
    expectFailure('toServer', ':alice PRIVMSG #a :x\r\n', ERRORS.CLIENT_PREFIX, 'clients must not send a prefix');
    expectFailure('toServer', '@+a=1 :alice!a@h PRIVMSG #a :x\r\n', ERRORS.CLIENT_PREFIX, 'clients must not send a prefix');
  });

  test('invalid UTF-8', () => {
    const bad = Buffer.concat([utf8('PRIVMSG #a :caf'), Buffer.from([0xe9]), utf8('\r\n')]);
    expectFailure('toServer', bad, ERRORS.BAD_UTF8, 'message is not valid UTF-8');
    const badTags = Buffer.concat([utf8('@k='), Buffer.from([0xe9]), utf8(' PING\r\n')]);
    expectFailure('toClient', badTags, ERRORS.BAD_UTF8, 'message tags are not valid UTF-8', { requireUtf8: false });
  });

  test('after an error the codec is dead and rethrows the same error', () => {
    const codec = new IrcCodec('toServer');
    const err = caught(() => codec.push(utf8('001 x\r\n')));
    expect(caught(() => codec.push(utf8('NICK a\r\n')))).toBe(err);
    const ws = new IrcCodec('toServer', { framing: 'message' });
    const err2 = caught(() => ws.push(utf8('NICK a\r\n')));
    expect(caught(() => ws.push(utf8('NICK a')))).toBe(err2);
  });
});

describe('IRC message framing (WebSocket)', () => {
  test('one message per push without line end', () => {
    const codec = new IrcCodec('toServer', { framing: 'message' });
    const msg = own('@+typing=active TAGMSG #a');
    const [f] = codec.push(msg);
    expect(f.raw).toBe(msg);
    expect(f.tags.get('+typing')).toBe('active');
    expect(codec.push(utf8('PRIVMSG #a :hi')).map((x) => x.params)).toEqual([['#a', 'hi']]);
    expect(codec.buffered).toBe(0);
    expect(validateLine(utf8(':srv 001 a :hi'), 'toClient').command).toBe('001');
  });

  test('CR or LF anywhere in a message is refused', () => {
    const msg = 'CR or LF inside a single-message frame';
    expectLineFailure('toServer', 'NICK a\r\n', ERRORS.FORBIDDEN_CHAR, msg);
    expectLineFailure('toServer', 'NICK a\nNICK b', ERRORS.FORBIDDEN_CHAR, msg);
    expectLineFailure('toClient', 'PING \ra', ERRORS.FORBIDDEN_CHAR, msg);
  });

  test('IrcCodecPair mixes message framing toward the server with stream framing back', () => {
    const pair = new IrcCodecPair(undefined, { toServer: 'message', toClient: 'stream' });
    expect(pair.toServer.framing).toBe('message');
    expect(pair.toClient.framing).toBe('stream');
    expect(pair.toServer.push(utf8('NICK a'))).toHaveLength(1);
    expect(pair.toClient.push(utf8(':s 001 a :hi\r\n:s 002 a :x\r\n'))).toHaveLength(2);
  });
});

describe('IRC protocol module', () => {
  test('createPair uses stream framing with the given limits', () => {
    const pair = protocol.createPair({ maxParams: 1 });
    expect(protocol.name).toBe('irc');
    expect(pair.toServer.direction).toBe('toServer');
    expect(pair.toClient.direction).toBe('toClient');
    expect(pair.toServer.protocol).toBe('irc');
    expect(() => pair.toServer.push(utf8('JOIN #a key\r\n'))).toThrow('more than 1 parameters');
  });

  test('reply is an ERROR line for client errors and null for server errors', () => {
    const err = caught(() => protocol.createPair().toServer.push(utf8(':me NICK x\r\n')));
    expect(protocol.reply(err)?.toString()).toBe('ERROR :Prefix sent by a client (GW_ERR_IRC_CLIENT_PREFIX)\r\n');
    const reply = protocol.reply(err) as Buffer;
    expect(new IrcCodec('toClient').push(reply)[0].params).toEqual(['Prefix sent by a client (GW_ERR_IRC_CLIENT_PREFIX)']);
    const serverErr = caught(() => protocol.createPair().toClient.push(utf8('PRIV1\r\n')));
    expect(protocol.reply(serverErr)).toBeNull();
  });

  test('tag value escaping round-trips and encodeMessage writes what the codec reads', () => {
    const value = 'a;b c\\d\re\nf';
    expect(escapeTagValue(value)).toBe('a\\:b\\sc\\\\d\\re\\nf');
    expect(unescapeTagValue(escapeTagValue(value))).toBe(value);
    expect(unescapeTagValue('x\\')).toBe('x');
    const raw = encodeMessage({ tags: [['k', value], ['flag', '']], prefix: 'n!u@h', command: 'PRIVMSG', params: ['#a', 'hello world'] });
    expect(raw.toString()).toBe('@k=a\\:b\\sc\\\\d\\re\\nf;flag :n!u@h PRIVMSG #a :hello world\r\n');
    const [f] = new IrcCodec('toClient').push(raw);
    expect(f.tags.get('k')).toBe(value);
  });

  test('README documents every error code and every limit with its default', () => {
    const readme = readFileSync(join(__dirname, '../../validators/irc/README.md'), 'utf8');
    for (const spec of Object.values(ERRORS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${spec.code}\``));
      expect(row).toBeDefined();
      expect(row).toContain(String(spec.close));
    }
    for (const [key, value] of Object.entries(DEFAULT_LIMITS)) {
      const row = readme.split('\n').find((l) => l.includes(`\`${key}\``) && l.includes(`\`${String(value)}\``));
      expect(row).toBeDefined();
    }
  });
});
