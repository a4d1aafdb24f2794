/**
 * The AMQP 1.0 type system decoder (OASIS AMQP 1.0 part 1, §1.6 "Type encodings"). Every size and
 * count is checked against the bytes left in its container and against the limits before any
 * element is read; nesting depth is bounded.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { WireError, type Direction } from '../types';
import { ERRORS, type Amqp10ErrorSpec } from './errors';
import type { Amqp10Limits } from './limits';

/** A described value (§1.2): a descriptor (ulong code or symbol) and the value it describes. */
export interface Described {
  readonly descriptor: AmqpValue;
  readonly value: AmqpValue;
}

/**
 * A decoded AMQP value: null; boolean; number (ubyte, ushort, uint, byte, short, int, float,
 * double); bigint (ulong, long); string (string, symbol, char, uuid as 8-4-4-4-12 hex); Buffer
 * (binary, decimal32/64/128 — views into the frame); Date (timestamp); arrays (list, array);
 * Map (map); {@link Described}.
 */
export type AmqpValue = null | boolean | number | bigint | string | Buffer | Date | Described | AmqpValue[] | Map<AmqpValue, AmqpValue>;

/** Constructors (format codes) of part 1 §1.6. */
export const CODE = {
  described: 0x00,
  null: 0x40,
  true: 0x41,
  false: 0x42,
  boolean: 0x56,
  ubyte: 0x50,
  ushort: 0x60,
  uint: 0x70,
  smalluint: 0x52,
  uint0: 0x43,
  ulong: 0x80,
  smallulong: 0x53,
  ulong0: 0x44,
  byte: 0x51,
  short: 0x61,
  int: 0x71,
  smallint: 0x54,
  long: 0x81,
  smalllong: 0x55,
  float: 0x72,
  double: 0x82,
  decimal32: 0x74,
  decimal64: 0x84,
  decimal128: 0x94,
  char: 0x73,
  timestamp: 0x83,
  uuid: 0x98,
  vbin8: 0xa0,
  vbin32: 0xb0,
  str8: 0xa1,
  str32: 0xb1,
  sym8: 0xa3,
  sym32: 0xb3,
  list0: 0x45,
  list8: 0xc0,
  list32: 0xd0,
  map8: 0xc1,
  map32: 0xd1,
  array8: 0xe0,
  array32: 0xf0,
} as const;

/** Fixed widths of primitive values by constructor; -1 for variable width (length-prefixed). */
const WIDTH = new Int8Array(256).fill(-2);
for (const c of [0x40, 0x41, 0x42, 0x43, 0x44, 0x45]) WIDTH[c] = 0;
for (const c of [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56]) WIDTH[c] = 1;
for (const c of [0x60, 0x61]) WIDTH[c] = 2;
for (const c of [0x70, 0x71, 0x72, 0x73, 0x74]) WIDTH[c] = 4;
for (const c of [0x80, 0x81, 0x82, 0x83, 0x84]) WIDTH[c] = 8;
for (const c of [0x94, 0x98]) WIDTH[c] = 16;
for (const c of [0xa0, 0xa1, 0xa3, 0xb0, 0xb1, 0xb3, 0xc0, 0xc1, 0xd0, 0xd1, 0xe0, 0xf0]) WIDTH[c] = -1;

/** Whether `code` is a constructor of part 1 §1.6 (0x00 excluded). */
export function isPrimitiveCode(code: number): boolean {
  return (WIDTH[code] as number) !== -2;
}

/**
 * Reads AMQP values from one frame body. One instance per codec, reset per frame; it throws
 * {@link WireError} with the codec's direction.
 */
export class Decoder {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  private depth = 0;
  private readonly maxDepth: number;
  private readonly maxElements: number;

  constructor(
    private readonly direction: Direction,
    limits: Readonly<Amqp10Limits>,
  ) {
    this.maxDepth = limits.maxDepth;
    this.maxElements = limits.maxElements;
  }

  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.depth = 0;
  }

  fail(spec: Amqp10ErrorSpec, message: string): never {
    throw new WireError('amqp10', this.direction, spec, message);
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      this.fail(ERRORS.DECODE_ERROR, `${what} needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  byte(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  /** One value: constructor then data. */
  value(): AmqpValue {
    return this.valueOf(this.byte('constructor'));
  }

  /** Data of a value whose constructor `code` was already read. */
  valueOf(code: number): AmqpValue {
    if (code === CODE.described) {
      this.enter('described value');
      const descriptor = this.value();
      const value = this.value();
      this.depth--;
      return { descriptor, value };
    }
    return this.primitive(code);
  }

  private enter(what: string): void {
    if (++this.depth > this.maxDepth) this.fail(ERRORS.TOO_DEEP, `${what} nests deeper than ${this.maxDepth}`);
  }

  /** Size and count of a compound or array; checks both before any element is read. */
  private sizeAndCount(wide: boolean, what: string): number {
    const b = this.buf;
    let size: number;
    let count: number;
    if (wide) {
      this.need(8, what);
      size = b.readUInt32BE(this.pos);
      count = b.readUInt32BE(this.pos + 4);
      this.pos += 4;
      if (size > this.end - this.pos) this.fail(ERRORS.DECODE_ERROR, `${what} size ${size} exceeds the ${this.end - this.pos} bytes left`);
      if (size < 4) this.fail(ERRORS.DECODE_ERROR, `${what} size ${size} is too small for its count`);
      this.pos += 4;
      size -= 4;
    } else {
      this.need(2, what);
      size = b[this.pos] as number;
      count = b[this.pos + 1] as number;
      this.pos += 1;
      if (size > this.end - this.pos) this.fail(ERRORS.DECODE_ERROR, `${what} size ${size} exceeds the ${this.end - this.pos} bytes left`);
      if (size < 1) this.fail(ERRORS.DECODE_ERROR, `${what} size ${size} is too small for its count`);
      this.pos += 1;
      size -= 1;
    }
    if (count > this.maxElements) this.fail(ERRORS.TOO_MANY_ELEMENTS, `${what} declares ${count} elements, above the limit ${this.maxElements}`);
    this.compoundEnd = this.pos + size;
    return count;
  }

  /** End of the compound whose size was read last by {@link sizeAndCount}. */
  private compoundEnd = 0;

  /** Reads a list body (after its constructor) into an array. */
  private list(wide: boolean): AmqpValue[] {
    const count = this.sizeAndCount(wide, 'list');
    const stop = this.compoundEnd;
    if (count > stop - this.pos) this.fail(ERRORS.DECODE_ERROR, `list count ${count} exceeds its ${stop - this.pos} bytes`);
    this.enter('list');
    const outer = this.end;
    this.end = stop;
    const out: AmqpValue[] = new Array<AmqpValue>(count);
    for (let i = 0; i < count; i++) out[i] = this.value();
    this.close(stop, outer, 'list');
    return out;
  }

  private map(wide: boolean): Map<AmqpValue, AmqpValue> {
    const count = this.sizeAndCount(wide, 'map');
    const stop = this.compoundEnd;
    if (count % 2 !== 0) this.fail(ERRORS.DECODE_ERROR, `map count ${count} is odd`);
    if (count > stop - this.pos) this.fail(ERRORS.DECODE_ERROR, `map count ${count} exceeds its ${stop - this.pos} bytes`);
    this.enter('map');
    const outer = this.end;
    this.end = stop;
    const out = new Map<AmqpValue, AmqpValue>();
    for (let i = 0; i < count; i += 2) {
      const k = this.value();
      out.set(k, this.value());
    }
    this.close(stop, outer, 'map');
    return out;
  }

  private array(wide: boolean): AmqpValue[] {
    const count = this.sizeAndCount(wide, 'array');
    const stop = this.compoundEnd;
    this.enter('array');
    const outer = this.end;
    this.end = stop;
    let code = this.byte('array constructor');
    let descriptor: AmqpValue | undefined;
    if (code === CODE.described) {
      descriptor = this.value();
      code = this.byte('array constructor');
    }
    const width = WIDTH[code] as number;
    if (width === -2) this.fail(ERRORS.DECODE_ERROR, `array element constructor 0x${hex(code)} is not a primitive type`);
    const room = stop - this.pos;
    if (width > 0 ? count * width > room : width < 0 && count > room) {
      this.fail(ERRORS.DECODE_ERROR, `array of ${count} elements (constructor 0x${hex(code)}) exceeds its ${room} bytes`);
    }
    const out: AmqpValue[] = new Array<AmqpValue>(count);
    for (let i = 0; i < count; i++) {
      const v = this.primitive(code);
      out[i] = descriptor === undefined ? v : { descriptor, value: v };
    }
    this.close(stop, outer, 'array');
    return out;
  }

  private close(stop: number, outer: number, what: string): void {
    if (this.pos !== stop) this.fail(ERRORS.DECODE_ERROR, `${what} elements end ${stop - this.pos} bytes before its declared size`);
    this.end = outer;
    this.depth--;
  }

  private variable(wide: boolean, what: string): number {
    let len: number;
    if (wide) {
      this.need(4, what);
      len = this.buf.readUInt32BE(this.pos);
      this.pos += 4;
    } else {
      len = this.byte(what);
    }
    this.need(len, what);
    return len;
  }

  string(wide: boolean): string {
    const len = this.variable(wide, 'string');
    const view = this.buf.subarray(this.pos, this.pos + len);
    if (!isUtf8(view)) this.fail(ERRORS.INVALID_UTF8, `string of ${len} bytes at offset ${this.pos} is not valid UTF-8`);
    this.pos += len;
    return view.toString('utf8');
  }

  symbol(wide: boolean): string {
    const len = this.variable(wide, 'symbol');
    const view = this.buf.subarray(this.pos, this.pos + len);
    if (!isAscii(view)) this.fail(ERRORS.INVALID_SYMBOL, `symbol of ${len} bytes at offset ${this.pos} is not ASCII`);
    this.pos += len;
    return view.toString('latin1');
  }

  private binary(wide: boolean): Buffer {
    const len = this.variable(wide, 'binary');
    const view = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return view;
  }

  private fixed(n: number, what: string): number {
    this.need(n, what);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** Data of a primitive or compound value whose constructor is `code`. */
  primitive(code: number): AmqpValue {
    const b = this.buf;
    switch (code) {
      case 0x40:
        return null;
      case 0x41:
        return true;
      case 0x42:
        return false;
      case 0x56: {
        const v = b[this.fixed(1, 'boolean')] as number;
        if (v > 1) this.fail(ERRORS.DECODE_ERROR, `boolean octet 0x${hex(v)} is neither 0x00 nor 0x01`);
        return v === 1;
      }
      case 0x50:
      case 0x52:
        return b[this.fixed(1, 'ubyte')] as number;
      case 0x43:
        return 0;
      case 0x60:
        return b.readUInt16BE(this.fixed(2, 'ushort'));
      case 0x70:
        return b.readUInt32BE(this.fixed(4, 'uint'));
      case 0x80:
        return b.readBigUInt64BE(this.fixed(8, 'ulong'));
      case 0x53:
        return BigInt(b[this.fixed(1, 'smallulong')] as number);
      case 0x44:
        return 0n;
      case 0x51:
      case 0x54:
        return b.readInt8(this.fixed(1, 'byte'));
      case 0x61:
        return b.readInt16BE(this.fixed(2, 'short'));
      case 0x71:
        return b.readInt32BE(this.fixed(4, 'int'));
      case 0x81:
        return b.readBigInt64BE(this.fixed(8, 'long'));
      case 0x55:
        return BigInt(b.readInt8(this.fixed(1, 'smalllong')));
      case 0x72:
        return b.readFloatBE(this.fixed(4, 'float'));
      case 0x82:
        return b.readDoubleBE(this.fixed(8, 'double'));
      case 0x74:
        return b.subarray(this.fixed(4, 'decimal32'), this.pos);
      case 0x84:
        return b.subarray(this.fixed(8, 'decimal64'), this.pos);
      case 0x94:
        return b.subarray(this.fixed(16, 'decimal128'), this.pos);
      case 0x73: {
        const cp = b.readUInt32BE(this.fixed(4, 'char'));
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail(ERRORS.DECODE_ERROR, `char 0x${cp.toString(16)} is not a Unicode scalar value`);
        return String.fromCodePoint(cp);
      }
      case 0x83:
        return new Date(Number(b.readBigInt64BE(this.fixed(8, 'timestamp'))));
      case 0x98: {
        const at = this.fixed(16, 'uuid');
        const h = b.toString('hex', at, at + 16);
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
      }
      case 0xa0:
        return this.binary(false);
      case 0xb0:
        return this.binary(true);
      case 0xa1:
        return this.string(false);
      case 0xb1:
        return this.string(true);
      case 0xa3:
        return this.symbol(false);
      case 0xb3:
        return this.symbol(true);
      case 0x45:
        return [];
      case 0xc0:
        return this.list(false);
      case 0xd0:
        return this.list(true);
      case 0xc1:
        return this.map(false);
      case 0xd1:
        return this.map(true);
      case 0xe0:
        return this.array(false);
      case 0xf0:
        return this.array(true);
      default:
        return this.fail(ERRORS.DECODE_ERROR, `unknown constructor 0x${hex(code)} at offset ${this.pos - 1}`);
    }
  }

  /**
   * Reads a list header for a composite (performative, SASL frame): returns the field count and
   * leaves {@link compoundEnd} at the list's end; `this.end` is narrowed to it.
   */
  compositeList(code: number): { count: number; stop: number; outer: number } {
    if (code === CODE.list0) {
      this.depth++;
      return { count: 0, stop: this.pos, outer: this.end };
    }
    if (code !== CODE.list8 && code !== CODE.list32) {
      this.fail(ERRORS.NOT_A_PERFORMATIVE, `composite body has constructor 0x${hex(code)}, expected a list`);
    }
    const count = this.sizeAndCount(code === CODE.list32, 'list');
    const stop = this.compoundEnd;
    if (count > stop - this.pos) this.fail(ERRORS.DECODE_ERROR, `list count ${count} exceeds its ${stop - this.pos} bytes`);
    const outer = this.end;
    this.end = stop;
    this.depth++;
    return { count, stop, outer };
  }

  /** Ends a list opened by {@link compositeList}. */
  endComposite(stop: number, outer: number): void {
    if (this.pos !== stop) this.fail(ERRORS.DECODE_ERROR, `list elements end ${stop - this.pos} bytes before its declared size`);
    this.end = outer;
    this.depth--;
  }
}

export function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
