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
  /** The header list once built; `null` until first read on a frame the codec produced. */
  protected headerList: readonly StompHeader[] | null;
  /** Header lines (decoded text, EOLs included) that {@link headers} is built from on first read. */
  protected headerText = '';
  /** Version whose escapes apply to {@link headerText} (`null`: none). */
  protected escapes: StompVersion | null = null;

  constructor(
    /** The command, or `HEARTBEAT` for an end of line between frames. */
    readonly kind: StompCommand | 'HEARTBEAT',
    /** Exact wire bytes: command line through the NUL (trailing EOLs are separate heart-beats). */
    readonly raw: Buffer,
    /** The command; `null` for a heart-beat. */
    readonly command: StompCommand | null,
    headers: readonly StompHeader[],
    /** The body: a view into `raw`. */
    readonly body: Buffer,
    /**
     * The version whose rules were applied: the negotiated version, the client's highest
     * offered version for frames sent before CONNECTED, the agreed version for CONNECTED, and
     * `null` for CONNECT/STOMP (and frames seen before any version is known).
     */
    readonly version: StompVersion | null,
  ) {
    this.headerList = headers;
  }

  /** Headers in wire order, decoded and unescaped; repeated names are kept (the first one counts). */
  get headers(): readonly StompHeader[] {
    let list = this.headerList;
    if (list === null) {
      list = decodeHeaderLines(this.headerText, this.escapes, '') as StompHeader[];
      this.headerList = list;
    }
    return list;
  }

  /** Value of the first header named `name` (the one STOMP says counts), or `undefined`. */
  header(name: string): string | undefined {
    const h = this.headers;
    for (let i = 0; i < h.length; i++) if (h[i][0] === name) return h[i][1];
    return undefined;
  }
}

/**
 * A frame as the codec returns it: the header lines were validated on the wire bytes and kept as
 * one decoded string, split into the header list when first read. Observably the same as a
 * {@link StompFrame} built with its header list.
 */
export class ParsedStompFrame extends StompFrame {
  constructor(
    kind: StompCommand,
    raw: Buffer,
    headers: readonly StompHeader[] | null,
    headerText: string,
    escapes: StompVersion | null,
    body: Buffer,
    version: StompVersion | null,
  ) {
    super(kind, raw, kind, NO_HEADERS, body, version);
    this.headerList = headers;
    this.headerText = headerText;
    this.escapes = escapes;
  }
}

const NO_HEADERS: readonly StompHeader[] = Object.freeze([]);

/** Why a header line is refused (see {@link decodeHeaderLines}). */
export interface HeaderFault {
  /** `true`: an undefined escape sequence; `false`: no name or no colon. */
  readonly escape: boolean;
  readonly message: string;
}

/**
 * Splits decoded header lines (each ended by LF or CRLF) into `[name, value]` pairs, unescaping
 * for `escapes` (1.1 and 1.2; `null` or 1.0: taken as they are). Returns the first refused line
 * as a {@link HeaderFault} instead; `command` names the frame in its message.
 */
export function decodeHeaderLines(text: string, escapes: StompVersion | null, command: string): StompHeader[] | HeaderFault {
  const headers: StompHeader[] = [];
  const escaped = escapes === '1.1' || escapes === '1.2';
  let from = 0;
  while (from < text.length) {
    let nl = text.indexOf('\n', from);
    if (nl === -1) nl = text.length;
    const end = text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    const colon = text.indexOf(':', from);
    if (colon === from || colon === -1 || colon >= end) {
      return { escape: false, message: colon === from ? `header with an empty name in ${command}` : `header line without ":" in ${command}` };
    }
    let name = text.slice(from, colon);
    let value = text.slice(colon + 1, end);
    if (escaped) {
      if (name.indexOf('\\') !== -1) {
        const u = unescapeHeader(name, escapes, name);
        if (typeof u !== 'string') return u;
        name = u;
      }
      if (value.indexOf('\\') !== -1) {
        const u = unescapeHeader(value, escapes, name);
        if (typeof u !== 'string') return u;
        value = u;
      }
    }
    headers.push([name, value]);
    from = nl + 1;
  }
  return headers;
}

function unescapeHeader(text: string, version: StompVersion | null, header: string): string | HeaderFault {
  let out = '';
  let from = 0;
  let i = text.indexOf('\\');
  while (i !== -1) {
    const c = text.charCodeAt(i + 1);
    let rep: string;
    if (c === 0x6e) rep = '\n';
    else if (c === 0x63) rep = ':';
    else if (c === 0x5c) rep = '\\';
    else if (c === 0x72 && version === '1.2') rep = '\r';
    else {
      const seq = i + 1 < text.length ? '\\' + text[i + 1] : '\\ at the end';
      return { escape: true, message: `undefined escape ${printable(seq)} in header "${printable(header)}" (STOMP ${version})` };
    }
    out += text.slice(from, i) + rep;
    from = i + 2;
    i = text.indexOf('\\', from);
  }
  return out + text.slice(from);
}

/** Peer text for an error message: at most 64 characters, control characters shown as `\xNN`. */
export function printable(text: string): string {
  const cut = text.length > 64 ? text.slice(0, 64) + '...' : text;
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
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
