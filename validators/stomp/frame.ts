/**
 * STOMP frame model, header escaping and an encoder.
 *
 * Specifications: https://stomp.github.io/stomp-specification-1.0.html,
 * https://stomp.github.io/stomp-specification-1.1.html,
 * https://stomp.github.io/stomp-specification-1.2.html (section "Value Encoding").
 */
import type { WireFrame } from '../types';

/** STOMP protocol versions the codec knows. */
export type StompVersion = '1.0' | '1.1' | '1.2';

/** Commands a client sends. */
export type StompClientCommand =
  | 'CONNECT'
  | 'STOMP'
  | 'SEND'
  | 'SUBSCRIBE'
  | 'UNSUBSCRIBE'
  | 'ACK'
  | 'NACK'
  | 'BEGIN'
  | 'COMMIT'
  | 'ABORT'
  | 'DISCONNECT';

/** Commands a server sends. */
export type StompServerCommand = 'CONNECTED' | 'MESSAGE' | 'RECEIPT' | 'ERROR';

/** Every STOMP command. */
export type StompCommand = StompClientCommand | StompServerCommand;

/** One header as it appeared on the wire, decoded and unescaped. */
export type StompHeader = readonly [name: string, value: string];

/** Supported versions, lowest first. */
export const STOMP_VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

/** Client commands. */
export const CLIENT_COMMANDS: ReadonlySet<string> = new Set<StompClientCommand>([
  'CONNECT',
  'STOMP',
  'SEND',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'ACK',
  'NACK',
  'BEGIN',
  'COMMIT',
  'ABORT',
  'DISCONNECT',
]);

/** Server commands. */
export const SERVER_COMMANDS: ReadonlySet<string> = new Set<StompServerCommand>(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);

/** Commands that may carry a body (STOMP 1.1 and 1.2: all others must not). */
export const BODY_COMMANDS: ReadonlySet<string> = new Set<StompCommand>(['SEND', 'MESSAGE', 'ERROR']);

/** Frames whose headers are never escaped (CONNECT and CONNECTED, and STOMP which replaces CONNECT). */
export function isNegotiationCommand(command: string): boolean {
  return command === 'CONNECT' || command === 'STOMP' || command === 'CONNECTED';
}

/**
 * One validated STOMP frame, or one heart-beat end of line between frames.
 *
 * Heart-beats are returned as frames of kind `HEARTBEAT` (command `null`, no headers, empty body)
 * whose `raw` is the LF or CRLF, so a proxy forwards them like any frame.
 */
export class StompFrame implements WireFrame {
  constructor(
    /** The command, or `HEARTBEAT` for an end of line between frames. */
    readonly kind: StompCommand | 'HEARTBEAT',
    /** Exact wire bytes: command line through the NUL (trailing EOLs are separate heart-beats). */
    readonly raw: Buffer,
    /** The command; `null` for a heart-beat. */
    readonly command: StompCommand | null,
    /** Headers in wire order, decoded and unescaped; repeated names are kept (the first one counts). */
    readonly headers: readonly StompHeader[],
    /** The body: a view into `raw`. */
    readonly body: Buffer,
    /**
     * The version whose rules were applied: the negotiated version, the client's highest
     * offered version for frames sent before CONNECTED, the agreed version for CONNECTED, and
     * `null` for CONNECT/STOMP (and frames seen before any version is known).
     */
    readonly version: StompVersion | null,
  ) {}

  /** Value of the first header named `name` (the one STOMP says counts), or `undefined`. */
  header(name: string): string | undefined {
    const h = this.headers;
    for (let i = 0; i < h.length; i++) if (h[i][0] === name) return h[i][1];
    return undefined;
  }
}

/**
 * Escapes a header name or value for `version` (1.1: `\\` `\n` `\c`; 1.2 also `\r`). Characters
 * the version cannot express (CR in 1.1; CR, LF and, in names, `:` in 1.0 or in unescaped
 * CONNECT/CONNECTED frames, where `version` is `null`) are replaced by a space.
 */
export function escapeHeader(text: string, version: StompVersion | null, isName = false): string {
  if (version === '1.1' || version === '1.2') {
    let out = '';
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let rep: string | null = null;
      if (c === 0x5c) rep = '\\\\';
      else if (c === 0x0a) rep = '\\n';
      else if (c === 0x3a) rep = '\\c';
      else if (c === 0x0d) rep = version === '1.2' ? '\\r' : ' ';
      if (rep !== null) {
        out += text.slice(from, i) + rep;
        from = i + 1;
      }
    }
    return from === 0 ? text : out + text.slice(from);
  }
  const unsafe = isName ? /[\r\n:]/g : /[\r\n]/g;
  return text.replace(unsafe, ' ');
}

/** What {@link encodeFrame} needs. */
export interface StompFrameInit {
  readonly command: StompCommand;
  readonly headers: readonly StompHeader[];
  readonly body?: Buffer;
}

/**
 * Encodes a frame for `version` (`null`: no escaping). Headers are written in order as given;
 * no `content-length` is added. `eol` is the end of line used for the command and header lines.
 */
export function encodeFrame(frame: StompFrameInit, version: StompVersion | null, eol: '\n' | '\r\n' = '\n'): Buffer {
  const esc = isNegotiationCommand(frame.command) ? null : version;
  let head = frame.command + eol;
  for (const [name, value] of frame.headers) head += escapeHeader(name, esc, true) + ':' + escapeHeader(value, esc) + eol;
  head += eol;
  const headBuf = Buffer.from(head, 'utf8');
  const body = frame.body ?? Buffer.alloc(0);
  const out = Buffer.allocUnsafe(headBuf.length + body.length + 1);
  headBuf.copy(out, 0);
  body.copy(out, headBuf.length);
  out[out.length - 1] = 0;
  return out;
}
