/**
 * IRC validator: streaming codecs for RFC 1459/2812 messages with IRCv3 message tags, in stream
 * framing (TCP) or message framing (one message per WebSocket message), and the protocol module
 * the registry uses. Rules, limits and error codes are documented in this folder's README.
 */
import { WireError, type CodecPair, type Direction, type ProtocolModule } from '../types';
import { IrcCodec, type IrcFraming } from './codec';
import { ERRORS, ERROR_BY_CODE } from './errors';
import type { IrcFrame } from './frame';
import { DEFAULT_LIMITS, type IrcLimits } from './limits';

export { IrcCodec, type IrcCodecOptions, type IrcFraming } from './codec';
export { ERRORS } from './errors';
export { IrcFrame, encodeMessage, escapeTagValue, unescapeTagValue, type IrcMessageInit, type IrcPrefix } from './frame';
export { DEFAULT_LIMITS, resolveLimits, type IrcLimits } from './limits';

/** Framing per direction for {@link IrcCodecPair}. */
export interface IrcPairFraming {
  /** @default 'stream' */
  readonly toServer?: IrcFraming;
  /** @default 'stream' */
  readonly toClient?: IrcFraming;
}

/** Both codecs of one IRC connection. IRC negotiates nothing the codecs need to share. */
export class IrcCodecPair implements CodecPair<IrcFrame> {
  readonly toServer: IrcCodec;
  readonly toClient: IrcCodec;

  constructor(limits?: Partial<IrcLimits>, framing: IrcPairFraming = {}) {
    this.toServer = new IrcCodec('toServer', { limits, framing: framing.toServer ?? 'stream' });
    this.toClient = new IrcCodec('toClient', { limits, framing: framing.toClient ?? 'stream' });
  }
}

/**
 * Validates one message received as one WebSocket message (IRCv3 WebSocket): no line end, no
 * CR or LF anywhere. Returns the message; throws {@link WireError}.
 */
export function validateLine(message: Buffer, direction: Direction, limits?: Partial<IrcLimits>): IrcFrame {
  return new IrcCodec(direction, { limits, framing: 'message' }).push(message)[0];
}

/**
 * The `ERROR :<summary> (<code>)` line telling a client why its stream was refused; `null` for
 * errors raised on the server's stream (ERROR is a server-to-client message).
 */
export function replyFor(err: WireError): Buffer | null {
  if (err.protocol !== 'irc' || err.direction !== 'toServer') return null;
  const summary = ERROR_BY_CODE.get(err.code)?.summary ?? 'Protocol violation';
  const text = `${summary} (${err.code})`.replace(/[\u0000\r\n]/g, ' ');
  return Buffer.from(`ERROR :${text}\r\n`, 'utf8');
}

/** The IRC protocol module for the validator registry (stream framing in both directions). */
export const protocol: ProtocolModule<IrcFrame, IrcLimits> = {
  name: 'irc',
  defaultLimits: DEFAULT_LIMITS,
  createPair: (limits?: Partial<IrcLimits>) => new IrcCodecPair(limits),
  reply: replyFor,
};

/** Codes in the IRC catalogue (for documentation checks). */
export const ERROR_CODES: readonly string[] = Object.values(ERRORS).map((e) => e.code);
