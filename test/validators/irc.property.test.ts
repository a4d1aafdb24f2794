import fc from 'fast-check';
import { WireError } from '../../validators/types';
import { IrcCodec, encodeMessage, protocol, validateLine, type IrcFrame, type IrcLimits } from '../../validators/irc';
import { corpus } from '../support/corpus/irc';

type Dir = 'toServer' | 'toClient';

interface Message {
  tags: [string, string][];
  prefix: string | undefined;
  command: string;
  params: string[];
}

const alnum = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-'), minLength: 1, maxLength: 8 });
const tagKey = fc
  .tuple(fc.boolean(), fc.option(fc.constantFrom('example.com', 'draft', 'a-b.c'), { nil: undefined }), alnum)
  .map(([client, vendor, name]) => (client ? '+' : '') + (vendor === undefined ? '' : vendor + '/') + name);
/** Text without NUL, CR or LF, with the characters tags and parameters treat specially. */
const lineText = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(fc.constantFrom(' ', ':', ';', '\\', '@', '!', 'é', '✓', '😀', '\u0001'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })),
    minLength: min,
    maxLength: max,
  });
const tagValue = fc.oneof(lineText(0, 20), fc.constantFrom('\r\n', 'a\rb', 'x\ny'));
const middle = lineText(1, 10)
  .map((s) => s.replace(/ /g, '_'))
  .filter((s) => !s.startsWith(':'));
const word = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'), minLength: 1, maxLength: 10 });
const numeric = fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0'));
const prefix = fc.oneof(
  fc.constantFrom('irc.example.net', 'srv'),
  fc.tuple(alnum, alnum, fc.constantFrom('host.example', '198.51.100.7', 'gateway/web/x')).map(([n, u, h]) => `${n}!~${u}@${h}`),
  fc.tuple(alnum, fc.constantFrom('host.example')).map(([n, h]) => `${n}@${h}`),
);

function messageArb(dir: Dir): fc.Arbitrary<Message> {
  return fc
    .record({
      tags: fc.uniqueArray(fc.tuple(tagKey, tagValue), { selector: (t) => t[0], maxLength: 5 }),
      prefix: dir === 'toClient' ? fc.option(prefix, { nil: undefined }) : fc.constant(undefined),
      command: dir === 'toClient' ? fc.oneof(word, numeric) : word,
      middles: fc.array(middle, { maxLength: 14 }),
      trailing: fc.option(lineText(0, 60), { nil: undefined }),
    })
    .map(({ tags, prefix: p, command, middles, trailing }) => ({
      tags,
      prefix: p,
      command,
      params: trailing === undefined ? middles : [...middles, trailing],
    }))
    .filter((m) => encodeMessage({ ...m, tags: [] }, '').length <= 510);
}

function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => Math.floor(p * buf.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const i of at) {
    if (i > from) out.push(buf.subarray(from, i));
    from = Math.max(from, i);
  }
  out.push(buf.subarray(from));
  return out;
}

function decoded(f: IrcFrame): unknown {
  return { tags: [...f.tags], prefix: f.prefix?.raw, command: f.command, params: [...f.params] };
}

describe('IRC property: encode then parse round-trips', () => {
  test.each<Dir>(['toServer', 'toClient'])('random valid %s streams at random split points', (dir) => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(messageArb(dir), fc.constantFrom<'\r\n' | '\n'>('\r\n', '\n')), { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        (msgs, points) => {
          const encoded = msgs.map(([m, eol]) => encodeMessage(m, eol));
          const codec = new IrcCodec(dir);
          const got: { raw: string; decoded: unknown }[] = [];
          for (const chunk of cut(Buffer.concat(encoded), points)) {
            for (const f of codec.push(chunk)) got.push({ raw: f.raw.toString('hex'), decoded: decoded(f) });
            expect(codec.buffered).toBeLessThanOrEqual(codec.maxLineBytes);
          }
          expect(got).toEqual(
            msgs.map(([m], i) => ({ raw: encoded[i].toString('hex'), decoded: { tags: m.tags, prefix: m.prefix, command: m.command, params: m.params } })),
          );
          expect(codec.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test.each<Dir>(['toServer', 'toClient'])('random valid %s messages in message framing', (dir) => {
    fc.assert(
      fc.property(messageArb(dir), (m) => {
        const raw = encodeMessage(m, '');
        const f = validateLine(raw, dir);
        expect(f.raw).toBe(raw);
        expect(decoded(f)).toEqual({ tags: m.tags, prefix: m.prefix, command: m.command, params: m.params });
      }),
      { numRuns: 300 },
    );
  });
});

type Mutation =
  | { op: 'flip'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number };

const at = fc.double({ min: 0, max: 1, noNaN: true });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at, value: fc.constantFrom(0, 10, 13, 32, 58, 59, 64, 92, 0xe9, 0x31) }),
  fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) }),
  fc.record({ op: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at, length: fc.integer({ min: 1, max: 900 }) }),
  fc.record({ op: fc.constant('truncate' as const), at }),
);

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let buf = input;
  for (const m of mutations) {
    const i = Math.floor(m.at * buf.length);
    switch (m.op) {
      case 'flip':
        if (buf.length > 0) {
          buf = Buffer.from(buf);
          buf[Math.min(i, buf.length - 1)] = m.value;
        }
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, i), Buffer.from(m.bytes), buf.subarray(i)]);
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, i), buf.subarray(i + m.length)]);
        break;
      case 'duplicate':
        buf = Buffer.concat([buf.subarray(0, i + m.length), buf.subarray(i)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, i);
        break;
    }
  }
  return buf;
}

const SMALL: Partial<IrcLimits> = { maxMessageBytes: 64, maxTagBytes: 100, maxClientTagBytes: 40, maxParams: 4, allowBareLf: false };

describe('IRC property: mutated streams', () => {
  test.each<[string, Partial<IrcLimits> | undefined]>([
    ['default limits', undefined],
    ['small limits', SMALL],
  ])('never throw anything but WireError, never hang, and keep buffered within maxLineBytes (%s)', (_name, limits) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: corpus.toServer.length - 1 }),
        fc.constantFrom<Dir>('toServer', 'toClient'),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.array(at, { maxLength: 20 }),
        (index, dir, mutations, points) => {
          const codec = protocol.createPair(limits)[dir] as IrcCodec;
          const stream = mutate(corpus[dir][index], mutations);
          const started = Date.now();
          try {
            for (const chunk of cut(stream, points)) {
              codec.push(chunk);
              expect(codec.buffered).toBeLessThanOrEqual(codec.maxLineBytes);
            }
          } catch (err) {
            expect(err).toBeInstanceOf(WireError);
            let again: unknown = null;
            try {
              codec.push(Buffer.from('PING x\r\n'));
            } catch (e) {
              again = e;
            }
            expect(again).toBe(err);
          }
          expect(Date.now() - started).toBeLessThan(1000);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('mutated single messages in message framing throw only WireError', () => {
    const lines = corpus.toClient.flatMap((s) => s.toString('utf8').split(/\r?\n/).filter((l) => l !== ''));
    fc.assert(
      fc.property(fc.constantFrom(...lines), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.constantFrom<Dir>('toServer', 'toClient'), (line, mutations, dir) => {
        try {
          const f = validateLine(mutate(Buffer.from(line, 'utf8'), mutations), dir);
          expect(typeof f.command).toBe('string');
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('random bytes never throw anything but WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.constantFrom<Dir>('toServer', 'toClient'), (data, dir) => {
        const codec = new IrcCodec(dir, { limits: SMALL });
        try {
          codec.push(Buffer.from(data));
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
        }
        expect(codec.buffered).toBeLessThanOrEqual(codec.maxLineBytes);
      }),
      { numRuns: 1000 },
    );
  });
});
