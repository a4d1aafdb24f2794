/**
 * The wire seam: one streaming codec per protocol and direction.
 *
 * A codec is fed bytes split anywhere (`push`) and returns the frames those bytes completed, in
 * order, each carrying the exact wire bytes (`raw`) so a proxy forwards only validated frames.
 * On the first violation it throws a {@link WireError}; from then on the codec is dead and every
 * further `push` throws the same error. Validators import nothing but Node built-ins and their
 * own folder.
 */

/** Which way the bytes flow: from the client toward the back end, or back. */
export type Direction = 'toServer' | 'toClient';

/** Protocols with a validator. */
export type ProtocolName = 'stomp' | 'amqp091' | 'amqp10' | 'xmpp' | 'irc';

/** One complete, validated unit of the protocol. */
export interface WireFrame {
  /** Command, frame type or element name, used for metrics (`SEND`, `basic.publish`, `message`). */
  readonly kind: string;
  /**
   * The exact wire bytes of the frame. A view into the pushed chunk when the frame lay inside one
   * chunk; a copy only when it spanned chunks. Valid until the caller's next `push`.
   */
  readonly raw: Buffer;
}

/** A streaming codec for one direction of one connection. */
export interface Codec<F extends WireFrame = WireFrame> {
  readonly protocol: ProtocolName;
  readonly direction: Direction;
  /** Feeds bytes; returns the frames they completed. Throws {@link WireError}. */
  push(chunk: Buffer): F[];
  /** Bytes currently held for a frame not yet complete (never above the codec's frame limit). */
  readonly buffered: number;
}

/** Both directions of one connection; codecs of a pair may share negotiated state (frame-max). */
export interface CodecPair<F extends WireFrame = WireFrame> {
  readonly toServer: Codec<F>;
  readonly toClient: Codec<F>;
}

/** What a protocol folder exports for the registry in `validators/index.ts`. */
export interface ProtocolModule<F extends WireFrame = WireFrame, L extends object = object> {
  readonly name: ProtocolName;
  /** Limit defaults: every limit this protocol enforces, documented in its README. */
  readonly defaultLimits: Readonly<L>;
  /** Creates the codecs for one connection, with limits overriding the defaults. */
  createPair(limits?: Partial<L>): CodecPair<F>;
  /**
   * The protocol's own error for `err`, ready to send to the peer that caused it (a STOMP ERROR
   * frame, an AMQP connection close, an XMPP stream error, an IRC ERROR line), or `null` where the
   * protocol has none at that point.
   */
  reply(err: WireError): Buffer | null;
}

/** One entry of the error catalogue. */
export interface ErrorSpec {
  /** Stable code, `GW_ERR_<PROTOCOL>_<WHAT>`. */
  readonly code: string;
  /** One-line description for the docs. */
  readonly summary: string;
  /** WebSocket close code sent after the protocol reply (1002 malformed, 1007 bad UTF-8, 1008 policy, 1009 too large). */
  readonly close: number;
  /** The protocol-level condition carried in the reply (`frame-error`, `not-well-formed`, `ERROR`). */
  readonly condition: string;
}

/** A violation of the wire format or of a limit; the only error a codec throws. */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code: string;
  readonly closeCode: number;
  readonly condition: string;
  readonly protocol: ProtocolName;
  readonly direction: Direction;

  constructor(protocol: ProtocolName, direction: Direction, spec: ErrorSpec, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = spec.code;
    this.closeCode = spec.close;
    this.condition = spec.condition;
    this.protocol = protocol;
    this.direction = direction;
  }
}
