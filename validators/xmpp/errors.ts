/**
 * The XMPP error catalogue. Every code is stable and documented in `validators/xmpp/README.md`;
 * `condition` is the RFC 6120 §4.9.3 stream error condition sent back to the peer.
 *
 * Close codes: 1002 malformed (not well-formed, bad format, namespaces, stream state),
 * 1007 invalid UTF-8 or encoding, 1008 policy (restricted XML, STARTTLS over WebSocket),
 * 1009 a limit was exceeded.
 */
import { WireError, type Direction, type ErrorSpec } from '../types';
import type { XmppFraming } from './limits';

export const ERRORS = {
  NOT_WELL_FORMED: {
    code: 'GW_ERR_XMPP_NOT_WELL_FORMED',
    summary: 'The bytes are not well-formed XML (bad markup, unquoted attribute, stray "]]>", malformed reference).',
    close: 1002,
    condition: 'not-well-formed',
  },
  MISMATCHED_TAG: {
    code: 'GW_ERR_XMPP_MISMATCHED_TAG',
    summary: 'An end tag does not match the open element, or closes nothing.',
    close: 1002,
    condition: 'not-well-formed',
  },
  DUPLICATE_ATTRIBUTE: {
    code: 'GW_ERR_XMPP_DUPLICATE_ATTRIBUTE',
    summary: 'An element carries the same attribute twice (by name or by expanded name).',
    close: 1002,
    condition: 'not-well-formed',
  },
  INVALID_NAME: {
    code: 'GW_ERR_XMPP_INVALID_NAME',
    summary: 'An element or attribute name is not a valid XML QName.',
    close: 1002,
    condition: 'not-well-formed',
  },
  INVALID_CHAR: {
    code: 'GW_ERR_XMPP_INVALID_CHAR',
    summary: 'A character that XML 1.0 forbids (control characters, U+FFFE, U+FFFF).',
    close: 1002,
    condition: 'not-well-formed',
  },
  BAD_CHAR_REF: {
    code: 'GW_ERR_XMPP_BAD_CHAR_REF',
    summary: 'A numeric character reference to a character XML 1.0 forbids, or a malformed one.',
    close: 1002,
    condition: 'not-well-formed',
  },
  UNBOUND_PREFIX: {
    code: 'GW_ERR_XMPP_UNBOUND_PREFIX',
    summary: 'A namespace prefix is used without a declaration in scope, or a declaration is illegal.',
    close: 1002,
    condition: 'not-well-formed',
  },
  BAD_XML_DECLARATION: {
    code: 'GW_ERR_XMPP_BAD_XML_DECLARATION',
    summary: 'The XML declaration is malformed or names an XML version other than 1.0.',
    close: 1002,
    condition: 'not-well-formed',
  },
  INVALID_UTF8: {
    code: 'GW_ERR_XMPP_INVALID_UTF8',
    summary: 'A top-level element is not valid UTF-8.',
    close: 1007,
    condition: 'unsupported-encoding',
  },
  UNSUPPORTED_ENCODING: {
    code: 'GW_ERR_XMPP_UNSUPPORTED_ENCODING',
    summary: 'The XML declaration names an encoding other than UTF-8.',
    close: 1007,
    condition: 'unsupported-encoding',
  },
  COMMENT: {
    code: 'GW_ERR_XMPP_COMMENT',
    summary: 'An XML comment; restricted XML forbids comments (RFC 6120 §11.1).',
    close: 1008,
    condition: 'restricted-xml',
  },
  PROCESSING_INSTRUCTION: {
    code: 'GW_ERR_XMPP_PROCESSING_INSTRUCTION',
    summary: 'A processing instruction, or an XML declaration anywhere but the start of a stream or message.',
    close: 1008,
    condition: 'restricted-xml',
  },
  DTD: {
    code: 'GW_ERR_XMPP_DTD',
    summary: 'A DOCTYPE or other markup declaration (<!ENTITY, <!ELEMENT, ...); restricted XML forbids DTDs.',
    close: 1008,
    condition: 'restricted-xml',
  },
  ENTITY_REFERENCE: {
    code: 'GW_ERR_XMPP_ENTITY_REFERENCE',
    summary: 'A reference to an entity other than the five predefined ones (&lt; &gt; &amp; &quot; &apos;).',
    close: 1008,
    condition: 'restricted-xml',
  },
  STRAY_TEXT: {
    code: 'GW_ERR_XMPP_STRAY_TEXT',
    summary: 'Character data other than whitespace outside a first-level element (before the header or between stanzas).',
    close: 1002,
    condition: 'bad-format',
  },
  INVALID_NAMESPACE: {
    code: 'GW_ERR_XMPP_INVALID_NAMESPACE',
    summary: 'Wrong stream or framing namespace, unsupported content namespace, or a first-level element without a namespace.',
    close: 1002,
    condition: 'invalid-namespace',
  },
  UNSUPPORTED_STANZA_TYPE: {
    code: 'GW_ERR_XMPP_UNSUPPORTED_STANZA_TYPE',
    summary: 'A first-level element in the content, stream or framing namespace that is not allowed there.',
    close: 1002,
    condition: 'unsupported-stanza-type',
  },
  UNSUPPORTED_VERSION: {
    code: 'GW_ERR_XMPP_UNSUPPORTED_VERSION',
    summary: 'The stream header or <open/> announces a version whose major number is not 1.',
    close: 1002,
    condition: 'unsupported-version',
  },
  BAD_STREAM_HEADER: {
    code: 'GW_ERR_XMPP_BAD_STREAM_HEADER',
    summary: 'A malformed stream header: self-closing <stream:stream/>, content inside <open/> or <close/>, or an XML declaration not followed by a header.',
    close: 1002,
    condition: 'bad-format',
  },
  STREAM_NOT_OPEN: {
    code: 'GW_ERR_XMPP_STREAM_NOT_OPEN',
    summary: 'An element before the stream header (TCP) or before <open/> (WebSocket).',
    close: 1002,
    condition: 'bad-format',
  },
  UNEXPECTED_STREAM_HEADER: {
    code: 'GW_ERR_XMPP_UNEXPECTED_STREAM_HEADER',
    summary: 'A new stream header or <open/> while a stream is open and no restart is pending.',
    close: 1002,
    condition: 'bad-format',
  },
  STREAM_CLOSED: {
    code: 'GW_ERR_XMPP_STREAM_CLOSED',
    summary: 'Data after </stream:stream> or <close/>.',
    close: 1002,
    condition: 'bad-format',
  },
  WEBSOCKET_FRAMING: {
    code: 'GW_ERR_XMPP_WEBSOCKET_FRAMING',
    summary: 'A WebSocket message that does not hold exactly one complete element (none, several, trailing data, cut short).',
    close: 1002,
    condition: 'bad-format',
  },
  STARTTLS_OVER_WEBSOCKET: {
    code: 'GW_ERR_XMPP_STARTTLS_OVER_WEBSOCKET',
    summary: 'A STARTTLS element over WebSocket; RFC 7395 §3.5 forbids it (TLS belongs to the WebSocket layer).',
    close: 1008,
    condition: 'policy-violation',
  },
  STANZA_TOO_LARGE: {
    code: 'GW_ERR_XMPP_STANZA_TOO_LARGE',
    summary: 'A top-level element (or WebSocket message) larger than maxStanzaBytes.',
    close: 1009,
    condition: 'policy-violation',
  },
  DEPTH_EXCEEDED: {
    code: 'GW_ERR_XMPP_DEPTH_EXCEEDED',
    summary: 'Elements nested deeper than maxDepth.',
    close: 1009,
    condition: 'policy-violation',
  },
  TOO_MANY_ATTRIBUTES: {
    code: 'GW_ERR_XMPP_TOO_MANY_ATTRIBUTES',
    summary: 'An element with more than maxAttributes attributes.',
    close: 1009,
    condition: 'policy-violation',
  },
  ATTRIBUTE_TOO_LONG: {
    code: 'GW_ERR_XMPP_ATTRIBUTE_TOO_LONG',
    summary: 'An attribute value longer than maxAttributeValueBytes.',
    close: 1009,
    condition: 'policy-violation',
  },
  NAME_TOO_LONG: {
    code: 'GW_ERR_XMPP_NAME_TOO_LONG',
    summary: 'An element, attribute, processing-instruction or entity name longer than maxNameBytes.',
    close: 1009,
    condition: 'policy-violation',
  },
  TEXT_TOO_LONG: {
    code: 'GW_ERR_XMPP_TEXT_TOO_LONG',
    summary: 'A run of character data (or a CDATA section) longer than maxTextBytes.',
    close: 1009,
    condition: 'policy-violation',
  },
} as const satisfies Record<string, ErrorSpec>;

/** Key of an entry in {@link ERRORS}. */
export type XmppErrorName = keyof typeof ERRORS;

/**
 * A {@link WireError} raised by an XMPP codec. It remembers the framing of the codec that raised
 * it, so `protocol.reply(err)` answers with the matching stream error form.
 */
export class XmppWireError extends WireError {
  readonly framing: XmppFraming;

  constructor(direction: Direction, spec: ErrorSpec, message: string, framing: XmppFraming, options?: { cause?: unknown }) {
    super('xmpp', direction, spec, message, options);
    this.framing = framing;
  }
}
