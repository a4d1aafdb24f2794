/**
 * Framing without validation, for protocol proxies with `validateServer: false`: the back end's
 * stream cut into the units the client gets, within the validator's frame-size limit, with nothing
 * else checked. A violation of the framing itself (a unit above the limit, a broken
 * `content-length`) throws a {@link WireError} of the protocol's catalogue, as the validator would.
 */
import { WireError, type ErrorSpec, type WireFrame } from '../../../validators/types';
import { ERRORS as STOMP_ERRORS } from '../../../validators/stomp';
import { ERRORS as IRC_ERRORS } from '../../../validators/irc';

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;

/** The bytes of a unit that spans reads: each copied once, joined when the unit is complete. */
class Held {
  private parts: Buffer[] = [];
  length = 0;

  /** Copies `chunk[from, to)` (the read's buffer is not kept alive by a small view). */
  add(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.parts.push(Buffer.from(chunk.subarray(from, to)));
    this.length += to - from;
  }

  /** What is held followed by `chunk[from, to)`, as one buffer; what is held stays. */
  view(chunk: Buffer, from: number, to: number): Buffer {
    return this.length === 0 ? chunk.subarray(from, to) : Buffer.concat([...this.parts, chunk.subarray(from, to)]);
  }

  /** What is held followed by `chunk[from, to)`, as one buffer; starts empty again. */
  take(chunk: Buffer, from: number, to: number): Buffer {
    const out = this.view(chunk, from, to);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

const S_IDLE = 0;
const S_HEADERS = 1;
const S_BODY = 2;
const S_NUL = 3;
const S_SCAN = 4;

const CONTENT_LENGTH = Buffer.from('\ncontent-length:');
const DIGITS = /^[0-9]+$/;

/**
 * Cuts a STOMP server's stream into frames (STOMP 1.2 §"Augmented BNF"): the command and header
 * lines up to the first blank line, then a body of `content-length` bytes and a NUL, or a body up
 * to the first NUL. End-of-line bytes between frames come out as units of kind `HEARTBEAT`, a
 * frame as one unit of kind `frame`. Neither commands, headers nor versions are checked.
 */
export class StompFramer {
  private state = S_IDLE;
  /** In the headers: 0 inside a line, 1 just after its LF, 2 after LF CR (a blank line may be ending). */
  private eol = 0;
  private remaining = 0;
  private readonly held = new Held();
  private error: WireError | null = null;

  /** @param maxFrameSize bytes from the first byte of the command through the NUL (the validator's `maxFrameSize`). */
  constructor(private readonly maxFrameSize: number) {}

  /** Feeds bytes; returns the heart-beats and frames they completed. Throws {@link WireError}. */
  push(chunk: Buffer): WireFrame[] {
    if (this.error !== null) throw this.error;
    const out: WireFrame[] = [];
    const end = chunk.length;
    let pos = 0;
    // Chunk index where this chunk's bytes of the frame in progress begin.
    let start = 0;
    while (pos < end) {
      switch (this.state) {
        case S_IDLE: {
          let i = pos;
          while (i < end && (chunk[i] === LF || chunk[i] === CR)) i++;
          if (i > pos) {
            out.push({ kind: 'HEARTBEAT', raw: chunk.subarray(pos, i) });
            pos = i;
          } else {
            start = pos;
            this.eol = 0;
            this.state = S_HEADERS;
          }
          break;
        }
        case S_HEADERS: {
          pos = this.headers(chunk, pos);
          if (this.state === S_HEADERS) this.checkSize(this.held.length + pos - start);
          else this.bodyOf(this.held.view(chunk, start, pos));
          break;
        }
        case S_BODY: {
          const n = Math.min(this.remaining, end - pos);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = S_NUL;
          break;
        }
        case S_NUL: {
          if (chunk[pos] !== NUL) throw this.fail(STOMP_ERRORS.MISSING_NUL, 'the byte after a content-length body from the server is not NUL');
          pos++;
          out.push(this.frame(chunk, start, pos));
          break;
        }
        default: {
          const nul = chunk.indexOf(NUL, pos);
          pos = nul === -1 ? end : nul + 1;
          this.checkSize(this.held.length + pos - start);
          if (nul !== -1) out.push(this.frame(chunk, start, pos));
        }
      }
    }
    if (this.state !== S_IDLE) this.held.add(chunk, start, end);
    return out;
  }

  /** Scans header bytes from `pos`; returns where it stopped (after the blank line when it ended them). */
  private headers(chunk: Buffer, from: number): number {
    const end = chunk.length;
    let pos = from;
    while (pos < end) {
      if (this.eol === 0) {
        const nl = chunk.indexOf(LF, pos);
        if (nl === -1) return end;
        pos = nl + 1;
        this.eol = 1;
      } else if (chunk[pos] === LF) {
        this.state = S_SCAN;
        return pos + 1;
      } else if (chunk[pos] === CR && this.eol === 1) {
        this.eol = 2;
        pos++;
      } else {
        this.eol = 0;
      }
    }
    return pos;
  }

  /** Chooses how the body ends from the frame's command and header lines (`head`, through the blank line). */
  private bodyOf(head: Buffer): void {
    this.checkSize(head.length);
    const at = head.indexOf(CONTENT_LENGTH);
    if (at === -1) return;
    const from = at + CONTENT_LENGTH.length;
    let to = head.indexOf(LF, from);
    if (head[to - 1] === CR) to--;
    const value = head.toString('latin1', from, to);
    if (!DIGITS.test(value)) throw this.fail(STOMP_ERRORS.BAD_HEADER_VALUE, `content-length ${JSON.stringify(value)} from the server is not a number`);
    const length = Number(value);
    this.checkSize(head.length + length + 1);
    this.remaining = length;
    this.state = length === 0 ? S_NUL : S_BODY;
  }

  private frame(chunk: Buffer, start: number, pos: number): WireFrame {
    this.state = S_IDLE;
    return { kind: 'frame', raw: this.held.take(chunk, start, pos) };
  }

  private checkSize(size: number): void {
    if (size > this.maxFrameSize) throw this.fail(STOMP_ERRORS.FRAME_TOO_LARGE, `frame from the server of more than ${this.maxFrameSize} bytes (maxFrameSize)`);
  }

  private fail(spec: ErrorSpec, message: string): WireError {
    this.error = new WireError('stomp', 'toClient', spec, message);
    return this.error;
  }
}

/**
 * Cuts an IRC server's stream into lines (RFC 2812 §2.3: ended by CRLF, or a bare LF as servers
 * send), returned without their line end; empty lines are dropped. Tags, prefix, command and
 * parameters are not checked.
 */
export class IrcLineFramer {
  private readonly held = new Held();
  private error: WireError | null = null;

  /** @param maxLineBytes longest line with its line end (the validator's tags section plus `maxMessageBytes`). */
  constructor(private readonly maxLineBytes: number) {}

  /** Feeds bytes; returns the lines they completed. Throws {@link WireError}. */
  push(chunk: Buffer): Buffer[] {
    if (this.error !== null) throw this.error;
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, start)) {
      this.checkSize(this.held.length + nl + 1 - start);
      const line = this.held.take(chunk, start, nl + 1);
      start = nl + 1;
      const length = line.length - (line.length > 1 && line[line.length - 2] === CR ? 2 : 1);
      if (length > 0) out.push(line.subarray(0, length));
    }
    // A line end still to come makes the line at least one byte longer.
    this.checkSize(this.held.length + chunk.length - start + 1);
    this.held.add(chunk, start, chunk.length);
    return out;
  }

  private checkSize(size: number): void {
    if (size > this.maxLineBytes) {
      this.error = new WireError('irc', 'toClient', IRC_ERRORS.LINE_TOO_LONG, `line from the server of more than ${this.maxLineBytes} bytes`);
      throw this.error;
    }
  }
}
