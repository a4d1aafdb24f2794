/**
 * Small AMQP encoders for tests: build valid (and deliberately broken) AMQP 0-9-1 and AMQP 1.0 byte
 * streams independently of the codecs under test.
 */
import { METHOD_BY_NAME, BASIC_PROPERTIES } from '../../validators/amqp091';

// ---------------------------------------------------------------- AMQP 0-9-1

/** A field value with an explicit type tag, for tags plain JS values do not select. */
export interface Tagged091 {
  readonly tag: 'b' | 'B' | 's' | 'U' | 'u' | 'I' | 'i' | 'l' | 'L' | 'f' | 'd' | 'S' | 'x' | 'T' | 'V' | 't';
  readonly value: unknown;
}

/** A value the 0-9-1 encoder accepts in tables and arrays. */
export type Encodable091 =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | null
  | Tagged091
  | { readonly scale: number; readonly value: number }
  | readonly Encodable091[]
  | { readonly [key: string]: Encodable091 };

export function tag091(tag: Tagged091['tag'], value: unknown): Tagged091 {
  return { tag, value };
}

function isTagged(v: object): v is Tagged091 {
  return 'tag' in v && 'value' in v && Object.keys(v).length === 2;
}

function isDecimal(v: object): v is { scale: number; value: number } {
  return 'scale' in v && 'value' in v && Object.keys(v).length === 2;
}

export const amqp091 = {
  protocolHeader(): Buffer {
    return Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
  },

  frame(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
    const b = Buffer.alloc(8 + payload.length);
    b[0] = type;
    b.writeUInt16BE(channel, 1);
    b.writeUInt32BE(payload.length, 3);
    payload.copy(b, 7);
    b[b.length - 1] = end;
    return b;
  },

  shortstr(s: string | Buffer): Buffer {
    const v = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    return Buffer.concat([Buffer.from([v.length]), v]);
  },

  longstr(s: string | Buffer): Buffer {
    const v = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    const n = Buffer.alloc(4);
    n.writeUInt32BE(v.length);
    return Buffer.concat([n, v]);
  },

  table(t: { readonly [key: string]: Encodable091 }): Buffer {
    const parts: Buffer[] = [];
    for (const [k, v] of Object.entries(t)) parts.push(amqp091.shortstr(k), amqp091.fieldValue(v));
    return amqp091.longstr(Buffer.concat(parts));
  },

  array(a: readonly Encodable091[]): Buffer {
    return amqp091.longstr(Buffer.concat(a.map((v) => amqp091.fieldValue(v))));
  },

  fieldValue(v: Encodable091): Buffer {
    const tagged = (t: string, body: Buffer): Buffer => Buffer.concat([Buffer.from(t, 'latin1'), body]);
    if (v === null) return Buffer.from('V');
    if (typeof v === 'boolean') return tagged('t', Buffer.from([v ? 1 : 0]));
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return amqp091.fieldValue(tag091('I', v));
      return amqp091.fieldValue(tag091('d', v));
    }
    if (typeof v === 'bigint') return amqp091.fieldValue(tag091('l', v));
    if (typeof v === 'string') return tagged('S', amqp091.longstr(v));
    if (Buffer.isBuffer(v)) return tagged('x', amqp091.longstr(v));
    if (v instanceof Date) return amqp091.fieldValue(tag091('T', BigInt(Math.floor(v.getTime() / 1000))));
    if (Array.isArray(v)) return tagged('A', amqp091.array(v as readonly Encodable091[]));
    if (isTagged(v)) {
      const b = Buffer.alloc(8);
      switch (v.tag) {
        case 't':
          return tagged('t', Buffer.from([v.value ? 1 : 0]));
        case 'b':
          b.writeInt8(v.value as number);
          return tagged('b', b.subarray(0, 1));
        case 'B':
          b.writeUInt8(v.value as number);
          return tagged('B', b.subarray(0, 1));
        case 's':
        case 'U':
          b.writeInt16BE(v.value as number);
          return tagged(v.tag, b.subarray(0, 2));
        case 'u':
          b.writeUInt16BE(v.value as number);
          return tagged('u', b.subarray(0, 2));
        case 'I':
          b.writeInt32BE(v.value as number);
          return tagged('I', b.subarray(0, 4));
        case 'i':
          b.writeUInt32BE(v.value as number);
          return tagged('i', b.subarray(0, 4));
        case 'l':
          b.writeBigInt64BE(v.value as bigint);
          return tagged('l', b);
        case 'L':
        case 'T':
          b.writeBigUInt64BE(v.value as bigint);
          return tagged(v.tag, b);
        case 'f':
          b.writeFloatBE(v.value as number);
          return tagged('f', b.subarray(0, 4));
        case 'd':
          b.writeDoubleBE(v.value as number);
          return tagged('d', b);
        case 'S':
          return tagged('S', amqp091.longstr(v.value as string));
        case 'x':
          return tagged('x', amqp091.longstr(v.value as Buffer));
        case 'V':
          return Buffer.from('V');
      }
    }
    if (isDecimal(v)) {
      const b = Buffer.alloc(5);
      b[0] = v.scale;
      b.writeInt32BE(v.value, 1);
      return tagged('D', b);
    }
    return tagged('F', amqp091.table(v as { readonly [key: string]: Encodable091 }));
  },

  /** Method payload (class id, method id, arguments) from the method table. */
  methodPayload(name: string, args: { readonly [key: string]: unknown } = {}): Buffer {
    const spec = METHOD_BY_NAME.get(name);
    if (spec === undefined) throw new Error(`unknown method ${name}`);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(spec.classId, 0);
    head.writeUInt16BE(spec.methodId, 2);
    const parts: Buffer[] = [head];
    let bits = 0;
    let bit = -1;
    const flush = (): void => {
      if (bit >= 0) parts.push(Buffer.from([bits]));
      bits = 0;
      bit = -1;
    };
    for (const [arg, type] of spec.args) {
      const v = args[arg];
      if (type === 'bit') {
        if (bit === 7) flush();
        bit++;
        if (v === true) bits |= 1 << bit;
        continue;
      }
      flush();
      const b = Buffer.alloc(8);
      switch (type) {
        case 'octet':
          parts.push(Buffer.from([(v as number | undefined) ?? 0]));
          break;
        case 'short':
          b.writeUInt16BE((v as number | undefined) ?? 0);
          parts.push(b.subarray(0, 2));
          break;
        case 'long':
          b.writeUInt32BE((v as number | undefined) ?? 0);
          parts.push(b.subarray(0, 4));
          break;
        case 'longlong':
          b.writeBigUInt64BE(BigInt((v as bigint | number | undefined) ?? 0));
          parts.push(b);
          break;
        case 'shortstr':
          parts.push(amqp091.shortstr((v as string | undefined) ?? ''));
          break;
        case 'longstr':
        case 'bin':
          parts.push(amqp091.longstr((v as string | Buffer | undefined) ?? ''));
          break;
        case 'table':
          parts.push(amqp091.table((v as { [key: string]: Encodable091 } | undefined) ?? {}));
          break;
      }
    }
    flush();
    return Buffer.concat(parts);
  },

  method(channel: number, name: string, args: { readonly [key: string]: unknown } = {}): Buffer {
    return amqp091.frame(1, channel, amqp091.methodPayload(name, args));
  },

  /** Content header for class basic; `properties` by camelCase name. */
  contentHeader(channel: number, bodySize: number | bigint, properties: { readonly [key: string]: Encodable091 } = {}, classId = 60, weight = 0): Buffer {
    const head = Buffer.alloc(14);
    head.writeUInt16BE(classId, 0);
    head.writeUInt16BE(weight, 2);
    head.writeBigUInt64BE(BigInt(bodySize), 4);
    let flags = 0;
    const parts: Buffer[] = [];
    BASIC_PROPERTIES.forEach(([name, type], i) => {
      const v = properties[name];
      if (v === undefined) return;
      flags |= 0x8000 >> i;
      if (type === 'shortstr') parts.push(amqp091.shortstr(v as string));
      else if (type === 'octet') parts.push(Buffer.from([v as number]));
      else if (type === 'table') parts.push(amqp091.table(v as { [key: string]: Encodable091 }));
      else {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(Math.floor((v as Date).getTime() / 1000)));
        parts.push(b);
      }
    });
    head.writeUInt16BE(flags, 12);
    return amqp091.frame(2, channel, Buffer.concat([head, ...parts]));
  },

  body(channel: number, data: Buffer | string): Buffer {
    return amqp091.frame(3, channel, typeof data === 'string' ? Buffer.from(data) : data);
  },

  heartbeat(channel = 0): Buffer {
    return amqp091.frame(8, channel, Buffer.alloc(0));
  },
};

// ---------------------------------------------------------------- AMQP 1.0

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** Encoded AMQP 1.0 values (part 1, types), smallest encodings unless a constructor is forced. */
export const amqp10 = {
  protocolHeader(id: 0 | 2 | 3 = 0, major = 1, minor = 0, revision = 0): Buffer {
    return Buffer.from([0x41, 0x4d, 0x51, 0x50, id, major, minor, revision]);
  },

  /** A frame: size, doff, type, channel, extended header, body. */
  frame(type: number, channel: number, body: Buffer, extended: Buffer = Buffer.alloc(0)): Buffer {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + extended.length + body.length, 0);
    head[4] = 2 + extended.length / 4;
    head[5] = type;
    head.writeUInt16BE(channel, 6);
    return Buffer.concat([head, extended, body]);
  },

  empty(channel = 0): Buffer {
    return amqp10.frame(0, channel, Buffer.alloc(0));
  },

  null(): Buffer {
    return Buffer.from([0x40]);
  },
  bool(v: boolean): Buffer {
    return Buffer.from([v ? 0x41 : 0x42]);
  },
  boolean56(v: boolean): Buffer {
    return Buffer.from([0x56, v ? 1 : 0]);
  },
  ubyte(v: number): Buffer {
    return Buffer.from([0x50, v]);
  },
  ushort(v: number): Buffer {
    const b = Buffer.from([0x60, 0, 0]);
    b.writeUInt16BE(v, 1);
    return b;
  },
  uint(v: number): Buffer {
    if (v === 0) return Buffer.from([0x43]);
    if (v < 256) return Buffer.from([0x52, v]);
    return Buffer.concat([Buffer.from([0x70]), u32(v)]);
  },
  ulong(v: number | bigint): Buffer {
    const n = BigInt(v);
    if (n === 0n) return Buffer.from([0x44]);
    if (n < 256n) return Buffer.from([0x53, Number(n)]);
    const b = Buffer.alloc(9);
    b[0] = 0x80;
    b.writeBigUInt64BE(n, 1);
    return b;
  },
  byte(v: number): Buffer {
    const b = Buffer.from([0x51, 0]);
    b.writeInt8(v, 1);
    return b;
  },
  short(v: number): Buffer {
    const b = Buffer.from([0x61, 0, 0]);
    b.writeInt16BE(v, 1);
    return b;
  },
  int(v: number): Buffer {
    if (v >= -128 && v <= 127) {
      const b = Buffer.from([0x54, 0]);
      b.writeInt8(v, 1);
      return b;
    }
    const b = Buffer.alloc(5);
    b[0] = 0x71;
    b.writeInt32BE(v, 1);
    return b;
  },
  long(v: bigint): Buffer {
    if (v >= -128n && v <= 127n) {
      const b = Buffer.from([0x55, 0]);
      b.writeInt8(Number(v), 1);
      return b;
    }
    const b = Buffer.alloc(9);
    b[0] = 0x81;
    b.writeBigInt64BE(v, 1);
    return b;
  },
  float(v: number): Buffer {
    const b = Buffer.alloc(5);
    b[0] = 0x72;
    b.writeFloatBE(v, 1);
    return b;
  },
  double(v: number): Buffer {
    const b = Buffer.alloc(9);
    b[0] = 0x82;
    b.writeDoubleBE(v, 1);
    return b;
  },
  decimal(width: 4 | 8 | 16, bytes: Buffer): Buffer {
    return Buffer.concat([Buffer.from([width === 4 ? 0x74 : width === 8 ? 0x84 : 0x94]), bytes]);
  },
  char(cp: number): Buffer {
    return Buffer.concat([Buffer.from([0x73]), u32(cp)]);
  },
  timestamp(ms: number): Buffer {
    const b = Buffer.alloc(9);
    b[0] = 0x83;
    b.writeBigInt64BE(BigInt(ms), 1);
    return b;
  },
  uuid(hex: string): Buffer {
    return Buffer.concat([Buffer.from([0x98]), Buffer.from(hex.replace(/-/g, ''), 'hex')]);
  },
  binary(v: Buffer, wide = false): Buffer {
    return wide || v.length > 255 ? Buffer.concat([Buffer.from([0xb0]), u32(v.length), v]) : Buffer.concat([Buffer.from([0xa0, v.length]), v]);
  },
  string(s: string, wide = false): Buffer {
    const v = Buffer.from(s, 'utf8');
    return wide || v.length > 255 ? Buffer.concat([Buffer.from([0xb1]), u32(v.length), v]) : Buffer.concat([Buffer.from([0xa1, v.length]), v]);
  },
  symbol(s: string, wide = false): Buffer {
    const v = Buffer.from(s, 'latin1');
    return wide || v.length > 255 ? Buffer.concat([Buffer.from([0xb3]), u32(v.length), v]) : Buffer.concat([Buffer.from([0xa3, v.length]), v]);
  },
  /** list0 / list8 / list32 of already encoded items. */
  list(items: readonly Buffer[], wide = false): Buffer {
    if (items.length === 0 && !wide) return Buffer.from([0x45]);
    const body = Buffer.concat(items);
    if (!wide && body.length + 1 <= 255 && items.length <= 255) return Buffer.concat([Buffer.from([0xc0, body.length + 1, items.length]), body]);
    return Buffer.concat([Buffer.from([0xd0]), u32(body.length + 4), u32(items.length), body]);
  },
  /** map8 / map32 of already encoded key, value pairs (flattened). */
  map(items: readonly Buffer[], wide = false): Buffer {
    const body = Buffer.concat(items);
    if (!wide && body.length + 1 <= 255 && items.length <= 255) return Buffer.concat([Buffer.from([0xc1, body.length + 1, items.length]), body]);
    return Buffer.concat([Buffer.from([0xd1]), u32(body.length + 4), u32(items.length), body]);
  },
  /** array8 / array32: one constructor (already encoded, e.g. `[0xa3]`), then element bodies without it. */
  array(constructor: Buffer, elements: readonly Buffer[], wide = false): Buffer {
    const body = Buffer.concat([constructor, ...elements]);
    if (!wide && body.length + 1 <= 255 && elements.length <= 255) return Buffer.concat([Buffer.from([0xe0, body.length + 1, elements.length]), body]);
    return Buffer.concat([Buffer.from([0xf0]), u32(body.length + 4), u32(elements.length), body]);
  },
  /** An array of symbols (sym8 elements). */
  symbols(names: readonly string[]): Buffer {
    return amqp10.array(Buffer.from([0xa3]), names.map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n, 'latin1')])));
  },
  described(descriptor: Buffer, value: Buffer): Buffer {
    return Buffer.concat([Buffer.from([0x00]), descriptor, value]);
  },
  /** A described list with a numeric descriptor: a performative, error, source, target, outcome. */
  composite(code: number, fields: readonly Buffer[], wide = false): Buffer {
    return amqp10.described(amqp10.ulong(code), amqp10.list(fields, wide));
  },
  /** An AMQP frame (type 0) holding a performative and an optional payload. */
  performative(channel: number, code: number, fields: readonly Buffer[], payload: Buffer = Buffer.alloc(0)): Buffer {
    return amqp10.frame(0, channel, Buffer.concat([amqp10.composite(code, fields), payload]));
  },
  /** A SASL frame (type 1). */
  sasl(code: number, fields: readonly Buffer[]): Buffer {
    return amqp10.frame(1, 0, amqp10.composite(code, fields));
  },
};

/** AMQP 1.0 descriptor codes (part 2 §2.7, part 3, part 5 §5.3.3). */
export const CODES = {
  open: 0x10,
  begin: 0x11,
  attach: 0x12,
  flow: 0x13,
  transfer: 0x14,
  disposition: 0x15,
  detach: 0x16,
  end: 0x17,
  close: 0x18,
  error: 0x1d,
  received: 0x23,
  accepted: 0x24,
  rejected: 0x25,
  released: 0x26,
  modified: 0x27,
  source: 0x28,
  target: 0x29,
  saslMechanisms: 0x40,
  saslInit: 0x41,
  saslChallenge: 0x42,
  saslResponse: 0x43,
  saslOutcome: 0x44,
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
  amqpSequence: 0x76,
  amqpValue: 0x77,
  footer: 0x78,
} as const;

// ---------------------------------------------------------------- feeding helpers

/** Minimal codec shape for the feeding helpers. */
export interface Pushable<F> {
  push(chunk: Buffer): F[];
  readonly buffered: number;
}

/** Feeds `data` in chunks cut at `cuts` (sorted offsets), returning all frames. */
export function feedSplit<F>(codec: Pushable<F>, data: Buffer, cuts: readonly number[]): F[] {
  const out: F[] = [];
  let at = 0;
  for (const c of [...cuts, data.length]) {
    if (c <= at) continue;
    out.push(...codec.push(data.subarray(at, c)));
    at = c;
  }
  return out;
}

/** Feeds `data` one byte per push. */
export function feedBytes<F>(codec: Pushable<F>, data: Buffer): F[] {
  const out: F[] = [];
  for (let i = 0; i < data.length; i++) out.push(...codec.push(data.subarray(i, i + 1)));
  return out;
}

/** Deterministic cut points for `len` bytes (mulberry32). */
export function randomCuts(len: number, seed: number, count = 16): number[] {
  let a = seed >>> 0;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const cuts: number[] = [];
  for (let i = 0; i < count; i++) cuts.push(Math.floor(rnd() * len));
  return cuts.sort((x, y) => x - y);
}
