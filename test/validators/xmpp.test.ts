import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WireError } from '../../validators/types';
import {
  DEFAULT_LIMITS, DEFAULT_OPTIONS, ERRORS, XmppStreamCodec, XmppWebSocketCodec, XmppWireError, createPair, protocol,
  reply, streamError, streamErrorMessages, type XmppFrame, type XmppOptions,
} from '../../validators/xmpp';
import { corpus, options as corpusOptions, prosodySession } from '../support/corpus/xmpp';
import { caught, splitBuffer, type Split } from '../support/wire';

const STREAMS = 'http://etherx.jabber.org/streams';
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const H = `<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' version='1.0'>`;
const h = H.length;

type ErrorName = keyof typeof ERRORS;

/** A frame as plain data, `raw` as text, for comparisons across split points. */
interface Plain {
  kind: string;
  type: string;
  name: string;
  localName: string;
  namespace: string;
  attributes: Record<string, string>;
  restart: boolean;
  raw: string;
}

function plain(frames: readonly XmppFrame[]): Plain[] {
  const out: Plain[] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    // A whitespace run split across pushes comes out as several frames: merge them.
    if (f.type === 'whitespace' && last !== undefined && last.type === 'whitespace') {
      last.raw += f.raw.toString('latin1');
      continue;
    }
    out.push({
      kind: f.kind, type: f.type, name: f.name, localName: f.localName, namespace: f.namespace,
      attributes: { ...f.attributes }, restart: f.restart, raw: f.raw.toString('latin1'),
    });
  }
  return out;
}

function feedTcp(input: Buffer | string, split: Split = 'whole', opts: Partial<XmppOptions> = {}, direction: 'toServer' | 'toClient' = 'toServer'): Plain[] {
  const codec = createPair({ ...opts, framing: 'tcp' })[direction];
  const frames: XmppFrame[] = [];
  for (const p of splitBuffer(typeof input === 'string' ? Buffer.from(input, 'utf8') : input, split, 64)) {
    frames.push(...plainKeep(codec.push(p)));
    expect(codec.buffered).toBeLessThanOrEqual(opts.maxStanzaBytes ?? DEFAULT_LIMITS.maxStanzaBytes);
  }
  return plain(frames);
}

/** Frames copied out of the pushed buffers (`raw`, and the attributes read from it, are only valid until the next push). */
function plainKeep(frames: XmppFrame[]): XmppFrame[] {
  return frames.map((f) => ({ ...f, attributes: f.attributes, raw: Buffer.from(f.raw) }));
}

function expectError(err: WireError, name: ErrorName, message: string): void {
  const spec = ERRORS[name];
  expect(err).toBeInstanceOf(WireError);
  expect(err).toBeInstanceOf(XmppWireError);
  expect(err.protocol).toBe('xmpp');
  expect({ code: err.code, message: err.message, closeCode: err.closeCode, condition: err.condition }).toEqual({
    code: spec.code, message, closeCode: spec.close, condition: spec.condition,
  });
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

// ---------------------------------------------------------------------------------------------
// Error fixtures

interface TcpCase {
  readonly title: string;
  readonly error: ErrorName;
  readonly input: Buffer | string;
  readonly message: string;
  readonly opts?: Partial<XmppOptions>;
}

const TLS = "xmlns='urn:ietf:params:xml:ns:xmpp-tls'";
const DECL = "<?xml version='1.0'?>";

const TCP_ERRORS: readonly TcpCase[] = [
  { title: ']]> in text', error: 'NOT_WELL_FORMED', input: `${H}<message><body>a]]>b</body></message>`, message: `"]]>" in character data at byte 115` },
  { title: 'unquoted attribute', error: 'NOT_WELL_FORMED', input: `${H}<message to=bob/>`, message: `attribute value must be quoted, got "b" at byte 111` },
  { title: 'attributes without whitespace', error: 'NOT_WELL_FORMED', input: `${H}<message to='a'from='b'/>`, message: `expected whitespace, ">" or "/>" after attribute value, got "f" at byte 114` },
  { title: 'reference without ;', error: 'NOT_WELL_FORMED', input: `${H}<message><body>&amp</body></message>`, message: `malformed reference at byte 114` },
  { title: 'empty reference', error: 'NOT_WELL_FORMED', input: `${H}<message><body>&;</body></message>`, message: `empty reference at byte 114` },
  { title: '< in attribute value', error: 'NOT_WELL_FORMED', input: `${H}<message to='a<b'/>`, message: `"<" in attribute value at byte 113` },
  { title: 'space after <', error: 'NOT_WELL_FORMED', input: `${H}< message/>`, message: `unexpected byte 0x20 after "<" at byte 100` },
  { title: 'missing = after attribute name', error: 'NOT_WELL_FORMED', input: `${H}<message to 'x'/>`, message: `expected "=" after attribute name, got "'" at byte 111` },
  { title: '/ not followed by >', error: 'NOT_WELL_FORMED', input: `${H}<message/ >`, message: `expected ">" after "/" at byte 108` },
  { title: 'CDATA outside an element', error: 'NOT_WELL_FORMED', input: `${H}<![CDATA[x]]>`, message: `CDATA section outside an element at byte 99` },
  { title: 'malformed CDATA start', error: 'NOT_WELL_FORMED', input: `${H}<message><![CDAT x]]></message>`, message: `malformed CDATA section start at byte 115` },
  { title: 'end tag without name', error: 'NOT_WELL_FORMED', input: `${H}<message></>`, message: `end tag without a name at byte 110` },
  { title: 'mismatched end tag', error: 'MISMATCHED_TAG', input: `${H}<message><body></bdy></message>`, message: `end tag </bdy> at byte 114 does not match <body>` },
  { title: 'stream closed with wrong name', error: 'MISMATCHED_TAG', input: `${H}</stream:foo>`, message: `end tag </stream:foo> at byte 99 does not match <stream:stream>` },
  { title: 'end tag before the header', error: 'MISMATCHED_TAG', input: `</stream:stream>`, message: `end tag </stream:stream> at byte 0 closes no open element` },
  { title: 'duplicate attribute', error: 'DUPLICATE_ATTRIBUTE', input: `${H}<message to='a' to='b'/>`, message: `duplicate attribute "to" at byte 115` },
  { title: 'duplicate expanded attribute', error: 'DUPLICATE_ATTRIBUTE', input: `${H}<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>`, message: `duplicate attribute "b:t" (same namespace and local name) at byte 148` },
  { title: 'two colons in a name', error: 'INVALID_NAME', input: `${H}<message><a:b:c/></message>`, message: `invalid element name "a:b:c" at byte 109: more than one ":"` },
  { title: 'empty local part', error: 'INVALID_NAME', input: `${H}<message><x: xmlns:x='urn:x'/></message>`, message: `invalid element name "x:" at byte 109: empty prefix or local part` },
  { title: 'local part starting with a digit', error: 'INVALID_NAME', input: `${H}<message><x:1 xmlns:x='urn:x'/></message>`, message: `invalid element name "x:1" at byte 109: local part starts with an invalid character` },
  { title: 'non-ASCII character not allowed in names', error: 'INVALID_NAME', input: `${H}<message><a\u00d7b/></message>`, message: `invalid element name "a×b" at byte 109: not an XML name` },
  { title: 'end tag name starting with a digit', error: 'INVALID_NAME', input: `${H}<message></1message>`, message: `invalid end tag name at byte 110` },
  { title: 'control character in text', error: 'INVALID_CHAR', input: `${H}<message><body>a\u0001</body></message>`, message: `character U+0001 not allowed in XML at byte 115` },
  { title: 'control character in attribute', error: 'INVALID_CHAR', input: `${H}<message id='\u001f'/>`, message: `character U+001F not allowed in XML at byte 112` },
  { title: 'U+FFFE in text', error: 'INVALID_CHAR', input: `${H}<message><body>\ufffe</body></message>`, message: `character U+FFFE not allowed in XML at byte 114` },
  { title: 'U+FFFF in a unit after one with 0xEF-led fullwidth text', error: 'INVALID_CHAR', input: `${H}<message><body>\uff48\uff49\uff01 \u00fc</body></message><message><body>\uffff</body></message>`, message: `character U+FFFF not allowed in XML at byte 158` },
  { title: 'NUL character reference', error: 'BAD_CHAR_REF', input: `${H}<message><body>&#0;</body></message>`, message: `character reference at byte 114 names a character XML forbids` },
  { title: 'surrogate character reference', error: 'BAD_CHAR_REF', input: `${H}<message><body>&#xD800;</body></message>`, message: `character reference at byte 114 names a character XML forbids` },
  { title: 'out-of-range character reference', error: 'BAD_CHAR_REF', input: `${H}<message id='&#x110000;'/>`, message: `character reference at byte 112 names a character XML forbids` },
  { title: 'character reference without digits', error: 'BAD_CHAR_REF', input: `${H}<message><body>&#x;</body></message>`, message: `character reference without digits at byte 114` },
  { title: 'malformed decimal reference', error: 'BAD_CHAR_REF', input: `${H}<message><body>&#12a;</body></message>`, message: `malformed character reference at byte 114` },
  { title: 'undeclared element prefix', error: 'UNBOUND_PREFIX', input: `${H}<message><foo:bar/></message>`, message: `element prefix "foo" not declared at byte 109` },
  { title: 'undeclared attribute prefix', error: 'UNBOUND_PREFIX', input: `${H}<message foo:bar='1'/>`, message: `attribute prefix "foo" not declared at byte 108` },
  { title: 'empty prefix binding', error: 'UNBOUND_PREFIX', input: `${H}<message xmlns:p=''/>`, message: `prefix "p" undeclared at byte 108: Namespaces in XML 1.0 forbids empty prefix bindings` },
  { title: 'declaring xmlns', error: 'UNBOUND_PREFIX', input: `${H}<message xmlns:xmlns='urn:x'/>`, message: `illegal namespace declaration "xmlns:xmlns" at byte 108` },
  { title: 'rebinding xml', error: 'UNBOUND_PREFIX', input: `${H}<message xmlns:xml='urn:x'/>`, message: `illegal namespace declaration "xmlns:xml" at byte 108` },
  { title: 'XML 1.1 declaration', error: 'BAD_XML_DECLARATION', input: `<?xml version='1.1'?>${H}`, message: `XML version "1.1" at byte 0: XMPP uses XML 1.0` },
  { title: 'declaration without version', error: 'BAD_XML_DECLARATION', input: `<?xml encoding='UTF-8'?>${H}`, message: `malformed XML declaration at byte 0` },
  { title: 'empty declaration', error: 'BAD_XML_DECLARATION', input: `<?xml?>${H}`, message: `malformed XML declaration at byte 0` },
  { title: 'invalid UTF-8 sequence', error: 'INVALID_UTF8', input: Buffer.concat([b(`${H}<message><body>`), Buffer.from([0xc3, 0x28]), b('</body></message>')]), message: `<message> at byte 99 is not valid UTF-8` },
  { title: 'invalid UTF-8 in a unit after a valid one', error: 'INVALID_UTF8', input: Buffer.concat([b(`${H}<message><body>\u00fc</body></message><message><body>`), Buffer.from([0xc3, 0x28]), b('</body></message>')]), message: `<message> at byte 133 is not valid UTF-8` },
  { title: 'overlong UTF-8', error: 'INVALID_UTF8', input: Buffer.concat([b(`${H}<message id='`), Buffer.from([0xc0, 0xaf]), b(`'/>`)]), message: `<message> at byte 99 is not valid UTF-8` },
  { title: 'UTF-8 surrogate', error: 'INVALID_UTF8', input: Buffer.concat([b(`${H}<message><body>`), Buffer.from([0xed, 0xa0, 0x80]), b('</body></message>')]), message: `<message> at byte 99 is not valid UTF-8` },
  { title: 'invalid UTF-8 in the header', error: 'INVALID_UTF8', input: Buffer.concat([b(`<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' to='`), Buffer.from([0xff]), b(`'>`)]), message: `<stream:stream> at byte 0 is not valid UTF-8` },
  { title: 'ISO-8859-1 declared', error: 'UNSUPPORTED_ENCODING', input: `<?xml version='1.0' encoding='ISO-8859-1'?>${H}`, message: `encoding "ISO-8859-1" declared at byte 0: XMPP streams are UTF-8 (RFC 6120 §11.6)` },
  { title: 'comment between stanzas', error: 'COMMENT', input: `${H}<!-- hi -->`, message: `comment at byte 99: comments are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'comment inside a stanza', error: 'COMMENT', input: `${H}<message><!-- hi --></message>`, message: `comment at byte 108: comments are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'bad comment start', error: 'NOT_WELL_FORMED', input: `${H}<message><!-x></message>`, message: `unexpected "x" after "<!-" at byte 111` },
  { title: 'processing instruction', error: 'PROCESSING_INSTRUCTION', input: `${H}<?foo bar?>`, message: `processing instruction at byte 99: processing instructions are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'processing instruction in a stanza', error: 'PROCESSING_INSTRUCTION', input: `${H}<message><?php echo 1 ?></message>`, message: `processing instruction at byte 108: processing instructions are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'XML declaration mid-stream', error: 'PROCESSING_INSTRUCTION', input: `${H}${DECL}`, message: `XML declaration at byte 99: allowed only at the start of a stream or message` },
  { title: 'XML declaration after whitespace', error: 'PROCESSING_INSTRUCTION', input: ` ${DECL}${H}`, message: `XML declaration at byte 1: allowed only at the start of a stream or message` },
  { title: 'XML declaration twice', error: 'PROCESSING_INSTRUCTION', input: `${DECL}${DECL}${H}`, message: `XML declaration at byte 21: allowed only at the start of a stream or message` },
  { title: 'DOCTYPE', error: 'DTD', input: `<!DOCTYPE stream:stream>${H}`, message: `markup declaration (DOCTYPE, ENTITY, ...) at byte 0: DTDs are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'ENTITY declaration in a stanza', error: 'DTD', input: `${H}<message><!ENTITY x 'y'></message>`, message: `markup declaration (DOCTYPE, ENTITY, ...) at byte 108: DTDs are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'undefined entity in text', error: 'ENTITY_REFERENCE', input: `${H}<message><body>&nbsp;</body></message>`, message: `reference to entity "nbsp" at byte 114: only &lt; &gt; &amp; &quot; &apos; are allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'undefined entity in attribute', error: 'ENTITY_REFERENCE', input: `${H}<message to='&lol9;'/>`, message: `reference to entity "lol9" at byte 112: only &lt; &gt; &amp; &quot; &apos; are allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'text between stanzas', error: 'STRAY_TEXT', input: `${H}hello`, message: `character data ("h") between first-level elements at byte 99` },
  { title: 'text before the header', error: 'STRAY_TEXT', input: `x${H}`, message: `character data ("x") before the stream header at byte 0` },
  { title: 'reference between stanzas', error: 'STRAY_TEXT', input: `${H}&amp;`, message: `character data ("&") between first-level elements at byte 99` },
  { title: 'wrong stream namespace', error: 'INVALID_NAMESPACE', input: `<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>`, message: `stream header at byte 0 is in namespace "urn:wrong", expected "http://etherx.jabber.org/streams"` },
  { title: 'header without content namespace', error: 'INVALID_NAMESPACE', input: `<stream:stream xmlns:stream='${STREAMS}'>`, message: `stream header at byte 0 declares no content namespace (xmlns)` },
  { title: 'jabber:server header on a c2s codec', error: 'INVALID_NAMESPACE', input: `<stream:stream xmlns='jabber:server' xmlns:stream='${STREAMS}'>`, message: `stream header at byte 0 declares content namespace "jabber:server", expected "jabber:client"` },
  { title: 'first-level element without namespace', error: 'INVALID_NAMESPACE', input: `${H}<foo xmlns=''/>`, message: `first-level element <foo> at byte 99 has no namespace` },
  { title: 'jabber:server stanza in a jabber:client stream', error: 'INVALID_NAMESPACE', input: `${H}<message xmlns='jabber:server'/>`, message: `<message> at byte 99 is in jabber:server, this stream's content namespace is jabber:client` },
  { title: 'unknown element in the content namespace', error: 'UNSUPPORTED_STANZA_TYPE', input: `${H}<foo/>`, message: `<foo> at byte 99 is not a stanza (message, presence, iq) of jabber:client` },
  { title: 'unknown element in the stream namespace', error: 'UNSUPPORTED_STANZA_TYPE', input: `${H}<stream:bar/>`, message: `<stream:bar> at byte 99 is not a first-level element of the stream namespace (features, error)` },
  { title: 'framing element over TCP', error: 'UNSUPPORTED_STANZA_TYPE', input: `${H}<open xmlns='${FRAMING}'/>`, message: `<open> at byte 99: framing-namespace elements are only <open/> and <close/> over WebSocket` },
  { title: 'stream version 2.0', error: 'UNSUPPORTED_VERSION', input: `<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' version='2.0'>`, message: `stream version "2.0" at byte 0: only 1.x is supported` },
  { title: 'self-closing header', error: 'BAD_STREAM_HEADER', input: `<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}'/>`, message: `self-closing stream header at byte 0` },
  { title: 'declaration followed by a stanza on restart', error: 'BAD_STREAM_HEADER', input: `${H}<starttls ${TLS}/>${DECL}<message/>`, message: `XML declaration followed by <message> instead of a stream header at byte 171` },
  { title: 'stanza before the header', error: 'STREAM_NOT_OPEN', input: `<message/>`, message: `<message> at byte 0 before the stream header <stream:stream>` },
  { title: 'declaration then stanza', error: 'STREAM_NOT_OPEN', input: `${DECL}<message xmlns='jabber:client'/>`, message: `<message> at byte 21 before the stream header <stream:stream>` },
  { title: 'second header without restart', error: 'UNEXPECTED_STREAM_HEADER', input: `${H}${H}`, message: `stream header at byte 99 while a stream is open and no restart is pending` },
  { title: 'stanza after close', error: 'STREAM_CLOSED', input: `${H}</stream:stream><message/>`, message: `data after the stream was closed at byte 115` },
  { title: 'text after close', error: 'STREAM_CLOSED', input: `${H}</stream:stream> x`, message: `data after the stream was closed at byte 116` },
  // Limits, with small values so the fixtures stay readable.
  { title: 'stanza above maxStanzaBytes', error: 'STANZA_TOO_LARGE', input: `${H}<message><body>${'0123456789'.repeat(10)}</body></message>`, opts: { maxStanzaBytes: 128 }, message: `top-level element at byte 99 exceeds maxStanzaBytes (128)` },
  { title: 'header above maxStanzaBytes', error: 'STANZA_TOO_LARGE', input: `${DECL}${H}`, opts: { maxStanzaBytes: 64 }, message: `top-level element at byte 0 exceeds maxStanzaBytes (64)` },
  { title: 'nesting above maxDepth', error: 'DEPTH_EXCEEDED', input: `${H}<message><a><b><c/></b></a></message>`, opts: { maxDepth: 3 }, message: `element at byte 114 nested deeper than maxDepth (3)` },
  { title: 'attributes above maxAttributes', error: 'TOO_MANY_ATTRIBUTES', input: `${H}<message a='1' b='2' c='3' d='4'/>`, opts: { maxAttributes: 3 }, message: `element at byte 99 has more than maxAttributes (3) attributes` },
  { title: 'attribute value above maxAttributeValueBytes', error: 'ATTRIBUTE_TOO_LONG', input: `${H}<message to='${'x'.repeat(41)}'/>`, opts: { maxAttributeValueBytes: 40 }, message: `attribute value at byte 112 exceeds maxAttributeValueBytes (40)` },
  { title: 'element name above maxNameBytes', error: 'NAME_TOO_LONG', input: `${H}<message><abcdefghijklmnopq/></message>`, opts: { maxNameBytes: 16 }, message: `name at byte 109 exceeds maxNameBytes (16)` },
  { title: 'attribute name above maxNameBytes', error: 'NAME_TOO_LONG', input: `${H}<message abcdefghijklmnopq='1'/>`, opts: { maxNameBytes: 16 }, message: `name at byte 108 exceeds maxNameBytes (16)` },
  { title: 'entity name above maxNameBytes', error: 'NAME_TOO_LONG', input: `${H}<message><body>&abcdefghijklmnopq;</body></message>`, opts: { maxNameBytes: 16 }, message: `name at byte 115 exceeds maxNameBytes (16)` },
  { title: 'text above maxTextBytes', error: 'TEXT_TOO_LONG', input: `${H}<message><body>12345</body></message>`, opts: { maxTextBytes: 4 }, message: `character data at byte 114 exceeds maxTextBytes (4)` },
  { title: 'CDATA above maxTextBytes', error: 'TEXT_TOO_LONG', input: `${H}<message><body><![CDATA[12345]]></body></message>`, opts: { maxTextBytes: 4 }, message: `CDATA section at byte 123 exceeds maxTextBytes (4)` },
];

interface WsCase {
  readonly title: string;
  readonly error: ErrorName;
  /** Messages in order; the last one fails. */
  readonly messages: readonly (Buffer | string)[];
  readonly message: string;
  readonly opts?: Partial<XmppOptions>;
}

const OPEN = `<open xmlns='${FRAMING}' to='localhost' version='1.0'/>`;
const CLOSE = `<close xmlns='${FRAMING}'/>`;
const MSG = "<message xmlns='jabber:client' to='bob@localhost'><body>hi</body></message>";

const WS_ERRORS: readonly WsCase[] = [
  { title: 'two elements in one message', error: 'WEBSOCKET_FRAMING', messages: [OPEN, `${MSG}${MSG}`], message: `second element at byte 75: a WebSocket message holds exactly one element` },
  { title: 'empty message', error: 'WEBSOCKET_FRAMING', messages: [OPEN, ''], message: `message holds no element` },
  { title: 'whitespace-only message', error: 'WEBSOCKET_FRAMING', messages: [OPEN, ' \n'], message: `message holds no element` },
  { title: 'message cut inside an element', error: 'WEBSOCKET_FRAMING', messages: [OPEN, "<message xmlns='jabber:client'><body>hi"], message: `message ends inside an element (39 bytes)` },
  { title: 'message cut inside a tag', error: 'WEBSOCKET_FRAMING', messages: [OPEN, "<message xmlns='jabber:cl"], message: `message ends inside an element (25 bytes)` },
  { title: 'text after the element', error: 'WEBSOCKET_FRAMING', messages: [OPEN, `${MSG}x`], message: `text outside the element at byte 75: a WebSocket message holds exactly one element` },
  { title: 'text before the element', error: 'WEBSOCKET_FRAMING', messages: [OPEN, `x${MSG}`], message: `text outside the element at byte 0: a WebSocket message holds exactly one element` },
  { title: 'STARTTLS over WebSocket', error: 'STARTTLS_OVER_WEBSOCKET', messages: [OPEN, `<starttls ${TLS}/>`], message: `<starttls> at byte 0: STARTTLS is not allowed over WebSocket (RFC 7395 §3.5)` },
  { title: 'stanza before open', error: 'STREAM_NOT_OPEN', messages: [MSG], message: `<message> at byte 0 before <open/>` },
  { title: 'open in the wrong namespace', error: 'INVALID_NAMESPACE', messages: ["<open xmlns='urn:wrong'/>"], message: `<open> at byte 0 is in namespace "urn:wrong", expected "urn:ietf:params:xml:ns:xmpp-framing"` },
  { title: 'second open without restart', error: 'UNEXPECTED_STREAM_HEADER', messages: [OPEN, OPEN], message: `<open/> at byte 0 while a stream is open and no restart is pending` },
  { title: 'open with content', error: 'BAD_STREAM_HEADER', messages: [`<open xmlns='${FRAMING}'><x/></open>`], message: `<open/> must be empty, child element at byte 50` },
  { title: 'message after close', error: 'STREAM_CLOSED', messages: [OPEN, CLOSE, MSG], message: `message after <close/>` },
  { title: 'open version 2.0', error: 'UNSUPPORTED_VERSION', messages: [`<open xmlns='${FRAMING}' version='2.0'/>`], message: `stream version "2.0" at byte 0: only 1.x is supported` },
  { title: 'TCP stream header over WebSocket', error: 'STREAM_NOT_OPEN', messages: [H], message: `<stream:stream> at byte 0 before <open/>` },
  { title: 'unknown framing element', error: 'UNSUPPORTED_STANZA_TYPE', messages: [OPEN, `<reset xmlns='${FRAMING}'/>`], message: `<reset> at byte 0: framing-namespace elements are only <open/> and <close/> over WebSocket` },
  { title: 'comment in a message', error: 'COMMENT', messages: [OPEN, `<message xmlns='jabber:client'><!--x--></message>`], message: `comment at byte 31: comments are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'DOCTYPE in a message', error: 'DTD', messages: [`<!DOCTYPE open>${OPEN}`], message: `markup declaration (DOCTYPE, ENTITY, ...) at byte 0: DTDs are not allowed in XMPP (RFC 6120 §11.1)` },
  { title: 'invalid UTF-8 in a message', error: 'INVALID_UTF8', messages: [OPEN, Buffer.concat([b("<message xmlns='jabber:client'><body>"), Buffer.from([0xe2, 0x82]), b('</body></message>')])], message: `<message> at byte 0 is not valid UTF-8` },
  { title: 'message above maxStanzaBytes', error: 'STANZA_TOO_LARGE', messages: [OPEN, `${MSG}      `], opts: { maxStanzaBytes: 80 }, message: `message of 81 bytes exceeds maxStanzaBytes (80)` },
  { title: 'nesting above maxDepth', error: 'DEPTH_EXCEEDED', messages: [OPEN, "<message xmlns='jabber:client'><a><b/></a></message>"], opts: { maxDepth: 2 }, message: `element at byte 34 nested deeper than maxDepth (2)` },
];

function tcpError(c: TcpCase, split: Split): WireError {
  const codec = createPair({ ...c.opts, framing: 'tcp' }).toServer;
  return caught(() => {
    for (const p of splitBuffer(typeof c.input === 'string' ? b(c.input) : c.input, split, 64)) codec.push(p);
  });
}

function wsError(c: WsCase): WireError {
  const codec = createPair({ ...c.opts, framing: 'websocket' }).toServer;
  const msgs = c.messages.map((m) => (typeof m === 'string' ? b(m) : m));
  const last = msgs.pop() as Buffer;
  for (const m of msgs) codec.push(m);
  return caught(() => codec.push(last));
}

describe('xmpp errors, TCP framing', () => {
  it.each(TCP_ERRORS.map((c) => [c.title, c] as const))('%s', (_title, c) => {
    const whole = tcpError(c, 'whole');
    expectError(whole, c.error, c.message);
    // Same error, same message, whatever the split.
    for (const split of ['bytes', 7, 99] as const) {
      const err = tcpError(c, split);
      expect({ code: err.code, message: err.message }).toEqual({ code: whole.code, message: whole.message });
    }
  });
});

describe('xmpp errors, WebSocket framing', () => {
  it.each(WS_ERRORS.map((c) => [c.title, c] as const))('%s', (_title, c) => {
    expectError(wsError(c), c.error, c.message);
  });
});

// ---------------------------------------------------------------------------------------------
// Valid streams

describe('xmpp TCP framing, valid streams', () => {
  const streams = (['toServer', 'toClient'] as const).flatMap((dir) => corpus[dir].map((s, i) => [`${dir}[${i}]`, dir, s] as const));

  it.each(streams)('%s gives identical frames whole, one byte per push and at random splits', (_name, dir, stream) => {
    const whole = feedTcp(stream, 'whole', corpusOptions, dir);
    expect(whole.length).toBeGreaterThanOrEqual(3);
    // Frames cover the stream exactly, in order.
    expect(whole.map((f) => f.raw).join('')).toBe(stream.toString('latin1'));
    expect(feedTcp(stream, 'bytes', corpusOptions, dir)).toEqual(whole);
    for (const seed of [1, 2, 3, 4, 5]) expect(feedTcp(stream, seed, corpusOptions, dir)).toEqual(whole);
  });

  it('reads a Prosody session client side: header with declaration, STARTTLS, two restarts, stanzas, close', () => {
    const frames = feedTcp(prosodySession.toServer, 'whole', {}, 'toServer');
    expect(frames.map((f) => f.kind)).toEqual([
      'stream:stream', 'starttls', 'stream:stream', 'auth', 'stream:stream', 'iq', 'iq', 'iq', 'presence', 'message',
      'whitespace', 'presence', 'message', 'whitespace', 'presence', '/stream:stream',
    ]);
    expect(frames.map((f) => f.restart)).toEqual([false, false, true, false, true, false, false, false, false, false, false, false, false, false, false, false]);
    const header = frames[0] as Plain;
    expect(header).toMatchObject({ type: 'open', name: 'stream:stream', localName: 'stream', namespace: STREAMS });
    expect(header.raw.startsWith("<?xml version='1.0'?><stream:stream ")).toBe(true);
    expect(header.attributes).toEqual({ to: 'localhost', xmlns: 'jabber:client', 'xmlns:stream': STREAMS, version: '1.0', 'xml:lang': 'en' });
    expect(frames[1]).toMatchObject({ type: 'element', name: 'starttls', namespace: 'urn:ietf:params:xml:ns:xmpp-tls' });
    expect(frames[9]).toMatchObject({ name: 'message', namespace: 'jabber:client', attributes: { to: 'bob@localhost', type: 'chat', id: 'm1', 'xml:lang': 'de' } });
    expect(frames[15]).toMatchObject({ type: 'close', name: 'stream:stream', raw: '</stream:stream>' });
  });

  it('reads a Prosody session server side: features, proceed, success, bind result, MUC presence', () => {
    const frames = feedTcp(prosodySession.toClient, 'whole', {}, 'toClient');
    expect(frames.map((f) => `${f.type}:${f.kind}`)).toEqual([
      'open:stream:stream', 'element:features', 'element:proceed', 'open:stream:stream', 'element:features', 'element:success',
      'open:stream:stream', 'element:features', 'element:iq', 'element:iq', 'element:iq', 'element:presence', 'element:message',
      'element:presence', 'element:message', 'element:message', 'element:presence', 'close:/stream:stream',
    ]);
    expect(frames[1]).toMatchObject({ name: 'stream:features', localName: 'features', namespace: STREAMS });
    expect(frames[13]?.attributes).toEqual({ from: 'room@conference.localhost/alice', to: 'alice@localhost/laptop' });
  });

  it('passes multi-byte text, 0xEF-led characters among it, whole or split inside a character', () => {
    const units = ['\u00fc\u00df', '\uff48\uff49\uff01', '\u{1F44B} \u4f60\u597d', 'plain'].map((t) => `<message><body>${t}</body></message>`);
    const stream = `${H}${units.join('')}${units.join(' ')}`;
    const whole = feedTcp(stream);
    expect(whole.filter((f) => f.kind === 'message').map((f) => f.raw)).toEqual(
      [...units, ...units].map((u) => Buffer.from(u).toString('latin1')),
    );
    for (const split of ['bytes', 7, 99, 1, 2, 3] as const) expect(feedTcp(stream, split)).toEqual(whole);
  });

  it('hands out views of the pushed chunk for units inside it, and copies for units spanning pushes', () => {
    const codec = createPair().toServer;
    const first = b(`${H}<message><body>x</body></message><presence`);
    const frames = codec.push(first);
    expect(frames.map((f) => f.kind)).toEqual(['stream:stream', 'message']);
    expect(codec.buffered).toBe('<presence'.length);
    const second = b('/>');
    const [presence] = codec.push(second);
    expect(presence?.raw.toString()).toBe('<presence/>');
    expect(codec.buffered).toBe(0);
    // Views follow the pushed chunk; the spanning unit is a copy of neither chunk.
    first.fill(0x20);
    second.fill(0x20);
    expect(frames.map((f) => f.raw.toString().trim())).toEqual(['', '']);
    expect(presence?.raw.toString()).toBe('<presence/>');
  });

  it('decodes the attributes of the top-level element (entities, character references, normalization)', () => {
    const [, frame] = createPair().toServer.push(b(`${H}<message id='a&amp;b&lt;&gt;&quot;&apos;&#65;&#x42;' to="x\ty\r\nz"><body a='&#9;'/></message>`));
    expect(frame?.attributes).toEqual({ id: 'a&b<>"\'AB', to: 'x y z' });
  });

  it('accepts CDATA sections (RFC 6120 §11.1 does not forbid them), character references and the five entities', () => {
    const stanza = "<message><body><![CDATA[<not> &markup; ]] ]>]]>&lt;&gt;&amp;&quot;&apos;&#x1F600;&#10;</body></message>";
    expect(feedTcp(`${H}${stanza}`).map((f) => f.kind)).toEqual(['stream:stream', 'message']);
  });

  it('accepts names with non-ASCII letters, prefixed extension elements and xml:lang', () => {
    const stanza = "<message xml:lang='fr'><données xmlns='urn:x'>é</données><x:y xmlns:x='urn:y' x:a='1' b='2'/></message>";
    expect(feedTcp(`${H}${stanza}`).map((f) => f.kind)).toEqual(['stream:stream', 'message']);
  });

  it('accepts any prefix for the stream element, as long as it is bound to the stream namespace', () => {
    const header = `<s:stream xmlns='jabber:client' xmlns:s='${STREAMS}' version='1.0'>`;
    const frames = feedTcp(`${header}<s:features/><message/></s:stream>`);
    expect(frames.map((f) => `${f.type}:${f.name}`)).toEqual(['open:s:stream', 'element:s:features', 'element:message', 'close:s:stream']);
  });

  it('accepts jabber:server when configured for it', () => {
    const header = `<stream:stream xmlns='jabber:server' xmlns:stream='${STREAMS}' version='1.0'>`;
    const frames = feedTcp(`${header}<message from='a@x' to='b@y'/>`, 'whole', { contentNamespace: 'jabber:server' });
    expect(frames[1]).toMatchObject({ kind: 'message', namespace: 'jabber:server' });
  });

  it('emits whitespace keep-alives as soon as they arrive', () => {
    const codec = createPair().toServer;
    codec.push(b(H));
    const frames = codec.push(b(' '));
    expect(frames.map((f) => [f.type, f.raw.toString()])).toEqual([['whitespace', ' ']]);
    expect(codec.push(b('\n\t')).map((f) => f.raw.toString())).toEqual(['\n\t']);
  });

  it('accepts units of exactly the limits', () => {
    const stanza = `<message to='${'x'.repeat(40)}'><${'a'.repeat(16)}/><body>1234</body></message>`;
    const opts = { maxStanzaBytes: stanza.length, maxAttributeValueBytes: 40, maxNameBytes: 16, maxTextBytes: 4, maxDepth: 2 };
    expect(stanza.length).toBeGreaterThanOrEqual(H.length);
    expect(feedTcp(`${H}${stanza}`, 'bytes', opts).map((f) => f.kind)).toEqual(['stream:stream', 'message']);
  });
});

describe('xmpp stream restarts (TCP)', () => {
  const header = (id: string): string => `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' id='${id}' version='1.0'>`;

  it('accepts a new header after <success/> seen by the other codec of the pair', () => {
    const pair = createPair();
    pair.toServer.push(b(`${H}<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>`));
    pair.toClient.push(b(`${header('1')}<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`));
    const [restart] = pair.toClient.push(b(header('2')));
    expect(restart).toMatchObject({ type: 'open', restart: true, attributes: { id: '2' } });
    expect(pair.toServer.push(b(H))[0]).toMatchObject({ type: 'open', restart: true });
  });

  it('accepts a new header after restart() and refuses one without', () => {
    const codec = new XmppStreamCodec('toClient', DEFAULT_OPTIONS);
    codec.push(b(header('1')));
    codec.restart();
    expect(codec.push(b(header('2')))[0]?.restart).toBe(true);
    const err = caught(() => codec.push(b(H)));
    const at = header('1').length + header('2').length;
    expectError(err, 'UNEXPECTED_STREAM_HEADER', `stream header at byte ${at} while a stream is open and no restart is pending`);
  });

  it('a restarted stream forgets the old declarations', () => {
    const pair = createPair();
    pair.toClient.push(b(`<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' xmlns:old='urn:old'><proceed ${"xmlns='urn:ietf:params:xml:ns:xmpp-tls'"}/>`));
    pair.toClient.push(b(header('2')));
    const err = caught(() => pair.toClient.push(b('<old:x/>')));
    expect(err.code).toBe(ERRORS.UNBOUND_PREFIX.code);
  });

  it('the pair restart() arms both directions', () => {
    const pair = createPair();
    pair.toServer.push(b(H));
    pair.toClient.push(b(header('1')));
    pair.restart();
    expect(pair.toServer.push(b(H))[0]?.restart).toBe(true);
    expect(pair.toClient.push(b(header('2')))[0]?.restart).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// WebSocket framing

/** @xmpp/client against Prosody's mod_websocket, one string per WebSocket message. */
const WS_SESSION = {
  toServer: [
    `<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`,
    '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGFsaWNlAHMzY3IzdA==</auth>',
    `<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`,
    '<iq type="set" id="bind1" xmlns="jabber:client"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>web</resource></bind></iq>',
    '<iq type="set" id="sess1" xmlns="jabber:client"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></iq>',
    '<presence xmlns="jabber:client"/>',
    '<message to="bob@localhost" type="chat" id="m1" xmlns="jabber:client"><body>hello 😀 &amp; bye</body></message>',
    '<presence to="room@conference.localhost/nick" xmlns="jabber:client"><x xmlns="http://jabber.org/protocol/muc"/></presence>',
    '<message to="room@conference.localhost" type="groupchat" xmlns="jabber:client"><body>hi all</body></message>',
    `<close xmlns="${FRAMING}"/>`,
  ],
  toClient: [
    `<open xmlns="${FRAMING}" id="ws-1" from="localhost" version="1.0" xml:lang="en"/>`,
    `<stream:features xmlns:stream="${STREAMS}" xmlns="jabber:client"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    `<open xmlns="${FRAMING}" id="ws-2" from="localhost" version="1.0" xml:lang="en"/>`,
    `<stream:features xmlns:stream="${STREAMS}" xmlns="jabber:client"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session></stream:features>`,
    "<iq type='result' id='bind1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/web</jid></bind></iq>",
    "<iq type='result' id='sess1' xmlns='jabber:client'/>",
    "<presence from='room@conference.localhost/nick' to='alice@localhost/web' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/><status code='110'/></x></presence>",
    "<message from='room@conference.localhost/nick' type='groupchat' xmlns='jabber:client'><body>hi all</body></message>",
    `<error xmlns="${STREAMS}"><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></error>`,
    `<close xmlns="${FRAMING}"/>`,
  ],
};

describe('xmpp WebSocket framing (RFC 7395)', () => {
  it('validates an @xmpp/client session message by message', () => {
    const pair = createPair({ framing: 'websocket' });
    const server = pair.toServer as XmppWebSocketCodec;
    const kinds = WS_SESSION.toServer.map((m) => server.validateMessage(b(m)));
    expect(kinds.map((f) => `${f.type}:${f.kind}:${f.namespace}`)).toEqual([
      `open:open:${FRAMING}`, 'element:auth:urn:ietf:params:xml:ns:xmpp-sasl', `open:open:${FRAMING}`, 'element:iq:jabber:client',
      'element:iq:jabber:client', 'element:presence:jabber:client', 'element:message:jabber:client', 'element:presence:jabber:client',
      'element:message:jabber:client', `close:close:${FRAMING}`,
    ]);
    expect(kinds.map((f) => f.restart)).toEqual([false, false, true, false, false, false, false, false, false, false]);
    expect(kinds[7]?.attributes).toEqual({ to: 'room@conference.localhost/nick', xmlns: 'jabber:client' });
    expect(server.closed).toBe(true);
    expect(server.buffered).toBe(0);
  });

  it('validates the server side, restarting after <success/>', () => {
    const codec = createPair({ framing: 'websocket' }).toClient;
    const frames = WS_SESSION.toClient.flatMap((m) => codec.push(b(m)));
    expect(frames.map((f) => f.kind)).toEqual(['open', 'features', 'success', 'open', 'features', 'iq', 'iq', 'presence', 'message', 'error', 'close']);
    expect(frames[1]).toMatchObject({ name: 'stream:features', namespace: STREAMS });
    expect(frames[3]?.restart).toBe(true);
    expect(frames[9]).toMatchObject({ name: 'error', namespace: STREAMS });
  });

  it('raw is the element itself, a view of the message, without surrounding whitespace; a declaration is tolerated', () => {
    const codec = createPair({ framing: 'websocket' }).toServer;
    const msg = b(`<?xml version='1.0'?>\n${WS_SESSION.toServer[0]}\n`);
    const [frame] = codec.push(msg);
    expect(frame?.raw.toString()).toBe(`<?xml version='1.0'?>\n${WS_SESSION.toServer[0]}`);
    expect(frame?.raw.buffer).toBe(msg.buffer);
  });

  it('treats a stanza without xmlns as jabber:client (no stream header carries it over WebSocket)', () => {
    const codec = createPair({ framing: 'websocket' }).toServer;
    codec.push(b(WS_SESSION.toServer[0] as string));
    expect(codec.push(b('<message to="bob@localhost"><body>x</body></message>'))[0]?.namespace).toBe('jabber:client');
  });

  it('a prefix used over WebSocket must be declared in the message itself', () => {
    const codec = createPair({ framing: 'websocket' }).toClient;
    codec.push(b(WS_SESSION.toClient[0] as string));
    expectError(caught(() => codec.push(b('<stream:features/>'))), 'UNBOUND_PREFIX', 'element prefix "stream" not declared at byte 1');
  });

  it('accepts <close/> and stream errors before <open/> (a server refusing the connection)', () => {
    const codec = createPair({ framing: 'websocket' }).toClient;
    expect(codec.push(b(`<error xmlns="${STREAMS}"><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></error>`))[0]?.kind).toBe('error');
    expect(codec.push(b(`<close xmlns="${FRAMING}" see-other-uri="wss://other.example/ws"/>`))[0]).toMatchObject({ type: 'close', attributes: { 'see-other-uri': 'wss://other.example/ws' } });
  });
});

// ---------------------------------------------------------------------------------------------
// Limits at their defaults, memory bounds, dead codecs

describe('xmpp limits at their defaults', () => {
  it('DEFAULT_LIMITS are the documented values and protocol.defaultLimits carries them', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxStanzaBytes: 262144, maxDepth: 32, maxAttributes: 64, maxAttributeValueBytes: 8192, maxNameBytes: 256, maxTextBytes: 131072 });
    expect(protocol.defaultLimits).toEqual({ ...DEFAULT_LIMITS, framing: 'tcp', contentNamespace: 'jabber:client' });
    expect(protocol.name).toBe('xmpp');
  });

  it('a 100 MB attribute fails after maxAttributeValueBytes, long before it is all sent', () => {
    const codec = createPair().toServer;
    codec.push(b(`${H}<message to='`));
    const block = Buffer.alloc(4096, 0x61);
    let sent = 0;
    const err = caught(() => {
      for (; sent < 100 * 1024 * 1024; sent += block.length) {
        codec.push(block);
        expect(codec.buffered).toBeLessThanOrEqual(DEFAULT_LIMITS.maxStanzaBytes);
      }
    });
    expect(err.code).toBe(ERRORS.ATTRIBUTE_TOO_LONG.code);
    expect(sent).toBeLessThanOrEqual(DEFAULT_LIMITS.maxAttributeValueBytes);
    expect(codec.buffered).toBe(0);
  });

  it('a stanza growing without end fails at maxStanzaBytes with bounded buffering', () => {
    const codec = createPair().toServer;
    codec.push(b(`${H}<message>`));
    const block = b('<body>0123456789abcdef0123456789abcdef0123456789abcdef0123456789</body>');
    const err = caught(() => {
      for (let i = 0; i < 100000; i++) {
        codec.push(block);
        expect(codec.buffered).toBeLessThanOrEqual(DEFAULT_LIMITS.maxStanzaBytes);
      }
    });
    expect(err.code).toBe(ERRORS.STANZA_TOO_LARGE.code);
    expect(err.closeCode).toBe(1009);
  });

  it('a nesting bomb fails at depth 33', () => {
    const err = caught(() => createPair().toServer.push(b(`${H}<message>${'<a>'.repeat(100000)}`)));
    expectError(err, 'DEPTH_EXCEEDED', `element at byte ${h + 9 + 31 * 3} nested deeper than maxDepth (32)`);
  });

  it('a billion-laughs document fails at its DOCTYPE', () => {
    const lol = `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('')}]>${H}<message><body>&lol9;</body></message>`;
    expectError(caught(() => createPair().toServer.push(b(lol))), 'DTD', 'markup declaration (DOCTYPE, ENTITY, ...) at byte 21: DTDs are not allowed in XMPP (RFC 6120 §11.1)');
  });

  it('a dead codec throws the same error again and holds nothing', () => {
    const codec = createPair().toServer;
    const first = caught(() => codec.push(b(`${H}<message><!-- x`)));
    expect(caught(() => codec.push(b('<message/>')))).toBe(first);
    expect(codec.buffered).toBe(0);
    const ws = createPair({ framing: 'websocket' }).toServer as XmppWebSocketCodec;
    const wsErr = caught(() => ws.validateMessage(b('<message/>')));
    expect(caught(() => ws.validateMessage(b(WS_SESSION.toServer[0] as string)))).toBe(wsErr);
  });

  it('refuses bad options when the pair is created', () => {
    expect(() => createPair({ maxDepth: 0 })).toThrow(new RangeError('xmpp limit maxDepth: expected a positive integer, got 0'));
    expect(() => createPair({ maxStanzaBytes: 1.5 })).toThrow(RangeError);
    expect(() => createPair({ framing: 'udp' as 'tcp' })).toThrow(TypeError);
    expect(() => createPair({ contentNamespace: 'jabber:component:accept' as 'jabber:client' })).toThrow(TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Replies and documentation

describe('xmpp replies', () => {
  it('answers a WebSocket codec error with <error/> then <close/> (RFC 7395)', () => {
    const err = wsError(WS_ERRORS.find((c) => c.error === 'STARTTLS_OVER_WEBSOCKET') as WsCase);
    expect(protocol.reply(err)?.toString()).toBe(
      `<error xmlns="${STREAMS}"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">&lt;starttls&gt; at byte 0: STARTTLS is not allowed over WebSocket (RFC 7395 §3.5)</text></error>` +
        `<close xmlns="${FRAMING}"/>`,
    );
  });

  it('answers a TCP codec error with <stream:error/> and </stream:stream>', () => {
    const err = tcpError(TCP_ERRORS.find((c) => c.error === 'COMMENT') as TcpCase, 'whole');
    expect(reply(err).toString()).toBe(
      '<stream:error><restricted-xml xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>' +
        '<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">comment at byte 99: comments are not allowed in XMPP (RFC 6120 §11.1)</text></stream:error></stream:stream>',
    );
  });

  it('defaults to the RFC 7395 form for a WireError from elsewhere, and escapes the text', () => {
    const err = new WireError('xmpp', 'toServer', ERRORS.NOT_WELL_FORMED, `a<b & "c" 'd'`);
    expect(protocol.reply(err)?.toString()).toBe(
      `<error xmlns="${STREAMS}"><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">a&lt;b &amp; &quot;c&quot; &apos;d&apos;</text></error><close xmlns="${FRAMING}"/>`,
    );
  });

  it('streamErrorMessages splits the WebSocket form into two messages; unknown conditions become undefined-condition', () => {
    expect(streamErrorMessages('conflict', '', 'websocket').map(String)).toEqual([
      `<error xmlns="${STREAMS}"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></error>`,
      `<close xmlns="${FRAMING}"/>`,
    ]);
    expect(streamError('no-such<thing>', '', 'tcp').toString()).toBe(
      '<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>',
    );
  });

  it('every reply of every catalogued condition is itself a valid message for the WebSocket codec', () => {
    for (const spec of Object.values(ERRORS)) {
      const codec = createPair({ framing: 'websocket' }).toClient;
      codec.push(b(WS_SESSION.toClient[0] as string));
      const [error, close] = streamErrorMessages(spec.condition, spec.summary);
      expect(codec.push(error as Buffer)[0]?.kind).toBe('error');
      expect(codec.push(close as Buffer)[0]?.kind).toBe('close');
    }
  });
});

describe('xmpp documentation', () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'validators', 'xmpp', 'README.md'), 'utf8');

  it.each(Object.values(ERRORS).map((e) => [e.code, e] as const))('README documents %s with its close code and condition', (code, spec) => {
    const row = readme.split('\n').find((line) => line.includes(`\`${code}\``));
    expect(row).toBeDefined();
    expect(row).toContain(String(spec.close));
    expect(row).toContain(spec.condition);
  });

  it.each(Object.entries(DEFAULT_LIMITS))('README documents limit %s with its default', (name, value) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row).toContain(` ${String(value)} `);
  });
});
