/**
 * STOMP validator: streaming codecs for STOMP 1.0, 1.1 and 1.2 and the protocol module the
 * registry uses. Rules, limits and error codes are documented in this folder's README.
 */
import { WireError, type CodecPair, type ProtocolModule } from '../types';
import { StompCodec, StompSession, versionOfError, type StompCodecOptions } from './codec';
import { ERRORS, ERROR_BY_CODE } from './errors';
import { encodeFrame, StompFrame, type StompVersion } from './frame';
import { DEFAULT_LIMITS, type StompLimits } from './limits';

export { StompCodec, StompSession, versionOfError, type StompCodecOptions } from './codec';
export { ERRORS } from './errors';
export {
  BODY_COMMANDS,
  CLIENT_COMMANDS,
  SERVER_COMMANDS,
  STOMP_VERSIONS,
  StompFrame,
  encodeFrame,
  escapeHeader,
  type StompClientCommand,
  type StompCommand,
  type StompFrameInit,
  type StompHeader,
  type StompServerCommand,
  type StompVersion,
} from './frame';
export { DEFAULT_LIMITS, resolveLimits, type StompLimits } from './limits';

/** Both codecs of one STOMP connection, sharing the negotiated version. */
export class StompCodecPair implements CodecPair<StompFrame> {
  readonly session = new StompSession();
  readonly toServer: StompCodec;
  readonly toClient: StompCodec;

  constructor(limits?: Partial<StompLimits>, options: Omit<StompCodecOptions, 'limits' | 'session'> = {}) {
    this.toServer = new StompCodec('toServer', { ...options, limits, session: this.session });
    this.toClient = new StompCodec('toClient', { ...options, limits, session: this.session });
  }
}

/** What an ERROR frame says (see {@link errorFrame}). */
export interface ErrorFrameInit {
  /** The `message` header: a short summary. */
  readonly message: string;
  /** The `code` header: the error's stable code. */
  readonly code: string;
  /** The plain-text body, one line (a line end is added). */
  readonly text: string;
  /** The `receipt-id` header, when the error answers a frame that asked for a receipt. */
  readonly receiptId?: string;
}

/**
 * An ERROR frame: `message`, `receipt-id` when given, `code`, `content-type`, `content-length`
 * and the text as body; header values escaped for `version` (`null`: before a version was agreed,
 * no escaping).
 */
export function errorFrame(init: ErrorFrameInit, version: StompVersion | null): Buffer {
  const body = Buffer.from(`${init.text}\n`, 'utf8');
  const headers: [string, string][] = [['message', init.message]];
  if (init.receiptId !== undefined) headers.push(['receipt-id', init.receiptId]);
  headers.push(['code', init.code], ['content-type', 'text/plain;charset=utf-8'], ['content-length', String(body.length)]);
  return encodeFrame({ command: 'ERROR', headers, body }, version);
}

/**
 * The ERROR frame telling a client why its stream was refused: `message` (the catalogue summary, or
 * the error's own message for a code outside the STOMP catalogue, escaped for the version in force
 * when the error was raised), `code`, and a body `<code> (<condition>): <detail>`. `null` for
 * errors raised on the server's stream: a client cannot send ERROR to a server.
 */
export function replyFor(err: WireError): Buffer | null {
  if (err.protocol !== 'stomp' || err.direction !== 'toServer') return null;
  const summary = ERROR_BY_CODE.get(err.code)?.summary ?? err.message;
  return errorFrame({ message: summary, code: err.code, text: `${err.code} (${err.condition}): ${err.message}` }, versionOfError(err));
}

/** The STOMP protocol module for the validator registry. */
export const protocol: ProtocolModule<StompFrame, StompLimits> = {
  name: 'stomp',
  defaultLimits: DEFAULT_LIMITS,
  createPair: (limits?: Partial<StompLimits>) => new StompCodecPair(limits),
  reply: replyFor,
};

/** Codes in the STOMP catalogue (for documentation checks). */
export const ERROR_CODES: readonly string[] = Object.values(ERRORS).map((e) => e.code);
