import fc from 'fast-check';
import { WireError } from '../../validators/types';
import {
  BODY_COMMANDS,
  StompCodec,
  encodeFrame,
  protocol,
  type StompCommand,
  type StompFrame,
  type StompHeader,
  type StompLimits,
  type StompVersion,
} from '../../validators/stomp';
import { corpus } from '../support/corpus/stomp';

type Dir = 'toServer' | 'toClient';

/** Required headers per command and version, with generated values. */
function required(command: StompCommand, version: StompVersion): string[] {
  switch (command) {
    case 'SEND':
      return ['destination'];
    case 'SUBSCRIBE':
      return version === '1.0' ? ['destination'] : ['destination', 'id'];
    case 'UNSUBSCRIBE':
      return version === '1.0' ? ['destination'] : ['id'];
    case 'ACK':
    case 'NACK':
      return version === '1.2' ? ['id'] : version === '1.1' ? ['subscription', 'message-id'] : ['message-id'];
    case 'BEGIN':
    case 'COMMIT':
    case 'ABORT':
      return ['transaction'];
    case 'MESSAGE':
      return version === '1.0' ? ['destination', 'message-id'] : ['destination', 'message-id', 'subscription'];
    case 'RECEIPT':
      return ['receipt-id'];
    default:
      return [];
  }
}

const CLIENT: StompCommand[] = ['SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT'];
const SERVER: StompCommand[] = ['MESSAGE', 'RECEIPT', 'ERROR'];

/** Header text a version can carry: 1.2 escapes everything but NUL; 1.1 cannot carry CR; 1.0 neither CR nor LF. */
function text(version: StompVersion, isName: boolean): fc.Arbitrary<string> {
  const specials = version === '1.0' ? (isName ? ['\\', ' ', 'é'] : [':', '\\', ' ', 'é']) : version === '1.1' ? [':', '\\', '\n', ' '] : [':', '\\', '\n', '\r', ' '];
  const unit = fc.oneof(fc.constantFrom(...specials), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), fc.constantFrom('ü', '✓', '😀'));
  return fc
    .string({ unit, minLength: isName ? 1 : 0, maxLength: 12 })
    .filter((s) => !s.includes('\0') && (version !== '1.0' || !/[\r\n]/.test(s)) && (!isName || !(version === '1.0' && s.includes(':'))));
}

interface Generated {
  version: StompVersion;
  dir: Dir;
  eol: '\n' | '\r\n';
  frames: { command: StompCommand; headers: StompHeader[]; body: Buffer; beats: string }[];
}

const RESERVED = new Set(['content-length']);

function streamArb(dir: Dir): fc.Arbitrary<Generated> {
  return fc.constantFrom<StompVersion>('1.0', '1.1', '1.2').chain((version) => {
    const commands = (dir === 'toServer' ? CLIENT : SERVER).filter((c) => !(c === 'NACK' && version === '1.0'));
    const frame = fc
      .record({
        command: fc.constantFrom(...commands),
        extra: fc.array(fc.tuple(text(version, true), text(version, false)), { maxLength: 5 }),
        values: fc.array(text(version, false), { minLength: 3, maxLength: 3 }),
        body: fc.uint8Array({ maxLength: 40 }),
        withLength: fc.boolean(),
        beats: fc.constantFrom('', '\n', version === '1.2' ? '\r\n' : '\n\n'),
      })
      .map(({ command, extra, values, body, withLength, beats }) => {
        const headers: StompHeader[] = required(command, version).map((name, i) => [name, values[i]] as const);
        for (const [k, v] of extra) if (!RESERVED.has(k)) headers.push([k, v]);
        const mayHaveBody = BODY_COMMANDS.has(command) || version === '1.0';
        let b = mayHaveBody ? Buffer.from(body) : Buffer.alloc(0);
        if (withLength && mayHaveBody) headers.push(['content-length', String(b.length)]);
        else b = Buffer.from(b.filter((x) => x !== 0));
        return { command, headers, body: b, beats };
      });
    return fc.record({
      version: fc.constant(version),
      dir: fc.constant(dir),
      eol: version === '1.2' ? fc.constantFrom<'\n' | '\r\n'>('\n', '\r\n') : fc.constant<'\n'>('\n'),
      frames: fc.array(frame, { minLength: 1, maxLength: 6 }),
    });
  });
}

/** Cuts `buf` at the given fractional points. */
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

describe('STOMP property: encode then parse round-trips', () => {
  test.each<Dir>(['toServer', 'toClient'])('random valid %s streams at random split points', (dir) => {
    fc.assert(
      fc.property(streamArb(dir), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }), (g, points) => {
        const encoded = g.frames.map((f) => encodeFrame(f, g.version, g.eol));
        const stream = Buffer.concat(encoded.flatMap((e, i) => [e, Buffer.from(g.frames[i].beats, 'latin1')]));
        const codec = new StompCodec(dir, { version: g.version });
        const got: StompFrame[] = [];
        for (const chunk of cut(stream, points)) got.push(...codec.push(chunk).map((f) => copy(f)));
        const frames = got.filter((f) => f.kind !== 'HEARTBEAT');
        expect(frames.map((f) => f.raw.toString('hex'))).toEqual(encoded.map((e) => e.toString('hex')));
        expect(frames.map((f) => [f.command, f.headers.map((h) => [...h]), f.body.toString('hex'), f.version])).toEqual(
          g.frames.map((f) => [f.command, f.headers.map((h) => [...h]), f.body.toString('hex'), g.version]),
        );
        const beats = got.filter((f) => f.kind === 'HEARTBEAT').map((f) => f.raw.toString('latin1'));
        expect(beats.join('')).toBe(g.frames.map((f) => f.beats).join(''));
        expect(codec.buffered).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

/** A frame whose `raw` and `body` stay valid after the next push. */
function copy(f: StompFrame): StompFrame {
  const raw = Buffer.from(f.raw);
  return Object.assign(Object.create(Object.getPrototypeOf(f) as object) as StompFrame, f, {
    raw,
    body: raw.subarray(f.body.byteOffset - f.raw.byteOffset, f.body.byteOffset - f.raw.byteOffset + f.body.length),
  });
}

type Mutation =
  | { op: 'flip'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), value: fc.constantFrom(0, 10, 13, 58, 92, 0xff, 0x41) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.integer({ min: 1, max: 600 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
) as fc.Arbitrary<Mutation>;

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let buf = input;
  for (const m of mutations) {
    const at = Math.floor(m.at * buf.length);
    switch (m.op) {
      case 'flip':
        if (buf.length > 0) {
          buf = Buffer.from(buf);
          buf[Math.min(at, buf.length - 1)] = m.value;
        }
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.bytes), buf.subarray(at)]);
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.length)]);
        break;
      case 'duplicate':
        buf = Buffer.concat([buf.subarray(0, at + m.length), buf.subarray(at)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
    }
  }
  return buf;
}

const SMALL: Partial<StompLimits> = { maxFrameSize: 300, maxBodySize: 200, maxHeaders: 6, maxHeaderLineLength: 60, maxCommandLength: 12 };

describe('STOMP property: mutated streams', () => {
  test.each<[string, Partial<StompLimits> | undefined]>([
    ['default limits', undefined],
    ['small limits', SMALL],
  ])('never throw anything but WireError, never hang, and keep buffered within maxFrameSize (%s)', (_name, limits) => {
    const max = limits?.maxFrameSize ?? protocol.defaultLimits.maxFrameSize;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: corpus.toServer.length - 1 }),
        fc.constantFrom<Dir>('toServer', 'toClient'),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        (index, dir, mutations, points) => {
          const pair = protocol.createPair(limits);
          const stream = mutate(corpus[dir][index], mutations);
          const started = Date.now();
          try {
            for (const chunk of cut(stream, points)) {
              pair[dir].push(chunk);
              expect(pair[dir].buffered).toBeLessThanOrEqual(max);
            }
          } catch (err) {
            expect(err).toBeInstanceOf(WireError);
            const again = (() => {
              try {
                pair[dir].push(Buffer.from('\n'));
              } catch (e) {
                return e;
              }
              return null;
            })();
            expect(again).toBe(err);
          }
          expect(Date.now() - started).toBeLessThan(1000);
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('random bytes never throw anything but WireError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.constantFrom<Dir>('toServer', 'toClient'), fc.boolean(), (data, dir, fixed) => {
        const codec = new StompCodec(dir, fixed ? { version: '1.2', limits: SMALL } : { limits: SMALL });
        try {
          codec.push(Buffer.from(data));
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
        }
        expect(codec.buffered).toBeLessThanOrEqual(300);
      }),
      { numRuns: 1000 },
    );
  });
});
