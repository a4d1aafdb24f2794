/**
 * Streaming AMQP 0-9-1 codec: protocol header, frames (amqp0-9-1.pdf §4.2.3), method argument
 * decoding, connection handshake order (§2.2.4), tuning (§4.2.3 "frame-max"), content sequencing
 * (§4.2.6) and the direction rules of amqp0-9-1.xml (`<chassis name="client|server">`).
 */
import { WireError, type Codec, type Direction } from '../types';
import { ERRORS, type Amqp091ErrorSpec } from './errors';
import { FieldReader, type FieldValue } from './fields';
import type { Amqp091Limits } from './limits';
import { BASIC_PROPERTIES, CLASS_IDS, METHODS, type ArgType, type MethodSpec } from './methods';

/** The AMQP 0-9-1 protocol header (§4.2.2). */
export const PROTOCOL_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]);
/** Frame types (§4.2.3). */
export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
/** The octet closing every frame. */
export const FRAME_END = 0xce;
/** frame-min-size: the smallest frame-max a peer may set (amqp0-9-1.xml constants). */
export const FRAME_MIN_SIZE = 4096;
/** type(1) channel(2) size(4). */
const HEAD = 7;

/**
 * Fields common to every frame. Method arguments, content properties and the body view are
 * decoded from `raw` when first read (they were checked when the frame was validated); read them,
 * like `raw`, before the next `push`. Values once read stay, except Buffers, which are views.
 */
interface FrameBase {
  /** Exact wire bytes; decoded Buffers and `raw` stay valid until the next `push`. */
  readonly raw: Buffer;
  readonly channel: number;
}

/** The protocol header that opens a connection (or a server's refusal naming its version). */
export interface Amqp091ProtocolHeaderFrame extends FrameBase {
  readonly type: 'protocol-header';
  readonly kind: 'protocol-header';
  /** The four version octets after "AMQP", e.g. `0.0.9.1`. */
  readonly version: string;
}

/** A method frame. */
export interface Amqp091MethodFrame extends FrameBase {
  readonly type: 'method';
  /** `class.method`, e.g. `basic.publish`. */
  readonly kind: string;
  readonly classId: number;
  readonly methodId: number;
  readonly className: string;
  readonly methodName: string;
  /** Decoded arguments by camelCase name (`routingKey`, `deliveryTag`); reserved fields included. */
  readonly args: Readonly<Record<string, FieldValue>>;
}

/** A content header frame. */
export interface Amqp091HeaderFrame extends FrameBase {
  readonly type: 'header';
  readonly kind: 'header';
  readonly classId: number;
  readonly bodySize: bigint;
  /** Present properties by camelCase name (`contentType`, `headers`, `deliveryMode`). */
  readonly properties: Readonly<Record<string, FieldValue>>;
}

/** A content body frame. */
export interface Amqp091BodyFrame extends FrameBase {
  readonly type: 'body';
  readonly kind: 'body';
  /** The body bytes (a view into `raw`). */
  readonly payload: Buffer;
}

/** A heartbeat frame (channel 0, empty payload). */
export interface Amqp091HeartbeatFrame extends FrameBase {
  readonly type: 'heartbeat';
  readonly kind: 'heartbeat';
}

/** Any unit the AMQP 0-9-1 codec returns. */
export type Amqp091Frame =
  | Amqp091ProtocolHeaderFrame
  | Amqp091MethodFrame
  | Amqp091HeaderFrame
  | Amqp091BodyFrame
  | Amqp091HeartbeatFrame;

/** Argument types as small integers, for the argument walk of a method frame. */
const ARG_CODES: Readonly<Record<ArgType, number>> = { octet: 1, short: 2, long: 3, longlong: 4, shortstr: 5, longstr: 6, bin: 7, bit: 8, table: 9 };
const A_OCTET = 1;
const A_SHORT = 2;
const A_LONG = 3;
const A_LONGLONG = 4;
const A_SHORTSTR = 5;
const A_BIT = 8;
const A_TABLE = 9;

/** One method with its argument types as codes and its argument names, in wire order. */
interface MethodPlan {
  readonly spec: MethodSpec;
  readonly codes: Uint8Array;
  readonly names: readonly string[];
}

/** Plans by `classId << 16 | methodId`. */
const PLANS: ReadonlyMap<number, MethodPlan> = new Map(
  METHODS.map((spec) => [
    (spec.classId << 16) | spec.methodId,
    { spec, codes: Uint8Array.from(spec.args.map(([, type]) => ARG_CODES[type])), names: spec.args.map(([name]) => name) },
  ]),
);

/** Decodes the arguments of a validated method frame (`raw` holds exactly the frame). */
function decodeArgs(r: FieldReader, raw: Buffer, spec: MethodSpec): Record<string, FieldValue> {
  r.reset(raw, HEAD + 4, raw.length - 1);
  const args: Record<string, FieldValue> = {};
  let bits = 0;
  let bit = 8;
  for (const [name, type] of spec.args) {
    if (type === 'bit') {
      if (bit === 8) {
        bits = r.octet(name);
        bit = 0;
      }
      args[name] = ((bits >> bit) & 1) === 1;
      bit++;
      continue;
    }
    bit = 8;
    switch (type) {
      case 'octet':
        args[name] = r.octet(name);
        break;
      case 'short':
        args[name] = r.short(name);
        break;
      case 'long':
        args[name] = r.long(name);
        break;
      case 'longlong':
        args[name] = r.longlong(name);
        break;
      case 'shortstr':
        args[name] = r.shortstr(name);
        break;
      case 'longstr':
        args[name] = r.longstr(name);
        break;
      case 'bin':
        args[name] = r.longbin(name);
        break;
      case 'table':
        args[name] = r.table(name);
        break;
    }
  }
  return args;
}

/** Decodes the properties of a validated content header (`raw` holds exactly the frame). */
function decodeProperties(r: FieldReader, raw: Buffer, flags: number): Record<string, FieldValue> {
  r.reset(raw, HEAD + 14, raw.length - 1);
  const properties: Record<string, FieldValue> = {};
  for (let i = 0; i < BASIC_PROPERTIES.length; i++) {
    if ((flags & (0x8000 >> i)) === 0) continue;
    const [name, type] = BASIC_PROPERTIES[i] as (typeof BASIC_PROPERTIES)[number];
    switch (type) {
      case 'shortstr':
        properties[name] = r.shortstr(name);
        break;
      case 'octet':
        properties[name] = r.octet(name);
        break;
      case 'timestamp':
        properties[name] = r.timestamp(name);
        break;
      case 'table':
        properties[name] = r.table(name);
        break;
    }
  }
  return properties;
}

/** A validated method frame; `args` is decoded on first read. */
class MethodFrame implements Amqp091MethodFrame {
  readonly type = 'method' as const;
  readonly kind: string;
  readonly classId: number;
  readonly methodId: number;
  readonly className: string;
  readonly methodName: string;
  readonly #spec: MethodSpec;
  readonly #decoder: FieldReader;
  #decoded: Readonly<Record<string, FieldValue>> | null = null;

  constructor(
    readonly raw: Buffer,
    readonly channel: number,
    spec: MethodSpec,
    decoder: FieldReader,
  ) {
    this.#spec = spec;
    this.#decoder = decoder;
    this.kind = spec.name;
    this.classId = spec.classId;
    this.methodId = spec.methodId;
    this.className = spec.className;
    this.methodName = spec.methodName;
  }

  get args(): Readonly<Record<string, FieldValue>> {
    let args = this.#decoded;
    if (args === null) {
      args = decodeArgs(this.#decoder, this.raw, this.#spec);
      this.#decoded = args;
    }
    return args;
  }
}

/** A validated content header; `bodySize` and `properties` are built on first read. */
class HeaderFrame implements Amqp091HeaderFrame {
  readonly type = 'header' as const;
  readonly kind = 'header' as const;
  /** The 64-bit body size as its high and low 32 bits. */
  readonly #sizeHigh: number;
  readonly #sizeLow: number;
  readonly #flags: number;
  readonly #decoder: FieldReader;
  #size: bigint | null = null;
  #decoded: Readonly<Record<string, FieldValue>> | null = null;

  constructor(
    readonly raw: Buffer,
    readonly channel: number,
    readonly classId: number,
    sizeHigh: number,
    sizeLow: number,
    flags: number,
    decoder: FieldReader,
  ) {
    this.#sizeHigh = sizeHigh;
    this.#sizeLow = sizeLow;
    this.#flags = flags;
    this.#decoder = decoder;
  }

  get bodySize(): bigint {
    let size = this.#size;
    if (size === null) {
      size = bodySizeOf(this.#sizeHigh, this.#sizeLow);
      this.#size = size;
    }
    return size;
  }

  get properties(): Readonly<Record<string, FieldValue>> {
    let properties = this.#decoded;
    if (properties === null) {
      properties = decodeProperties(this.#decoder, this.raw, this.#flags);
      this.#decoded = properties;
    }
    return properties;
  }
}

/** A validated body frame; `payload` is taken on first read. */
class BodyFrame implements Amqp091BodyFrame {
  readonly type = 'body' as const;
  readonly kind = 'body' as const;
  #view: Buffer | null = null;

  constructor(
    readonly raw: Buffer,
    readonly channel: number,
  ) {}

  get payload(): Buffer {
    let view = this.#view;
    if (view === null) {
      view = this.raw.subarray(HEAD, this.raw.length - 1);
      this.#view = view;
    }
    return view;
  }
}

function bodySizeOf(high: number, low: number): bigint {
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Tuning values carried by Connection.Tune and Tune-Ok. */
export interface Tune {
  readonly channelMax: number;
  readonly frameMax: number;
  readonly heartbeat: number;
}

/**
 * Negotiated state shared by the two codecs of one connection. Connection.Tune (server) proposes,
 * Tune-Ok (client) fixes. A codec that has seen neither (a direction validated on its own) uses
 * whichever it has seen, or the pre-tune limit.
 */
export class Amqp091Connection {
  /** Connection.Tune as sent by the server. */
  proposed: Tune | null = null;
  /** Connection.Tune-Ok as sent by the client. */
  agreed: Tune | null = null;

  /** `limits.maxBodySize` as a bigint, compared with the 64-bit body-size of content headers. */
  readonly maxBodySize: bigint;

  constructor(readonly limits: Readonly<Amqp091Limits>) {
    this.maxBodySize = BigInt(limits.maxBodySize);
  }

  /** Largest frame accepted now, in bytes. */
  frameMax(): number {
    const t = this.agreed ?? this.proposed;
    if (t === null) return Math.min(this.limits.preTuneFrameMax, this.limits.maxFrameSize);
    return t.frameMax === 0 ? this.limits.maxFrameSize : Math.min(t.frameMax, this.limits.maxFrameSize);
  }

  /** Highest channel number accepted now. */
  channelMax(): number {
    const t = this.agreed ?? this.proposed;
    if (t === null || t.channelMax === 0) return this.limits.channelMax;
    return Math.min(t.channelMax, this.limits.channelMax);
  }
}

/** Connection phase of one direction (§2.2.4, connection class grammar). */
type Phase = 'header' | 'start' | 'tune' | 'open' | 'running' | 'closing' | 'closed';

/** Content state per channel: header expected, or body bytes still due. */
const HEADER_DUE = -1;

/** Streaming AMQP 0-9-1 codec for one direction of one connection. */
export class Amqp091Codec implements Codec<Amqp091Frame> {
  readonly protocol = 'amqp091' as const;
  private phase: Phase;
  private error: WireError | null = null;
  /** Partial 7-byte frame header or 8-byte protocol header. */
  private readonly head = Buffer.alloc(8);
  private headLen = 0;
  /** A frame spanning chunks: allocated once at its exact size after the size was checked. */
  private pending: Buffer | null = null;
  private filled = 0;
  /** Checks fields while a frame is validated. */
  private readonly reader: FieldReader;
  /** Decodes the fields of validated frames when first read (never used for checking). */
  private readonly decoder: FieldReader;
  /** channel → {@link HEADER_DUE} or body bytes still due. */
  private readonly content = new Map<number, number>();
  private readonly sender: 'client' | 'server';

  constructor(
    readonly direction: Direction,
    private readonly conn: Amqp091Connection,
  ) {
    this.phase = direction === 'toServer' ? 'header' : 'start';
    this.sender = direction === 'toServer' ? 'client' : 'server';
    this.reader = new FieldReader(direction, conn.limits.maxFieldDepth);
    this.decoder = new FieldReader(direction, conn.limits.maxFieldDepth);
  }

  get buffered(): number {
    return this.headLen + this.filled;
  }

  push(chunk: Buffer): Amqp091Frame[] {
    if (this.error !== null) throw this.error;
    const out: Amqp091Frame[] = [];
    try {
      this.consume(chunk, out);
    } catch (err) {
      this.error = err instanceof WireError ? err : new WireError('amqp091', this.direction, ERRORS.MALFORMED_PAYLOAD, 'undecodable frame', { cause: err });
      this.pending = null;
      this.filled = 0;
      this.headLen = 0;
      throw this.error;
    }
    return out;
  }

  private fail(spec: Amqp091ErrorSpec, message: string): never {
    throw new WireError('amqp091', this.direction, spec, message);
  }

  private consume(chunk: Buffer, out: Amqp091Frame[]): void {
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
      if (this.phase === 'header' || (this.phase === 'start' && this.direction === 'toClient' && this.headLen === 0 && chunk[pos] === 0x41)) {
        this.phase = 'header';
        pos = this.protocolHeader(chunk, pos, out);
        continue;
      }
      if (this.phase === 'closed') this.fail(ERRORS.UNEXPECTED_FRAME, 'frame after the connection was closed (Connection.Close-Ok sent, or a protocol header refusing the connection)');
      if (this.headLen > 0 || len - pos < HEAD) {
        const n = Math.min(HEAD - this.headLen, len - pos);
        chunk.copy(this.head, this.headLen, pos, pos + n);
        this.headLen += n;
        pos += n;
        if (this.headLen < HEAD) break;
        const total = this.frameLength(this.head, 0);
        this.pending = Buffer.allocUnsafe(total);
        this.head.copy(this.pending, 0, 0, HEAD);
        this.filled = HEAD;
        this.headLen = 0;
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

  /** Reads the 8-byte protocol header; mismatches on "AMQP" fail at the first wrong byte. */
  private protocolHeader(chunk: Buffer, pos: number, out: Amqp091Frame[]): number {
    const start = pos;
    while (pos < chunk.length && this.headLen < 8) {
      const b = chunk[pos++] as number;
      if (this.headLen < 4 && b !== PROTOCOL_HEADER[this.headLen]) {
        this.fail(
          ERRORS.BAD_PROTOCOL_HEADER,
          `expected protocol header "AMQP\\x00\\x00\\x09\\x01", got byte 0x${b.toString(16).padStart(2, '0')} at offset ${this.headLen}`,
        );
      }
      this.head[this.headLen++] = b;
    }
    if (this.headLen < 8) return pos;
    const h = this.head;
    const version = `${h[4]}.${h[5]}.${h[6]}.${h[7]}`;
    if (this.direction === 'toServer' && (h[4] !== 0 || h[5] !== 0 || h[6] !== 9 || h[7] !== 1)) {
      const name = h[5] === 1 && h[6] === 0 && h[7] === 0 ? 'AMQP 1.0' : h[4] === 1 && h[5] === 1 ? `AMQP 0-${h[6]}` : `AMQP ${version}`;
      this.fail(ERRORS.UNSUPPORTED_VERSION, `protocol header announces ${name} (AMQP ${version}); only AMQP 0-9-1 is supported`);
    }
    const raw = pos - start === 8 ? chunk.subarray(start, pos) : Buffer.from(h);
    this.headLen = 0;
    // A client continues with Start-Ok; a server only sends a header to refuse the client's version.
    this.phase = this.direction === 'toServer' ? 'start' : 'closed';
    out.push({ type: 'protocol-header', kind: 'protocol-header', channel: 0, version, raw });
    return pos;
  }

  /** Validates a frame header and returns the whole frame length; nothing is buffered before this. */
  private frameLength(b: Buffer, at: number): number {
    const type = b[at] as number;
    if (type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY && type !== FRAME_HEARTBEAT) {
      if (type === 0x41 && this.direction === 'toServer') {
        this.fail(ERRORS.UNKNOWN_FRAME_TYPE, 'unknown frame type 0x41 ("A"): a protocol header is only valid at the start of the connection');
      }
      this.fail(ERRORS.UNKNOWN_FRAME_TYPE, `unknown frame type ${type}`);
    }
    const channel = b.readUInt16BE(at + 1);
    const size = b.readUInt32BE(at + 3);
    const channelMax = this.conn.channelMax();
    if (channel > channelMax) {
      this.fail(ERRORS.CHANNEL_OUT_OF_RANGE, `channel ${channel} is above channel-max ${channelMax}`);
    }
    if (type === FRAME_HEARTBEAT && (channel !== 0 || size !== 0)) {
      this.fail(ERRORS.BAD_HEARTBEAT, `heartbeat frame must be on channel 0 with an empty payload (channel ${channel}, size ${size})`);
    }
    const frameMax = this.conn.frameMax();
    if (size > frameMax - 8) {
      this.fail(ERRORS.FRAME_TOO_LARGE, `frame of ${size + 8} bytes is above frame-max ${frameMax}`);
    }
    return size + 8;
  }

  /** Validates one complete frame (a view or a copy holding exactly the frame). */
  private frame(raw: Buffer): Amqp091Frame {
    const end = raw.length - 1;
    if (raw[end] !== FRAME_END) {
      this.fail(ERRORS.BAD_FRAME_END, `frame-end octet is 0x${(raw[end] as number).toString(16).padStart(2, '0')}, expected 0xce`);
    }
    const type = raw[0] as number;
    const channel = raw.readUInt16BE(1);
    switch (type) {
      case FRAME_METHOD:
        return this.method(raw, channel, end);
      case FRAME_HEADER:
        return this.header(raw, channel, end);
      case FRAME_BODY:
        return this.body(raw, channel, end);
      default:
        return { type: 'heartbeat', kind: 'heartbeat', channel, raw };
    }
  }

  private method(raw: Buffer, channel: number, end: number): Amqp091MethodFrame {
    if (end - HEAD < 4) this.fail(ERRORS.MALFORMED_PAYLOAD, `method frame payload of ${end - HEAD} bytes has no class and method id`);
    const classId = raw.readUInt16BE(HEAD);
    const methodId = raw.readUInt16BE(HEAD + 2);
    const plan = PLANS.get((classId << 16) | methodId);
    if (plan === undefined) this.fail(ERRORS.UNKNOWN_METHOD, `unknown method ${classId}.${methodId}`);
    const spec = plan.spec;
    if (spec.sender !== 'both' && spec.sender !== this.sender) {
      this.fail(ERRORS.WRONG_DIRECTION, `${spec.name} must not be sent by the ${this.sender}`);
    }
    if ((classId === CLASS_IDS.connection) !== (channel === 0)) {
      this.fail(
        ERRORS.WRONG_CHANNEL,
        classId === CLASS_IDS.connection ? `${spec.name} on channel ${channel}: connection methods belong on channel 0` : `${spec.name} on channel 0: only connection methods may use channel 0`,
      );
    }
    if (this.content.has(channel)) {
      this.fail(ERRORS.UNEXPECTED_FRAME, `${spec.name} on channel ${channel} while content ${this.content.get(channel) === HEADER_DUE ? 'header' : 'body'} is due`);
    }
    this.order(spec);
    this.checkArgs(raw, plan, end);
    const frame = new MethodFrame(raw, channel, spec, this.decoder);
    this.effects(spec, frame, channel);
    return frame;
  }

  /** Connection handshake order and close sequence for this direction. */
  private order(spec: MethodSpec): void {
    const name = spec.name;
    const phase = this.phase;
    if (name === 'connection.close-ok') {
      this.phase = 'closed';
      return;
    }
    if (phase === 'closing') {
      this.fail(ERRORS.UNEXPECTED_FRAME, `${name} after Connection.Close: only Connection.Close-Ok may follow`);
    }
    if (name === 'connection.close') {
      this.phase = 'closing';
      return;
    }
    let expected: string | null = null;
    let next: Phase = phase;
    const client = this.sender === 'client';
    switch (phase) {
      case 'start':
        expected = client ? 'connection.start-ok' : 'connection.start';
        next = 'tune';
        break;
      case 'tune':
        if (name === (client ? 'connection.secure-ok' : 'connection.secure')) return;
        expected = client ? 'connection.tune-ok' : 'connection.tune';
        next = 'open';
        break;
      case 'open':
        expected = client ? 'connection.open' : 'connection.open-ok';
        next = 'running';
        break;
      default:
        if (spec.classId === CLASS_IDS.connection && name !== 'connection.blocked' && name !== 'connection.unblocked' && name !== 'connection.update-secret' && name !== 'connection.update-secret-ok') {
          this.fail(ERRORS.HANDSHAKE_ORDER, `${name} after the connection is open`);
        }
        return;
    }
    if (name !== expected) this.fail(ERRORS.HANDSHAKE_ORDER, `${name} during the handshake: expected ${expected}`);
    this.phase = next;
  }

  /** Walks the arguments of a method frame: the checks (and messages) of decoding them, nothing built. */
  private checkArgs(raw: Buffer, plan: MethodPlan, end: number): void {
    const r = this.reader;
    r.reset(raw, HEAD + 4, end);
    const codes = plan.codes;
    const names = plan.names;
    let bit = 8;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] as number;
      const name = names[i] as string;
      if (code === A_BIT) {
        if (bit === 8) {
          r.need(1, name);
          r.pos++;
          bit = 0;
        }
        bit++;
        continue;
      }
      bit = 8;
      switch (code) {
        case A_OCTET:
          r.need(1, name);
          r.pos += 1;
          break;
        case A_SHORT:
          r.need(2, name);
          r.pos += 2;
          break;
        case A_LONG:
          r.need(4, name);
          r.pos += 4;
          break;
        case A_LONGLONG:
          r.need(8, name);
          r.pos += 8;
          break;
        case A_SHORTSTR:
          r.skipShortstr(name);
          break;
        case A_TABLE:
          r.skipTable(name);
          break;
        default:
          // longstr and bin
          r.skipLongstr(name);
          break;
      }
    }
    if (r.pos !== end) this.fail(ERRORS.TRAILING_BYTES, `${end - r.pos} bytes after the arguments of ${plan.spec.name}`);
  }

  /** State changes caused by a valid method: tuning and content expectation. */
  private effects(spec: MethodSpec, frame: MethodFrame, channel: number): void {
    if (spec.content) {
      this.content.set(channel, HEADER_DUE);
      return;
    }
    if (spec.classId !== CLASS_IDS.connection || spec.methodId < 30 || spec.methodId > 31) return;
    const args = frame.args;
    const tune: Tune = { channelMax: args['channelMax'] as number, frameMax: args['frameMax'] as number, heartbeat: args['heartbeat'] as number };
    if (tune.frameMax !== 0 && tune.frameMax < FRAME_MIN_SIZE) {
      this.fail(ERRORS.BAD_TUNE, `${spec.name} frame-max ${tune.frameMax} is below the minimum ${FRAME_MIN_SIZE}`);
    }
    if (spec.methodId === 30) {
      this.conn.proposed = tune;
      return;
    }
    const p = this.conn.proposed;
    if (p !== null) {
      if (p.frameMax !== 0 && (tune.frameMax === 0 || tune.frameMax > p.frameMax)) {
        this.fail(ERRORS.BAD_TUNE, `connection.tune-ok frame-max ${tune.frameMax} exceeds the server's proposal ${p.frameMax}`);
      }
      if (p.channelMax !== 0 && (tune.channelMax === 0 || tune.channelMax > p.channelMax)) {
        this.fail(ERRORS.BAD_TUNE, `connection.tune-ok channel-max ${tune.channelMax} exceeds the server's proposal ${p.channelMax}`);
      }
    }
    this.conn.agreed = tune;
  }

  private header(raw: Buffer, channel: number, end: number): Amqp091HeaderFrame {
    if (this.content.get(channel) !== HEADER_DUE) {
      this.fail(ERRORS.UNEXPECTED_FRAME, `content header on channel ${channel} without a content method before it`);
    }
    const r = this.reader;
    r.reset(raw, HEAD, end);
    const classId = r.short('class-id');
    const weight = r.short('weight');
    r.need(8, 'body-size');
    const sizeHigh = raw.readUInt32BE(r.pos);
    const sizeLow = raw.readUInt32BE(r.pos + 4);
    r.pos += 8;
    const flags = r.short('property-flags');
    if (classId !== CLASS_IDS.basic) {
      this.fail(ERRORS.BAD_CONTENT_HEADER, `content header class ${classId} does not match the method's class ${CLASS_IDS.basic}`);
    }
    if (weight !== 0) this.fail(ERRORS.BAD_CONTENT_HEADER, `content header weight ${weight} must be 0`);
    if ((flags & 0x0003) !== 0) {
      this.fail(ERRORS.BAD_CONTENT_HEADER, `content header property flags 0x${flags.toString(16)} set bits basic does not define`);
    }
    // Below 2^53 the size is exact as a number; above, compare and convert as bigints.
    let size = sizeHigh * 0x100000000 + sizeLow;
    if (sizeHigh < 0x200000 ? size > this.conn.limits.maxBodySize : bodySizeOf(sizeHigh, sizeLow) > this.conn.maxBodySize) {
      this.fail(ERRORS.BODY_TOO_LARGE, `content body size ${bodySizeOf(sizeHigh, sizeLow)} is above the limit ${this.conn.limits.maxBodySize}`);
    }
    if (sizeHigh >= 0x200000) size = Number(bodySizeOf(sizeHigh, sizeLow));
    for (let i = 0; i < BASIC_PROPERTIES.length; i++) {
      if ((flags & (0x8000 >> i)) === 0) continue;
      const [name, type] = BASIC_PROPERTIES[i] as (typeof BASIC_PROPERTIES)[number];
      switch (type) {
        case 'shortstr':
          r.skipShortstr(name);
          break;
        case 'octet':
          r.need(1, name);
          r.pos += 1;
          break;
        case 'timestamp':
          r.need(8, name);
          r.pos += 8;
          break;
        case 'table':
          r.skipTable(name);
          break;
      }
    }
    if (r.pos !== end) this.fail(ERRORS.TRAILING_BYTES, `${end - r.pos} bytes after the content header properties`);
    if (size === 0) this.content.delete(channel);
    else this.content.set(channel, size);
    return new HeaderFrame(raw, channel, classId, sizeHigh, sizeLow, flags, this.decoder);
  }

  private body(raw: Buffer, channel: number, end: number): Amqp091BodyFrame {
    const due = this.content.get(channel);
    if (due === undefined || due === HEADER_DUE) {
      this.fail(ERRORS.UNEXPECTED_FRAME, `body frame on channel ${channel} without ${due === undefined ? 'a content method' : 'a content header'} before it`);
    }
    const size = end - HEAD;
    if (size > due) this.fail(ERRORS.BODY_OVERFLOW, `body frame of ${size} bytes exceeds the ${due} bytes left of the declared body size`);
    if (size === due) this.content.delete(channel);
    else this.content.set(channel, due - size);
    return new BodyFrame(raw, channel);
  }
}
