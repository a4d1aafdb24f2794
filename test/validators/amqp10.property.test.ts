import fc from 'fast-check';
import { WireError } from '../../validators/types';
import { protocol, type Amqp10Limits, type Amqp10Frame, type Amqp10PerformativeFrame } from '../../validators/amqp10';
import { amqp10 as e, CODES, feedSplit } from '../support/amqp-encode';
import { corpus } from '../support/corpus/amqp10';

/** An encoded AMQP value and the value the codec must decode from it. */
interface Pair {
  readonly enc: Buffer;
  readonly exp: unknown;
}

const pair = <T>(a: fc.Arbitrary<T>, enc: (v: T) => Buffer, exp: (v: T) => unknown = (v) => v): fc.Arbitrary<Pair> => a.map((v) => ({ enc: enc(v), exp: exp(v) }));
const u8 = (c: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([c]), body]);
const ascii = fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 30 });
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a).toString('hex'));

const leaf: fc.Arbitrary<Pair> = fc.oneof(
  fc.constant({ enc: e.null(), exp: null }),
  pair(fc.boolean(), (v) => e.bool(v)),
  pair(fc.boolean(), (v) => e.boolean56(v)),
  pair(fc.integer({ min: 0, max: 255 }), (v) => e.ubyte(v)),
  pair(fc.integer({ min: 0, max: 65535 }), (v) => e.ushort(v)),
  pair(fc.integer({ min: 0, max: 0xffffffff }), (v) => e.uint(v)),
  pair(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => e.ulong(v)),
  pair(fc.integer({ min: -128, max: 127 }), (v) => e.byte(v)),
  pair(fc.integer({ min: -32768, max: 32767 }), (v) => e.short(v)),
  pair(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (v) => e.int(v)),
  pair(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => e.long(v)),
  pair(fc.float({ noNaN: true }), (v) => e.float(v)),
  pair(fc.double({ noNaN: true }), (v) => e.double(v)),
  pair(fc.constantFrom<4 | 8 | 16>(4, 8, 16).chain((w) => fc.uint8Array({ minLength: w, maxLength: w }).map((a) => [w, Buffer.from(a)] as const)), ([w, b]) => e.decimal(w, b), ([, b]) => b),
  pair(fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff), (c) => e.char(c), (c) => String.fromCodePoint(c)),
  pair(fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), (ms) => e.timestamp(ms), (ms) => new Date(ms)),
  pair(uuid, (h) => e.uuid(h), (h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`),
  pair(fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.boolean()), ([a, w]) => e.binary(Buffer.from(a), w), ([a]) => Buffer.from(a)),
  pair(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.boolean()), ([s, w]) => e.string(s, w), ([s]) => s),
  pair(fc.tuple(ascii, fc.boolean()), ([s, w]) => e.symbol(s, w), ([s]) => s),
  // Arrays of one fixed-width primitive: uint (0x70) and ulong (0x80).
  pair(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 6 }), (vs) => e.array(Buffer.from([0x70]), vs.map((v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; })), (vs) => vs),
  pair(fc.tuple(fc.array(ascii, { maxLength: 6 }), fc.boolean()), ([vs, w]) => e.array(Buffer.from([0xa3]), vs.map((v) => u8(v.length, Buffer.from(v, 'latin1'))), w), ([vs]) => vs),
);

const mapKey: fc.Arbitrary<Pair> = fc.oneof(
  pair(ascii, (s) => e.symbol(s)),
  pair(fc.string({ maxLength: 10 }), (s) => e.string(s)),
  pair(fc.bigInt({ min: 0n, max: 1000n }), (v) => e.ulong(v)),
);

const { value } = fc.letrec<{ value: Pair; list: Pair; map: Pair; described: Pair }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('map'), tie('described')),
  list: fc.tuple(fc.array(tie('value'), { maxLength: 5 }), fc.boolean()).map(([items, wide]) => ({ enc: e.list(items.map((i) => i.enc), wide), exp: items.map((i) => i.exp) })),
  map: fc.tuple(fc.array(fc.tuple(mapKey, tie('value')), { maxLength: 4 }), fc.boolean()).map(([entries, wide]) => ({
    enc: e.map(entries.flatMap(([k, v]) => [k.enc, v.enc]), wide),
    exp: new Map(entries.map(([k, v]) => [k.exp, v.exp])),
  })),
  described: fc.tuple(fc.oneof(pair(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => e.ulong(v)), pair(ascii, (s) => e.symbol(s))), tie('value')).map(([d, v]) => ({
    enc: e.described(d.enc, v.enc),
    exp: { descriptor: d.exp, value: v.exp },
  })),
}));

const n = e.null();
const header = Buffer.concat([e.protocolHeader(0), e.performative(0, CODES.open, [e.string('c')]), e.performative(0, CODES.begin, [n, e.uint(0), e.uint(1), e.uint(1)])]);
const uint = fc.integer({ min: 0, max: 0xffffffff });

interface Unit {
  readonly bytes: Buffer;
  readonly kind: string;
  readonly fields: Record<string, unknown>;
  readonly payload: Buffer | null;
}

const transfer: fc.Arbitrary<Unit> = fc
  .record({ handle: uint, deliveryId: uint, tag: fc.uint8Array({ maxLength: 32 }), settled: fc.boolean(), payload: fc.uint8Array({ maxLength: 300 }) })
  .map((t) => ({
    bytes: e.performative(0, CODES.transfer, [e.uint(t.handle), e.uint(t.deliveryId), e.binary(Buffer.from(t.tag)), e.uint(0), e.bool(t.settled)], Buffer.from(t.payload)),
    kind: 'transfer',
    fields: { handle: t.handle, deliveryId: t.deliveryId, deliveryTag: Buffer.from(t.tag), messageFormat: 0, settled: t.settled },
    payload: t.payload.length === 0 ? null : Buffer.from(t.payload),
  }));

const flow: fc.Arbitrary<Unit> = fc.tuple(uint, uint, uint, uint, fc.boolean()).map(([a, b, c, credit, drain]) => ({
  bytes: e.performative(0, CODES.flow, [e.uint(a), e.uint(b), e.uint(c), e.uint(c), e.uint(1), e.uint(0), e.uint(credit), n, e.bool(drain)]),
  kind: 'flow',
  fields: { nextIncomingId: a, incomingWindow: b, nextOutgoingId: c, outgoingWindow: c, handle: 1, deliveryCount: 0, linkCredit: credit, available: null, drain },
  payload: null,
}));

const disposition: fc.Arbitrary<Unit> = fc.tuple(fc.boolean(), uint, value).map(([role, first, state]) => ({
  bytes: e.performative(0, CODES.disposition, [e.bool(role), e.uint(first), n, e.bool(true), e.described(e.ulong(CODES.modified), e.list([state.enc]))]),
  kind: 'disposition',
  fields: { role, first, last: null, settled: true, state: { descriptor: BigInt(CODES.modified), value: [state.exp] } },
  payload: null,
}));

const empty: fc.Arbitrary<Unit> = fc.constant({ bytes: e.empty(), kind: 'empty', fields: {}, payload: null });

function cutsArb(len: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: len }), { maxLength: 20 }).map((c) => c.sort((a, b) => a - b));
}

describe('amqp10 properties', () => {
  it('random AMQP values round-trip through the decoder', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 6 }), (values) => {
        const props = e.map(values.flatMap((v, i) => [e.symbol(`k${i}`), v.enc]), true);
        const stream = Buffer.concat([e.protocolHeader(0), e.performative(0, CODES.open, [e.string('c'), n, n, n, n, n, n, n, n, props])]);
        const codec = protocol.createPair({ preOpenFrameSize: 1 << 20 }).toServer;
        const [, open] = codec.push(stream) as Amqp10PerformativeFrame[];
        expect(open?.fields['properties']).toEqual(new Map(values.map((v, i) => [`k${i}`, v.exp])));
      }),
      { numRuns: 400 },
    );
  });

  it('random valid session frames round-trip, whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(transfer, flow, disposition, empty), { minLength: 1, maxLength: 8 }).chain((units) => {
          const stream = Buffer.concat([header, ...units.map((u) => u.bytes)]);
          return fc.tuple(fc.constant(units), fc.constant(stream), cutsArb(stream.length));
        }),
        ([units, stream, cuts]) => {
          const frames = feedSplit(protocol.createPair().toServer, stream, cuts).slice(3);
          expect(frames.map((f) => f.kind)).toEqual(units.map((u) => u.kind));
          frames.forEach((f, i) => {
            const u = units[i] as Unit;
            if (f.kind === 'empty') return;
            expect((f as Amqp10PerformativeFrame).fields).toEqual(u.fields);
            expect((f as Amqp10PerformativeFrame).payload).toEqual(u.payload);
          });
          expect(Buffer.concat(frames.map((f) => f.raw))).toEqual(stream.subarray(header.length));
        },
      ),
      { numRuns: 300 },
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

  it.each<[string, Partial<Amqp10Limits>]>([
    ['default limits', {}],
    ['small limits', { maxFrameSize: 600, preOpenFrameSize: 512, channelMax: 2, maxDepth: 2, maxElements: 4, maxMessageSize: 50 }],
  ])('mutated streams only ever throw WireError, finish, and keep buffered within the frame limit (%s)', (_name, limits) => {
    const max = Math.max(limits.maxFrameSize ?? 1048576, limits.preOpenFrameSize ?? 4096);
    fc.assert(
      fc.property(fc.constantFrom<'toServer' | 'toClient'>('toServer', 'toClient'), fc.nat(1), fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), (dir, which, ms, sizes) => {
        const stream = mutate(corpus[dir][which] as Buffer, ms);
        const codec = protocol.createPair(limits)[dir];
        const started = Date.now();
        let at = 0;
        let i = 0;
        let frames: Amqp10Frame[] = [];
        try {
          while (at < stream.length) {
            const size = sizes[i++ % sizes.length] as number;
            frames = frames.concat(codec.push(stream.subarray(at, at + size)));
            at += size;
            expect(codec.buffered).toBeLessThanOrEqual(max);
          }
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
          expect(codec.buffered).toBe(0);
          expect(() => codec.push(Buffer.from([1]))).toThrow(err as WireError);
          const reply = protocol.reply(err as WireError);
          expect(reply === null || Buffer.isBuffer(reply)).toBe(true);
        }
        expect(Date.now() - started).toBeLessThan(1000);
        for (const f of frames) expect(f.raw.length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 500 },
    );
  });
});
