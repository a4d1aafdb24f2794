import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WireError } from '../../validators/types';
import {
  DEFAULT_LIMITS,
  ERRORS,
  StompCodec,
  StompCodecPair,
  escapeHeader,
  protocol,
  type StompFrame,
  type StompLimits,
  type StompVersion,
} from '../../validators/stomp';
import { corpus } from '../support/corpus/stomp';
import { OTHER_SPLITS, caught, splitBuffer, type Split } from '../support/wire';

type Dir = 'toServer' | 'toClient';
type Step = readonly [Dir, string];

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
/** A buffer with its own memory (not a slice of Node's shared pool). */
function own(s: string): Buffer {
  const out = Buffer.alloc(s.length);
  out.write(s, 'latin1');
  return out;
}

interface Snap {
  dir: Dir;
  kind: string;
  raw: string;
  command: string | null;
  headers: string[][];
  body: string;
  version: StompVersion | null;
}

function snap(dir: Dir, f: StompFrame): Snap {
  return {
    dir,
    kind: f.kind,
    raw: f.raw.toString('latin1'),
    command: f.command,
    headers: f.headers.map((h) => [h[0], h[1]]),
    body: f.body.toString('latin1'),
    version: f.version,
  };
}

interface Setup {
  limits?: Partial<StompLimits>;
  version?: StompVersion;
}

function makePair(setup: Setup): StompCodecPair {
  return new StompCodecPair(setup.limits, setup.version === undefined ? {} : { version: setup.version });
}

/** Runs the steps, each fed cut as `split` says; checks `buffered` at every push. */
function run(steps: readonly Step[], setup: Setup, split: Split): Snap[] {
  const pair = makePair(setup);
  const out: Snap[] = [];
  const max = pair.toServer.limits.maxFrameSize;
  for (const [dir, text] of steps) {
    const codec = pair[dir];
    for (const chunk of splitBuffer(bytes(text), split, 17)) {
      for (const f of codec.push(chunk)) out.push(snap(dir, f));
      if (codec.buffered > max) throw new Error(`buffered ${codec.buffered} > ${max}`);
    }
    expect(codec.buffered).toBe(0);
  }
  return out;
}

/** Feeds steps whole and asserts that byte-by-byte and random splits give identical frames. */
function runAll(steps: readonly Step[], setup: Setup = {}): Snap[] {
  const whole = run(steps, setup, 'whole');
  for (const split of OTHER_SPLITS) expect(run(steps, setup, split)).toEqual(whole);
  return whole;
}

/** Asserts the last step fails with `spec`/`message`, fed whole and byte by byte. */
function expectFailure(steps: readonly Step[], setup: Setup, spec: { code: string; close: number }, message: string): WireError {
  let first: WireError | null = null;
  for (const split of ['whole', 'bytes'] as const) {
    const err = caught(() => run(steps, setup, split));
    expect(err).toBeInstanceOf(WireError);
    expect(err.name).toBe('WireError');
    expect(err.protocol).toBe('stomp');
    expect(err.direction).toBe(steps[steps.length - 1][0]);
    expect({ code: err.code, message: err.message, close: err.closeCode }).toEqual({ code: spec.code, message, close: spec.close });
    first ??= err;
  }
  return first as WireError;
}

const CONNECT_ALL = 'CONNECT\naccept-version:1.2,1.1,1.0\nheart-beat:10000,10000\n\n\0';
const connected = (v: string): string => `CONNECTED\nversion:${v}\n\n\0`;

describe('STOMP codec: valid streams', () => {
  test('@stomp/stompjs CONNECT is parsed with negotiation rules', () => {
    const [f] = runAll([['toServer', CONNECT_ALL]]);
    expect(f).toMatchObject({
      kind: 'CONNECT',
      command: 'CONNECT',
      headers: [
        ['accept-version', '1.2,1.1,1.0'],
        ['heart-beat', '10000,10000'],
      ],
      body: '',
      version: null,
      raw: CONNECT_ALL,
    });
  });

  test('CONNECTED fixes the version for both directions', () => {
    const frames = runAll([
      ['toServer', CONNECT_ALL],
      ['toClient', 'CONNECTED\nversion:1.1\nheart-beat:0,0\n\n\0'],
      ['toServer', 'SEND\ndestination:/a\\cb\n\nx\0'],
      ['toClient', 'RECEIPT\nreceipt-id:r\\\\1\n\n\0'],
    ]);
    expect(frames.map((f) => [f.kind, f.version])).toEqual([
      ['CONNECT', null],
      ['CONNECTED', '1.1'],
      ['SEND', '1.1'],
      ['RECEIPT', '1.1'],
    ]);
    expect(frames[2].headers).toEqual([['destination', '/a:b']]);
    expect(frames[3].headers).toEqual([['receipt-id', 'r\\1']]);
  });

  test('frames pipelined before CONNECTED use the highest version offered', () => {
    const frames = runAll([
      ['toServer', 'CONNECT\naccept-version:1.0,1.1\nhost:h\n\n\0SUBSCRIBE\nid:0\ndestination:/a\\cb\n\n\0'],
    ]);
    expect(frames[1]).toMatchObject({ kind: 'SUBSCRIBE', version: '1.1', headers: [['id', '0'], ['destination', '/a:b']] });
  });

  test('content-length body may contain NUL bytes', () => {
    const [f] = runAll([['toServer', 'SEND\ndestination:/q\ncontent-length:5\n\na\0b\0c\0']], { version: '1.2' });
    expect(f.body).toBe('a\0b\0c');
    expect(f.raw).toBe('SEND\ndestination:/q\ncontent-length:5\n\na\0b\0c\0');
  });

  test('body without content-length ends at the first NUL', () => {
    const [f] = runAll([['toServer', 'SEND\ndestination:/q\n\nhello\nworld\0']], { version: '1.2' });
    expect(f.body).toBe('hello\nworld');
  });

  test('heart-beat EOLs (LF and CRLF) are returned as HEARTBEAT frames', () => {
    const frames = runAll([['toServer', '\n\r\nSEND\ndestination:/q\n\n\0\n\r\n']], { version: '1.2' });
    expect(frames.map((f) => [f.kind, f.raw, f.command, f.headers.length, f.body])).toEqual([
      ['HEARTBEAT', '\n', null, 0, ''],
      ['HEARTBEAT', '\r\n', null, 0, ''],
      ['SEND', 'SEND\ndestination:/q\n\n\0', 'SEND', 1, ''],
      ['HEARTBEAT', '\n', null, 0, ''],
      ['HEARTBEAT', '\r\n', null, 0, ''],
    ]);
  });

  test('STOMP 1.2 accepts CRLF line ends', () => {
    const [f] = runAll([['toServer', 'SEND\r\ndestination:/q\r\nx:y\r\n\r\nbody\0']], { version: '1.2' });
    expect(f).toMatchObject({ headers: [['destination', '/q'], ['x', 'y']], body: 'body' });
  });

  test('repeated headers are kept in order and the first one counts', () => {
    const pair = new StompCodecPair(undefined, { version: '1.2' });
    const [f] = pair.toServer.push(bytes('SEND\ndestination:/first\ndestination:/second\n\n\0'));
    expect(f.headers).toEqual([
      ['destination', '/first'],
      ['destination', '/second'],
    ]);
    expect(f.header('destination')).toBe('/first');
    expect(f.header('missing')).toBeUndefined();
  });

  test('STOMP 1.2 unescapes \\r \\n \\c \\\\ in names and values', () => {
    const [f] = runAll([['toServer', 'SEND\ndestination:a\\c\\n\\r\\\\b\nx\\cy:1\n\n\0']], { version: '1.2' });
    expect(f.headers).toEqual([
      ['destination', 'a:\n\r\\b'],
      ['x:y', '1'],
    ]);
  });

  test('STOMP 1.0 does not unescape: backslashes and colons are literal', () => {
    const [f] = runAll([['toServer', 'SEND\ndestination:C:\\temp\\x\n\n\0']], { version: '1.0' });
    expect(f.headers).toEqual([['destination', 'C:\\temp\\x']]);
  });

  test('CONNECT and CONNECTED headers are never unescaped', () => {
    const frames = runAll([
      ['toServer', 'CONNECT\naccept-version:1.2\nlogin:a\\b\n\n\0'],
      ['toClient', 'CONNECTED\nversion:1.2\nsession:s\\x\n\n\0'],
    ]);
    expect(frames[0].headers[1]).toEqual(['login', 'a\\b']);
    expect(frames[1].headers[1]).toEqual(['session', 's\\x']);
  });

  test('raw colons in values and empty values are accepted', () => {
    const [f] = runAll([['toClient', 'MESSAGE\ndestination:/q\nmessage-id:ID:1:2\nsubscription:0\nempty:\n\n\0']], { version: '1.2' });
    expect(f.headers).toEqual([
      ['destination', '/q'],
      ['message-id', 'ID:1:2'],
      ['subscription', '0'],
      ['empty', ''],
    ]);
  });

  test('UTF-8 header values are decoded', () => {
    const text = utf8('SEND\ndestination:/q/ünï✓\n\n\0').toString('latin1');
    const [f] = runAll([['toServer', text]], { version: '1.2' });
    expect(f.headers).toEqual([['destination', '/q/ünï✓']]);
  });

  test('per-version required headers are satisfied', () => {
    runAll(
      [
        ['toServer', 'NACK\nsubscription:0\nmessage-id:1\n\n\0ACK\nsubscription:0\nmessage-id:2\n\n\0UNSUBSCRIBE\nid:0\n\n\0'],
        ['toClient', 'MESSAGE\ndestination:/q\nmessage-id:1\nsubscription:0\n\n\0'],
      ],
      { version: '1.1' },
    );
    const frames = runAll(
      [
        ['toServer', 'ACK\nmessage-id:1\n\n\0UNSUBSCRIBE\ndestination:/q\n\n\0SUBSCRIBE\ndestination:/q\n\nbody allowed in 1.0\0'],
        ['toClient', 'MESSAGE\ndestination:/q\nmessage-id:1\n\n\0'],
      ],
      { version: '1.0' },
    );
    expect(frames.map((f) => f.kind)).toEqual(['ACK', 'UNSUBSCRIBE', 'SUBSCRIBE', 'MESSAGE']);
    runAll([['toServer', 'ACK\nid:1\n\n\0NACK\nid:2\n\n\0BEGIN\ntransaction:t\n\n\0COMMIT\ntransaction:t\n\n\0ABORT\ntransaction:t\n\n\0DISCONNECT\n\n\0']], {
      version: '1.2',
    });
  });

  test('STOMP command with accept-version and host opens a session', () => {
    const frames = runAll([
      ['toServer', 'STOMP\naccept-version:1.1,1.2\nhost:/\n\n\0'],
      ['toClient', connected('1.2')],
    ]);
    expect(frames.map((f) => [f.kind, f.version])).toEqual([
      ['STOMP', null],
      ['CONNECTED', '1.2'],
    ]);
  });

  test('CONNECTED without version means 1.0 for a 1.0 client', () => {
    const frames = runAll([
      ['toServer', 'CONNECT\nlogin:u\npasscode:p\n\n\0'],
      ['toClient', 'CONNECTED\nsession:1\n\n\0'],
      ['toServer', 'SEND\ndestination:a\\b\n\n\0'],
    ]);
    expect(frames[1].version).toBe('1.0');
    expect(frames[2].headers).toEqual([['destination', 'a\\b']]);
  });

  test('RabbitMQ frames ending with NUL LF', () => {
    const frames = runAll([
      [
        'toClient',
        'CONNECTED\nserver:RabbitMQ/3.13.7\nsession:session-1\nheart-beat:10000,10000\nversion:1.2\n\n\0\nMESSAGE\nsubscription:sub-0\ndestination:/queue/a\nmessage-id:T_1\ncontent-length:2\n\nhi\0\n',
      ],
    ]);
    expect(frames.map((f) => f.kind)).toEqual(['CONNECTED', 'HEARTBEAT', 'MESSAGE', 'HEARTBEAT']);
  });

  test('a server may send ERROR instead of CONNECTED', () => {
    const [f] = runAll([['toClient', 'ERROR\nmessage:Access refused\ncontent-type:text/plain\n\nbad login\0']]);
    expect(f).toMatchObject({ kind: 'ERROR', body: 'bad login', version: null });
  });

  test('content-length:0 on a command without body', () => {
    runAll([['toServer', 'SUBSCRIBE\nid:0\ndestination:/q\ncontent-length:0\n\n\0']], { version: '1.2' });
  });

  test('requireHost accepts a 1.0 CONNECT without host and a 1.2 CONNECT with one', () => {
    runAll([['toServer', 'CONNECT\nlogin:u\n\n\0']], { limits: { requireHost: true } });
    runAll([['toServer', 'CONNECT\naccept-version:1.2\nhost:vh\n\n\0']], { limits: { requireHost: true } });
  });

  test('frames exactly at every limit are accepted', () => {
    const limits: Partial<StompLimits> = { maxFrameSize: 40, maxBodySize: 5, maxHeaders: 2, maxHeaderLineLength: 10, maxCommandLength: 10 };
    // DISCONNECT\n (11) + x:12345678\n (11) + y:1\n (4) + \n (1) + body 5 + NUL = 33 (1.0 allows the body)
    runAll([['toServer', 'DISCONNECT\nx:12345678\ny:1\n\nabcde\0']], { limits, version: '1.0' });
    // 40-byte frame: SEND\n + destination:/q\n (15) + \n + 18-byte body + NUL
    runAll([['toServer', 'SEND\ndestination:/q\n\n' + 'b'.repeat(18) + '\0']], { limits: { maxFrameSize: 40 }, version: '1.2' });
  });

  test('every corpus session is valid in any order and any splitting', () => {
    for (let i = 0; i < corpus.toServer.length; i++) {
      const s = corpus.toServer[i].toString('latin1');
      const c = corpus.toClient[i].toString('latin1');
      const a = runAll([
        ['toServer', s],
        ['toClient', c],
      ]);
      const b = runAll([
        ['toClient', c],
        ['toServer', s],
      ]);
      expect(a.filter((f) => f.kind !== 'HEARTBEAT').length).toBeGreaterThan(2);
      expect(b.length).toBe(a.length);
    }
  });
});

describe('STOMP codec: raw bytes', () => {
  test('raw is a view into the chunk when the frame lies inside it', () => {
    const codec = new StompCodec('toServer', { version: '1.2' });
    const chunk = own('SEND\ndestination:/q\n\nabc\0SEND\ndestination:/r\n\n\0');
    const frames = codec.push(chunk);
    expect(frames).toHaveLength(2);
    for (const f of frames) expect(f.raw.buffer).toBe(chunk.buffer);
    expect(frames[1].raw.byteOffset).toBe(chunk.byteOffset + 25);
    expect(frames[0].body.buffer).toBe(chunk.buffer);
  });

  test('raw is a copy only when the frame spans chunks', () => {
    const codec = new StompCodec('toServer', { version: '1.2' });
    const a = own('SEND\ndestination:/q\n\nab');
    const b = own('c\0SEND\ndestination:/r\n\n\0');
    expect(codec.push(a)).toEqual([]);
    expect(codec.buffered).toBe(a.length);
    const frames = codec.push(b);
    expect(frames.map((f) => f.raw.toString('latin1'))).toEqual(['SEND\ndestination:/q\n\nabc\0', 'SEND\ndestination:/r\n\n\0']);
    expect(frames[0].raw.buffer).not.toBe(a.buffer);
    expect(frames[0].raw.buffer).not.toBe(b.buffer);
    expect(frames[1].raw.buffer).toBe(b.buffer);
    expect(codec.buffered).toBe(0);
  });

  test('buffered never exceeds maxFrameSize while a large frame arrives in small chunks', () => {
    const limits = { maxFrameSize: 4096, maxBodySize: 4050 };
    const codec = new StompCodec('toServer', { version: '1.2', limits });
    const frame = Buffer.concat([bytes('SEND\ndestination:/q\n\n'), Buffer.alloc(4000, 0x61), bytes('\0')]);
    let seen = 0;
    for (let i = 0; i < frame.length; i += 7) {
      seen += codec.push(frame.subarray(i, i + 7)).length;
      expect(codec.buffered).toBeLessThanOrEqual(4096);
    }
    expect(seen).toBe(1);
    const big = Buffer.concat([bytes('SEND\ndestination:/q\n\n'), Buffer.alloc(5000, 0x61)]);
    const err = caught(() => {
      for (let i = 0; i < big.length; i += 100) codec.push(big.subarray(i, i + 100));
    });
    expect(err.code).toBe(ERRORS.BODY_TOO_LARGE.code);
    expect(codec.buffered).toBeLessThanOrEqual(4096);
  });
});

describe('STOMP codec: limits', () => {
  test('undefined overrides keep the default', () => {
    const codec = new StompCodec('toServer', { limits: { maxHeaders: undefined, maxFrameSize: 100 } });
    expect(codec.limits).toEqual({ ...DEFAULT_LIMITS, maxFrameSize: 100 });
    expect(Object.isFrozen(codec.limits)).toBe(true);
  });

  test('defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxFrameSize: 1048576,
      maxBodySize: 1048576,
      maxHeaders: 64,
      maxHeaderLineLength: 8192,
      maxCommandLength: 64,
      requireHost: false,
    });
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
    expect(protocol.defaultLimits).toBe(DEFAULT_LIMITS);
  });

  test('command line longer than maxCommandLength (default 64)', () => {
    expectFailure([['toServer', 'A'.repeat(65) + '\n\n\0']], {}, ERRORS.COMMAND_TOO_LONG, 'command line longer than 64 bytes');
    expectFailure([['toServer', 'UNSUBSCRIBE\nid:1\n\n\0']], { limits: { maxCommandLength: 10 } }, ERRORS.COMMAND_TOO_LONG, 'command line longer than 10 bytes');
  });

  test('header line longer than maxHeaderLineLength (default 8192)', () => {
    expectFailure(
      [['toServer', 'SEND\ndestination:' + 'q'.repeat(8181) + '\n\n\0']],
      { version: '1.2' },
      ERRORS.HEADER_LINE_TOO_LONG,
      'header line longer than 8192 bytes',
    );
    expectFailure([['toServer', 'SEND\nx:123456789\n\n\0']], { version: '1.2', limits: { maxHeaderLineLength: 10 } }, ERRORS.HEADER_LINE_TOO_LONG, 'header line longer than 10 bytes');
  });

  test('CRLF does not count toward the header line length', () => {
    runAll([['toServer', 'DISCONNECT\r\nx:12345678\r\n\r\n\0']], { version: '1.2', limits: { maxHeaderLineLength: 10 } });
  });

  test('more header lines than maxHeaders (default 64)', () => {
    const many = Array.from({ length: 65 }, (_, i) => `h${i}:v\n`).join('');
    expectFailure([['toServer', 'SEND\ndestination:/q\n' + many + '\n\0']], { version: '1.2' }, ERRORS.TOO_MANY_HEADERS, 'more than 64 header lines');
    expectFailure([['toServer', 'SEND\na:1\nb:2\nc:3\n\n\0']], { version: '1.2', limits: { maxHeaders: 2 } }, ERRORS.TOO_MANY_HEADERS, 'more than 2 header lines');
  });

  test('frame larger than maxFrameSize (default 1 MiB), in headers, by content-length and by scanning', () => {
    const huge = 'SEND\ndestination:/q\n\n' + 'x'.repeat(1048576) + '\0';
    expectFailure([['toServer', huge]], { version: '1.2', limits: { maxBodySize: 2000000 } }, ERRORS.FRAME_TOO_LARGE, 'frame larger than 1048576 bytes');
    const limits = { maxFrameSize: 32 };
    expectFailure([['toServer', 'SEND\ndestination:/q\na:1\nb:2\nc:3\nd:4\n\n\0']], { version: '1.2', limits }, ERRORS.FRAME_TOO_LARGE, 'frame larger than 32 bytes');
    expectFailure([['toServer', 'SEND\ndestination:/q\ncontent-length:10\n\n0123456789\0']], { version: '1.2', limits: { maxFrameSize: 45 } }, ERRORS.FRAME_TOO_LARGE, 'frame larger than 45 bytes');
    expectFailure([['toServer', 'SEND\ndestination:/q\n\n' + 'b'.repeat(19) + '\0']], { version: '1.2', limits: { maxFrameSize: 40 } }, ERRORS.FRAME_TOO_LARGE, 'frame larger than 40 bytes');
  });

  test('body larger than maxBodySize (default 1 MiB), by content-length and by scanning', () => {
    expectFailure(
      [['toServer', 'SEND\ndestination:/q\ncontent-length:1048577\n\n']],
      { version: '1.2' },
      ERRORS.BODY_TOO_LARGE,
      'body larger than 1048576 bytes',
    );
    expectFailure([['toServer', 'SEND\ndestination:/q\ncontent-length:5\n\nabcde\0']], { version: '1.2', limits: { maxBodySize: 4 } }, ERRORS.BODY_TOO_LARGE, 'body larger than 4 bytes');
    expectFailure([['toServer', 'SEND\ndestination:/q\n\nabcde\0']], { version: '1.2', limits: { maxBodySize: 4 } }, ERRORS.BODY_TOO_LARGE, 'body larger than 4 bytes');
  });
});

describe('STOMP codec: rules', () => {
  test('unknown command', () => {
    expectFailure([['toServer', 'FOO\n\n\0']], { version: '1.2' }, ERRORS.UNKNOWN_COMMAND, 'unknown command "FOO"');
    expectFailure([['toServer', 'send\ndestination:/q\n\n\0']], { version: '1.2' }, ERRORS.UNKNOWN_COMMAND, 'unknown command "send"');
  });

  test('command not allowed in the direction or version', () => {
    expectFailure([['toServer', 'MESSAGE\ndestination:/q\n\n\0']], { version: '1.2' }, ERRORS.COMMAND_NOT_ALLOWED, 'MESSAGE is a server command; a client must not send it');
    expectFailure([['toClient', 'SEND\ndestination:/q\n\n\0']], { version: '1.2' }, ERRORS.COMMAND_NOT_ALLOWED, 'SEND is a client command; a server must not send it');
    expectFailure([['toServer', 'NACK\nmessage-id:1\n\n\0']], { version: '1.0' }, ERRORS.COMMAND_NOT_ALLOWED, 'NACK requires STOMP 1.1 or later');
  });

  test('frames out of sequence', () => {
    expectFailure([['toServer', 'SEND\ndestination:/q\n\n\0']], {}, ERRORS.UNEXPECTED_FRAME, 'first client frame must be CONNECT or STOMP, got SEND');
    expectFailure([['toServer', CONNECT_ALL + CONNECT_ALL]], {}, ERRORS.UNEXPECTED_FRAME, 'CONNECT after the session was opened');
    expectFailure([['toServer', 'DISCONNECT\n\n\0SEND\ndestination:/q\n\n\0']], { version: '1.2' }, ERRORS.UNEXPECTED_FRAME, 'SEND after DISCONNECT');
    expectFailure([['toClient', 'MESSAGE\ndestination:/q\nmessage-id:1\n\n\0']], {}, ERRORS.UNEXPECTED_FRAME, 'first server frame must be CONNECTED or ERROR, got MESSAGE');
    expectFailure([['toClient', connected('1.2') + connected('1.2')]], {}, ERRORS.UNEXPECTED_FRAME, 'CONNECTED after the session was opened');
  });

  test('NUL in the command or header lines', () => {
    expectFailure([['toServer', 'SEND\ndestination:/q\0\n\n\0']], { version: '1.2' }, ERRORS.NUL_IN_HEADERS, 'NUL byte in a header line');
    expectFailure([['toServer', 'DISCONNECT\0']], { version: '1.2' }, ERRORS.NUL_IN_HEADERS, 'NUL byte in the command line');
    expectFailure([['toServer', 'DISCONNECT\n\0']], { version: '1.2' }, ERRORS.NUL_IN_HEADERS, 'NUL byte in a header line');
  });

  test('CR outside an allowed CRLF', () => {
    expectFailure([['toServer', 'SEND\r\ndestination:/q\n\n\0']], { version: '1.1' }, ERRORS.STRAY_CR, 'CR in the command line is not allowed in STOMP 1.1');
    expectFailure([['toServer', 'SEND\ndestination:/q\r\n\n\0']], { version: '1.0' }, ERRORS.STRAY_CR, 'CR in a header line is not allowed in STOMP 1.0');
    expectFailure([['toServer', 'SE\rND\n\n\0']], { version: '1.2' }, ERRORS.STRAY_CR, 'CR inside the command line');
    expectFailure([['toServer', 'SEND\ndest\rination:/q\n\n\0']], { version: '1.2' }, ERRORS.STRAY_CR, 'CR inside a header line');
    expectFailure([['toServer', 'SEND\ndestination:/q\r\r\n\n\0']], { version: '1.2' }, ERRORS.STRAY_CR, 'CR inside a header line');
    expectFailure([['toServer', '\rSEND\n\n\0']], { version: '1.2' }, ERRORS.STRAY_CR, 'CR between frames not followed by LF');
    expectFailure([['toServer', '\r\n']], { version: '1.0' }, ERRORS.STRAY_CR, 'CR between frames is not allowed in STOMP 1.0');
  });

  test('header line without colon or with empty name', () => {
    expectFailure([['toServer', 'SEND\ndestination\n\n\0']], { version: '1.2' }, ERRORS.BAD_HEADER, 'header line without ":" in SEND');
    expectFailure([['toServer', 'SEND\n:/q\n\n\0']], { version: '1.2' }, ERRORS.BAD_HEADER, 'header with an empty name in SEND');
  });

  test('undefined escape sequences', () => {
    expectFailure([['toServer', 'SEND\ndestination:/q\\t\n\n\0']], { version: '1.2' }, ERRORS.BAD_ESCAPE, 'undefined escape \\t in header "destination" (STOMP 1.2)');
    expectFailure([['toServer', 'SEND\ndestination:/q\\r\n\n\0']], { version: '1.1' }, ERRORS.BAD_ESCAPE, 'undefined escape \\r in header "destination" (STOMP 1.1)');
    expectFailure([['toServer', 'SEND\ndestination:/q\\\n\n\0']], { version: '1.2' }, ERRORS.BAD_ESCAPE, 'undefined escape \\ at the end in header "destination" (STOMP 1.2)');
    expectFailure([['toServer', 'SEND\nde\\st:/q\n\n\0']], { version: '1.2' }, ERRORS.BAD_ESCAPE, 'undefined escape \\s in header "de\\st" (STOMP 1.2)');
  });

  test.each<[string, StompVersion, Dir, string, string]>([
    ['SEND', '1.2', 'toServer', 'SEND\n\n\0', 'destination'],
    ['SUBSCRIBE destination', '1.0', 'toServer', 'SUBSCRIBE\nid:0\n\n\0', 'destination'],
    ['SUBSCRIBE id (1.1)', '1.1', 'toServer', 'SUBSCRIBE\ndestination:/q\n\n\0', 'id'],
    ['UNSUBSCRIBE id (1.2)', '1.2', 'toServer', 'UNSUBSCRIBE\ndestination:/q\n\n\0', 'id'],
    ['UNSUBSCRIBE id or destination (1.0)', '1.0', 'toServer', 'UNSUBSCRIBE\n\n\0', 'id or destination'],
    ['ACK id (1.2)', '1.2', 'toServer', 'ACK\nmessage-id:1\n\n\0', 'id'],
    ['NACK id (1.2)', '1.2', 'toServer', 'NACK\nmessage-id:1\n\n\0', 'id'],
    ['ACK subscription (1.1)', '1.1', 'toServer', 'ACK\nmessage-id:1\n\n\0', 'subscription'],
    ['NACK message-id (1.1)', '1.1', 'toServer', 'NACK\nsubscription:1\n\n\0', 'message-id'],
    ['ACK message-id (1.0)', '1.0', 'toServer', 'ACK\nid:1\n\n\0', 'message-id'],
    ['BEGIN', '1.2', 'toServer', 'BEGIN\n\n\0', 'transaction'],
    ['COMMIT', '1.2', 'toServer', 'COMMIT\n\n\0', 'transaction'],
    ['ABORT', '1.2', 'toServer', 'ABORT\n\n\0', 'transaction'],
    ['RECEIPT', '1.2', 'toClient', 'RECEIPT\n\n\0', 'receipt-id'],
    ['MESSAGE destination', '1.0', 'toClient', 'MESSAGE\nmessage-id:1\n\n\0', 'destination'],
    ['MESSAGE message-id', '1.2', 'toClient', 'MESSAGE\ndestination:/q\nsubscription:0\n\n\0', 'message-id'],
    ['MESSAGE subscription (1.1)', '1.1', 'toClient', 'MESSAGE\ndestination:/q\nmessage-id:1\n\n\0', 'subscription'],
  ])('missing required header: %s', (_name, version, dir, text, header) => {
    const command = text.slice(0, text.indexOf('\n'));
    expectFailure([[dir, text]], { version }, ERRORS.MISSING_HEADER, `${command} frame requires a ${header} header`);
  });

  test('missing accept-version on STOMP and host when required', () => {
    expectFailure([['toServer', 'STOMP\nhost:/\n\n\0']], {}, ERRORS.MISSING_HEADER, 'STOMP frame requires a accept-version header');
    expectFailure([['toServer', 'CONNECT\naccept-version:1.1\n\n\0']], { limits: { requireHost: true } }, ERRORS.MISSING_HEADER, 'CONNECT frame requires a host header');
  });

  test('invalid content-length, heart-beat and accept-version values', () => {
    const v = { version: '1.2' as const };
    expectFailure([['toServer', 'SEND\ndestination:/q\ncontent-length:abc\n\n\0']], v, ERRORS.BAD_HEADER_VALUE, 'content-length "abc" is not a decimal number');
    expectFailure([['toServer', 'SEND\ndestination:/q\ncontent-length:-1\n\n\0']], v, ERRORS.BAD_HEADER_VALUE, 'content-length "-1" is not a decimal number');
    expectFailure([['toServer', 'SEND\ndestination:/q\ncontent-length: 1\n\nx\0']], v, ERRORS.BAD_HEADER_VALUE, 'content-length " 1" is not a decimal number');
    expectFailure([['toServer', 'CONNECT\naccept-version:1.2\nheart-beat:10000\n\n\0']], {}, ERRORS.BAD_HEADER_VALUE, 'heart-beat "10000" is not <cx>,<cy>');
    expectFailure([['toClient', 'CONNECTED\nversion:1.2\nheart-beat:a,b\n\n\0']], {}, ERRORS.BAD_HEADER_VALUE, 'heart-beat "a,b" is not <cx>,<cy>');
    expectFailure([['toServer', 'CONNECT\naccept-version:1.2;1.1\n\n\0']], {}, ERRORS.BAD_HEADER_VALUE, 'accept-version "1.2;1.1" is not a comma-separated list of versions');
  });

  test('body on a command that must not have one', () => {
    expectFailure([['toServer', 'SUBSCRIBE\nid:0\ndestination:/q\n\nx\0']], { version: '1.2' }, ERRORS.UNEXPECTED_BODY, 'SUBSCRIBE frame must not have a body');
    expectFailure([['toServer', 'DISCONNECT\ncontent-length:1\n\nx\0']], { version: '1.1' }, ERRORS.UNEXPECTED_BODY, 'DISCONNECT frame must not have a body');
    expectFailure([['toServer', 'CONNECT\naccept-version:1.2\n\nx\0']], {}, ERRORS.UNEXPECTED_BODY, 'CONNECT frame must not have a body');
  });

  test('byte after a content-length body must be NUL', () => {
    expectFailure([['toServer', 'SEND\ndestination:/q\ncontent-length:1\n\nab\0']], { version: '1.2' }, ERRORS.MISSING_NUL, 'byte after the 1-byte body announced by content-length is not NUL');
  });

  test('unsupported or unagreed versions', () => {
    expectFailure([['toServer', 'CONNECT\naccept-version:2.0\n\n\0']], {}, ERRORS.UNSUPPORTED_VERSION, 'accept-version "2.0" offers no supported version (1.0, 1.1, 1.2)');
    expectFailure([['toServer', 'STOMP\naccept-version:1.0\nhost:/\n\n\0']], {}, ERRORS.UNSUPPORTED_VERSION, 'STOMP frame requires version 1.1 or later');
    expectFailure(
      [
        ['toServer', 'CONNECT\naccept-version:1.0,1.1\n\n\0'],
        ['toClient', connected('1.2')],
      ],
      {},
      ERRORS.UNSUPPORTED_VERSION,
      'server chose version 1.2, which the client did not offer',
    );
    expectFailure([['toClient', connected('3.0')]], {}, ERRORS.UNSUPPORTED_VERSION, 'server chose unsupported version "3.0"');
  });

  test('invalid UTF-8 in the header block', () => {
    expectFailure([['toServer', 'SEND\ndestination:/q\xff\n\n\0']], { version: '1.2' }, ERRORS.BAD_UTF8, 'command or header lines are not valid UTF-8');
  });

  test('the body is not decoded: any bytes are accepted', () => {
    const [f] = runAll([['toServer', 'SEND\ndestination:/q\n\n\xff\xfe\0']], { version: '1.2' });
    expect(Buffer.from(f.body, 'latin1')).toEqual(Buffer.from([0xff, 0xfe]));
  });

  test('after an error the codec is dead and rethrows the same error', () => {
    const codec = new StompCodec('toServer', { version: '1.2' });
    const err = caught(() => codec.push(bytes('FOO\n\n\0')));
    expect(caught(() => codec.push(bytes('SEND\ndestination:/q\n\n\0')))).toBe(err);
    expect(caught(() => codec.push(Buffer.alloc(0)))).toBe(err);
  });
});

describe('STOMP protocol module', () => {
  test('createPair shares negotiated state between the two codecs', () => {
    const pair = protocol.createPair({ maxHeaders: 3 });
    expect(protocol.name).toBe('stomp');
    expect(pair.toServer.direction).toBe('toServer');
    expect(pair.toClient.direction).toBe('toClient');
    expect(pair.toServer.protocol).toBe('stomp');
    pair.toServer.push(bytes(CONNECT_ALL));
    pair.toClient.push(bytes(connected('1.0')));
    const [f] = pair.toServer.push(bytes('SEND\ndestination:a\\tb\n\n\0'));
    expect(f.version).toBe('1.0');
    expect(f.headers).toEqual([['destination', 'a\\tb']]);
  });

  test('reply is an ERROR frame with message (escaped per version), code and detail body', () => {
    const pair = new StompCodecPair(undefined, { version: '1.2' });
    const err = caught(() => pair.toServer.push(bytes('FOO\n\n\0')));
    const reply = protocol.reply(err);
    const body = 'GW_ERR_STOMP_UNKNOWN_COMMAND (malformed-frame): unknown command "FOO"\n';
    expect(reply?.toString('utf8')).toBe(
      `ERROR\nmessage:Unknown STOMP command\ncode:GW_ERR_STOMP_UNKNOWN_COMMAND\ncontent-type:text/plain;charset=utf-8\ncontent-length:${body.length}\n\n${body}\0`,
    );
    // The reply is itself a valid server frame for that version.
    const check = new StompCodec('toClient', { version: '1.2' });
    const [frame] = check.push(reply as Buffer);
    expect(frame.header('code')).toBe('GW_ERR_STOMP_UNKNOWN_COMMAND');
    expect(frame.body.toString('utf8')).toBe(body);
  });

  test('reply before negotiation is readable by every version; no reply to a server', () => {
    const pair = protocol.createPair();
    const err = caught(() => pair.toServer.push(bytes('SEND\n\n\0')));
    const reply = protocol.reply(err) as Buffer;
    for (const version of ['1.0', '1.1', '1.2'] as const) {
      const [frame] = new StompCodec('toClient', { version }).push(reply);
      expect(frame.header('message')).toBe('Frame out of sequence for the session');
    }
    const serverErr = caught(() => protocol.createPair().toClient.push(bytes('SEND\n\n\0')));
    expect(protocol.reply(serverErr)).toBeNull();
  });

  test('escapeHeader per version', () => {
    expect(escapeHeader('a:b\\c\nd\re', '1.2')).toBe('a\\cb\\\\c\\nd\\re');
    expect(escapeHeader('a:b\\c\nd\re', '1.1')).toBe('a\\cb\\\\c\\nd e');
    expect(escapeHeader('a:b\\c\nd\re', '1.0')).toBe('a:b\\c d e');
    expect(escapeHeader('a:b', null, true)).toBe('a b');
    expect(escapeHeader('plain', '1.2')).toBe('plain');
  });

  test('README documents every error code and every limit with its default', () => {
    const readme = readFileSync(join(__dirname, '../../validators/stomp/README.md'), 'utf8');
    for (const spec of Object.values(ERRORS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${spec.code}\``));
      expect(row).toBeDefined();
      expect(row).toContain(String(spec.close));
    }
    for (const [key, value] of Object.entries(DEFAULT_LIMITS)) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\``));
      expect(row).toBeDefined();
      expect(row).toContain(`\`${String(value)}\``);
    }
  });
});
