/**
 * IRC message model, tag escaping and an encoder.
 *
 * Grammar: RFC 1459 §2.3.1, RFC 2812 §2.3.1; tags: https://ircv3.net/specs/extensions/message-tags
 */
import type { WireFrame } from '../types';

/** The source of a message: `servername`, or `nick[[!user]@host]`. */
export interface IrcPrefix {
  /** The prefix as sent, without the leading `:`. */
  readonly raw: string;
  /** Nickname or server name. */
  readonly name: string;
  /** User part after `!`, or `null`. */
  readonly user: string | null;
  /** Host part after `@`, or `null`. */
  readonly host: string | null;
}

const NO_TAGS: ReadonlyMap<string, string> = new Map<string, string>();

/** One validated IRC message. */
export class IrcFrame implements WireFrame {
  /** The command, upper-cased (`PRIVMSG`, `001`). */
  readonly kind: string;
  private parsedTags: ReadonlyMap<string, string> | null = null;

  constructor(
    /** Exact wire bytes, with the line end in stream framing. */
    readonly raw: Buffer,
    /** The tags section as sent, without `@` and the space after it; `''` when there is none. */
    readonly tagSection: string,
    /** The prefix, or `null`. */
    readonly prefix: IrcPrefix | null,
    /** The command, upper-cased (IRC commands are case-insensitive). */
    readonly command: string,
    /** Parameters; the trailing parameter, if any, is the last one, without its `:`. */
    readonly params: readonly string[],
  ) {
    this.kind = command;
  }

  /**
   * Tags, unescaped (decoded on first read); a key without value maps to `''`; for a repeated
   * key the last one counts.
   */
  get tags(): ReadonlyMap<string, string> {
    if (this.parsedTags === null) this.parsedTags = this.tagSection === '' ? NO_TAGS : parseTags(this.tagSection);
    return this.parsedTags;
  }
}

/** The tags of a section whose keys the codec has checked. */
function parseTags(section: string): ReadonlyMap<string, string> {
  const tags = new Map<string, string>();
  for (const tag of section.split(';')) {
    const eq = tag.indexOf('=');
    tags.set(eq === -1 ? tag : tag.slice(0, eq), eq === -1 ? '' : unescapeTagValue(tag.slice(eq + 1)));
  }
  return tags;
}

/** Escapes a tag value (IRCv3 message-tags, "Escaping values"). */
export function escapeTagValue(value: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    let rep: string | null = null;
    if (c === 0x3b) rep = '\\:';
    else if (c === 0x20) rep = '\\s';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x0d) rep = '\\r';
    else if (c === 0x0a) rep = '\\n';
    if (rep !== null) {
      out += value.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? value : out + value.slice(from);
}

/**
 * Unescapes a tag value: `\:` `;`, `\s` space, `\\` `\`, `\r` CR, `\n` LF; a backslash before
 * any other character, or at the end, is dropped, as the specification says.
 */
export function unescapeTagValue(value: string): string {
  let i = value.indexOf('\\');
  if (i === -1) return value;
  let out = '';
  let from = 0;
  while (i !== -1) {
    out += value.slice(from, i);
    const c = value[i + 1];
    if (c === ':') out += ';';
    else if (c === 's') out += ' ';
    else if (c === '\\') out += '\\';
    else if (c === 'r') out += '\r';
    else if (c === 'n') out += '\n';
    else if (c !== undefined) out += c;
    from = i + 2;
    i = from < value.length ? value.indexOf('\\', from) : -1;
  }
  return from < value.length ? out + value.slice(from) : out;
}

/** What {@link encodeMessage} needs. */
export interface IrcMessageInit {
  readonly tags?: ReadonlyMap<string, string> | readonly (readonly [string, string])[];
  readonly prefix?: string;
  readonly command: string;
  readonly params?: readonly string[];
}

/**
 * Encodes a message. The last parameter is written as a trailing parameter (with `:`) when it
 * is empty, contains a space or starts with `:`; `eol` is `\r\n` for streams and `''` for
 * message framing.
 */
export function encodeMessage(msg: IrcMessageInit, eol: '\r\n' | '\n' | '' = '\r\n'): Buffer {
  let line = '';
  const tags = msg.tags === undefined ? [] : [...msg.tags];
  if (tags.length > 0) {
    line += '@' + tags.map(([k, v]) => (v === '' ? k : k + '=' + escapeTagValue(v))).join(';') + ' ';
  }
  if (msg.prefix !== undefined) line += ':' + msg.prefix + ' ';
  line += msg.command;
  const params = msg.params ?? [];
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const last = i === params.length - 1;
    if (last && (p === '' || p.includes(' ') || p.startsWith(':'))) line += ' :' + p;
    else line += ' ' + p;
  }
  return Buffer.from(line + eol, 'utf8');
}
