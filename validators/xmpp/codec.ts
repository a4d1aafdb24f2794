/**
 * Streaming XMPP codecs: a byte-level XML tokenizer for the restricted XML of RFC 6120 §11,
 * framed either as an RFC 6120 TCP stream or as RFC 7395 WebSocket messages.
 *
 * The tokenizer is a state machine over Buffer indices. A top-level unit (stanza, nonza, stream
 * header) lying inside one pushed chunk is handed out as a view of that chunk; a unit spanning
 * chunks is copied once into a carry buffer that never grows beyond `maxStanzaBytes + 1`.
 * UTF-8 is validated once per complete unit. Runs of bytes that need no decision (character data,
 * attribute values, names) are skipped in tight loops over a 256-entry class table. Strings are
 * made only where a frame or a namespace check needs them (the top-level element's name and
 * attributes, prefixes, namespace URIs), through a cache by content (`intern.ts`); nested
 * elements are checked on their bytes.
 *
 * Specs: RFC 6120 §4 (streams), §8 (stanzas), §11 (XML usage); RFC 7395 §3 (WebSocket framing);
 * XML 1.0 (fifth edition); Namespaces in XML 1.0 (third edition).
 */
import { isUtf8 } from 'node:buffer';
import type { Codec, CodecPair, Direction, ErrorSpec, WireFrame } from '../types';
import { ERRORS, XmppWireError } from './errors';
import { NAMES, VALUES } from './intern';
import {
  NS_CLIENT, NS_FRAMING, NS_SASL, NS_SERVER, NS_STREAMS, NS_TLS, NS_XML, NS_XMLNS,
  type XmppFraming, type XmppOptions,
} from './limits';

/** What a frame is in the life of a stream. */
export type XmppFrameType = 'open' | 'close' | 'element' | 'whitespace';

/** One validated XMPP unit. */
export interface XmppFrame extends WireFrame {
  /**
   * `stream:stream` (TCP header), `/stream:stream` (TCP close), `open` / `close` (RFC 7395
   * framing elements), `whitespace`, or the local name of a first-level element (`message`,
   * `iq`, `features`, `auth`, `success`, ...).
   */
  readonly kind: string;
  /** Stream life cycle: header, close, first-level element, or whitespace between elements. */
  readonly type: XmppFrameType;
  /** Qualified name as written (`stream:features`, `message`); empty for whitespace. */
  readonly name: string;
  /** Local part of {@link name}. */
  readonly localName: string;
  /** Namespace URI the element is in; empty for whitespace. */
  readonly namespace: string;
  /**
   * Attributes of the top-level element by qualified name, entity references decoded. Decoded
   * from `raw` on first read, so read them while `raw` is valid (before the next `push`).
   */
  readonly attributes: Readonly<Record<string, string>>;
  /** True on an `open` frame that starts a restarted stream (after SASL success, TLS, `restart()`). */
  readonly restart: boolean;
}

// Character classes (bit flags) of single bytes.
const C_WS = 1;
const C_NAME_START = 2;
const C_NAME = 4;
const C_CTRL = 8;
const CT = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) CT[b] = C_CTRL;
CT[0x09] = C_WS;
CT[0x0a] = C_WS;
CT[0x0d] = C_WS;
CT[0x20] = C_WS;
for (let b = 0x41; b <= 0x5a; b++) CT[b] = C_NAME_START | C_NAME;
for (let b = 0x61; b <= 0x7a; b++) CT[b] = C_NAME_START | C_NAME;
for (let b = 0x30; b <= 0x39; b++) CT[b] = C_NAME;
for (let b = 0x80; b <= 0xff; b++) CT[b] = C_NAME_START | C_NAME;
CT[0x5f] = C_NAME_START | C_NAME; // _
CT[0x3a] = C_NAME_START | C_NAME; // :
CT[0x2d] = C_NAME; // -
CT[0x2e] = C_NAME; // .
// Bytes that end a run of plain character data: '<', '&', '>' (for "]]>") and control characters.
const C_TEXT_STOP = 16;
// Bytes that end a run of plain attribute value: quotes, '&', '<', control characters, tab, LF, CR.
const C_VALUE_STOP = 32;
for (let b = 0; b < 0x20; b++) CT[b] = (CT[b] as number) | C_VALUE_STOP | ((CT[b] as number) & C_CTRL ? C_TEXT_STOP : 0);
for (const b of [0x3c, 0x26, 0x3e]) CT[b] = (CT[b] as number) | C_TEXT_STOP;
for (const b of [0x22, 0x27, 0x26, 0x3c]) CT[b] = (CT[b] as number) | C_VALUE_STOP;

const LT = 0x3c;
const GT = 0x3e;
const AMP = 0x26;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQ = 0x3d;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const SEMI = 0x3b;
const HASH = 0x23;
const COLON = 0x3a;
const RSQB = 0x5d;
const DASH = 0x2d;
const LSQB = 0x5b;

// Tokenizer states.
const S_LEVEL = 0; // outside any top-level element
const S_TEXT = 1; // character data inside an element
const S_LT = 2; // after '<'
const S_START_NAME = 3;
const S_TAG = 4; // inside a start tag, before an attribute, '>' or '/>'
const S_AFTER_VALUE = 5; // after an attribute value's closing quote
const S_ATTR_NAME = 6;
const S_ATTR_EQ = 7; // after an attribute name, before '='
const S_ATTR_QUOTE = 8; // after '=', before the opening quote
const S_ATTR_VALUE = 9;
const S_EMPTY = 10; // after '/' in a start tag
const S_END_NAME = 11;
const S_END_TAG = 12; // after an end tag's name, before '>'
const S_ENTITY = 13; // after '&'
const S_BANG = 14; // after '<!'
const S_COMMENT = 15; // after '<!-'
const S_CDATA_OPEN = 16; // matching 'CDATA[' after '<!['
const S_CDATA = 17;
const S_PI_TARGET = 18; // after '<?'
const S_DECL = 19; // inside the XML declaration

// Stream phases.
const P_PROLOG = 0; // before the stream header / <open/>
const P_STREAM = 1;
const P_CLOSED = 2;

// Attribute flags.
const A_AMP = 1;
const A_WS = 2;
const ATTR_STRIDE = 5;

/**
 * The size limit while no unit is open: above every index into a buffer the tokenizer reads
 * (the stream codec reads pushed chunks at most {@link MAX_SCAN} bytes at a time), and a small
 * integer, so that V8 keeps index arithmetic on integers.
 */
const NO_LIMIT = 0x3fffffff;
/** Most bytes of one pushed chunk the stream codec scans at a time. */
const MAX_SCAN = 0x20000000;
const CDATA_OPEN = Buffer.from('CDATA[', 'latin1');
const XML_TARGET = Buffer.from('xml', 'latin1');
const NS_XML_BYTES = Buffer.from(NS_XML, 'latin1');
const NS_XMLNS_BYTES = Buffer.from(NS_XMLNS, 'latin1');
const EMPTY_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);
/**
 * Prototype of attribute records: nothing inherited (no `__proto__` setter, no `toString`), and
 * unlike `Object.create(null)` records built on it keep V8's fast properties.
 */
const RECORD_PROTO: object = Object.freeze(Object.create(null) as object);

const PREDEFINED = ['lt', 'gt', 'amp', 'quot', 'apos'].map((n) => Buffer.from(n, 'latin1'));
const PREDEFINED_VALUES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const NAME_START_CHARS =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const NAME_CHARS = `${NAME_START_CHARS}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040`;
/** XML 1.0 `Name` production, used only for names holding non-ASCII bytes. */
const XML_NAME = new RegExp(`^[${NAME_START_CHARS}][${NAME_CHARS}]*$`, 'u');
const XML_DECL = /^[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])([0-9.]+)\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])([A-Za-z][A-Za-z0-9._-]*)\3)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(yes|no)\5)?[ \t\r\n]*$/;
const ATTR_NORMALIZE = /\r\n|[\t\n\r]/g;
const ENTITY_REF = /&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);/g;

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function decodeReference(_match: string, body: string): string {
  if (body.charCodeAt(0) === HASH) {
    const cp = body.charCodeAt(1) === 0x78 ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    return String.fromCodePoint(cp);
  }
  return PREDEFINED_VALUES[body] ?? '';
}

/** Decodes an attribute value already checked by the tokenizer (normalization per XML 1.0 §3.3.3). */
function decodeValue(buf: Buffer, start: number, end: number, flags: number): string {
  if (flags === 0) return VALUES.get(buf, start, end);
  let s = buf.toString('utf8', start, end);
  if ((flags & A_WS) !== 0) s = s.replace(ATTR_NORMALIZE, ' ');
  if ((flags & A_AMP) !== 0) s = s.replace(ENTITY_REF, decodeReference);
  return s;
}

/**
 * The attributes `spans` describes ([nameStart, nameEnd, valueStart, valueEnd, flags] each,
 * `count` of them), their positions shifted by `delta` into `buf`.
 */
function attributeRecord(buf: Buffer, spans: readonly number[], count: number, delta: number): Readonly<Record<string, string>> {
  if (count === 0) return EMPTY_ATTRIBUTES;
  const out = Object.create(RECORD_PROTO) as Record<string, string>;
  for (let k = 0; k < count * ATTR_STRIDE; k += ATTR_STRIDE) {
    const name = NAMES.get(buf, (spans[k] as number) + delta, (spans[k + 1] as number) + delta);
    out[name] = decodeValue(buf, (spans[k + 2] as number) + delta, (spans[k + 3] as number) + delta, spans[k + 4] as number);
  }
  return out;
}

/** A unit as the codecs emit it; the attributes of its element are decoded when first read. */
class UnitFrame implements XmppFrame {
  private decoded: Readonly<Record<string, string>> | null;

  constructor(
    readonly kind: string,
    readonly type: XmppFrameType,
    readonly name: string,
    readonly localName: string,
    readonly namespace: string,
    readonly restart: boolean,
    readonly raw: Buffer,
    /** Attribute spans relative to `raw`, read when `decoded` is null. */
    private readonly spans: readonly number[] | null,
    decoded: Readonly<Record<string, string>> | null,
  ) {
    this.decoded = decoded;
  }

  get attributes(): Readonly<Record<string, string>> {
    if (this.decoded === null) {
      const spans = this.spans ?? [];
      this.decoded = attributeRecord(this.raw, spans, spans.length / ATTR_STRIDE, 0);
    }
    return this.decoded;
  }
}

/** Shared by the two codecs of one connection: a restart trigger seen by one arms both. */
export interface RestartLink {
  readonly codecs: XmppCodec[];
}

/**
 * The tokenizer and stream rules shared by both framings. Dead after the first error: every
 * later call throws the same {@link XmppWireError}.
 */
export abstract class XmppCodec implements Codec<XmppFrame> {
  readonly protocol = 'xmpp' as const;
  readonly direction: Direction;
  readonly framing: XmppFraming;
  protected readonly opts: Readonly<XmppOptions>;
  private readonly link: RestartLink | undefined;

  protected dead: XmppWireError | null = null;
  protected phase = P_PROLOG;
  protected restartPending = false;

  // Current buffer and where its first byte lies in the stream (for messages and offsets).
  protected bufBase = 0;
  protected state = S_LEVEL;

  // The unit being read.
  protected inFrame = false;
  protected frameStart = 0;
  protected frameLimit = NO_LIMIT;
  /** Absolute offset where an XML declaration may start. */
  protected declOffset = 0;
  private declOk = false;
  private afterDecl = false;

  // Partial unit spanning pushes (TCP framing).
  protected carry: Buffer | null = null;
  protected carryLen = 0;
  protected carryBase = 0;

  // Token positions (indices into the current buffer).
  private nameStart = 0;
  private nameEnd = 0;
  /** Index of the ':' in the start tag's name, or -1. */
  private nameColon = -1;
  private attrNameStart = 0;
  private attrNameEnd = 0;
  private valueStart = 0;
  private valueFlags = 0;
  private quote = 0;
  private textStart = 0;
  private entityStart = 0;
  private entityReturn = S_TEXT;
  private declStart = 0;
  private matchIndex = 0;
  /** Start of a run of whitespace between top-level units, or -1. */
  protected wsStart = -1;
  /**
   * End of the span of the buffer being scanned that holds UTF-8 without U+FFFE or U+FFFF, checked
   * in one pass for all the units it holds; -1 when that span did not pass (each unit is then
   * checked alone, for the exact error), -2 when not looked at yet.
   */
  private textCheckedEnd = -2;
  /** End of the bytes of the buffer being scanned (a carry buffer holds more than its data). */
  private scanEnd = 0;

  // Open elements inside the current unit: [nameStart, nameEnd, bindingsMark] per element.
  // Entries above `stackTop` are stale: the array is reused, never shrunk.
  private readonly stack: number[] = [];
  private stackTop = 0;
  private depth = 0;
  // Attributes of the start tag being read: [nameStart, nameEnd, valueStart, valueEnd, flags].
  private readonly attrs: number[] = [];
  private attrCount = 0;
  // Per attribute of the start tag being processed: index of its ':' (or -1), namespace if prefixed.
  private readonly attrColons: number[] = [];
  private readonly attrUris: string[] = [];
  // Indices of the prefixed attributes checked so far (expanded-name uniqueness).
  private readonly expandedIndex: number[] = [];
  // Namespace bindings in scope: [prefix, uri, prefix, uri, ...]; the stream header's first.
  private bindings: string[] = [];
  /** Name bytes of the open `<stream:stream>` element (TCP). */
  private streamName: Buffer | null = null;

  // The top-level element being read.
  private topName = '';
  private topLocal = '';
  private topNs = '';
  /** The top-level element's attributes when decoded already (stream headers), else null. */
  private topAttrs: Readonly<Record<string, string>> | null = EMPTY_ATTRIBUTES;
  /** Its attribute spans relative to the unit's start, for decoding on first read; null when none. */
  private topSpans: number[] | null = null;
  private topType: XmppFrameType = 'element';
  private topKind = '';
  private topRestart = false;
  private topIsFraming = false;

  protected constructor(direction: Direction, opts: Readonly<XmppOptions>, link?: RestartLink) {
    this.direction = direction;
    this.opts = opts;
    this.framing = opts.framing;
    this.link = link;
    if (opts.framing === 'websocket') this.bindings = ['', opts.contentNamespace];
  }

  abstract push(chunk: Buffer): XmppFrame[];

  /** Bytes held for a unit not yet complete (never above `maxStanzaBytes`). */
  get buffered(): number {
    return this.carryLen;
  }

  /** Whether the stream has been closed (`</stream:stream>` or `<close/>`). */
  get closed(): boolean {
    return this.phase === P_CLOSED;
  }

  /**
   * Allows a new stream header (`<stream:stream>`, optionally preceded by an XML declaration, or
   * `<open/>`) at the next top-level position. The codecs arm this themselves when they see SASL
   * `<success/>` or TLS `<proceed/>` in either direction; a proxy calls it after any other
   * negotiated restart.
   */
  restart(): void {
    this.restartPending = true;
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  protected fail(spec: ErrorSpec, message: string): never {
    const err = new XmppWireError(this.direction, spec, message, this.framing);
    this.dead = err;
    this.carry = null;
    this.carryLen = 0;
    throw err;
  }

  protected at(pos: number): number {
    return this.bufBase + pos;
  }

  // ---------------------------------------------------------------------------------------------
  // Tokenizer

  /**
   * Scans `buf[pos, end)`. Returns `end`, or the index after a unit completed inside the carry
   * buffer (the caller then continues in the chunk).
   */
  protected scan(buf: Buffer, pos: number, end: number, out: XmppFrame[]): number {
    const o = this.opts;
    // The unit's size limit, reloaded after every call that may start or complete a unit.
    let fl = this.frameLimit;
    // The tokenizer state, kept in a local and stored back before every return and every call
    // that reads it; reloaded after every call that may change it.
    let state = this.state;
    this.textCheckedEnd = -2;
    this.scanEnd = end;
    // Where the loop stops: the end of the buffer, or the first byte beyond the unit's size limit.
    let lim = fl < end ? fl : end;
    // Runs of bytes that need no look (plain text, plain attribute values, name bytes, whitespace in
    // a tag) are skipped in tight loops bounded by the end of the buffer, the unit's size limit and
    // the limit of the token; the byte a loop stops at is then handled exactly like any other.
    for (; pos < lim; pos++) {
      let c = buf[pos] as number;
      switch (state) {
        case S_LEVEL:
          if (c === LT) {
            this.levelMarkup(buf, pos, out);
            fl = this.frameLimit;
            lim = fl < end ? fl : end;
            state = S_LT;
          } else if ((CT[c] as number) & C_WS) {
            if (!this.inFrame && this.wsStart < 0) this.wsStart = pos;
          } else {
            this.strayText(pos, c);
          }
          break;

        case S_TEXT:
          if (!((CT[c] as number) & C_TEXT_STOP)) {
            const stop = minOf(end, fl, this.textStart + o.maxTextBytes);
            if (pos < stop) {
              do pos++; while (pos < stop && !((CT[buf[pos] as number] as number) & C_TEXT_STOP));
              if (pos === end) {
                this.state = state;
                return end;
              }
              if (pos >= fl) this.tooLarge();
              c = buf[pos] as number;
            }
          }
          if (c === LT) {
            state = S_LT;
            break;
          }
          if (c === AMP) {
            this.entityStart = pos;
            this.entityReturn = S_TEXT;
            state = S_ENTITY;
            break;
          }
          if (c === GT) {
            if (pos - 2 >= this.textStart && buf[pos - 1] === RSQB && buf[pos - 2] === RSQB) {
              this.fail(ERRORS.NOT_WELL_FORMED, `"]]>" in character data at byte ${this.at(pos - 2)}`);
            }
          } else if ((CT[c] as number) & C_CTRL) {
            this.badChar(pos, c);
          }
          if (pos - this.textStart >= o.maxTextBytes) {
            this.fail(ERRORS.TEXT_TOO_LONG, `character data at byte ${this.at(this.textStart)} exceeds maxTextBytes (${o.maxTextBytes})`);
          }
          break;

        case S_LT:
          if ((CT[c] as number) & C_NAME_START) {
            if (this.depth >= o.maxDepth) {
              this.fail(ERRORS.DEPTH_EXCEEDED, `element at byte ${this.at(pos - 1)} nested deeper than maxDepth (${o.maxDepth})`);
            }
            this.nameStart = pos;
            this.attrCount = 0;
            state = S_START_NAME;
          } else if (c === SLASH) {
            this.nameStart = pos + 1;
            state = S_END_NAME;
          } else if (c === BANG) {
            state = S_BANG;
          } else if (c === QUESTION) {
            this.nameStart = pos + 1;
            state = S_PI_TARGET;
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} after "<" at byte ${this.at(pos)}`);
          }
          break;

        case S_START_NAME:
          if ((CT[c] as number) & C_NAME) {
            pos = this.skipName(buf, pos, end, fl, this.nameStart);
            if (pos === end) {
              this.state = state;
              return end;
            }
            c = buf[pos] as number;
            if ((CT[c] as number) & C_NAME) this.nameTooLong(this.nameStart);
          }
          this.nameEnd = pos;
          this.nameColon = this.checkQName(buf, this.nameStart, pos, 'element');
          if ((CT[c] as number) & C_WS) {
            state = S_TAG;
          } else if (c === GT) {
            if (this.startTagEnd(buf, pos, false, out)) return pos + 1;
            state = this.state;
            fl = this.frameLimit;
            lim = fl < end ? fl : end;
          } else if (c === SLASH) {
            state = S_EMPTY;
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} in element name at byte ${this.at(pos)}`);
          }
          break;

        case S_TAG:
          if ((CT[c] as number) & C_WS) {
            const stop = fl < end ? fl : end;
            while (pos + 1 < stop && (CT[buf[pos + 1] as number] as number) & C_WS) pos++;
            break;
          }
          if (c === GT) {
            if (this.startTagEnd(buf, pos, false, out)) return pos + 1;
            state = this.state;
            fl = this.frameLimit;
            lim = fl < end ? fl : end;
          } else if (c === SLASH) {
            state = S_EMPTY;
          } else if ((CT[c] as number) & C_NAME_START) {
            if (this.attrCount >= o.maxAttributes) {
              this.fail(ERRORS.TOO_MANY_ATTRIBUTES, `element at byte ${this.at(this.nameStart - 1)} has more than maxAttributes (${o.maxAttributes}) attributes`);
            }
            this.attrNameStart = pos;
            state = S_ATTR_NAME;
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} in start tag at byte ${this.at(pos)}`);
          }
          break;

        case S_AFTER_VALUE:
          if ((CT[c] as number) & C_WS) {
            state = S_TAG;
          } else if (c === GT) {
            if (this.startTagEnd(buf, pos, false, out)) return pos + 1;
            state = this.state;
            fl = this.frameLimit;
            lim = fl < end ? fl : end;
          } else if (c === SLASH) {
            state = S_EMPTY;
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `expected whitespace, ">" or "/>" after attribute value, got ${show(c)} at byte ${this.at(pos)}`);
          }
          break;

        case S_ATTR_NAME:
          if ((CT[c] as number) & C_NAME) {
            pos = this.skipName(buf, pos, end, fl, this.attrNameStart);
            if (pos === end) {
              this.state = state;
              return end;
            }
            c = buf[pos] as number;
            if ((CT[c] as number) & C_NAME) this.nameTooLong(this.attrNameStart);
          }
          this.attrNameEnd = pos;
          if (c === EQ) {
            // The usual opening quote right after '=' is taken here, as S_ATTR_QUOTE would.
            const q = pos + 1 < end && pos + 1 < fl ? (buf[pos + 1] as number) : 0;
            if (q === DQUOTE || q === SQUOTE) {
              pos++;
              this.quote = q;
              this.valueStart = pos + 1;
              this.valueFlags = 0;
              state = S_ATTR_VALUE;
            } else {
              state = S_ATTR_QUOTE;
            }
          } else if ((CT[c] as number) & C_WS) {
            state = S_ATTR_EQ;
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `expected "=" after attribute name, got ${show(c)} at byte ${this.at(pos)}`);
          }
          break;

        case S_ATTR_EQ:
          if (c === EQ) state = S_ATTR_QUOTE;
          else if (!((CT[c] as number) & C_WS)) {
            this.fail(ERRORS.NOT_WELL_FORMED, `expected "=" after attribute name, got ${show(c)} at byte ${this.at(pos)}`);
          }
          break;

        case S_ATTR_QUOTE:
          if (c === DQUOTE || c === SQUOTE) {
            this.quote = c;
            this.valueStart = pos + 1;
            this.valueFlags = 0;
            state = S_ATTR_VALUE;
          } else if (!((CT[c] as number) & C_WS)) {
            this.fail(ERRORS.NOT_WELL_FORMED, `attribute value must be quoted, got ${show(c)} at byte ${this.at(pos)}`);
          }
          break;

        case S_ATTR_VALUE:
          if (!((CT[c] as number) & C_VALUE_STOP)) {
            const stop = minOf(end, fl, this.valueStart + o.maxAttributeValueBytes);
            if (pos < stop) {
              do pos++; while (pos < stop && !((CT[buf[pos] as number] as number) & C_VALUE_STOP));
              if (pos === end) {
                this.state = state;
                return end;
              }
              if (pos >= fl) this.tooLarge();
              c = buf[pos] as number;
            }
          }
          if (c === this.quote) {
            const i = this.attrCount * ATTR_STRIDE;
            const a = this.attrs;
            a[i] = this.attrNameStart;
            a[i + 1] = this.attrNameEnd;
            a[i + 2] = this.valueStart;
            a[i + 3] = pos;
            a[i + 4] = this.valueFlags;
            this.attrCount++;
            state = S_AFTER_VALUE;
            // The usual byte after the closing quote (a space, '>' or '/') is taken here, as
            // S_AFTER_VALUE would.
            if (pos + 1 < end && pos + 1 < fl) {
              const n = buf[pos + 1] as number;
              if (n === GT) {
                pos++;
                if (this.startTagEnd(buf, pos, false, out)) return pos + 1;
                state = this.state;
                fl = this.frameLimit;
                lim = fl < end ? fl : end;
              } else if (n === SLASH) {
                pos++;
                state = S_EMPTY;
              } else if ((CT[n] as number) & C_WS) {
                pos++;
                state = S_TAG;
              }
            }
            break;
          }
          if (pos - this.valueStart >= o.maxAttributeValueBytes) {
            this.fail(ERRORS.ATTRIBUTE_TOO_LONG, `attribute value at byte ${this.at(this.valueStart)} exceeds maxAttributeValueBytes (${o.maxAttributeValueBytes})`);
          }
          if (c === AMP) {
            this.valueFlags |= A_AMP;
            this.entityStart = pos;
            this.entityReturn = S_ATTR_VALUE;
            state = S_ENTITY;
          } else if (c === LT) {
            this.fail(ERRORS.NOT_WELL_FORMED, `"<" in attribute value at byte ${this.at(pos)}`);
          } else if ((CT[c] as number) & (C_CTRL | C_WS)) {
            if ((CT[c] as number) & C_CTRL) this.badChar(pos, c);
            if (c !== 0x20) this.valueFlags |= A_WS;
          }
          break;

        case S_EMPTY:
          if (c !== GT) this.fail(ERRORS.NOT_WELL_FORMED, `expected ">" after "/" at byte ${this.at(pos)}`);
          if (this.startTagEnd(buf, pos, true, out)) return pos + 1;
          state = this.state;
          fl = this.frameLimit;
          lim = fl < end ? fl : end;
          break;

        case S_END_NAME:
          if ((CT[c] as number) & C_NAME) {
            if (pos === this.nameStart && !((CT[c] as number) & C_NAME_START)) {
              this.fail(ERRORS.INVALID_NAME, `invalid end tag name at byte ${this.at(pos)}`);
            }
            pos = this.skipName(buf, pos, end, fl, this.nameStart);
            if (pos === end) {
              this.state = state;
              return end;
            }
            c = buf[pos] as number;
            if ((CT[c] as number) & C_NAME) this.nameTooLong(this.nameStart);
          }
          if (pos === this.nameStart) this.fail(ERRORS.NOT_WELL_FORMED, `end tag without a name at byte ${this.at(pos)}`);
          this.nameEnd = pos;
          if (c === GT) {
            if (this.endTag(buf, pos, out)) return pos + 1;
            state = this.state;
            fl = this.frameLimit;
            lim = fl < end ? fl : end;
          } else if ((CT[c] as number) & C_WS) {
            state = S_END_TAG;
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} in end tag at byte ${this.at(pos)}`);
          }
          break;

        case S_END_TAG:
          if (c === GT) {
            if (this.endTag(buf, pos, out)) return pos + 1;
            state = this.state;
            fl = this.frameLimit;
            lim = fl < end ? fl : end;
          } else if (!((CT[c] as number) & C_WS)) {
            this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} in end tag at byte ${this.at(pos)}`);
          }
          break;

        case S_ENTITY:
          if (((CT[c] as number) & C_NAME) || c === HASH) {
            const stop = minOf(end, fl, this.entityStart + 1 + o.maxNameBytes);
            if (pos < stop) {
              do pos++; while (pos < stop && (((CT[buf[pos] as number] as number) & C_NAME) || buf[pos] === HASH));
              if (pos === end) {
                this.state = state;
                return end;
              }
              if (pos >= fl) this.tooLarge();
              c = buf[pos] as number;
            }
          }
          if (c === SEMI) {
            this.checkReference(buf, this.entityStart + 1, pos);
            state = this.entityReturn;
          } else if (((CT[c] as number) & C_NAME) || c === HASH) {
            if (pos - this.entityStart > o.maxNameBytes) this.nameTooLong(this.entityStart + 1);
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `malformed reference at byte ${this.at(this.entityStart)}`);
          }
          break;

        case S_BANG:
          if (c === DASH) {
            state = S_COMMENT;
          } else if (c === LSQB) {
            this.matchIndex = 0;
            state = S_CDATA_OPEN;
          } else if (c >= 0x41 && c <= 0x5a) {
            this.fail(ERRORS.DTD, `markup declaration (DOCTYPE, ENTITY, ...) at byte ${this.at(pos - 2)}: DTDs are not allowed in XMPP (RFC 6120 §11.1)`);
          } else {
            this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} after "<!" at byte ${this.at(pos)}`);
          }
          break;

        case S_COMMENT:
          if (c === DASH) {
            this.fail(ERRORS.COMMENT, `comment at byte ${this.at(pos - 3)}: comments are not allowed in XMPP (RFC 6120 §11.1)`);
          }
          this.fail(ERRORS.NOT_WELL_FORMED, `unexpected ${show(c)} after "<!-" at byte ${this.at(pos)}`);
          break;

        case S_CDATA_OPEN:
          if (c !== CDATA_OPEN[this.matchIndex]) {
            this.fail(ERRORS.NOT_WELL_FORMED, `malformed CDATA section start at byte ${this.at(pos)}`);
          }
          if (++this.matchIndex === CDATA_OPEN.length) {
            if (this.depth === 0) this.fail(ERRORS.NOT_WELL_FORMED, `CDATA section outside an element at byte ${this.at(pos - 8)}`);
            this.textStart = pos + 1;
            state = S_CDATA;
          }
          break;

        case S_CDATA:
          if (c === GT && pos - 2 >= this.textStart && buf[pos - 1] === RSQB && buf[pos - 2] === RSQB) {
            this.textStart = pos + 1;
            state = S_TEXT;
            break;
          }
          if ((CT[c] as number) & C_CTRL) this.badChar(pos, c);
          if (pos - this.textStart >= o.maxTextBytes) {
            this.fail(ERRORS.TEXT_TOO_LONG, `CDATA section at byte ${this.at(this.textStart)} exceeds maxTextBytes (${o.maxTextBytes})`);
          }
          break;

        case S_PI_TARGET:
          if ((CT[c] as number) & C_NAME) {
            if (pos - this.nameStart >= o.maxNameBytes) this.nameTooLong(this.nameStart);
            break;
          }
          this.piTargetEnd(buf, pos, c);
          state = this.state;
          break;

        case S_DECL:
          if (c === GT && buf[pos - 1] === QUESTION && pos - 1 >= this.declStart) {
            this.checkDeclaration(buf, this.declStart, pos - 1);
            this.afterDecl = true;
            state = S_LEVEL;
          } else if ((CT[c] as number) & C_CTRL) {
            this.badChar(pos, c);
          }
          break;

        default:
          this.fail(ERRORS.NOT_WELL_FORMED, `tokenizer in unknown state ${state}`);
      }
    }
    if (pos < end) this.tooLarge();
    this.state = state;
    return end;
  }

  /**
   * Skips the name bytes from `pos` (a name byte) while the name stays within `maxNameBytes` and
   * the unit within its size limit. Returns `end`, or the index of the first byte not skipped:
   * a byte ending the name, or a name byte beyond the name limit.
   */
  private skipName(buf: Buffer, pos: number, end: number, frameLimit: number, start: number): number {
    const stop = minOf(end, frameLimit, start + this.opts.maxNameBytes);
    while (pos < stop && (CT[buf[pos] as number] as number) & C_NAME) pos++;
    if (pos < end && pos >= frameLimit) this.tooLarge();
    return pos;
  }

  private tooLarge(): never {
    this.fail(ERRORS.STANZA_TOO_LARGE, `top-level element at byte ${this.at(this.frameStart)} exceeds maxStanzaBytes (${this.opts.maxStanzaBytes})`);
  }

  /** '<' outside any top-level element: stream-state checks, then the unit begins. */
  private levelMarkup(buf: Buffer, pos: number, out: XmppFrame[]): void {
    if (this.phase === P_CLOSED) {
      this.fail(ERRORS.STREAM_CLOSED, `data after the stream was closed at byte ${this.at(pos)}`);
    }
    this.onLevelMarkup(pos);
    this.flushWhitespace(buf, pos, out);
    if (!this.inFrame) {
      this.inFrame = true;
      this.frameStart = pos;
      this.frameLimit = pos + this.opts.maxStanzaBytes;
      this.declOk = this.at(pos) === this.declOffset || (this.restartPending && this.phase === P_STREAM && this.framing === 'tcp');
    } else {
      this.declOk = false;
    }
  }

  /** Framing-specific checks when markup starts at top level (e.g. a second element in a message). */
  protected abstract onLevelMarkup(pos: number): void;

  /** Emits the pending run of whitespace between top-level units (TCP only), ending at `end`. */
  protected flushWhitespace(buf: Buffer, end: number, out: XmppFrame[]): void {
    if (this.wsStart < 0) return;
    const start = this.wsStart;
    this.wsStart = -1;
    if (this.framing !== 'tcp' || end <= start) return;
    out.push(new UnitFrame('whitespace', 'whitespace', '', '', '', false, buf.subarray(start, end), null, EMPTY_ATTRIBUTES));
  }

  private strayText(pos: number, c: number): never {
    if (this.phase === P_CLOSED) this.fail(ERRORS.STREAM_CLOSED, `data after the stream was closed at byte ${this.at(pos)}`);
    if (this.framing === 'websocket') {
      this.fail(ERRORS.WEBSOCKET_FRAMING, `text outside the element at byte ${this.at(pos)}: a WebSocket message holds exactly one element`);
    }
    const where = this.phase === P_PROLOG || this.afterDecl ? 'before the stream header' : 'between first-level elements';
    this.fail(ERRORS.STRAY_TEXT, `character data (${show(c)}) ${where} at byte ${this.at(pos)}`);
  }

  private badChar(pos: number, c: number): never {
    this.fail(ERRORS.INVALID_CHAR, `character U+${c.toString(16).toUpperCase().padStart(4, '0')} not allowed in XML at byte ${this.at(pos)}`);
  }

  private nameTooLong(start: number): never {
    this.fail(ERRORS.NAME_TOO_LONG, `name at byte ${this.at(start)} exceeds maxNameBytes (${this.opts.maxNameBytes})`);
  }

  /**
   * Checks a QName already known to consist of name bytes and to start with a name-start byte.
   * Returns the index of its ':', or -1.
   */
  private checkQName(buf: Buffer, start: number, end: number, what: string): number {
    let colon = -1;
    let nonAscii = false;
    for (let i = start; i < end; i++) {
      const b = buf[i] as number;
      if (b === COLON) {
        if (colon >= 0) this.invalidName(buf, start, end, what, 'more than one ":"');
        colon = i;
      } else if (b >= 0x80) {
        nonAscii = true;
      }
    }
    if (colon === start || colon === end - 1) this.invalidName(buf, start, end, what, 'empty prefix or local part');
    if (colon >= 0 && !((CT[buf[colon + 1] as number] as number) & C_NAME_START)) {
      this.invalidName(buf, start, end, what, 'local part starts with an invalid character');
    }
    if (nonAscii && !XML_NAME.test(buf.toString('utf8', start, end))) {
      this.invalidName(buf, start, end, what, 'not an XML name');
    }
    return colon;
  }

  private invalidName(buf: Buffer, start: number, end: number, what: string, why: string): never {
    this.fail(ERRORS.INVALID_NAME, `invalid ${what} name "${buf.toString('utf8', start, Math.min(end, start + 64))}" at byte ${this.at(start)}: ${why}`);
  }

  /** Checks the body of `&...;` (between '&' and ';'). */
  private checkReference(buf: Buffer, start: number, end: number): void {
    const len = end - start;
    if (len === 0) this.fail(ERRORS.NOT_WELL_FORMED, `empty reference at byte ${this.at(start - 1)}`);
    if (buf[start] === HASH) {
      let cp = 0;
      let i = start + 1;
      const hex = buf[i] === 0x78;
      if (hex) i++;
      if (i === end) this.fail(ERRORS.BAD_CHAR_REF, `character reference without digits at byte ${this.at(start - 1)}`);
      for (; i < end; i++) {
        const b = buf[i] as number;
        let d: number;
        if (b >= 0x30 && b <= 0x39) d = b - 0x30;
        else if (hex && b >= 0x61 && b <= 0x66) d = b - 0x57;
        else if (hex && b >= 0x41 && b <= 0x46) d = b - 0x37;
        else this.fail(ERRORS.BAD_CHAR_REF, `malformed character reference at byte ${this.at(start - 1)}`);
        cp = cp * (hex ? 16 : 10) + d;
        if (cp > 0x10ffff) break;
      }
      if (!isXmlChar(cp)) {
        this.fail(ERRORS.BAD_CHAR_REF, `character reference at byte ${this.at(start - 1)} names a character XML forbids`);
      }
      return;
    }
    for (const name of PREDEFINED) {
      if (name.length === len && sameSpan(name, buf, start)) return;
    }
    this.fail(ERRORS.ENTITY_REFERENCE, `reference to entity "${buf.toString('utf8', start, end)}" at byte ${this.at(start - 1)}: only &lt; &gt; &amp; &quot; &apos; are allowed in XMPP (RFC 6120 §11.1)`);
  }

  private piTargetEnd(buf: Buffer, pos: number, c: number): void {
    const start = this.nameStart;
    const len = pos - start;
    const isXml = len === 3 && buf.compare(XML_TARGET, 0, 3, start, pos) === 0;
    const lower = buf.toString('latin1', start, pos).toLowerCase();
    if (isXml && this.declOk && this.depth === 0 && !this.afterDecl) {
      if (!((CT[c] as number) & C_WS)) {
        this.fail(ERRORS.BAD_XML_DECLARATION, `malformed XML declaration at byte ${this.at(start - 2)}`);
      }
      this.declStart = pos;
      this.state = S_DECL;
      return;
    }
    if (lower === 'xml') {
      this.fail(ERRORS.PROCESSING_INSTRUCTION, `XML declaration at byte ${this.at(start - 2)}: allowed only at the start of a stream or message`);
    }
    this.fail(ERRORS.PROCESSING_INSTRUCTION, `processing instruction at byte ${this.at(start - 2)}: processing instructions are not allowed in XMPP (RFC 6120 §11.1)`);
  }

  private checkDeclaration(buf: Buffer, start: number, end: number): void {
    const text = buf.toString('latin1', start, end);
    const m = XML_DECL.exec(text);
    if (m === null) this.fail(ERRORS.BAD_XML_DECLARATION, `malformed XML declaration at byte ${this.at(start - 5)}`);
    if (m[2] !== '1.0') this.fail(ERRORS.BAD_XML_DECLARATION, `XML version "${m[2] ?? ''}" at byte ${this.at(start - 5)}: XMPP uses XML 1.0`);
    const encoding = m[4];
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      this.fail(ERRORS.UNSUPPORTED_ENCODING, `encoding "${encoding}" declared at byte ${this.at(start - 5)}: XMPP streams are UTF-8 (RFC 6120 §11.6)`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Elements and namespaces

  private lookup(prefix: string): string | undefined {
    if (prefix === 'xml') return NS_XML;
    const b = this.bindings;
    for (let i = b.length - 2; i >= 0; i -= 2) {
      if (b[i] === prefix) return b[i + 1];
    }
    return undefined;
  }

  /**
   * Declarations, attribute uniqueness and prefixes of the start tag just read. `nested`: the
   * element is below the top-level element, so its default namespace is never looked up (only
   * prefixes are, for nested elements) and its `xmlns` declaration is checked without being bound.
   */
  private processAttributes(buf: Buffer, nested: boolean): void {
    const a = this.attrs;
    const n = this.attrCount;
    const colons = this.attrColons;
    let prefixed = 0;
    for (let i = 0; i < n; i++) {
      const k = i * ATTR_STRIDE;
      const s = a[k] as number;
      const e = a[k + 1] as number;
      const len = e - s;
      const colon = this.checkQName(buf, s, e, 'attribute');
      colons[i] = colon;
      if (colon >= 0) prefixed++;
      for (let j = 0; j < i; j++) {
        const s2 = a[j * ATTR_STRIDE] as number;
        if ((a[j * ATTR_STRIDE + 1] as number) - s2 === len && sameBytes(buf, s2, s, len)) {
          this.fail(ERRORS.DUPLICATE_ATTRIBUTE, `duplicate attribute "${buf.toString('utf8', s, e)}" at byte ${this.at(s)}`);
        }
      }
      // xmlns or xmlns:prefix
      if (
        len >= 5 && buf[s] === 0x78 && buf[s + 1] === 0x6d && buf[s + 2] === 0x6c && buf[s + 3] === 0x6e && buf[s + 4] === 0x73 &&
        (len === 5 || buf[s + 5] === COLON)
      ) {
        if (nested && len === 5) {
          const vs = a[k + 2] as number;
          const ve = a[k + 3] as number;
          const flags = a[k + 4] as number;
          const reserved = flags === 0
            ? spanIs(buf, vs, ve, NS_XMLNS_BYTES) || spanIs(buf, vs, ve, NS_XML_BYTES)
            : isReservedNamespace(decodeValue(buf, vs, ve, flags));
          if (reserved) this.fail(ERRORS.UNBOUND_PREFIX, `illegal namespace declaration "${buf.toString('utf8', s, e)}" at byte ${this.at(s)}`);
          continue;
        }
        const prefix = len === 5 ? '' : NAMES.get(buf, s + 6, e);
        const uri = decodeValue(buf, a[k + 2] as number, a[k + 3] as number, a[k + 4] as number);
        if (prefix === 'xmlns' || uri === NS_XMLNS || (prefix === 'xml') !== (uri === NS_XML)) {
          this.fail(ERRORS.UNBOUND_PREFIX, `illegal namespace declaration "${buf.toString('utf8', s, e)}" at byte ${this.at(s)}`);
        }
        if (prefix !== '' && uri === '') {
          this.fail(ERRORS.UNBOUND_PREFIX, `prefix "${prefix}" undeclared at byte ${this.at(s)}: Namespaces in XML 1.0 forbids empty prefix bindings`);
        }
        this.bindings.push(prefix, uri);
      }
    }
    if (prefixed === 0) return;
    // Prefixed attributes: prefixes bound, expanded names (namespace, local name) unique.
    const uris = this.attrUris;
    let expanded = 0;
    for (let i = 0; i < n; i++) {
      const colon = colons[i] as number;
      if (colon < 0) continue;
      const s = a[i * ATTR_STRIDE] as number;
      const e = a[i * ATTR_STRIDE + 1] as number;
      const prefix = NAMES.get(buf, s, colon);
      if (prefix === 'xmlns') continue;
      const uri = this.lookup(prefix);
      if (uri === undefined) this.fail(ERRORS.UNBOUND_PREFIX, `attribute prefix "${prefix}" not declared at byte ${this.at(s)}`);
      for (let j = 0; j < expanded; j++) {
        const other = this.expandedIndex[j] as number;
        if (uris[other] === uri && this.sameLocal(buf, other, i)) {
          this.fail(ERRORS.DUPLICATE_ATTRIBUTE, `duplicate attribute "${buf.toString('utf8', s, e)}" (same namespace and local name) at byte ${this.at(s)}`);
        }
      }
      uris[i] = uri;
      this.expandedIndex[expanded++] = i;
    }
  }

  /** Whether the local parts of prefixed attributes `i` and `j` decode to the same string. */
  private sameLocal(buf: Buffer, i: number, j: number): boolean {
    const a = this.attrs;
    const si = (this.attrColons[i] as number) + 1;
    const ei = a[i * ATTR_STRIDE + 1] as number;
    const sj = (this.attrColons[j] as number) + 1;
    const ej = a[j * ATTR_STRIDE + 1] as number;
    if (ei - si === ej - sj && sameBytes(buf, si, sj, ei - si)) return true;
    // Different bytes may still decode alike where they are not valid UTF-8 (the unit is refused
    // later, but the first error must stay the first).
    if (asciiOnly(buf, si, ei) && asciiOnly(buf, sj, ej)) return false;
    return buf.toString('utf8', si, ei) === buf.toString('utf8', sj, ej);
  }

  /** Namespace of the element whose name is `buf[nameStart, nameEnd)` with its ':' at `nameColon`. */
  private elementNamespace(buf: Buffer): string {
    const colon = this.nameColon;
    if (colon < 0) return this.lookup('') ?? '';
    const prefix = NAMES.get(buf, this.nameStart, colon);
    const uri = this.lookup(prefix);
    if (uri === undefined) this.fail(ERRORS.UNBOUND_PREFIX, `element prefix "${prefix}" not declared at byte ${this.at(this.nameStart)}`);
    return uri;
  }

  /** The top-level element's attributes, decoded now. */
  private decodeTop(buf: Buffer): Readonly<Record<string, string>> {
    if (this.topAttrs === null) this.topAttrs = attributeRecord(buf, this.attrs, this.attrCount, 0);
    return this.topAttrs;
  }

  /**
   * Keeps the top-level element's attribute spans, relative to the unit's start, so that its
   * frame decodes them only if someone reads them (a proxy forwarding stanzas never does).
   */
  private keepTopSpans(): void {
    const n = this.attrCount * ATTR_STRIDE;
    if (n === 0) {
      this.topAttrs = EMPTY_ATTRIBUTES;
      this.topSpans = null;
      return;
    }
    const spans = this.attrs.slice(0, n);
    const start = this.frameStart;
    for (let i = 0; i < n; i += ATTR_STRIDE) {
      spans[i] = (spans[i] as number) - start;
      spans[i + 1] = (spans[i + 1] as number) - start;
      spans[i + 2] = (spans[i + 2] as number) - start;
      spans[i + 3] = (spans[i + 3] as number) - start;
    }
    this.topAttrs = null;
    this.topSpans = spans;
  }

  /** '>' of a start tag (`empty` for '/>'). Returns true when a unit completed in the carry. */
  private startTagEnd(buf: Buffer, pos: number, empty: boolean, out: XmppFrame[]): boolean {
    const mark = this.bindings.length;
    if (this.depth === 0) return this.topStartTag(buf, pos, empty, mark, out);
    if (this.depth === 1 && this.topIsFraming) {
      this.fail(ERRORS.BAD_STREAM_HEADER, `<${this.topName}/> must be empty, child element at byte ${this.at(this.nameStart - 1)}`);
    }
    if (this.attrCount !== 0) this.processAttributes(buf, true);
    if (this.nameColon >= 0) this.elementNamespace(buf);
    if (empty) {
      if (this.bindings.length !== mark) this.bindings.length = mark;
      this.state = S_TEXT;
      this.textStart = pos + 1;
      return false;
    }
    this.pushElement(mark);
    this.depth++;
    this.state = S_TEXT;
    this.textStart = pos + 1;
    return false;
  }

  private topStartTag(buf: Buffer, pos: number, empty: boolean, mark: number, out: XmppFrame[]): boolean {
    if (this.attrCount !== 0) this.processAttributes(buf, false);
    const ns = this.elementNamespace(buf);
    const name = NAMES.get(buf, this.nameStart, this.nameEnd);
    const colon = name.indexOf(':');
    const local = colon < 0 ? name : name.slice(colon + 1);
    this.topName = name;
    this.topLocal = local;
    this.topNs = ns;
    this.keepTopSpans();
    this.topType = 'element';
    this.topKind = local;
    this.topRestart = false;
    this.topIsFraming = false;

    if (this.framing === 'tcp') {
      const header = local === 'stream' && (this.phase === P_PROLOG || ns === NS_STREAMS);
      if (header) {
        if (this.phase === P_STREAM && !this.restartPending) {
          this.fail(ERRORS.UNEXPECTED_STREAM_HEADER, `stream header at byte ${this.at(this.nameStart - 1)} while a stream is open and no restart is pending`);
        }
        return this.openTcpStream(buf, pos, empty, mark, out);
      }
      if (this.phase === P_PROLOG) {
        this.fail(ERRORS.STREAM_NOT_OPEN, `<${name}> at byte ${this.at(this.nameStart - 1)} before the stream header <stream:stream>`);
      }
      if (this.afterDecl) {
        this.fail(ERRORS.BAD_STREAM_HEADER, `XML declaration followed by <${name}> instead of a stream header at byte ${this.at(this.nameStart - 1)}`);
      }
    } else if (ns === NS_FRAMING && (local === 'open' || local === 'close')) {
      this.topIsFraming = true;
      this.topType = local;
      if (local === 'open') {
        if (this.phase === P_STREAM && !this.restartPending) {
          this.fail(ERRORS.UNEXPECTED_STREAM_HEADER, `<open/> at byte ${this.at(this.nameStart - 1)} while a stream is open and no restart is pending`);
        }
        this.checkVersion(buf);
        this.topRestart = this.phase === P_STREAM;
      }
    } else if (this.phase === P_PROLOG) {
      if (local === 'open') {
        this.fail(ERRORS.INVALID_NAMESPACE, `<${name}> at byte ${this.at(this.nameStart - 1)} is in namespace "${ns}", expected "${NS_FRAMING}"`);
      }
      if (!(ns === NS_STREAMS && local === 'error')) {
        this.fail(ERRORS.STREAM_NOT_OPEN, `<${name}> at byte ${this.at(this.nameStart - 1)} before <open/>`);
      }
    }
    if (!this.topIsFraming) this.checkFirstLevel(ns, local, name);

    if (empty) {
      if (this.bindings.length !== mark) this.bindings.length = mark;
      return this.completeFrame(buf, pos + 1, out);
    }
    this.pushElement(mark);
    this.depth = 1;
    this.state = S_TEXT;
    this.textStart = pos + 1;
    return false;
  }

  private checkFirstLevel(ns: string, local: string, name: string): void {
    const content = this.opts.contentNamespace;
    if (ns === '') this.fail(ERRORS.INVALID_NAMESPACE, `first-level element <${name}> ${this.tagAt()} has no namespace`);
    if (ns === content) {
      if (local !== 'message' && local !== 'presence' && local !== 'iq') {
        this.fail(ERRORS.UNSUPPORTED_STANZA_TYPE, `<${name}> ${this.tagAt()} is not a stanza (message, presence, iq) of ${content}`);
      }
      return;
    }
    if (ns === NS_CLIENT || ns === NS_SERVER) {
      this.fail(ERRORS.INVALID_NAMESPACE, `<${name}> ${this.tagAt()} is in ${ns}, this stream's content namespace is ${content}`);
    }
    if (ns === NS_STREAMS) {
      if (local !== 'features' && local !== 'error') {
        this.fail(ERRORS.UNSUPPORTED_STANZA_TYPE, `<${name}> ${this.tagAt()} is not a first-level element of the stream namespace (features, error)`);
      }
      return;
    }
    if (ns === NS_FRAMING) {
      this.fail(ERRORS.UNSUPPORTED_STANZA_TYPE, `<${name}> ${this.tagAt()}: framing-namespace elements are only <open/> and <close/> over WebSocket`);
    }
    if (ns === NS_TLS && this.framing === 'websocket') {
      this.fail(ERRORS.STARTTLS_OVER_WEBSOCKET, `<${name}> ${this.tagAt()}: STARTTLS is not allowed over WebSocket (RFC 7395 §3.5)`);
    }
  }

  /** `at byte N` for the '<' of the start tag just read, for error messages. */
  private tagAt(): string {
    return `at byte ${this.at(this.nameStart - 1)}`;
  }

  private checkVersion(buf: Buffer): void {
    const version = this.decodeTop(buf)['version'];
    if (version !== undefined && !/^1\.[0-9]+$/.test(version)) {
      this.fail(ERRORS.UNSUPPORTED_VERSION, `stream version "${version}" at byte ${this.at(this.nameStart - 1)}: only 1.x is supported`);
    }
  }

  private openTcpStream(buf: Buffer, pos: number, empty: boolean, mark: number, out: XmppFrame[]): boolean {
    if (this.topNs !== NS_STREAMS) {
      this.fail(ERRORS.INVALID_NAMESPACE, `stream header ${this.tagAt()} is in namespace "${this.topNs}", expected "${NS_STREAMS}"`);
    }
    if (empty) this.fail(ERRORS.BAD_STREAM_HEADER, `self-closing stream header ${this.tagAt()}`);
    let content: string | undefined;
    for (let i = this.bindings.length - 2; i >= mark; i -= 2) {
      if (this.bindings[i] === '') content = this.bindings[i + 1];
    }
    if (content === undefined) this.fail(ERRORS.INVALID_NAMESPACE, `stream header ${this.tagAt()} declares no content namespace (xmlns)`);
    if (content !== this.opts.contentNamespace) {
      this.fail(ERRORS.INVALID_NAMESPACE, `stream header ${this.tagAt()} declares content namespace "${content}", expected "${this.opts.contentNamespace}"`);
    }
    this.checkVersion(buf);
    const restart = this.phase === P_STREAM;
    // A new stream replaces the old one entirely: only the new header's declarations stay in scope.
    this.bindings.splice(0, mark);
    this.streamName = Buffer.from(buf.subarray(this.nameStart, this.nameEnd));
    this.topType = 'open';
    this.topKind = 'stream:stream';
    this.topRestart = restart;
    return this.completeFrame(buf, pos + 1, out);
  }

  /** '>' of an end tag. Returns true when a unit completed in the carry. */
  private endTag(buf: Buffer, pos: number, out: XmppFrame[]): boolean {
    const s = this.nameStart;
    const e = this.nameEnd;
    if (this.depth === 0) {
      const open = this.streamName;
      if (this.framing === 'tcp' && this.phase === P_STREAM && open !== null && !this.afterDecl) {
        if (open.length !== e - s || !sameSpan(open, buf, s)) {
          this.fail(ERRORS.MISMATCHED_TAG, `end tag </${buf.toString('utf8', s, e)}> at byte ${this.at(s - 2)} does not match <${open.toString('utf8')}>`);
        }
        this.topName = open.toString('utf8');
        this.topLocal = 'stream';
        this.topNs = NS_STREAMS;
        this.topAttrs = EMPTY_ATTRIBUTES;
        this.topSpans = null;
        this.topType = 'close';
        this.topKind = '/stream:stream';
        this.topRestart = false;
        return this.completeFrame(buf, pos + 1, out);
      }
      this.fail(ERRORS.MISMATCHED_TAG, `end tag </${buf.toString('utf8', s, e)}> at byte ${this.at(s - 2)} closes no open element`);
    }
    const st = this.stack;
    const top = this.stackTop - 3;
    const os = st[top] as number;
    const oe = st[top + 1] as number;
    if (oe - os !== e - s || !sameBytes(buf, os, s, e - s)) {
      this.fail(ERRORS.MISMATCHED_TAG, `end tag </${buf.toString('utf8', s, e)}> at byte ${this.at(s - 2)} does not match <${buf.toString('utf8', os, oe)}>`);
    }
    const mark = st[top + 2] as number;
    if (this.bindings.length !== mark) this.bindings.length = mark;
    this.stackTop = top;
    this.depth--;
    this.textStart = pos + 1;
    this.state = S_TEXT;
    if (this.depth === 0) return this.completeFrame(buf, pos + 1, out);
    return false;
  }

  /** A top-level unit ends at `end` (exclusive). Returns true when it was read from the carry. */
  private completeFrame(buf: Buffer, end: number, out: XmppFrame[]): boolean {
    const raw = buf.subarray(this.frameStart, end);
    if (end > this.textCheckedEnd) {
      if (this.textCheckedEnd === -2) this.textCheckedEnd = checkedTextEnd(buf, this.frameStart, this.scanEnd);
      if (end > this.textCheckedEnd) this.checkUnitText(raw);
    }
    const type = this.topType;
    out.push(new UnitFrame(this.topKind, type, this.topName, this.topLocal, this.topNs, this.topRestart, raw, this.topSpans, this.topAttrs));
    if (type === 'open') {
      this.phase = P_STREAM;
      this.restartPending = false;
    } else if (type === 'close') {
      this.phase = P_CLOSED;
    } else if ((this.topLocal === 'success' && this.topNs === NS_SASL) || (this.topLocal === 'proceed' && this.topNs === NS_TLS)) {
      // The answer that restarts the stream arms both directions of the connection.
      if (this.link !== undefined) for (const codec of this.link.codecs) codec.restart();
      else this.restart();
    } else if (
      (this.topNs === NS_SASL && (this.topLocal === 'auth' || this.topLocal === 'response')) ||
      (this.topNs === NS_TLS && this.topLocal === 'starttls')
    ) {
      // The answer travels on the other codec, which a proxy may feed later: tolerate a restart
      // from the requesting side as soon as it has asked.
      this.restart();
    }
    this.inFrame = false;
    this.afterDecl = false;
    this.frameLimit = NO_LIMIT;
    this.depth = 0;
    this.stackTop = 0;
    this.topAttrs = EMPTY_ATTRIBUTES;
    this.topSpans = null;
    this.topIsFraming = false;
    this.state = S_LEVEL;
    this.onFrameComplete();
    if (buf === this.carry) {
      this.carry = null;
      this.carryLen = 0;
      return true;
    }
    return false;
  }

  /** The unit `raw` is UTF-8 and holds no U+FFFE or U+FFFF (XML 1.0 `Char`). */
  private checkUnitText(raw: Buffer): void {
    if (!isUtf8(raw)) this.fail(ERRORS.INVALID_UTF8, `<${this.topName}> at byte ${this.at(this.frameStart)} is not valid UTF-8`);
    for (let i = raw.indexOf(0xef); i >= 0 && i + 2 < raw.length; i = raw.indexOf(0xef, i + 1)) {
      if (raw[i + 1] === 0xbf && ((raw[i + 2] as number) & 0xfe) === 0xbe) {
        this.fail(ERRORS.INVALID_CHAR, `character U+FFF${raw[i + 2] === 0xbe ? 'E' : 'F'} not allowed in XML at byte ${this.at(this.frameStart + i)}`);
      }
    }
  }

  /** Pushes the element whose start tag was just read; `mark` is the bindings length before it. */
  private pushElement(mark: number): void {
    const st = this.stack;
    const top = this.stackTop;
    st[top] = this.nameStart;
    st[top + 1] = this.nameEnd;
    st[top + 2] = mark;
    this.stackTop = top + 3;
  }

  /** Framing-specific bookkeeping after a top-level unit completed. */
  protected abstract onFrameComplete(): void;

  /** Shifts every stored index by `delta` (the partial unit moved to the start of the carry). */
  protected rebase(delta: number): void {
    this.frameStart += delta;
    if (this.frameLimit !== NO_LIMIT) this.frameLimit += delta;
    this.nameStart += delta;
    this.nameEnd += delta;
    if (this.nameColon >= 0) this.nameColon += delta;
    this.attrNameStart += delta;
    this.attrNameEnd += delta;
    this.valueStart += delta;
    this.textStart += delta;
    this.entityStart += delta;
    this.declStart += delta;
    const st = this.stack;
    for (let i = 0; i < this.stackTop; i += 3) {
      st[i] = (st[i] as number) + delta;
      st[i + 1] = (st[i + 1] as number) + delta;
    }
    const a = this.attrs;
    for (let i = 0; i < this.attrCount * ATTR_STRIDE; i += ATTR_STRIDE) {
      a[i] = (a[i] as number) + delta;
      a[i + 1] = (a[i + 1] as number) + delta;
      a[i + 2] = (a[i + 2] as number) + delta;
      a[i + 3] = (a[i + 3] as number) + delta;
    }
  }

  /** Whether the tokenizer is between top-level units with nothing pending. */
  protected get idle(): boolean {
    return !this.inFrame && this.state === S_LEVEL;
  }
}

/**
 * Where the span of `buf` from `start` (a unit's '<') to its last '>' before `limit` ends, when
 * that span is UTF-8 without a 0xEF byte (the lead byte of U+FFFE and U+FFFF); else -1. Bounded by
 * ASCII bytes, the span is cut at character boundaries, so every unit inside it passes the
 * per-unit check: one pass over a chunk replaces one per unit.
 */
function checkedTextEnd(buf: Buffer, start: number, limit: number): number {
  const end = buf.lastIndexOf(GT, limit - 1) + 1;
  const span = buf.subarray(start, end);
  return isUtf8(span) && span.indexOf(0xef) === -1 ? end : -1;
}

function minOf(a: number, b: number, c: number): number {
  const m = a < b ? a : b;
  return m < c ? m : c;
}

/** Whether `buf[a, a + len)` and `buf[b, b + len)` hold the same bytes. */
function sameBytes(buf: Buffer, a: number, b: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/** Whether `buf[start, start + bytes.length)` holds `bytes`. */
function sameSpan(bytes: Uint8Array, buf: Buffer, start: number): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== buf[start + i]) return false;
  return true;
}

/** Whether `buf[start, end)` holds exactly `bytes`. */
function spanIs(buf: Buffer, start: number, end: number, bytes: Uint8Array): boolean {
  return end - start === bytes.length && sameSpan(bytes, buf, start);
}

/** The namespaces no default declaration may name (Namespaces in XML 1.0 §3). */
function isReservedNamespace(uri: string): boolean {
  return uri === NS_XMLNS || uri === NS_XML;
}

function asciiOnly(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) return false;
  return true;
}

function show(c: number): string {
  return c >= 0x21 && c <= 0x7e ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/**
 * RFC 6120 TCP framing: one XML stream per direction, bytes split anywhere. Emits the stream
 * header (`stream:stream`, with its XML declaration), each first-level element, whitespace
 * keep-alives (`whitespace`, one frame per run and push) and `</stream:stream>`.
 */
export class XmppStreamCodec extends XmppCodec {
  private offset = 0;

  constructor(direction: Direction, opts: Readonly<XmppOptions>, link?: RestartLink) {
    super(direction, { ...opts, framing: 'tcp' }, link);
  }

  push(chunk: Buffer): XmppFrame[] {
    if (chunk.length <= MAX_SCAN) return this.pushPart(chunk);
    const out: XmppFrame[] = [];
    for (let off = 0; off < chunk.length; off += MAX_SCAN) out.push(...this.pushPart(chunk.subarray(off, off + MAX_SCAN)));
    return out;
  }

  private pushPart(chunk: Buffer): XmppFrame[] {
    if (this.dead !== null) throw this.dead;
    const out: XmppFrame[] = [];
    const chunkBase = this.offset;
    this.offset += chunk.length;
    let pos = 0;
    if (this.inFrame) {
      // Continue the partial unit in the carry, taking at most one byte beyond the size limit.
      const oldLen = this.carryLen;
      const take = Math.min(chunk.length, this.opts.maxStanzaBytes + 1 - oldLen);
      const carry = this.appendCarry(chunk, take);
      this.bufBase = this.carryBase;
      const stop = this.scan(carry, oldLen, this.carryLen, out);
      if (this.inFrame) return out;
      pos = stop - oldLen;
    }
    this.bufBase = chunkBase;
    this.scan(chunk, pos, chunk.length, out);
    if (this.inFrame) {
      this.stash(chunk);
    } else if (this.wsStart >= 0) {
      this.flushWhitespace(chunk, chunk.length, out);
    }
    return out;
  }

  protected onLevelMarkup(): void {
    // TCP framing has no per-message rules.
  }

  protected onFrameComplete(): void {
    this.declOffset = -1;
  }

  private appendCarry(chunk: Buffer, take: number): Buffer {
    let carry = this.carry as Buffer;
    const need = this.carryLen + take;
    if (need > carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.opts.maxStanzaBytes + 1, Math.max(need, carry.length * 2)));
      carry.copy(grown, 0, 0, this.carryLen);
      carry = grown;
      this.carry = grown;
    }
    chunk.copy(carry, this.carryLen, 0, take);
    this.carryLen = need;
    return carry;
  }

  /** Moves the partial unit at the end of `chunk` into a fresh carry buffer. */
  private stash(chunk: Buffer): void {
    const start = this.frameStart;
    const len = chunk.length - start;
    const carry = Buffer.allocUnsafe(Math.min(this.opts.maxStanzaBytes + 1, Math.max(len, 1024)));
    chunk.copy(carry, 0, start);
    this.carry = carry;
    this.carryLen = len;
    this.carryBase = this.bufBase + start;
    this.rebase(-start);
  }
}

/**
 * RFC 7395 WebSocket framing: every message is exactly one complete element (`<open/>`,
 * `<close/>`, a stanza or a nonza), optionally surrounded by whitespace and optionally preceded by
 * an XML declaration. `push(message)` treats its argument as one whole message.
 */
export class XmppWebSocketCodec extends XmppCodec {
  private elementDone = false;

  constructor(direction: Direction, opts: Readonly<XmppOptions>, link?: RestartLink) {
    super(direction, { ...opts, framing: 'websocket' }, link);
  }

  /** One WebSocket message in, its one frame out. */
  push(message: Buffer): XmppFrame[] {
    return [this.validateMessage(message)];
  }

  /**
   * Validates one WebSocket message holding exactly one element; byte offsets in error messages
   * count from the start of the message.
   */
  validateMessage(message: Buffer): XmppFrame {
    if (this.dead !== null) throw this.dead;
    this.bufBase = 0;
    if (this.phase === P_CLOSED) this.fail(ERRORS.STREAM_CLOSED, 'message after <close/>');
    if (message.length > this.opts.maxStanzaBytes) {
      this.fail(ERRORS.STANZA_TOO_LARGE, `message of ${message.length} bytes exceeds maxStanzaBytes (${this.opts.maxStanzaBytes})`);
    }
    this.elementDone = false;
    this.declOffset = 0;
    this.wsStart = -1;
    const out: XmppFrame[] = [];
    this.scan(message, 0, message.length, out);
    if (!this.idle) this.fail(ERRORS.WEBSOCKET_FRAMING, `message ends inside an element (${message.length} bytes)`);
    const frame = out[0];
    if (frame === undefined) this.fail(ERRORS.WEBSOCKET_FRAMING, 'message holds no element');
    return frame;
  }

  protected onLevelMarkup(pos: number): void {
    if (this.elementDone) {
      this.fail(ERRORS.WEBSOCKET_FRAMING, `second element at byte ${this.at(pos)}: a WebSocket message holds exactly one element`);
    }
  }

  protected onFrameComplete(): void {
    this.elementDone = true;
    this.declOffset = -1;
  }
}

/** Both directions of one connection; a restart trigger seen by either codec arms both. */
export interface XmppCodecPair extends CodecPair<XmppFrame> {
  readonly toServer: XmppCodec;
  readonly toClient: XmppCodec;
  /** Arms a stream restart in both directions (see {@link XmppCodec.restart}). */
  restart(): void;
}

/** Creates the codecs of one connection with fully resolved options. */
export function createCodecPair(opts: Readonly<XmppOptions>): XmppCodecPair {
  const link: RestartLink = { codecs: [] };
  const Ctor = opts.framing === 'websocket' ? XmppWebSocketCodec : XmppStreamCodec;
  const toServer = new Ctor('toServer', opts, link);
  const toClient = new Ctor('toClient', opts, link);
  link.codecs.push(toServer, toClient);
  return {
    toServer,
    toClient,
    restart(): void {
      toServer.restart();
      toClient.restart();
    },
  };
}
