/**
 * AMQP 0-9-1 field types (amqp0-9-1.pdf §4.2.5, with RabbitMQ's errata for field value types:
 * https://www.rabbitmq.com/amqp-0-9-1-errata.html#section_3).
 */
import { WireError, type Direction } from '../types';
import { ERRORS, type Amqp091ErrorSpec } from './errors';

/** A `D` field value: `value / 10^scale`. */
export interface Decimal {
  readonly scale: number;
  readonly value: number;
}

/** A decoded field table; keys come from the wire, so the object has no prototype. */
export interface FieldTable {
  [key: string]: FieldValue;
}

/**
 * A decoded field value: `t` boolean; `b B s u U I i f d` number; `l L` bigint; `D` {@link Decimal};
 * `S` string (UTF-8); `x` Buffer (a view into the frame); `T` Date; `F` {@link FieldTable};
 * `A` array; `V` null.
 */
export type FieldValue = boolean | number | bigint | string | Buffer | Date | Decimal | FieldTable | FieldValue[] | null;

/**
 * Reads AMQP fields from one frame payload. One instance per codec, reset per frame: no allocation
 * beyond the decoded values themselves.
 */
export class FieldReader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  private depth = 0;

  constructor(
    private readonly direction: Direction,
    private readonly maxDepth: number,
  ) {}

  reset(buf: Buffer, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.depth = 0;
  }

  fail(spec: Amqp091ErrorSpec, message: string): never {
    throw new WireError('amqp091', this.direction, spec, message);
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      this.fail(ERRORS.MALFORMED_PAYLOAD, `truncated ${what}: ${n} bytes needed, ${this.end - this.pos} left`);
    }
  }

  octet(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++] as number;
  }

  short(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  long(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  longlong(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  timestamp(what: string): Date {
    return new Date(Number(this.longlong(what)) * 1000);
  }

  shortstr(what: string): string {
    const len = this.octet(what);
    this.need(len, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** A long string as a view into the frame (binary data such as SASL responses). */
  longbin(what: string): Buffer {
    const len = this.long(what);
    this.need(len, what);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  longstr(what: string): string {
    const len = this.long(what);
    this.need(len, what);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  table(what: string): FieldTable {
    const size = this.long(what);
    this.need(size, what);
    const stop = this.pos + size;
    this.enter(what);
    const out: FieldTable = Object.create(null) as FieldTable;
    const outer = this.end;
    this.end = stop;
    while (this.pos < stop) {
      const key = this.shortstr(what);
      out[key] = this.value(what);
    }
    this.end = outer;
    this.depth--;
    return out;
  }

  array(what: string): FieldValue[] {
    const size = this.long(what);
    this.need(size, what);
    const stop = this.pos + size;
    this.enter(what);
    const out: FieldValue[] = [];
    const outer = this.end;
    this.end = stop;
    while (this.pos < stop) out.push(this.value(what));
    this.end = outer;
    this.depth--;
    return out;
  }

  /** Checks a short string (length octet and bytes) without decoding it. */
  skipShortstr(what: string): void {
    const len = this.octet(what);
    this.need(len, what);
    this.pos += len;
  }

  /** Checks a long string (length and bytes) without decoding it. */
  skipLongstr(what: string): void {
    const len = this.long(what);
    this.need(len, what);
    this.pos += len;
  }

  /** Checks a field table as {@link table} does, building nothing. */
  skipTable(what: string): void {
    const size = this.long(what);
    this.need(size, what);
    const stop = this.pos + size;
    this.enter(what);
    const outer = this.end;
    this.end = stop;
    while (this.pos < stop) {
      this.skipShortstr(what);
      this.skipValue(what);
    }
    this.end = outer;
    this.depth--;
  }

  /** Checks a field array as {@link array} does, building nothing. */
  skipArray(what: string): void {
    const size = this.long(what);
    this.need(size, what);
    const stop = this.pos + size;
    this.enter(what);
    const outer = this.end;
    this.end = stop;
    while (this.pos < stop) this.skipValue(what);
    this.end = outer;
    this.depth--;
  }

  /** Checks one tagged field value as {@link value} does (same checks, same order), building nothing. */
  skipValue(what: string): void {
    const tag = this.octet(what);
    let n: number;
    switch (tag) {
      case 0x74: // t
      case 0x62: // b
      case 0x42: // B
        n = 1;
        break;
      case 0x73: // s
      case 0x55: // U
      case 0x75: // u
        n = 2;
        break;
      case 0x49: // I
      case 0x69: // i
      case 0x66: // f
        n = 4;
        break;
      case 0x44: // D
        n = 5;
        break;
      case 0x6c: // l
      case 0x4c: // L
      case 0x64: // d
      case 0x54: // T
        n = 8;
        break;
      case 0x53: // S
      case 0x78: // x
        this.skipLongstr(what);
        return;
      case 0x41: // A
        this.skipArray(what);
        return;
      case 0x46: // F
        this.skipTable(what);
        return;
      case 0x56: // V
        return;
      default:
        return this.fail(
          ERRORS.BAD_FIELD_VALUE,
          `${what}: unknown field value type 0x${tag.toString(16).padStart(2, '0')}`,
        );
    }
    this.need(n, what);
    this.pos += n;
  }

  private enter(what: string): void {
    if (++this.depth > this.maxDepth) {
      this.fail(ERRORS.FIELD_TOO_DEEP, `${what} nests field tables and arrays deeper than ${this.maxDepth}`);
    }
  }

  /** One tagged field value. */
  value(what: string): FieldValue {
    const tag = this.octet(what);
    const b = this.buf;
    switch (tag) {
      case 0x74: // t
        return this.octet(what) !== 0;
      case 0x62: { // b
        this.need(1, what);
        return b.readInt8(this.pos++);
      }
      case 0x42: // B
        return this.octet(what);
      case 0x73: // s (RabbitMQ)
      case 0x55: { // U (0-9-1 spec)
        this.need(2, what);
        const v = b.readInt16BE(this.pos);
        this.pos += 2;
        return v;
      }
      case 0x75: // u
        return this.short(what);
      case 0x49: { // I
        this.need(4, what);
        const v = b.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case 0x69: // i
        return this.long(what);
      case 0x6c: { // l
        this.need(8, what);
        const v = b.readBigInt64BE(this.pos);
        this.pos += 8;
        return v;
      }
      case 0x4c: // L (0-9-1 spec, unsigned)
        return this.longlong(what);
      case 0x66: { // f
        this.need(4, what);
        const v = b.readFloatBE(this.pos);
        this.pos += 4;
        return v;
      }
      case 0x64: { // d
        this.need(8, what);
        const v = b.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case 0x44: { // D
        this.need(5, what);
        const scale = b[this.pos] as number;
        const value = b.readInt32BE(this.pos + 1);
        this.pos += 5;
        return { scale, value };
      }
      case 0x53: // S
        return this.longstr(what);
      case 0x78: // x
        return this.longbin(what);
      case 0x41: // A
        return this.array(what);
      case 0x54: // T
        return this.timestamp(what);
      case 0x46: // F
        return this.table(what);
      case 0x56: // V
        return null;
      default:
        return this.fail(
          ERRORS.BAD_FIELD_VALUE,
          `${what}: unknown field value type 0x${tag.toString(16).padStart(2, '0')}`,
        );
    }
  }
}
