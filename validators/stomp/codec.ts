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
  SERVER_COMMANDS,
  STOMP_VERSIONS,
  StompFrame,
  isNegotiationCommand,
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
  private headerEnd = 0;
  private bodyRemaining = 0;
  private bodyLength = 0;
  private command: StompCommand | null = null;
  private headers: readonly StompHeader[] = NO_HEADERS;
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
            let block: Buffer;
            if (acc.length === 0) {
              block = chunk.subarray(start, pos);
            } else {
              acc.append(chunk, start, pos);
              start = pos;
              block = acc.view();
            }
            this.onHeaders(block);
            break;
          }
          if (this.lineNo === 0) {
            // The command line is complete: check the command before reading any header.
            let text: string;
            if (acc.length === 0) {
              text = chunk.toString('latin1', start, start + lineLength);
            } else {
              acc.append(chunk, start, pos);
              start = pos;
              text = acc.view().toString('latin1', 0, lineLength);
            }
            this.command = this.checkCommand(text);
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
    const frame = new StompFrame(
      command,
      raw,
      command,
      this.headers,
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
    this.headers = NO_HEADERS;
    this.state = S_IDLE;
    return frame;
  }

  /** Decodes and validates the command and header lines (`block` ends with the blank line). */
  private onHeaders(block: Buffer): void {
    if (!isUtf8(block)) throw this.fail(ERRORS.BAD_UTF8, 'command or header lines are not valid UTF-8');
    const lines = block.toString('utf8').split('\n');
    const cmd = this.command as StompCommand;
    const negotiation = isNegotiationCommand(cmd);
    const version = negotiation ? null : this.session.current;
    const escaped = version === '1.1' || version === '1.2';

    // lines: command, headers..., blank line, '' (after the final LF)
    const count = lines.length - 3;
    const headers: StompHeader[] = new Array<StompHeader>(count);
    for (let i = 0; i < count; i++) {
      const line = stripCR(lines[i + 1]);
      const colon = line.indexOf(':');
      if (colon <= 0) {
        throw this.fail(ERRORS.BAD_HEADER, colon === 0 ? `header with an empty name in ${cmd}` : `header line without ":" in ${cmd}`);
      }
      let name = line.slice(0, colon);
      let value = line.slice(colon + 1);
      if (escaped) {
        if (name.indexOf('\\') !== -1) name = this.unescape(name, version, name);
        if (value.indexOf('\\') !== -1) value = this.unescape(value, version, name);
      }
      headers[i] = [name, value];
    }
    this.headers = headers;
    this.frameVersion = version;
    this.checkHeaders(cmd, version, headers);

    const lengthText = first(headers, 'content-length');
    const lim = this.limits;
    if (lengthText !== undefined) {
      if (!DIGITS.test(lengthText)) throw this.fail(ERRORS.BAD_HEADER_VALUE, `content-length "${lengthText}" is not a decimal number`);
      const length = Number(lengthText);
      if (length > lim.maxBodySize) throw this.fail(ERRORS.BODY_TOO_LARGE, `body larger than ${lim.maxBodySize} bytes`);
      if (this.headerEnd + length + 1 > lim.maxFrameSize) throw this.fail(ERRORS.FRAME_TOO_LARGE, `frame larger than ${lim.maxFrameSize} bytes`);
      if (length > 0 && !this.mayHaveBody(cmd)) throw this.fail(ERRORS.UNEXPECTED_BODY, `${cmd} frame must not have a body`);
      this.bodyLength = length;
      this.bodyRemaining = length;
      this.state = S_BODY_LENGTH;
    } else if (this.mayHaveBody(cmd)) {
      this.bodyLength = 0;
      this.state = S_BODY_SCAN;
    } else {
      this.bodyLength = 0;
      this.state = S_NUL;
    }
  }

  private mayHaveBody(command: StompCommand): boolean {
    return BODY_COMMANDS.has(command) || this.frameVersion === '1.0';
  }

  private checkCommand(command: string): StompCommand {
    const client = CLIENT_COMMANDS.has(command);
    if (!client && !SERVER_COMMANDS.has(command)) {
      throw this.fail(ERRORS.UNKNOWN_COMMAND, `unknown command "${printable(command)}"`);
    }
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
    return command as StompCommand;
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
        else if (first(headers, 'id') === undefined && first(headers, 'destination') === undefined) this.missing(command, 'id or destination');
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
    if (first(headers, name) === undefined) this.missing(command, name);
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

  private unescape(text: string, version: StompVersion | null, header: string): string {
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
        throw this.fail(ERRORS.BAD_ESCAPE, `undefined escape ${printable(seq)} in header "${printable(header)}" (STOMP ${version})`);
      }
      out += text.slice(from, i) + rep;
      from = i + 2;
      i = text.indexOf('\\', from);
    }
    return out + text.slice(from);
  }
}

function stripCR(line: string): string {
  return line.charCodeAt(line.length - 1) === 0x0d ? line.slice(0, -1) : line;
}

function first(headers: readonly StompHeader[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i++) if (headers[i][0] === name) return headers[i][1];
  return undefined;
}

/** Peer text for an error message: at most 64 characters, control characters shown as `\xNN`. */
function printable(text: string): string {
  const cut = text.length > 64 ? text.slice(0, 64) + '...' : text;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
