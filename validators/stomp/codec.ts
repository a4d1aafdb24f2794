/**
 * Streaming STOMP 1.0/1.1/1.2 codec: frames bytes split anywhere and validates every frame.
 *
 * Grammar: https://stomp.github.io/stomp-specification-1.2.html#Augmented_BNF
 * (1.0 and 1.1 differences: no escaping in 1.0, no `\r` escape and LF-only lines in 1.1).
 *
 * States: IDLE (between frames: heart-beat EOLs), IDLE_CR (a CR ended the chunk between frames),
 * HEADERS (command and header lines, up to the blank line), BODY_LENGTH (a `content-length` body
 * then its NUL), BODY_SCAN (a body ended by the first NUL), NUL (a command without body: the
 * next byte must be NUL).
 */
import { isUtf8 } from 'node:buffer';
import { WireError, type Codec, type Direction, type ErrorSpec } from '../types';
import { Accumulator } from './accumulator';
import { ERRORS } from './errors';
import {
  BODY_COMMANDS,
  CLIENT_COMMANDS,
  ParsedStompFrame,
  SERVER_COMMANDS,
  STOMP_VERSIONS,
  StompFrame,
  decodeHeaderLines,
  isNegotiationCommand,
  printable,
  type HeaderFault,
  type StompCommand,
  type StompHeader,
  type StompVersion,
} from './frame';
import { resolveLimits, type StompLimits } from './limits';

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

const S_IDLE = 0;
const S_IDLE_CR = 1;
const S_HEADERS = 2;
const S_BODY_LENGTH = 3;
const S_BODY_SCAN = 4;
const S_NUL = 5;

const DIGITS = /^[0-9]+$/;
const HEART_BEAT = /^[0-9]+,[0-9]+$/;
const VERSION_TOKEN = /^[0-9]+\.[0-9]+$/;
const EMPTY = Buffer.alloc(0);
const NO_HEADERS: readonly StompHeader[] = Object.freeze([]);

/** Commands by length of their name, to match a command line's bytes without decoding it. */
const COMMANDS_BY_LENGTH: readonly (readonly StompCommand[])[] = (() => {
  const out: StompCommand[][] = [];
  for (let n = 0; n <= 11; n++) out.push([]);
  for (const c of [...CLIENT_COMMANDS, ...SERVER_COMMANDS] as StompCommand[]) (out[c.length] as StompCommand[]).push(c);
  return out;
})();

/** The command whose name is exactly `buf[at, at + length)`, or `null`. */
function matchCommand(buf: Buffer, at: number, length: number): StompCommand | null {
  if (length >= COMMANDS_BY_LENGTH.length) return null;
  const candidates = COMMANDS_BY_LENGTH[length] as readonly StompCommand[];
  for (let k = 0; k < candidates.length; k++) {
    const name = candidates[k] as StompCommand;
    if (sameBytes(buf, at, name)) return name;
  }
  return null;
}

/** Whether `buf[at, at + text.length)` holds the ASCII `text`. */
function sameBytes(buf: Buffer, at: number, text: string): boolean {
  for (let j = 0; j < text.length; j++) if (buf[at + j] !== text.charCodeAt(j)) return false;
  return true;
}

/** A byte outside ASCII (in a Latin-1 decoding). */
const NON_ASCII = /[^\x00-\x7f]/;

// Header names whose presence or value the rules after the handshake look at, one bit each.
const H_DESTINATION = 1;
const H_ID = 2;
const H_MESSAGE_ID = 4;
const H_SUBSCRIPTION = 8;
const H_TRANSACTION = 16;
const H_RECEIPT_ID = 32;
const H_CONTENT_LENGTH = 64;

/** The bit of the header name `buf[at, end)`, or 0 for a name the rules do not look at. */
function knownHeader(buf: Buffer, at: number, end: number): number {
  switch (end - at) {
    case 2:
      return buf[at] === 0x69 && buf[at + 1] === 0x64 ? H_ID : 0;
    case 10:
      if (sameBytes(buf, at, 'message-id')) return H_MESSAGE_ID;
      return sameBytes(buf, at, 'receipt-id') ? H_RECEIPT_ID : 0;
    case 11:
      if (sameBytes(buf, at, 'destination')) return H_DESTINATION;
      return sameBytes(buf, at, 'transaction') ? H_TRANSACTION : 0;
    case 12:
      return sameBytes(buf, at, 'subscription') ? H_SUBSCRIPTION : 0;
    case 14:
      return sameBytes(buf, at, 'content-length') ? H_CONTENT_LENGTH : 0;
    default:
      return 0;
  }
}

/** The bit {@link knownHeader} gives `name`. */
function headerBit(name: string): number {
  switch (name) {
    case 'destination':
      return H_DESTINATION;
    case 'id':
      return H_ID;
    case 'message-id':
      return H_MESSAGE_ID;
    case 'subscription':
      return H_SUBSCRIPTION;
    case 'transaction':
      return H_TRANSACTION;
    case 'receipt-id':
      return H_RECEIPT_ID;
    case 'content-length':
      return H_CONTENT_LENGTH;
    default:
      return 0;
  }
}

/**
 * Version state shared by the two codecs of one connection. CONNECT/STOMP records the versions
 * the client offers; CONNECTED fixes the version for both directions.
 */
export class StompSession {
  /** The agreed version, fixed by CONNECTED (or given up front). */
  version: StompVersion | null = null;
  /** Versions the client offered in CONNECT/STOMP, lowest first; `null` before CONNECT. */
  offered: readonly StompVersion[] | null = null;

  /** Rules in force: the agreed version, else the client's highest offer, else `null` (negotiation). */
  get current(): StompVersion | null {
    if (this.version !== null) return this.version;
    const o = this.offered;
    return o === null ? null : o[o.length - 1];
  }
}

/** Options for a standalone {@link StompCodec}. */
export interface StompCodecOptions {
  /** Limits overriding the defaults (`DEFAULT_LIMITS`); `undefined` values keep the default. */
  readonly limits?: Partial<StompLimits>;
  /** State shared with the codec of the other direction (a pair shares one). */
  readonly session?: StompSession;
  /**
   * Start with this version agreed and the session open (no CONNECT/CONNECTED required), for a
   * codec that joins a connection after the handshake or serves one fixed version.
   */
  readonly version?: StompVersion;
}

const errorVersions = new WeakMap<WireError, StompVersion | null>();

/** The version in force when the codec raised `err` (`null`: before one was known). */
export function versionOfError(err: WireError): StompVersion | null {
  return errorVersions.get(err) ?? null;
}

/** A streaming STOMP codec for one direction of one connection. */
export class StompCodec implements Codec<StompFrame> {
  readonly protocol = 'stomp' as const;
  readonly direction: Direction;
  readonly limits: Readonly<StompLimits>;
  readonly session: StompSession;

  private readonly acc: Accumulator;
  private state = S_IDLE;
  private error: WireError | null = null;
  /** CONNECT sent (toServer) or CONNECTED received (toClient). */
  private opened: boolean;
  private disconnected = false;

  // Current frame.
  private lineNo = 0;
  private lineStart = 0;
  private headerCount = 0;
  private pendingCR = false;
  /** Frame offset of the first header line (just after the command line). */
  private firstHeader = 0;
  private headerEnd = 0;
  private bodyRemaining = 0;
  private bodyLength = 0;
  private command: StompCommand | null = null;
  /** The decoded header list when the frame took the general path; `null` on the fast path. */
  private decoded: readonly StompHeader[] | null = null;
  /** The header lines as decoded text (fast path), split into the list on first read. */
  private headerText = '';
  /** Bits of the known header names present (fast path), see {@link knownHeader}. */
  private seen = 0;
  private frameVersion: StompVersion | null = null;
  private offered: readonly StompVersion[] | null = null;

  constructor(direction: Direction, options: StompCodecOptions = {}) {
    this.direction = direction;
    this.limits = resolveLimits(options.limits);
    this.session = options.session ?? new StompSession();
    if (options.version !== undefined) this.session.version = options.version;
    this.opened = options.version !== undefined;
    this.acc = new Accumulator(this.limits.maxFrameSize);
  }

  /** Bytes held for a frame (or a CR) not yet complete; never above `maxFrameSize`. */
  get buffered(): number {
    return this.acc.length;
  }

  /** Feeds bytes; returns the frames and heart-beats they completed. Throws {@link WireError}. */
  push(chunk: Buffer): StompFrame[] {
    if (this.error !== null) throw this.error;
    try {
      return this.parse(chunk);
    } catch (err) {
      if (err instanceof WireError) this.error = err;
      throw err;
    }
  }

  private fail(spec: ErrorSpec, message: string): WireError {
    const err = new WireError('stomp', this.direction, spec, message);
    errorVersions.set(err, this.session.current);
    return err;
  }

  private crAllowed(): boolean {
    const v = this.session.current;
    return v === null || v === '1.2';
  }

  private lineName(): string {
    return this.lineNo === 0 ? 'the command line' : 'a header line';
  }

  private heartbeat(raw: Buffer): StompFrame {
    return new StompFrame('HEARTBEAT', raw, null, NO_HEADERS, EMPTY, this.session.current);
  }

  private parse(chunk: Buffer): StompFrame[] {
    const out: StompFrame[] = [];
    const acc = this.acc;
    const lim = this.limits;
    const end = chunk.length;
    let pos = 0;
    // Chunk index where this chunk's bytes of the unit in progress begin; a frame offset is
    // `acc.length + index - start`.
    let start = 0;
    let nulAt = -1;
    let crAt = -1;

    while (pos < end) {
      switch (this.state) {
        case S_IDLE: {
          const b = chunk[pos];
          if (b === LF) {
            out.push(this.heartbeat(chunk.subarray(pos, pos + 1)));
            pos++;
            break;
          }
          if (b === CR) {
            if (!this.crAllowed()) throw this.fail(ERRORS.STRAY_CR, `CR between frames is not allowed in STOMP ${this.session.current}`);
            if (pos + 1 === end) {
              start = pos;
              pos++;
              this.state = S_IDLE_CR;
              break;
            }
            if (chunk[pos + 1] !== LF) throw this.fail(ERRORS.STRAY_CR, 'CR between frames not followed by LF');
            out.push(this.heartbeat(chunk.subarray(pos, pos + 2)));
            pos += 2;
            break;
          }
          start = pos;
          this.lineNo = 0;
          this.lineStart = 0;
          this.headerCount = 0;
          this.pendingCR = false;
          this.state = S_HEADERS;
          break;
        }

        case S_IDLE_CR: {
          if (chunk[pos] !== LF) throw this.fail(ERRORS.STRAY_CR, 'CR between frames not followed by LF');
          acc.append(chunk, pos, pos + 1);
          pos++;
          start = pos;
          out.push(this.heartbeat(acc.take()));
          this.state = S_IDLE;
          break;
        }

        case S_HEADERS: {
          const base = acc.length - start;
          const nl = chunk.indexOf(LF, pos);
          const stop = nl === -1 ? end : nl;
          if (nulAt < pos) {
            nulAt = chunk.indexOf(NUL, pos);
            if (nulAt === -1) nulAt = end;
          }
          if (nulAt < stop) throw this.fail(ERRORS.NUL_IN_HEADERS, `NUL byte in ${this.lineName()}`);
          let eolCR = false;
          if (this.pendingCR) {
            this.pendingCR = false;
            if (nl !== pos) throw this.fail(ERRORS.STRAY_CR, `CR inside ${this.lineName()}`);
            eolCR = true;
          }
          if (crAt < pos) {
            crAt = chunk.indexOf(CR, pos);
            if (crAt === -1) crAt = end;
          }
          if (crAt < stop) {
            if (!this.crAllowed()) throw this.fail(ERRORS.STRAY_CR, `CR in ${this.lineName()} is not allowed in STOMP ${this.session.current}`);
            if (crAt !== stop - 1) throw this.fail(ERRORS.STRAY_CR, `CR inside ${this.lineName()}`);
            eolCR = true;
          }
          const lineLength = base + stop - this.lineStart - (eolCR ? 1 : 0);
          if (this.lineNo === 0) {
            if (lineLength > lim.maxCommandLength) {
              throw this.fail(ERRORS.COMMAND_TOO_LONG, `command line longer than ${lim.maxCommandLength} bytes`);
            }
          } else if (lineLength > lim.maxHeaderLineLength) {
            throw this.fail(ERRORS.HEADER_LINE_TOO_LONG, `header line longer than ${lim.maxHeaderLineLength} bytes`);
          }
          if (base + stop + (nl === -1 ? 0 : 1) > lim.maxFrameSize) {
            throw this.fail(ERRORS.FRAME_TOO_LARGE, `frame larger than ${lim.maxFrameSize} bytes`);
          }
          if (nl === -1) {
            this.pendingCR = eolCR;
            pos = end;
            break;
          }
          pos = nl + 1;
          if (lineLength === 0) {
            this.headerEnd = base + pos;
            if (acc.length === 0) {
              this.onHeaders(chunk, start);
            } else {
              acc.append(chunk, start, pos);
              start = pos;
              this.onHeaders(acc.storage, 0);
            }
            break;
          }
          if (this.lineNo === 0) {
            // The command line is complete: check the command before reading any header.
            let lineBuf = chunk;
            let lineAt = start;
            if (acc.length !== 0) {
              acc.append(chunk, start, pos);
              start = pos;
              lineBuf = acc.storage;
              lineAt = 0;
            }
            this.command = this.checkCommand(matchCommand(lineBuf, lineAt, lineLength), lineBuf, lineAt, lineLength);
            this.firstHeader = base + pos;
          } else if (++this.headerCount > lim.maxHeaders) {
            throw this.fail(ERRORS.TOO_MANY_HEADERS, `more than ${lim.maxHeaders} header lines`);
          }
          this.lineNo++;
          this.lineStart = base + pos;
          break;
        }

        case S_BODY_LENGTH: {
          if (this.bodyRemaining > 0) {
            const take = Math.min(end - pos, this.bodyRemaining);
            pos += take;
            this.bodyRemaining -= take;
            if (pos === end) break;
          }
          if (chunk[pos] !== NUL) throw this.fail(ERRORS.MISSING_NUL, `byte after the ${this.bodyLength}-byte body announced by content-length is not NUL`);
          pos++;
          out.push(this.complete(chunk, start, pos));
          start = pos;
          break;
        }

        case S_BODY_SCAN: {
          if (nulAt < pos) {
            nulAt = chunk.indexOf(NUL, pos);
            if (nulAt === -1) nulAt = end;
          }
          const base = acc.length - start;
          const bodyLength = base + nulAt - this.headerEnd;
          if (bodyLength > lim.maxBodySize) throw this.fail(ERRORS.BODY_TOO_LARGE, `body larger than ${lim.maxBodySize} bytes`);
          if (base + nulAt + 1 > lim.maxFrameSize) throw this.fail(ERRORS.FRAME_TOO_LARGE, `frame larger than ${lim.maxFrameSize} bytes`);
          if (nulAt === end) {
            pos = end;
            break;
          }
          this.bodyLength = bodyLength;
          pos = nulAt + 1;
          out.push(this.complete(chunk, start, pos));
          start = pos;
          break;
        }

        default: {
          // S_NUL
          if (chunk[pos] !== NUL) throw this.fail(ERRORS.UNEXPECTED_BODY, `${this.command} frame must not have a body`);
          pos++;
          out.push(this.complete(chunk, start, pos));
          start = pos;
          break;
        }
      }
    }
    if (this.state !== S_IDLE && start < end) acc.append(chunk, start, end);
    return out;
  }

  private complete(chunk: Buffer, start: number, end: number): StompFrame {
    let raw: Buffer;
    if (this.acc.length === 0) {
      raw = chunk.subarray(start, end);
    } else {
      this.acc.append(chunk, start, end);
      raw = this.acc.take();
    }
    const command = this.command as StompCommand;
    const frame = new ParsedStompFrame(
      command,
      raw,
      this.decoded,
      this.headerText,
      this.frameVersion === null || isNegotiationCommand(command) ? null : this.frameVersion,
      raw.subarray(this.headerEnd, this.headerEnd + this.bodyLength),
      this.frameVersion,
    );
    if (command === 'CONNECT' || command === 'STOMP') {
      this.session.offered = this.offered;
      this.opened = true;
    } else if (command === 'CONNECTED') {
      this.session.version = this.frameVersion;
      this.opened = true;
    } else if (command === 'DISCONNECT') {
      this.disconnected = true;
    }
    this.decoded = null;
    this.headerText = '';
    this.state = S_IDLE;
    return frame;
  }

  /**
   * Validates the header lines of the frame whose first byte is `buf[at]` (the blank line ends at
   * `at + headerEnd`). Frames after the handshake whose lines hold no escape and all have a name
   * and a colon are checked on their Latin-1 decoding (the fast path), which is kept, or decoded
   * again as UTF-8 when it holds other bytes, as the one string of their lines; the others are decoded into the header list first and checked on it. Both apply the
   * same rules in the same order, with the same messages.
   */
  private onHeaders(buf: Buffer, at: number): void {
    const cmd = this.command as StompCommand;
    const negotiation = isNegotiationCommand(cmd);
    const version = negotiation ? null : this.session.current;
    const escaped = version === '1.1' || version === '1.2';
    const from = at + this.firstHeader;
    const blankEnd = at + this.headerEnd;
    // End of the last header line: the blank line is LF or CRLF.
    const to = buf[blankEnd - 2] === CR ? blankEnd - 2 : blankEnd - 1;
    if (negotiation) {
      this.generalHeaders(buf, at, from, to, cmd, version);
      return;
    }
    // Header lines are found with the string's own searches (native, several bytes a step) on
    // their Latin-1 decoding, whose offsets are byte offsets; non-ASCII lines are then decoded again
    // as UTF-8 once checked.
    const latin1 = from === to ? '' : buf.toString('latin1', from, to);
    if (escaped && latin1.indexOf('\\') !== -1) {
      this.generalHeaders(buf, at, from, to, cmd, version);
      return;
    }
    let seen = 0;
    let lengthFrom = -1;
    let lengthTo = -1;
    const n = latin1.length;
    for (let line = 0; line < n; ) {
      const nl = latin1.indexOf('\n', line);
      const colon = latin1.indexOf(':', line);
      if (colon <= line || colon > nl) {
        this.generalHeaders(buf, at, from, to, cmd, version);
        return;
      }
      const bit = knownHeader(buf, from + line, from + colon);
      if (bit !== 0 && (seen & bit) === 0) {
        seen |= bit;
        if (bit === H_CONTENT_LENGTH) {
          lengthFrom = from + colon + 1;
          lengthTo = from + (latin1.charCodeAt(nl - 1) === CR ? nl - 1 : nl);
        }
      }
      line = nl + 1;
    }
    if (NON_ASCII.test(latin1)) {
      if (!isUtf8(buf.subarray(at, blankEnd))) throw this.fail(ERRORS.BAD_UTF8, 'command or header lines are not valid UTF-8');
      this.headerText = buf.toString('utf8', from, to);
    } else {
      this.headerText = latin1;
    }
    this.decoded = null;
    this.seen = seen;
    this.frameVersion = version;
    this.checkHeaders(cmd, version, NO_HEADERS);
    if (lengthFrom < 0) {
      this.withoutLength(cmd);
      return;
    }
    let length = 0;
    let ok = lengthTo > lengthFrom;
    for (let i = lengthFrom; i < lengthTo; i++) {
      const d = (buf[i] as number) - 0x30;
      if (d < 0 || d > 9) {
        ok = false;
        break;
      }
      length = length * 10 + d;
    }
    if (!ok) throw this.fail(ERRORS.BAD_HEADER_VALUE, `content-length "${buf.toString('utf8', lengthFrom, lengthTo)}" is not a decimal number`);
    // Up to 15 digits the sum above is exact; longer numbers are parsed as the general path does.
    if (lengthTo - lengthFrom > 15) length = Number(buf.toString('latin1', lengthFrom, lengthTo));
    this.withLength(cmd, length);
  }

  /** The general path of {@link onHeaders}: decode the lines into the header list, then check. */
  private generalHeaders(buf: Buffer, at: number, from: number, to: number, cmd: StompCommand, version: StompVersion | null): void {
    if (!isUtf8(buf.subarray(at, at + this.headerEnd))) throw this.fail(ERRORS.BAD_UTF8, 'command or header lines are not valid UTF-8');
    const headers = decodeHeaderLines(buf.toString('utf8', from, to), version, cmd);
    if (!Array.isArray(headers)) {
      const fault = headers as HeaderFault;
      throw this.fail(fault.escape ? ERRORS.BAD_ESCAPE : ERRORS.BAD_HEADER, fault.message);
    }
    this.decoded = headers;
    this.headerText = '';
    this.frameVersion = version;
    this.checkHeaders(cmd, version, headers);

    const lengthText = first(headers, 'content-length');
    if (lengthText === undefined) {
      this.withoutLength(cmd);
      return;
    }
    if (!DIGITS.test(lengthText)) throw this.fail(ERRORS.BAD_HEADER_VALUE, `content-length "${lengthText}" is not a decimal number`);
    this.withLength(cmd, Number(lengthText));
  }

  /** A `content-length` of `length` bytes: check it and read that many bytes of body. */
  private withLength(cmd: StompCommand, length: number): void {
    const lim = this.limits;
    if (length > lim.maxBodySize) throw this.fail(ERRORS.BODY_TOO_LARGE, `body larger than ${lim.maxBodySize} bytes`);
    if (this.headerEnd + length + 1 > lim.maxFrameSize) throw this.fail(ERRORS.FRAME_TOO_LARGE, `frame larger than ${lim.maxFrameSize} bytes`);
    if (length > 0 && !this.mayHaveBody(cmd)) throw this.fail(ERRORS.UNEXPECTED_BODY, `${cmd} frame must not have a body`);
    this.bodyLength = length;
    this.bodyRemaining = length;
    this.state = S_BODY_LENGTH;
  }

  /** No `content-length`: the body ends at the first NUL, or the frame has no body. */
  private withoutLength(cmd: StompCommand): void {
    this.bodyLength = 0;
    this.state = this.mayHaveBody(cmd) ? S_BODY_SCAN : S_NUL;
  }

  private mayHaveBody(command: StompCommand): boolean {
    return BODY_COMMANDS.has(command) || this.frameVersion === '1.0';
  }

  /** Checks the command matched on the command line `buf[at, at + length)` (`null`: none matched). */
  private checkCommand(command: StompCommand | null, buf: Buffer, at: number, length: number): StompCommand {
    if (command === null) {
      throw this.fail(ERRORS.UNKNOWN_COMMAND, `unknown command "${printable(buf.toString('latin1', at, at + length))}"`);
    }
    const client = CLIENT_COMMANDS.has(command);
    if (this.direction === 'toServer') {
      if (!client) throw this.fail(ERRORS.COMMAND_NOT_ALLOWED, `${command} is a server command; a client must not send it`);
      const connect = command === 'CONNECT' || command === 'STOMP';
      if (!this.opened && !connect) throw this.fail(ERRORS.UNEXPECTED_FRAME, `first client frame must be CONNECT or STOMP, got ${command}`);
      if (this.opened && connect) throw this.fail(ERRORS.UNEXPECTED_FRAME, `${command} after the session was opened`);
      if (this.disconnected) throw this.fail(ERRORS.UNEXPECTED_FRAME, `${command} after DISCONNECT`);
      if (command === 'NACK' && this.session.current === '1.0') throw this.fail(ERRORS.COMMAND_NOT_ALLOWED, 'NACK requires STOMP 1.1 or later');
    } else {
      if (client) throw this.fail(ERRORS.COMMAND_NOT_ALLOWED, `${command} is a client command; a server must not send it`);
      if (!this.opened && command !== 'CONNECTED' && command !== 'ERROR') {
        throw this.fail(ERRORS.UNEXPECTED_FRAME, `first server frame must be CONNECTED or ERROR, got ${command}`);
      }
      if (this.opened && command === 'CONNECTED') throw this.fail(ERRORS.UNEXPECTED_FRAME, 'CONNECTED after the session was opened');
    }
    return command;
  }

  private checkHeaders(command: StompCommand, version: StompVersion | null, headers: readonly StompHeader[]): void {
    const v = version ?? '1.0';
    switch (command) {
      case 'CONNECT':
      case 'STOMP': {
        const accept = first(headers, 'accept-version');
        let offered: StompVersion[];
        if (accept === undefined) {
          if (command === 'STOMP') this.missing(command, 'accept-version');
          offered = ['1.0'];
        } else {
          offered = this.parseAcceptVersion(accept);
        }
        if (command === 'STOMP' && offered[offered.length - 1] === '1.0') {
          throw this.fail(ERRORS.UNSUPPORTED_VERSION, 'STOMP frame requires version 1.1 or later');
        }
        if (this.limits.requireHost && offered[offered.length - 1] !== '1.0') this.require(command, headers, 'host');
        this.checkHeartBeat(headers);
        this.offered = offered;
        return;
      }
      case 'CONNECTED': {
        const text = first(headers, 'version') ?? '1.0';
        const agreed = STOMP_VERSIONS.find((s) => s === text);
        if (agreed === undefined) throw this.fail(ERRORS.UNSUPPORTED_VERSION, `server chose unsupported version "${printable(text)}"`);
        const offered = this.session.offered;
        if (offered !== null && !offered.includes(agreed)) {
          throw this.fail(ERRORS.UNSUPPORTED_VERSION, `server chose version ${agreed}, which the client did not offer`);
        }
        this.checkHeartBeat(headers);
        this.frameVersion = agreed;
        return;
      }
      case 'SEND':
        this.require(command, headers, 'destination');
        return;
      case 'SUBSCRIBE':
        this.require(command, headers, 'destination');
        if (v !== '1.0') this.require(command, headers, 'id');
        return;
      case 'UNSUBSCRIBE':
        if (v !== '1.0') this.require(command, headers, 'id');
        else if (!this.present(headers, 'id') && !this.present(headers, 'destination')) this.missing(command, 'id or destination');
        return;
      case 'ACK':
      case 'NACK':
        if (v === '1.2') {
          this.require(command, headers, 'id');
        } else {
          if (v === '1.1') this.require(command, headers, 'subscription');
          this.require(command, headers, 'message-id');
        }
        return;
      case 'BEGIN':
      case 'COMMIT':
      case 'ABORT':
        this.require(command, headers, 'transaction');
        return;
      case 'MESSAGE':
        this.require(command, headers, 'destination');
        this.require(command, headers, 'message-id');
        if (v !== '1.0') this.require(command, headers, 'subscription');
        return;
      case 'RECEIPT':
        this.require(command, headers, 'receipt-id');
        return;
      default:
        // DISCONNECT and ERROR have no required headers.
        return;
    }
  }

  private require(command: StompCommand, headers: readonly StompHeader[], name: string): void {
    if (!this.present(headers, name)) this.missing(command, name);
  }

  /** Whether a header `name` is present: in `headers` on the general path, else among the names seen on the bytes. */
  private present(headers: readonly StompHeader[], name: string): boolean {
    if (this.decoded !== null) return first(headers, name) !== undefined;
    return (this.seen & headerBit(name)) !== 0;
  }

  private missing(command: StompCommand, name: string): never {
    throw this.fail(ERRORS.MISSING_HEADER, `${command} frame requires a ${name} header`);
  }

  private checkHeartBeat(headers: readonly StompHeader[]): void {
    const hb = first(headers, 'heart-beat');
    if (hb !== undefined && !HEART_BEAT.test(hb)) {
      throw this.fail(ERRORS.BAD_HEADER_VALUE, `heart-beat "${printable(hb)}" is not <cx>,<cy>`);
    }
  }

  private parseAcceptVersion(text: string): StompVersion[] {
    const found: StompVersion[] = [];
    for (const token of text.split(',')) {
      if (!VERSION_TOKEN.test(token)) throw this.fail(ERRORS.BAD_HEADER_VALUE, `accept-version "${printable(text)}" is not a comma-separated list of versions`);
      const known = STOMP_VERSIONS.find((s) => s === token);
      if (known !== undefined && !found.includes(known)) found.push(known);
    }
    if (found.length === 0) throw this.fail(ERRORS.UNSUPPORTED_VERSION, `accept-version "${printable(text)}" offers no supported version (1.0, 1.1, 1.2)`);
    return found.sort();
  }
}

function first(headers: readonly StompHeader[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i++) if (headers[i][0] === name) return headers[i][1];
  return undefined;
}
