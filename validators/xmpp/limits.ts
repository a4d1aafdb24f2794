/**
 * Limits and options of the XMPP validator. Every default lives here, in one place, and is listed
 * in `validators/xmpp/README.md`.
 */

/** Namespace of the RFC 6120 stream element (`<stream:stream>`, `<stream:features>`, `<stream:error>`). */
export const NS_STREAMS = 'http://etherx.jabber.org/streams';
/** Namespace of the RFC 7395 framing elements `<open/>` and `<close/>`. */
export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
/** Namespace of stream error conditions (RFC 6120 §4.9.3). */
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
/** SASL negotiation namespace (RFC 6120 §6). */
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
/** STARTTLS negotiation namespace (RFC 6120 §5). */
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
/** Content namespace of client-to-server streams. */
export const NS_CLIENT = 'jabber:client';
/** Content namespace of server-to-server streams. */
export const NS_SERVER = 'jabber:server';
/** The namespace the `xml` prefix is bound to by definition. */
export const NS_XML = 'http://www.w3.org/XML/1998/namespace';
/** The namespace of namespace declarations themselves; never declarable. */
export const NS_XMLNS = 'http://www.w3.org/2000/xmlns/';

/** Every limit the XMPP codecs enforce while streaming. */
export interface XmppLimits {
  /**
   * Largest top-level unit in bytes: a stanza or nonza, a stream header (with its XML
   * declaration), or, over WebSocket, a whole message. Checked byte by byte while streaming, so a
   * larger unit fails before it is buffered.
   * @default 262144 (256 KiB)
   */
  readonly maxStanzaBytes: number;
  /**
   * Deepest element nesting inside a top-level element; the stanza itself is depth 1, the
   * `<stream:stream>` element is not counted.
   * @default 32
   */
  readonly maxDepth: number;
  /**
   * Most attributes on one element, namespace declarations included.
   * @default 64
   */
  readonly maxAttributes: number;
  /**
   * Longest attribute value in bytes, as written on the wire (before entity decoding).
   * @default 8192
   */
  readonly maxAttributeValueBytes: number;
  /**
   * Longest element, attribute, processing-instruction or entity name in bytes (prefix included).
   * @default 256
   */
  readonly maxNameBytes: number;
  /**
   * Longest run of character data between two tags (or one CDATA section) in bytes.
   * @default 131072 (128 KiB)
   */
  readonly maxTextBytes: number;
}

/** All limit defaults of the XMPP validator. */
export const DEFAULT_LIMITS: Readonly<XmppLimits> = Object.freeze({
  maxStanzaBytes: 256 * 1024,
  maxDepth: 32,
  maxAttributes: 64,
  maxAttributeValueBytes: 8192,
  maxNameBytes: 256,
  maxTextBytes: 128 * 1024,
});

/** How XMPP is framed on the wire the codec reads. */
export type XmppFraming = 'websocket' | 'tcp';

/** Content namespaces a stream may declare. */
export type XmppContentNamespace = typeof NS_CLIENT | typeof NS_SERVER;

/** Everything `createPair` accepts: the limits plus the framing and content namespace. */
export interface XmppOptions extends XmppLimits {
  /**
   * `'websocket'`: RFC 7395, one complete element per WebSocket message, each `push` is one
   * message. `'tcp'`: RFC 6120 XML stream, bytes split anywhere.
   * @default 'tcp'
   */
  readonly framing: XmppFraming;
  /**
   * The content namespace stanzas must use; a c2s proxy accepts `jabber:client` only.
   * @default 'jabber:client'
   */
  readonly contentNamespace: XmppContentNamespace;
}

/** Defaults of {@link XmppOptions}: {@link DEFAULT_LIMITS}, TCP framing, `jabber:client`. */
export const DEFAULT_OPTIONS: Readonly<XmppOptions> = Object.freeze({
  ...DEFAULT_LIMITS,
  framing: 'tcp',
  contentNamespace: NS_CLIENT,
});

const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof XmppLimits)[];

/**
 * Merges `overrides` over {@link DEFAULT_OPTIONS} and checks every value; throws `RangeError` or
 * `TypeError` on a bad option (a configuration error, raised when the pair is created).
 */
export function resolveOptions(overrides: Partial<XmppOptions> = {}): Readonly<XmppOptions> {
  const merged: XmppOptions = { ...DEFAULT_OPTIONS, ...overrides };
  for (const key of LIMIT_KEYS) {
    const value = merged[key];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`xmpp limit ${key}: expected a positive integer, got ${String(value)}`);
    }
  }
  if (merged.framing !== 'websocket' && merged.framing !== 'tcp') {
    throw new TypeError(`xmpp option framing: expected 'websocket' or 'tcp', got ${String(merged.framing)}`);
  }
  if (merged.contentNamespace !== NS_CLIENT && merged.contentNamespace !== NS_SERVER) {
    throw new TypeError(`xmpp option contentNamespace: expected '${NS_CLIENT}' or '${NS_SERVER}', got ${String(merged.contentNamespace)}`);
  }
  return Object.freeze(merged);
}
