/**
 * Streaming AMQP 1.0 codec: protocol headers (part 2 §2.2, part 5 §5.1), frames (part 2 §2.3),
 * SASL negotiation (part 5 §5.3), performatives (part 2 §2.7) decoded with the type system
 * (part 1), max-frame-size and channel-max from open (part 2 §2.4.1), session and close order.
 */
import { WireError, type Codec, type Direction } from '../types';
import { CODE, Decoder, hex, type AmqpValue, type Described } from './decoder';
import { ERRORS, type Amqp10ErrorSpec } from './errors';
import type { Amqp10Limits } from './limits';
import { ERROR_CODE, ERROR_SYMBOL, PERFORMATIVE_BY_CODE, PERFORMATIVE_BY_SYMBOL, type FieldType, type PerformativeSpec } from './performatives';

/** Protocol ids of the protocol header (part 2 §2.2, part 5 §5.1, §5.2). */
export const PROTOCOL_AMQP = 0;
export const PROTOCOL_TLS = 2;
export const PROTOCOL_SASL = 3;
/** Frame types. */
export const FRAME_AMQP = 0x00;
export const FRAME_SASL = 0x01;
/** MIN-MAX-FRAME-SIZE (part 2 §2.7.1). */
export const MIN_MAX_FRAME_SIZE = 512;
/** size(4) doff(1) type(1) channel(2); also the protocol header length. */
const HEAD = 8;

/** Fields common to every unit. */
interface FrameBase {
  /** Exact wire bytes; decoded Buffers and `raw` stay valid until the next `push`. */
  readonly raw: Buffer;
  readonly channel: number;
}

/** A protocol header: `AMQP` id 1 0 0. */
export interface Amqp10ProtocolHeaderFrame extends FrameBase {
  readonly type: 'protocol-header';
  readonly kind: 'protocol-header';
  /** 0 AMQP, 3 SASL. */
  readonly protocolId: number;
}

/** A frame with a body: a performative (AMQP frame) or a SASL frame. */
export interface Amqp10PerformativeFrame extends FrameBase {
  readonly type: 'amqp' | 'sasl';
  /** Performative name: `open`, `transfer`, `sasl-init`... */
  readonly kind: string;
  readonly performative: string;
  /** Descriptor code, 0x10-0x18 or 0x40-0x44. */
  readonly descriptor: number;
  /** The fields present in the list, by camelCase name (`containerId`, `maxFrameSize`). */
  readonly fields: Readonly<Record<string, AmqpValue>>;
  /** Transfer only: the message bytes after the performative (opaque), else null. */
  readonly payload: Buffer | null;
}

/** An empty AMQP frame (heartbeat). */
export interface Amqp10EmptyFrame extends FrameBase {
  readonly type: 'amqp';
  readonly kind: 'empty';
}

/** Any unit the AMQP 1.0 codec returns. */
export type Amqp10Frame = Amqp10ProtocolHeaderFrame | Amqp10PerformativeFrame | Amqp10EmptyFrame;

/** What one side announced in its open. */
export interface OpenLimits {
  readonly maxFrameSize: number;
  readonly channelMax: number;
}

/** What one direction has sent so far, used to build a protocol-correct reply. */
export interface Progress {
  saslHeader: boolean;
  amqpHeader: boolean;
  open: boolean;
  /** Currently in the SASL layer. */
  inSasl: boolean;
}

/** Snapshot taken when a codec fails: what the offender and the direction toward it had sent. */
export interface ReplyContext {
  readonly offender: Readonly<Progress>;
  readonly towardOffender: Readonly<Progress>;
}

/** Reply contexts of errors thrown by AMQP 1.0 codecs. */
export const replyContexts = new WeakMap<WireError, ReplyContext>();

/**
 * State shared by the two codecs of one connection: each side's open. Frames toward a peer must
 * fit that peer's max-frame-size and channel-max; a codec that has not seen the peer's open (a
 * direction validated on its own) falls back to the gateway limits.
 */
export class Amqp10Connection {
  /** The client's open (seen toServer): limits for frames toward the client. */
  clientOpen: OpenLimits | null = null;
  /** The server's open (seen toClient): limits for frames toward the server. */
  serverOpen: OpenLimits | null = null;
  readonly progress: Record<Direction, Progress> = {
    toServer: { saslHeader: false, amqpHeader: false, open: false, inSasl: false },
    toClient: { saslHeader: false, amqpHeader: false, open: false, inSasl: false },
  };

  constructor(readonly limits: Readonly<Amqp10Limits>) {}

  /** The open of the peer receiving frames sent in `direction`. */
  receiverOpen(direction: Direction): OpenLimits | null {
    return direction === 'toServer' ? this.serverOpen : this.clientOpen;
  }
}

type Layer = 'header' | 'sasl' | 'amqp' | 'closed';

/** Streaming AMQP 1.0 codec for one direction of one connection. */
export class Amqp10Codec implements Codec<Amqp10Frame> {
  readonly protocol = 'amqp10' as const;
  private layer: Layer = 'header';
  private error: WireError | null = null;
  private readonly head = Buffer.alloc(HEAD);
  private headLen = 0;
  private pending: Buffer | null = null;
  private filled = 0;
  private readonly decoder: Decoder;
  private readonly progress: Progress;
  /** SASL step of this direction: frames sent so far in the SASL layer. */
  private saslFrames = 0;
  /** Set after a successful SASL outcome (toClient) or sasl-init (toServer). */
  private saslDone = false;
  /** Outgoing channels with a begin and no end yet. */
  private readonly sessions = new Set<number>();
  /** Bytes of the delivery in progress per link (`channel * 2^32 + handle`). */
  private readonly deliveries = new Map<number, number>();
  private readonly client: boolean;

  constructor(
    readonly direction: Direction,
    private readonly conn: Amqp10Connection,
  ) {
    this.client = direction === 'toServer';
    this.decoder = new Decoder(direction, conn.limits);
    this.progress = conn.progress[direction];
  }

  get buffered(): number {
    return this.headLen + this.filled;
  }

  push(chunk: Buffer): Amqp10Frame[] {
    if (this.error !== null) throw this.error;
    const out: Amqp10Frame[] = [];
    try {
      this.consume(chunk, out);
    } catch (err) {
      const e = err instanceof WireError ? err : new WireError('amqp10', this.direction, ERRORS.DECODE_ERROR, 'undecodable frame', { cause: err });
      const other: Direction = this.direction === 'toServer' ? 'toClient' : 'toServer';
      replyContexts.set(e, { offender: { ...this.progress }, towardOffender: { ...this.conn.progress[other] } });
      this.error = e;
      this.pending = null;
      this.filled = 0;
      this.headLen = 0;
      throw e;
    }
    return out;
  }

  private fail(spec: Amqp10ErrorSpec, message: string): never {
    throw new WireError('amqp10', this.direction, spec, message);
  }

  private consume(chunk: Buffer, out: Amqp10Frame[]): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.pending !== null) {
        const n = Math.min(len - pos, this.pending.length - this.filled);
        chunk.copy(this.pending, this.filled, pos, pos + n);
        this.filled += n;
        pos += n;
        if (this.filled === this.pending.length) {
          const frame = this.pending;
          this.pending = null;
          this.filled = 0;
          out.push(this.frame(frame));
        }
        continue;
      }
      if (this.layer === 'closed') this.fail(ERRORS.ILLEGAL_STATE, 'bytes after the connection was closed');
      if (this.headLen > 0 || len - pos < HEAD) {
        const n = Math.min(HEAD - this.headLen, len - pos);
        chunk.copy(this.head, this.headLen, pos, pos + n);
        this.headLen += n;
        pos += n;
        if (this.headLen < HEAD) {
          this.earlyHeaderCheck();
          break;
        }
        this.headLen = 0;
        if (this.isProtocolHeader(this.head, 0)) {
          out.push(this.protocolHeader(Buffer.from(this.head)));
          continue;
        }
        const total = this.frameLength(this.head, 0);
        if (total === HEAD) {
          out.push(this.frame(Buffer.from(this.head)));
          continue;
        }
        this.pending = Buffer.allocUnsafe(total);
        this.head.copy(this.pending, 0, 0, HEAD);
        this.filled = HEAD;
        continue;
      }
      if (this.isProtocolHeader(chunk, pos)) {
        out.push(this.protocolHeader(chunk.subarray(pos, pos + HEAD)));
        pos += HEAD;
        continue;
      }
      const total = this.frameLength(chunk, pos);
      if (len - pos >= total) {
        out.push(this.frame(chunk.subarray(pos, pos + total)));
        pos += total;
      } else {
        this.pending = Buffer.allocUnsafe(total);
        chunk.copy(this.pending, 0, pos, len);
        this.filled = len - pos;
        pos = len;
      }
    }
  }

  /** Where a protocol header is due, a wrong first byte fails at once rather than after 8 bytes. */
  private earlyHeaderCheck(): void {
    if (this.layer !== 'header') return;
    for (let i = 0; i < this.headLen && i < 4; i++) {
      if (this.head[i] !== AMQP[i]) this.badHeader(this.head[i] as number, i);
    }
  }

  private badHeader(b: number, at: number): never {
    this.fail(ERRORS.BAD_PROTOCOL_HEADER, `expected protocol header "AMQP\\x00\\x01\\x00\\x00", got byte 0x${hex(b)} at offset ${at}`);
  }

  /** Whether the 8 bytes at `at` are to be read as a protocol header. */
  private isProtocolHeader(b: Buffer, at: number): boolean {
    if (this.layer === 'header') {
      for (let i = 0; i < 4; i++) if (b[at + i] !== AMQP[i]) this.badHeader(b[at + i] as number, i);
      return true;
    }
    // After SASL the client sends the AMQP header without waiting for the outcome; "AMQP" read as
    // a frame size would be 1.1 GB, which no limit admits.
    return this.layer === 'sasl' && b.readUInt32BE(at) === 0x414d5150;
  }

  private protocolHeader(raw: Buffer): Amqp10ProtocolHeaderFrame {
    const id = raw[4] as number;
    const version = `${raw[5]}.${raw[6]}.${raw[7]}`;
    if (id === PROTOCOL_TLS) {
      this.fail(ERRORS.TLS_NOT_SUPPORTED, 'TLS protocol header (id 2): TLS is terminated by the gateway, not negotiated in-band');
    }
    if ((id !== PROTOCOL_AMQP && id !== PROTOCOL_SASL) || version !== '1.0.0') {
      this.fail(ERRORS.UNSUPPORTED_VERSION, `protocol header announces protocol id ${id} version ${version}; only AMQP 1.0.0 (id 0) and SASL (id 3) are supported`);
    }
    const p = this.progress;
    if (id === PROTOCOL_SASL) {
      if (this.layer !== 'header' || p.saslHeader || p.amqpHeader) this.fail(ERRORS.UNEXPECTED_HEADER, 'SASL protocol header after the security layer was negotiated');
      p.saslHeader = true;
      p.inSasl = true;
      this.layer = 'sasl';
    } else {
      if (this.layer === 'sasl' && !this.saslDone) {
        this.fail(ERRORS.UNEXPECTED_HEADER, `AMQP protocol header before the SASL exchange completed (${this.client ? 'no sasl-init sent' : 'no sasl-outcome sent'})`);
      }
      if (p.amqpHeader) this.fail(ERRORS.UNEXPECTED_HEADER, 'second AMQP protocol header');
      p.amqpHeader = true;
      p.inSasl = false;
      this.layer = 'amqp';
    }
    return { type: 'protocol-header', kind: 'protocol-header', channel: 0, protocolId: id, raw };
  }

  /** Largest frame this direction may send now. */
  private frameMax(): number {
    const limits = this.conn.limits;
    if (!this.progress.open) return Math.min(limits.preOpenFrameSize, limits.maxFrameSize);
    const peer = this.conn.receiverOpen(this.direction);
    return peer === null ? limits.maxFrameSize : Math.min(peer.maxFrameSize, limits.maxFrameSize);
  }

  /** Validates a frame header and returns the frame size; nothing is buffered before this. */
  private frameLength(b: Buffer, at: number): number {
    const size = b.readUInt32BE(at);
    const doff = b[at + 4] as number;
    const type = b[at + 5] as number;
    if (size < HEAD) this.fail(ERRORS.BAD_FRAME_HEADER, `frame size ${size} is below the 8-byte frame header`);
    if (doff < 2) this.fail(ERRORS.BAD_FRAME_HEADER, `data offset ${doff} is below 2`);
    if (doff * 4 > size) this.fail(ERRORS.BAD_FRAME_HEADER, `data offset ${doff} (${doff * 4} bytes) is beyond the frame size ${size}`);
    if (type !== FRAME_AMQP && type !== FRAME_SASL) this.fail(ERRORS.UNKNOWN_FRAME_TYPE, `unknown frame type 0x${hex(type)}`);
    if ((type === FRAME_SASL) !== (this.layer === 'sasl')) {
      this.fail(ERRORS.WRONG_LAYER, type === FRAME_SASL ? 'SASL frame outside the SASL layer' : 'AMQP frame during the SASL exchange');
    }
    const max = this.frameMax();
    if (size > max) this.fail(ERRORS.FRAME_TOO_LARGE, `frame of ${size} bytes is above the maximum frame size ${max}`);
    if (type === FRAME_AMQP) {
      const channel = b.readUInt16BE(at + 6);
      const peer = this.conn.receiverOpen(this.direction);
      const channelMax = peer === null ? this.conn.limits.channelMax : Math.min(peer.channelMax, this.conn.limits.channelMax);
      if (channel > channelMax) this.fail(ERRORS.CHANNEL_OUT_OF_RANGE, `channel ${channel} is above channel-max ${channelMax}`);
    }
    return size;
  }

  /** Validates one complete frame. */
  private frame(raw: Buffer): Amqp10Frame {
    const type = raw[5] as number;
    const channel = raw.readUInt16BE(6);
    const bodyAt = (raw[4] as number) * 4;
    if (bodyAt === raw.length) {
      if (type === FRAME_SASL) this.fail(ERRORS.DECODE_ERROR, 'empty SASL frame: a SASL frame carries exactly one SASL body');
      return { type: 'amqp', kind: 'empty', channel, raw };
    }
    const d = this.decoder;
    d.reset(raw, bodyAt, raw.length);
    const spec = this.descriptor(type);
    const fields = this.fields(spec);
    let payload: Buffer | null = null;
    if (d.pos !== raw.length) {
      if (spec.code !== 0x14) this.fail(ERRORS.TRAILING_BYTES, `${raw.length - d.pos} bytes after the ${spec.name} ${type === FRAME_SASL ? 'SASL frame body' : 'performative'}`);
      payload = raw.subarray(d.pos);
    }
    if (type === FRAME_SASL) this.sasl(spec, fields);
    else this.amqp(spec, fields, channel, payload);
    return {
      type: type === FRAME_SASL ? 'sasl' : 'amqp',
      kind: spec.name,
      channel,
      performative: spec.name,
      descriptor: spec.code,
      fields,
      payload,
      raw,
    };
  }

  /** Reads the descriptor of the frame body and finds its performative. */
  private descriptor(type: number): PerformativeSpec {
    const d = this.decoder;
    const c = d.byte('performative');
    if (c !== CODE.described) this.fail(ERRORS.NOT_A_PERFORMATIVE, `frame body starts with constructor 0x${hex(c)}, expected a described performative`);
    const dc = d.byte('descriptor');
    let spec: PerformativeSpec | undefined;
    let label: string;
    if (dc === CODE.smallulong || dc === CODE.ulong || dc === CODE.ulong0) {
      const code = d.primitive(dc) as bigint;
      spec = code <= 0xffn ? PERFORMATIVE_BY_CODE.get(Number(code)) : undefined;
      label = `0x${code.toString(16)}`;
    } else if (dc === CODE.sym8 || dc === CODE.sym32) {
      label = d.symbol(dc === CODE.sym32);
      spec = PERFORMATIVE_BY_SYMBOL.get(label);
    } else {
      return this.fail(ERRORS.NOT_A_PERFORMATIVE, `descriptor constructor 0x${hex(dc)} is neither ulong nor symbol`);
    }
    if (spec === undefined || spec.frameType !== type) {
      this.fail(ERRORS.NOT_A_PERFORMATIVE, `descriptor ${label} is not ${type === FRAME_SASL ? 'a SASL frame body (0x40-0x44)' : 'a performative (0x10-0x18)'}`);
    }
    return spec;
  }

  /** Decodes the field list, checking types and mandatory fields. */
  private fields(spec: PerformativeSpec): Record<string, AmqpValue> {
    const d = this.decoder;
    const { count, stop, outer } = d.compositeList(d.byte('performative list'));
    const defs = spec.fields;
    if (count > defs.length) this.fail(ERRORS.INVALID_FIELD, `${spec.name} has ${count} fields, at most ${defs.length} are defined`);
    const out: Record<string, AmqpValue> = {};
    for (let i = 0; i < count; i++) {
      const [name, type, mandatory] = defs[i] as (typeof defs)[number];
      const code = d.byte(name);
      if (code === CODE.null) {
        if (mandatory) this.fail(ERRORS.INVALID_FIELD, `${spec.name}.${name} is mandatory but null`);
        out[name] = null;
        continue;
      }
      this.checkType(spec, name, type, code);
      const v = d.valueOf(code);
      if (type === 'error') this.checkError(spec, name, v);
      out[name] = v;
    }
    d.endComposite(stop, outer);
    for (let i = count; i < defs.length; i++) {
      const f = defs[i] as (typeof defs)[number];
      if (f[2]) this.fail(ERRORS.INVALID_FIELD, `${spec.name}.${f[0]} is mandatory but missing`);
    }
    return out;
  }

  private checkType(spec: PerformativeSpec, name: string, type: FieldType, code: number): void {
    let ok: boolean;
    switch (type) {
      case 'string':
        ok = code === CODE.str8 || code === CODE.str32;
        break;
      case 'symbol':
        ok = code === CODE.sym8 || code === CODE.sym32;
        break;
      case 'symbols': {
        ok = code === CODE.sym8 || code === CODE.sym32;
        if (code === CODE.array8 || code === CODE.array32) {
          // The element constructor follows size and count.
          const d = this.decoder;
          const at = d.pos + (code === CODE.array8 ? 2 : 8);
          const el = at < d.end ? (d.buf[at] as number) : -1;
          ok = el === CODE.sym8 || el === CODE.sym32 || el === -1;
        }
        break;
      }
      case 'uint':
        ok = code === CODE.uint || code === CODE.smalluint || code === CODE.uint0;
        break;
      case 'ushort':
        ok = code === CODE.ushort;
        break;
      case 'ubyte':
        ok = code === CODE.ubyte;
        break;
      case 'ulong':
        ok = code === CODE.ulong || code === CODE.smallulong || code === CODE.ulong0;
        break;
      case 'boolean':
        ok = code === CODE.true || code === CODE.false || code === CODE.boolean;
        break;
      case 'binary':
        ok = code === CODE.vbin8 || code === CODE.vbin32;
        break;
      case 'map':
        ok = code === CODE.map8 || code === CODE.map32;
        break;
      case 'described':
      case 'error':
        ok = code === CODE.described;
        break;
      default:
        ok = true;
    }
    if (!ok) this.fail(ERRORS.INVALID_FIELD, `${spec.name}.${name} has constructor 0x${hex(code)}, expected ${type}`);
  }

  private checkError(spec: PerformativeSpec, name: string, v: AmqpValue): void {
    const e = v as Described;
    const desc = e.descriptor;
    const isError = desc === ERROR_DESCRIPTOR || desc === ERROR_SYMBOL;
    const list = e.value;
    if (!isError || !Array.isArray(list) || list.length < 1 || typeof list[0] !== 'string') {
      this.fail(ERRORS.INVALID_FIELD, `${spec.name}.${name} is not an amqp:error:list with a condition`);
    }
  }

  /** SASL order (part 5 §5.3.2): mechanisms, challenge*, outcome from the server; init, response* from the client. */
  private sasl(spec: PerformativeSpec, fields: Record<string, AmqpValue>): void {
    const n = spec.name;
    const first = this.saslFrames === 0;
    let ok: boolean;
    if (this.client) ok = first ? n === 'sasl-init' : n === 'sasl-response';
    else ok = first ? n === 'sasl-mechanisms' : n === 'sasl-challenge' || n === 'sasl-outcome';
    if (!ok) {
      const expected = this.client ? (first ? 'sasl-init' : 'sasl-response') : first ? 'sasl-mechanisms' : 'sasl-challenge or sasl-outcome';
      this.fail(ERRORS.ILLEGAL_STATE, `${n} from the ${this.client ? 'client' : 'server'}: expected ${expected}`);
    }
    this.saslFrames++;
    if (this.client) {
      this.saslDone = true;
    } else if (n === 'sasl-outcome') {
      this.saslDone = true;
      this.progress.inSasl = false;
      // A successful outcome is followed by the AMQP header; any other ends the connection.
      this.layer = fields['code'] === 0 ? 'header' : 'closed';
    }
  }

  /** Connection and session order; open limits; delivery size. */
  private amqp(spec: PerformativeSpec, fields: Record<string, AmqpValue>, channel: number, payload: Buffer | null): void {
    const p = this.progress;
    const n = spec.name;
    if (!p.open) {
      if (n !== 'open') this.fail(ERRORS.ILLEGAL_STATE, `${n} before open: open must be the first performative`);
      this.open(fields);
      p.open = true;
      return;
    }
    switch (n) {
      case 'open':
        return this.fail(ERRORS.ILLEGAL_STATE, 'second open on the connection');
      case 'close':
        this.layer = 'closed';
        return;
      case 'begin':
        if (this.sessions.has(channel)) this.fail(ERRORS.ILLEGAL_STATE, `begin on channel ${channel}, which already has a session`);
        this.sessions.add(channel);
        return;
      case 'end':
        this.session(n, channel);
        this.sessions.delete(channel);
        return;
      case 'transfer':
        this.session(n, channel);
        this.transfer(fields, channel, payload);
        return;
      default:
        this.session(n, channel);
    }
  }

  private session(name: string, channel: number): void {
    if (!this.sessions.has(channel)) this.fail(ERRORS.ILLEGAL_STATE, `${name} on channel ${channel}, which has no session (no begin)`);
  }

  private open(fields: Record<string, AmqpValue>): void {
    const mfs = fields['maxFrameSize'];
    const maxFrameSize = typeof mfs === 'number' ? mfs : 0xffffffff;
    if (maxFrameSize < MIN_MAX_FRAME_SIZE) this.fail(ERRORS.FRAME_SIZE_TOO_SMALL, `open max-frame-size ${maxFrameSize} is below the minimum ${MIN_MAX_FRAME_SIZE}`);
    const cm = fields['channelMax'];
    const limits: OpenLimits = { maxFrameSize, channelMax: typeof cm === 'number' ? cm : 0xffff };
    if (this.client) this.conn.clientOpen = limits;
    else this.conn.serverOpen = limits;
  }

  private transfer(fields: Record<string, AmqpValue>, channel: number, payload: Buffer | null): void {
    const key = channel * 0x100000000 + (fields['handle'] as number);
    const size = (this.deliveries.get(key) ?? 0) + (payload === null ? 0 : payload.length);
    const max = this.conn.limits.maxMessageSize;
    if (size > max) this.fail(ERRORS.MESSAGE_TOO_LARGE, `delivery of at least ${size} bytes on channel ${channel} handle ${String(fields['handle'])} is above the limit ${max}`);
    if (fields['more'] === true && fields['aborted'] !== true) this.deliveries.set(key, size);
    else this.deliveries.delete(key);
  }
}

const AMQP = Buffer.from('AMQP', 'latin1');
const ERROR_DESCRIPTOR = BigInt(ERROR_CODE);
