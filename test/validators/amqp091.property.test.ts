import fc from 'fast-check';
import { WireError } from '../../validators/types';
import { protocol, type Amqp091Limits, METHODS, type Amqp091Frame, type Amqp091MethodFrame, type ArgType, type MethodSpec } from '../../validators/amqp091';
import { amqp091 as e, tag091, feedSplit, type Encodable091 } from '../support/amqp-encode';
import { corpus, toServerFrames } from '../support/corpus/amqp091';

/** A value to encode and the value the codec must decode from it. */
interface Pair {
  readonly enc: Encodable091;
  readonly exp: unknown;
}

const utf8Max = (max: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= max);
const key = utf8Max(64).filter((k) => k !== '__proto__');
const same = <T extends Encodable091>(a: fc.Arbitrary<T>): fc.Arbitrary<Pair> => a.map((v) => ({ enc: v, exp: v }));
const tagged = <T>(tag: Parameters<typeof tag091>[0], a: fc.Arbitrary<T>, exp: (v: T) => unknown = (v) => v): fc.Arbitrary<Pair> =>
  a.map((v) => ({ enc: tag091(tag, v), exp: exp(v) }));

const leaf: fc.Arbitrary<Pair> = fc.oneof(
  same(fc.boolean()),
  tagged('b', fc.integer({ min: -128, max: 127 })),
  tagged('B', fc.integer({ min: 0, max: 255 })),
  tagged('s', fc.integer({ min: -32768, max: 32767 })),
  tagged('U', fc.integer({ min: -32768, max: 32767 })),
  tagged('u', fc.integer({ min: 0, max: 65535 })),
  tagged('I', fc.integer({ min: -0x80000000, max: 0x7fffffff })),
  tagged('i', fc.integer({ min: 0, max: 0xffffffff })),
  tagged('l', fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
  tagged('L', fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  tagged('f', fc.float({ noNaN: true })),
  tagged('d', fc.double({ noNaN: true })),
  fc.record({ scale: fc.integer({ min: 0, max: 255 }), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }).map((d) => ({ enc: d, exp: d })),
  tagged('S', fc.string({ unit: 'grapheme', maxLength: 30 })),
  tagged('x', fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a))),
  tagged('T', fc.bigInt({ min: 0n, max: 8_000_000_000_000n }), (s) => new Date(Number(s) * 1000)),
  same(fc.constant(null)),
);

const { table: fieldTable } = fc.letrec<{ value: Pair; table: Pair; array: Pair }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('table'), tie('array')),
  table: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => ({
    enc: Object.fromEntries(entries.map(([k, v]) => [k, v.enc])) as { [key: string]: Encodable091 },
    exp: Object.fromEntries(entries.map(([k, v]) => [k, v.exp])),
  })),
  array: fc.array(tie('value'), { maxLength: 5 }).map((items) => ({ enc: items.map((i) => i.enc), exp: items.map((i) => i.exp) })),
}));

function argArb(type: ArgType): fc.Arbitrary<Pair> {
  switch (type) {
    case 'octet':
      return same(fc.integer({ min: 0, max: 255 }));
    case 'short':
      return same(fc.integer({ min: 0, max: 65535 }));
    case 'long':
      return same(fc.integer({ min: 0, max: 0xffffffff }));
    case 'longlong':
      return same(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case 'shortstr':
      return same(utf8Max(255));
    case 'longstr':
      return same(fc.string({ unit: 'grapheme', maxLength: 60 }));
    case 'bin':
      return fc.uint8Array({ maxLength: 60 }).map((a) => ({ enc: Buffer.from(a), exp: Buffer.from(a) }));
    case 'bit':
      return same(fc.boolean());
    case 'table':
      return fieldTable;
  }
}

function methodArb(spec: MethodSpec): fc.Arbitrary<{ spec: MethodSpec; enc: Record<string, unknown>; exp: Record<string, unknown> }> {
  const rec: Record<string, fc.Arbitrary<Pair>> = {};
  for (const [name, type] of spec.args) rec[name] = argArb(type);
  return fc.record(rec).map((r) => ({
    spec,
    enc: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.enc])),
    exp: Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.exp])),
  }));
}

/** Client methods outside the connection class (which follows the handshake order). */
const clientMethods = METHODS.filter((m) => m.sender !== 'server' && m.classId !== 10 && !m.content);

/** One unit of a client stream after the handshake, with what the codec must return. */
interface Unit {
  readonly bytes: Buffer;
  readonly expect: readonly { kind: string; channel: number; args?: Record<string, unknown>; payload?: Buffer }[];
}

const channel = fc.integer({ min: 1, max: 2047 });

const methodUnit: fc.Arbitrary<Unit> = fc.tuple(channel, fc.oneof(...clientMethods.map(methodArb))).map(([ch, m]) => ({
  bytes: e.method(ch, m.spec.name, m.enc),
  expect: [{ kind: m.spec.name, channel: ch, args: m.exp }],
}));

const publishUnit: fc.Arbitrary<Unit> = fc
  .tuple(channel, methodArb(METHODS.find((m) => m.name === 'basic.publish') as MethodSpec), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), fieldTable)
  .map(([ch, m, parts, headers]) => {
    const bodies = parts.map((p) => Buffer.from(p)).filter((p) => p.length > 0);
    const size = bodies.reduce((s, b) => s + b.length, 0);
    return {
      bytes: Buffer.concat([e.method(ch, 'basic.publish', m.enc), e.contentHeader(ch, size, { headers: headers.enc as { [key: string]: Encodable091 }, contentType: 'application/octet-stream' }), ...bodies.map((b) => e.body(ch, b))]),
      expect: [{ kind: 'basic.publish', channel: ch, args: m.exp }, { kind: 'header', channel: ch }, ...bodies.map((b) => ({ kind: 'body', channel: ch, payload: b }))],
    };
  });

const heartbeatUnit: fc.Arbitrary<Unit> = fc.constant({ bytes: e.heartbeat(), expect: [{ kind: 'heartbeat', channel: 0 }] });

const handshake = Buffer.concat(toServerFrames.slice(0, 4));

function cutsArb(len: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: Math.max(0, len) }), { maxLength: 20 }).map((c) => c.sort((a, b) => a - b));
}

describe('amqp091 properties', () => {
  it('random valid client frames round-trip, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(methodUnit, publishUnit, heartbeatUnit), { minLength: 1, maxLength: 8 }).chain((units) => {
          const stream = Buffer.concat([handshake, ...units.map((u) => u.bytes)]);
          return fc.tuple(fc.constant(units), fc.constant(stream), cutsArb(stream.length));
        }),
        ([units, stream, cuts]) => {
          const frames = feedSplit(protocol.createPair().toServer, stream, cuts).slice(4);
          const expected = units.flatMap((u) => u.expect);
          expect(frames).toHaveLength(expected.length);
          frames.forEach((f, i) => {
            const x = expected[i] as Unit['expect'][number];
            expect(f.kind).toBe(x.kind);
            expect(f.channel).toBe(x.channel);
            if (x.args !== undefined) expect((f as Amqp091MethodFrame).args).toEqual(x.args);
            if (x.payload !== undefined) expect(f).toMatchObject({ payload: x.payload });
          });
          expect(Buffer.concat(frames.map((f) => f.raw))).toEqual(stream.subarray(handshake.length));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random server methods round-trip', () => {
    const serverMethods = METHODS.filter((m) => m.sender !== 'client' && m.classId !== 10 && !m.content);
    const start = e.method(0, 'connection.start');
    const pre = Buffer.concat([start, e.method(0, 'connection.tune', { frameMax: 131072 }), e.method(0, 'connection.open-ok')]);
    fc.assert(
      fc.property(fc.array(fc.tuple(channel, fc.oneof(...serverMethods.map(methodArb))), { minLength: 1, maxLength: 6 }), (ms) => {
        const codec = protocol.createPair().toClient;
        codec.push(pre);
        const frames = codec.push(Buffer.concat(ms.map(([ch, m]) => e.method(ch, m.spec.name, m.enc)))) as Amqp091MethodFrame[];
        expect(frames.map((f) => [f.kind, f.channel, f.args])).toEqual(ms.map(([ch, m]) => [m.spec.name, ch, m.exp]));
      }),
      { numRuns: 200 },
    );
  });

  const mutation = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

  function mutate(src: Buffer, ms: readonly Mutation[]): Buffer {
    let b = Buffer.from(src);
    for (const m of ms) {
      if (b.length === 0) break;
      const at = m.at % b.length;
      if (m.op === 'set') b[at] = m.byte;
      else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
      else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
      else b = b.subarray(0, at);
    }
    return b;
  }

  it.each<[string, Partial<Amqp091Limits>]>([
    ['default limits', {}],
    ['small limits', { maxFrameSize: 4096, preTuneFrameMax: 4096, channelMax: 3, maxBodySize: 6, maxFieldDepth: 2 }],
  ])('mutated streams only ever throw WireError, finish, and keep buffered within the frame limit (%s)', (_name, limits) => {
    const max = Math.max(limits.maxFrameSize ?? 131072, 4096);
    fc.assert(
      fc.property(fc.constantFrom<'toServer' | 'toClient'>('toServer', 'toClient'), fc.nat(1), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), (dir, which, ms, sizes) => {
        const stream = mutate(corpus[dir][which] as Buffer, ms);
        const codec = protocol.createPair(limits)[dir];
        const started = Date.now();
        let at = 0;
        let i = 0;
        let frames: Amqp091Frame[] = [];
        try {
          while (at < stream.length) {
            const n = sizes[i++ % sizes.length] as number;
            frames = frames.concat(codec.push(stream.subarray(at, at + n)));
            at += n;
            expect(codec.buffered).toBeLessThanOrEqual(max);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
          expect(codec.buffered).toBe(0);
          expect(() => codec.push(Buffer.from([1]))).toThrow(err as WireError);
        }
        expect(Date.now() - started).toBeLessThan(1000);
        for (const f of frames) expect(f.raw.length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 500 },
    );
  });
});
