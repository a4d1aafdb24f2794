/**
 * Streaming IRC codec: frames lines split anywhere (stream framing) or validates one message
 * per push (message framing, IRCv3 WebSocket: https://ircv3.net/specs/extensions/websocket).
 *
 * Grammar: RFC 2812 §2.3.1 with IRCv3 message tags:
 *   message = [ "@" tags SPACE ] [ ":" prefix SPACE ] command *( SPACE param ) [ SPACE ":" trailing ] EOL
 *
 * Stream states are implicit: between lines, or inside a line whose bytes so far are held;
 * for the line in progress the codec tracks whether it opened a tags section and where that
 * section ended, so both length limits are checked on every chunk before anything is held.
 */
import { isUtf8 } from 'node:buffer';
import { WireError, type Codec, type Direction, type ErrorSpec } from '../types';
import { Accumulator } from './accumulator';
import { ERRORS } from './errors';
import { IrcFrame, type IrcPrefix } from './frame';
import { resolveLimits, type IrcLimits } from './limits';

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const SP = 0x20;
const AT = 0x40;

const PLUS = 0x2b;
const SLASH = 0x2f;
const DOT = 0x2e;
const SEMI = 0x3b;
const EQ = 0x3d;

/** How bytes arrive: a byte stream of lines (TCP), or one message per push (WebSocket). */
export type IrcFraming = 'stream' | 'message';

/** Options for an {@link IrcCodec}. */
export interface IrcCodecOptions {
  /** Limits overriding the defaults (`DEFAULT_LIMITS`); `undefined` values keep the default. */
  readonly limits?: Partial<IrcLimits>;
  /**
   * `stream`: lines ended by CRLF (or LF) split anywhere; `message`: every push is one whole
   * message without line end, and CR or LF anywhere in it is an error.
   * @default 'stream'
   */
  readonly framing?: IrcFraming;
}

/** A streaming IRC codec for one direction of one connection. */
export class IrcCodec implements Codec<IrcFrame> {
  readonly protocol = 'irc' as const;
  readonly direction: Direction;
  readonly framing: IrcFraming;
  readonly limits: Readonly<IrcLimits>;
  /** Largest tags section accepted in this direction, with `@` and the trailing space. */
  readonly maxTagSection: number;
  /** Most bytes one line can take (and the most this codec ever buffers). */
  readonly maxLineBytes: number;

  private readonly acc: Accumulator;
  private error: WireError | null = null;
  private pendingCR = false;
  /** The line in progress opened with `@`. */
  private hasTags = false;
  /** Line offset of the space that closes the tags section; -1 while not seen. */
  private tagEnd = -1;

  constructor(direction: Direction, options: IrcCodecOptions = {}) {
    this.direction = direction;
    this.framing = options.framing ?? 'stream';
    this.limits = resolveLimits(options.limits);
    this.maxTagSection = direction === 'toServer' ? this.limits.maxClientTagBytes + 2 : this.limits.maxTagBytes;
    this.maxLineBytes = this.maxTagSection + this.limits.maxMessageBytes;
    this.acc = new Accumulator(this.maxLineBytes);
  }

  /** Bytes held for a line not yet complete; never above {@link IrcCodec.maxLineBytes}. */
  get buffered(): number {
    return this.acc.length;
  }

  /**
   * Feeds bytes; returns the messages they completed (empty lines are consumed and not
   * returned). In message framing, `chunk` is one whole message. Throws {@link WireError}.
   */
  push(chunk: Buffer): IrcFrame[] {
    if (this.error !== null) throw this.error;
    try {
      return this.framing === 'stream' ? this.parseStream(chunk) : [this.parseMessage(chunk)];
    } catch (err) {
      if (err instanceof WireError) this.error = err;
      throw err;
    }
  }

  private fail(spec: ErrorSpec, message: string): WireError {
    return new WireError('irc', this.direction, spec, message);
  }

  private parseStream(chunk: Buffer): IrcFrame[] {
    const out: IrcFrame[] = [];
    const acc = this.acc;
    const end = chunk.length;
    let pos = 0;
    // Chunk index where this chunk's bytes of the line in progress begin; a line offset is
    // `acc.length + index - start`.
    let start = 0;
    let nulAt = -1;
    let crAt = -1;
    while (pos < end) {
      const base = acc.length - start;
      const nl = chunk.indexOf(LF, pos);
      const stop = nl === -1 ? end : nl;
      if (nulAt < pos) {
        nulAt = chunk.indexOf(NUL, pos);
        if (nulAt === -1) nulAt = end;
      }
      if (nulAt < stop) throw this.fail(ERRORS.FORBIDDEN_CHAR, 'NUL byte in a message');
      let eolCR = false;
      if (this.pendingCR) {
        this.pendingCR = false;
        if (nl !== pos) throw this.fail(ERRORS.FORBIDDEN_CHAR, 'CR not followed by LF inside a message');
        eolCR = true;
      }
      if (crAt < pos) {
        crAt = chunk.indexOf(CR, pos);
        if (crAt === -1) crAt = end;
      }
      if (crAt < stop) {
        if (crAt !== stop - 1) throw this.fail(ERRORS.FORBIDDEN_CHAR, 'CR not followed by LF inside a message');
        eolCR = true;
      }
      if (base + pos === 0 && stop > pos) this.hasTags = chunk[pos] === AT;
      if (this.hasTags && this.tagEnd === -1) {
        const sp = chunk.indexOf(SP, pos);
        if (sp !== -1 && sp < stop) this.tagEnd = base + sp;
      }
      this.checkLengths(base + stop - (eolCR ? 1 : 0), this.hasTags, this.tagEnd);
      if (nl === -1) {
        this.pendingCR = eolCR;
        pos = end;
        break;
      }
      if (!eolCR && !this.limits.allowBareLf) throw this.fail(ERRORS.FORBIDDEN_CHAR, 'line ended by LF without CR');
      pos = nl + 1;
      let raw: Buffer;
      if (acc.length === 0) {
        raw = chunk.subarray(start, pos);
      } else {
        acc.append(chunk, start, pos);
        raw = acc.take();
      }
      start = pos;
      const tagEnd = this.hasTags ? this.tagEnd : -1;
      this.hasTags = false;
      this.tagEnd = -1;
      const contentLength = raw.length - (eolCR ? 2 : 1);
      if (contentLength > 0) out.push(this.parseLine(raw.subarray(0, contentLength), raw, tagEnd));
    }
    if (start < end) acc.append(chunk, start, end);
    return out;
  }

  private parseMessage(message: Buffer): IrcFrame {
    if (message.length === 0) throw this.fail(ERRORS.MISSING_COMMAND, 'empty message');
    if (message.indexOf(NUL) !== -1) throw this.fail(ERRORS.FORBIDDEN_CHAR, 'NUL byte in a message');
    if (message.indexOf(CR) !== -1 || message.indexOf(LF) !== -1) {
      throw this.fail(ERRORS.FORBIDDEN_CHAR, 'CR or LF inside a single-message frame');
    }
    const hasTags = message[0] === AT;
    const tagEnd = hasTags ? message.indexOf(SP) : -1;
    this.checkLengths(message.length, hasTags, tagEnd);
    return this.parseLine(message, message, tagEnd);
  }

  /** Checks the bytes of a line so far (`length`, without line end) against both limits. */
  private checkLengths(length: number, hasTags: boolean, tagEnd: number): void {
    let rest = length;
    if (hasTags) {
      if (tagEnd === -1) {
        if (length > this.maxTagSection - 1) throw this.tagsTooLong();
        rest = 0;
      } else {
        if (tagEnd + 1 > this.maxTagSection) throw this.tagsTooLong();
        rest = length - tagEnd - 1;
      }
    }
    if (rest + 2 > this.limits.maxMessageBytes) {
      throw this.fail(ERRORS.LINE_TOO_LONG, `message longer than ${this.limits.maxMessageBytes} bytes without tags, counting CRLF`);
    }
  }

  private tagsTooLong(): WireError {
    return this.direction === 'toServer'
      ? this.fail(ERRORS.TAGS_TOO_LONG, `client tag data longer than ${this.limits.maxClientTagBytes} bytes`)
      : this.fail(ERRORS.TAGS_TOO_LONG, `tags section longer than ${this.limits.maxTagBytes} bytes`);
  }

  /** Parses one message: `content` is the line without its end, `raw` the wire bytes. */
  private parseLine(content: Buffer, raw: Buffer, tagEnd: number): IrcFrame {
    let text: string;
    if (isUtf8(content)) {
      text = content.toString('utf8');
    } else if (this.limits.requireUtf8) {
      throw this.fail(ERRORS.BAD_UTF8, 'message is not valid UTF-8');
    } else {
      if (tagEnd !== -1 && !isUtf8(content.subarray(0, tagEnd))) throw this.fail(ERRORS.BAD_UTF8, 'message tags are not valid UTF-8');
      text = tagEnd === -1 ? content.toString('latin1') : content.toString('utf8', 0, tagEnd) + content.toString('latin1', tagEnd);
    }

    const n = text.length;
    let i = 0;
    let tags = '';
    if (text.charCodeAt(0) === AT) {
      const sp = text.indexOf(' ');
      if (sp === -1) throw this.fail(ERRORS.MISSING_COMMAND, 'tags without a command');
      tags = text.slice(1, sp);
      this.checkTagKeys(tags);
      i = skipSpaces(text, sp);
    }
    let prefix: IrcPrefix | null = null;
    if (text.charCodeAt(i) === 0x3a) {
      if (this.direction === 'toServer') throw this.fail(ERRORS.CLIENT_PREFIX, 'clients must not send a prefix');
      const sp = text.indexOf(' ', i);
      if (sp === -1) throw this.fail(ERRORS.MISSING_COMMAND, 'prefix without a command');
      prefix = this.parsePrefix(text.slice(i + 1, sp));
      i = skipSpaces(text, sp);
    }
    if (i >= n || text.charCodeAt(i) === SP) throw this.fail(ERRORS.MISSING_COMMAND, 'message without a command');
    let sp = text.indexOf(' ', i);
    const commandEnd = sp === -1 ? n : sp;
    const word = text.slice(i, commandEnd);
    let command: string;
    const shape = commandShape(text, i, commandEnd);
    if (shape === UPPER) {
      command = word;
    } else if (shape === LETTERS) {
      command = word.toUpperCase();
    } else if (shape === NUMERIC) {
      if (this.direction === 'toServer') throw this.fail(ERRORS.COMMAND_NOT_ALLOWED, `clients must not send numeric ${word}`);
      command = word;
    } else {
      throw this.fail(ERRORS.BAD_COMMAND, `command "${printable(word)}" is neither letters nor three digits`);
    }

    const params: string[] = [];
    i = commandEnd;
    const maxParams = this.limits.maxParams;
    while (i < n) {
      i = skipSpaces(text, i);
      if (i >= n) break;
      if (params.length === maxParams) throw this.fail(ERRORS.TOO_MANY_PARAMS, `more than ${maxParams} parameters`);
      if (text.charCodeAt(i) === 0x3a) {
        params.push(text.slice(i + 1));
        break;
      }
      sp = text.indexOf(' ', i);
      const e = sp === -1 ? n : sp;
      params.push(text.slice(i, e));
      i = e;
    }
    return new IrcFrame(raw, tags, prefix, command, params);
  }

  /**
   * Checks every key of a tags section (without `@`): `[+][vendor/]name`, the vendor a host name
   * (letters, digits, `-`, `.`), the name letters, digits and `-`. Values are unescaped only when
   * read ({@link IrcFrame.tags}); any value is valid.
   */
  private checkTagKeys(section: string): void {
    const n = section.length;
    let from = 0;
    for (;;) {
      let i = from;
      if (section.charCodeAt(i) === PLUS) i++;
      let partFrom = i;
      let dot = false;
      let slash = false;
      let ok = true;
      let c = section.charCodeAt(i);
      while (i < n && c !== SEMI && c !== EQ) {
        if (c === SLASH) {
          if (slash || i === partFrom) ok = false;
          slash = true;
          dot = false;
          partFrom = i + 1;
        } else if (c === DOT) {
          dot = true;
        } else if (!isKeyChar(c)) {
          ok = false;
        }
        c = section.charCodeAt(++i);
      }
      if (i === from) throw this.fail(ERRORS.BAD_TAG, 'empty tag key');
      if (!ok || dot || i === partFrom) {
        throw this.fail(ERRORS.BAD_TAG, `invalid tag key "${printable(section.slice(from, i))}"`);
      }
      const semi = c === SEMI ? i : section.indexOf(';', i);
      if (semi === -1) return;
      from = semi + 1;
    }
  }

  private parsePrefix(raw: string): IrcPrefix {
    if (raw === '') throw this.fail(ERRORS.BAD_PREFIX, 'empty prefix');
    const at = raw.indexOf('@');
    const bang = raw.indexOf('!');
    if (at !== -1 && raw.indexOf('@', at + 1) !== -1) throw this.fail(ERRORS.BAD_PREFIX, `prefix "${printable(raw)}" has more than one "@"`);
    if (bang !== -1 && (at === -1 || bang > at)) throw this.fail(ERRORS.BAD_PREFIX, `prefix "${printable(raw)}" has "!user" without "@host"`);
    const nameEnd = bang !== -1 ? bang : at !== -1 ? at : raw.length;
    const name = raw.slice(0, nameEnd);
    const user = bang === -1 ? null : raw.slice(bang + 1, at);
    const host = at === -1 ? null : raw.slice(at + 1);
    if (name === '' || user === '' || host === '') throw this.fail(ERRORS.BAD_PREFIX, `prefix "${printable(raw)}" has an empty part`);
    return { raw, name, user, host };
  }
}

/** Letters, digits and `-`: the characters of a tag name (and, with `.`, of a vendor). */
function isKeyChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

const UPPER = 0;
const LETTERS = 1;
const NUMERIC = 2;
const INVALID = 3;

/** What `text[from, to)` is as a command: upper-case letters, letters, three digits, or neither. */
function commandShape(text: string, from: number, to: number): number {
  let lower = false;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) continue;
    if (c >= 0x61 && c <= 0x7a) lower = true;
    else if (c >= 0x30 && c <= 0x39) digits++;
    else return INVALID;
  }
  if (digits === 0) return lower ? LETTERS : UPPER;
  return digits === 3 && to - from === 3 ? NUMERIC : INVALID;
}

function skipSpaces(text: string, i: number): number {
  while (text.charCodeAt(i) === SP) i++;
  return i;
}

/** Peer text for an error message: at most 64 characters, control characters shown as `\xNN`. */
function printable(text: string): string {
  const cut = text.length > 64 ? text.slice(0, 64) + '...' : text;
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
