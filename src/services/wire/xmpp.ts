/**
 * `xmpp.proxy`: XMPP over WebSocket (RFC 7395) in front, an XMPP client-to-server XML stream
 * (RFC 6120) over TCP or TLS behind, validated both ways by validators/xmpp.
 *
 * Client → server (RFC 7395 §3.3–3.6 → RFC 6120 §4):
 * - `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" …/>` → `<?xml version='1.0'?>` plus a
 *   `<stream:stream>` header in `jabber:client`, with `to`, `from`, `version` and `xml:lang`
 *   copied (escaped); a restart after SASL `<success/>` is a new header the same way;
 * - `<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>` → `</stream:stream>`;
 * - stanzas and nonzas → their bytes as validated (an XML declaration the message began with is
 *   left out); an explicit `xmlns="jabber:client"` is legal inside the TCP stream;
 * - with `inject`, SASL `<auth/>` → Gangway's own login with the stored credential, whose SCRAM
 *   challenges Gangway answers itself (src/services/inject/xmpp-sasl.ts).
 *
 * Server → client (RFC 6120 §4 → RFC 7395 §3.3–3.6):
 * - the stream header → `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>` with `from`, `to`,
 *   `id`, `version` and `xml:lang`; `</stream:stream>` → `<close/>`;
 * - `<stream:features>` → `<features xmlns="http://etherx.jabber.org/streams">` without the
 *   `<starttls/>` feature (TLS toward the client belongs to the WebSocket layer, RFC 7395 §3.5;
 *   the link to the server stays as `connect` says);
 * - `<stream:error>` → `<error xmlns="http://etherx.jabber.org/streams">`;
 * - every other first-level element leaves with the namespaces it inherited from the stream
 *   header declared on itself (RFC 7395 §3.3.3: `xmlns="jabber:client"` on stanzas), inserted
 *   into the validated bytes right after the element's name;
 * - whitespace keep-alives are dropped: an RFC 7395 message holds exactly one element, and
 *   liveness over WebSocket is WebSocket ping/pong or XEP-0199.
 */
import { z } from 'zod';
import {
  DEFAULT_LIMITS, NS_CLIENT, NS_FRAMING, NS_SASL, NS_STREAMS, NS_TLS, XmppStreamCodec, XmppWebSocketCodec, XmppWireError, ERRORS,
  escapeXml, resolveOptions, streamErrorMessages, type RestartLink, type XmppFrame, type XmppLimits,
} from '../../../validators/xmpp';
import { WireError } from '../../../validators/types';
import { INJECT_ERRORS, InjectionError, type Injector } from '../inject/injector';
import { XMPP_SASL_MECHANISMS, XmppSaslLogin, type SaslVerdict, type XmppSaslMechanism } from '../inject/xmpp-sasl';
import type { BackendLink, Transform } from '../pipe';
import { injectorFor, limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the XMPP validator's limits (validators/xmpp/README.md), applied both ways. */
  limits: limitsSchema(DEFAULT_LIMITS).default({}),
  /**
   * Negotiate STARTTLS (RFC 6120 §5) with the server on the client's behalf before the client sees
   * the stream: the session is refused when the server does not offer it. Ignored on `tls://`.
   * @default false
   */
  starttls: z.boolean().default(false),
  /**
   * With `inject`: the SASL mechanisms Gangway may log in to the server with. It uses the strongest
   * the server offers, in the order SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, whatever order is listed.
   * @default ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']
   */
  saslMechanisms: z.array(z.enum(XMPP_SASL_MECHANISMS)).min(1).optional(),
}).superRefine((value, ctx) => {
  if (value.saslMechanisms !== undefined && value.inject === undefined) {
    ctx.addIssue({ code: 'custom', path: ['saslMechanisms'], message: 'only with inject (Gangway logs in to the server only when it injects the credential)' });
  }
});

type XmppProxyProperties = z.infer<typeof properties>;

/**
 * Stream error condition the client gets when the server's stream is refused (RFC 6120 §4.9.3.14:
 * the server in front could not keep its link to the entity behind it).
 */
export const BACKEND_STREAM_CONDITION = 'remote-connection-failed';

/**
 * Stream error condition the client gets when Gangway ends the session itself (its authorization
 * expired, it reached its lifetime): RFC 6120 §4.9.3.15, a local service policy was violated, with
 * the reason as `<text/>`. (`<not-authorized/>`, §4.9.3.12, is about stream negotiation.)
 */
export const END_STREAM_CONDITION = 'policy-violation';

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const EQ = 0x3d;

const CLOSE_TO_CLIENT = Buffer.from(`<close xmlns="${NS_FRAMING}"/>`);
const CLOSE_TO_SERVER = Buffer.from('</stream:stream>');
const HEADER_COPIED_TO_SERVER = ['to', 'from', 'version', 'xml:lang'] as const;
const HEADER_COPIED_TO_CLIENT = ['from', 'to', 'id', 'version', 'xml:lang'] as const;

/** Counts validated frames (a service's metrics, or a test's tally). */
export interface FrameCounter {
  frame(direction: 'toServer' | 'toClient', kind: string): void;
}

/** The namespace declarations of the server's current stream header, in scope for every element. */
interface StreamScope {
  readonly defaultNs: string | undefined;
  readonly prefixes: ReadonlyMap<string, string>;
}

const NO_SCOPE: StreamScope = { defaultNs: undefined, prefixes: new Map() };

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** Decodes the references in an attribute value as written (namespace names on child elements). */
function decodeRef(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_m, body: string) => {
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[body] ?? '';
  });
}

/** A start tag inside bytes the validator already accepted. */
interface StartTag {
  readonly name: string;
  /** Index just after the element's name. */
  readonly nameEnd: number;
  /** Index just after `>`. */
  readonly end: number;
  readonly empty: boolean;
  /** Attributes by qualified name, values as written (entity references kept). */
  readonly attributes: ReadonlyMap<string, string>;
}

/**
 * Reads the start tag at `start` (`buf[start]` is `<`) of validated XML: names end at whitespace,
 * `/` or `>`; values are quoted and hold no `<`; every tag ends before `limit`.
 */
function readStartTag(buf: Buffer, start: number, limit: number): StartTag {
  let i = start + 1;
  while (i < limit && !isSpace(buf[i]) && buf[i] !== GT && buf[i] !== SLASH) i++;
  const nameEnd = i;
  const attributes = new Map<string, string>();
  let empty = false;
  while (i < limit) {
    const b = buf[i];
    if (isSpace(b)) {
      i++;
    } else if (b === SLASH) {
      empty = true;
      i += 2;
      break;
    } else if (b === GT) {
      i++;
      break;
    } else {
      const attrStart = i;
      while (i < limit && buf[i] !== EQ && !isSpace(buf[i])) i++;
      const attrName = buf.toString('utf8', attrStart, i);
      while (i < limit && buf[i] !== EQ) i++;
      i++;
      while (i < limit && isSpace(buf[i])) i++;
      const quote = buf[i] as number;
      const close = buf.indexOf(quote, i + 1);
      const valueEnd = close < 0 || close > limit ? limit : close;
      attributes.set(attrName, buf.toString('utf8', i + 1, valueEnd));
      i = valueEnd + 1;
    }
  }
  return { name: buf.toString('utf8', start + 1, nameEnd), nameEnd, end: i, empty, attributes };
}

/**
 * Calls `visit` for every start tag in `buf[start, end)` with its depth (0 = first level there),
 * and `visitEnd` for every end tag with the depth after it (-1: it closes an element opened before
 * `start`).
 */
function walkTags(
  buf: Buffer,
  start: number,
  end: number,
  visit: (tag: StartTag, at: number, depth: number) => void,
  visitEnd?: (at: number, depth: number) => void,
): void {
  let i = start;
  let depth = 0;
  while (i < end) {
    const lt = buf.indexOf(LT, i);
    if (lt < 0 || lt >= end) return;
    const next = buf[lt + 1];
    if (next === BANG) {
      // Restricted XML leaves only CDATA sections here; '<' inside them is character data.
      const close = buf.indexOf(']]>', lt);
      i = close < 0 ? end : close + 3;
    } else if (next === SLASH) {
      depth--;
      visitEnd?.(lt, depth);
      const gt = buf.indexOf(GT, lt);
      i = gt < 0 ? end : gt + 1;
    } else {
      const tag = readStartTag(buf, lt, end);
      visit(tag, lt, depth);
      if (!tag.empty) depth++;
      i = tag.end;
    }
  }
}

/** Whether any element or attribute name in `buf[start, end)` uses `prefix`. */
function usesPrefix(buf: Buffer, start: number, end: number, prefix: string): boolean {
  const marker = `${prefix}:`;
  if (buf.indexOf(marker, start) < 0) return false;
  let found = false;
  walkTags(buf, start, end, (tag) => {
    if (found) return;
    if (tag.name.startsWith(marker)) found = true;
    else for (const name of tag.attributes.keys()) if (name.startsWith(marker)) found = true;
  });
  return found;
}

/** One edit of validated bytes: replace `[from, to)` with `insert`. */
interface Edit {
  readonly from: number;
  readonly to: number;
  readonly insert: string;
}

function applyEdits(raw: Buffer, edits: readonly Edit[]): Buffer {
  if (edits.length === 0) return raw;
  const parts: Buffer[] = [];
  let at = 0;
  for (const e of [...edits].sort((a, b) => a.from - b.from)) {
    if (e.from > at) parts.push(raw.subarray(at, e.from));
    if (e.insert !== '') parts.push(Buffer.from(e.insert, 'utf8'));
    at = Math.max(at, e.to);
  }
  if (at < raw.length) parts.push(raw.subarray(at));
  return Buffer.concat(parts);
}

/** Declarations of header prefixes used in `buf[start, end)` and not declared on the element itself. */
function prefixDeclarations(scope: StreamScope, declared: (name: string) => boolean, buf: Buffer, start: number, end: number): string {
  let out = '';
  for (const [prefix, uri] of scope.prefixes) {
    if (declared(`xmlns:${prefix}`)) continue;
    if (usesPrefix(buf, start, end, prefix)) out += ` xmlns:${prefix}="${escapeXml(uri)}"`;
  }
  return out;
}

/**
 * A first-level element other than `<stream:features>` and `<stream:error>`: the default
 * namespace (and any header prefix it uses) declared on the element, inserted after its name
 * (RFC 7395 §3.3.3). The rest of the bytes are exactly as validated.
 */
export function qualifyElement(frame: XmppFrame, scope: StreamScope): Buffer {
  const raw = frame.raw;
  const nameEnd = 1 + Buffer.byteLength(frame.name);
  const declared = (name: string): boolean => frame.attributes[name] !== undefined;
  let insert = '';
  if (!declared('xmlns') && scope.defaultNs !== undefined) insert += ` xmlns="${escapeXml(scope.defaultNs)}"`;
  insert += prefixDeclarations(scope, declared, raw, 0, raw.length);
  return applyEdits(raw, [{ from: nameEnd, to: nameEnd, insert }]);
}

/**
 * `<stream:features>` or `<stream:error>` as an RFC 7395 message: the element renamed to its
 * local name in the stream namespace (`<features xmlns="http://etherx.jabber.org/streams">`), its
 * direct children keeping the default namespace they had, and — for features — the `<starttls/>`
 * feature removed.
 */
export function translateStreamElement(frame: XmppFrame, scope: StreamScope, dropStarttls: boolean): Buffer {
  const raw = frame.raw;
  const top = readStartTag(raw, 0, raw.length);
  let open = `<${frame.localName} xmlns="${NS_STREAMS}"`;
  for (const [name, value] of Object.entries(frame.attributes)) {
    if (name !== 'xmlns') open += ` ${name}="${escapeXml(value)}"`;
  }
  if (top.empty) return Buffer.from(`${open}/>`, 'utf8');

  const bodyEnd = raw.lastIndexOf('</');
  const childDefault = frame.attributes['xmlns'] ?? scope.defaultNs;
  const prefixUri = (prefix: string, tag: StartTag): string | undefined => {
    const own = tag.attributes.get(`xmlns:${prefix}`);
    if (own !== undefined) return decodeRef(own);
    return frame.attributes[`xmlns:${prefix}`] ?? scope.prefixes.get(prefix);
  };
  const edits: Edit[] = [{ from: 0, to: top.end, insert: '' }, { from: bodyEnd, to: raw.length, insert: `</${frame.localName}>` }];
  walkTags(raw, top.end, bodyEnd, (tag, at, depth) => {
    if (depth !== 0) return;
    const colon = tag.name.indexOf(':');
    const local = colon < 0 ? tag.name : tag.name.slice(colon + 1);
    const ownDefault = tag.attributes.get('xmlns');
    const ns = colon < 0 ? (ownDefault === undefined ? childDefault : decodeRef(ownDefault)) : prefixUri(tag.name.slice(0, colon), tag);
    if (dropStarttls && local === 'starttls' && ns === NS_TLS) {
      // Whitespace around the removed feature stays: it is character data of <features>.
      edits.push({ from: at, to: elementEnd(raw, tag, bodyEnd), insert: '' });
      return;
    }
    if (ownDefault === undefined && childDefault !== undefined && childDefault !== NS_STREAMS) {
      edits.push({ from: tag.nameEnd, to: tag.nameEnd, insert: ` xmlns="${escapeXml(childDefault)}"` });
    }
  });
  const declared = (name: string): boolean => frame.attributes[name] !== undefined;
  open += prefixDeclarations(scope, declared, raw, top.end, bodyEnd);
  edits[0] = { from: 0, to: top.end, insert: `${open}>` };
  return applyEdits(raw, edits);
}

/** Index just after the element whose start tag is `tag` (its end tag lies before `limit`). */
function elementEnd(raw: Buffer, tag: StartTag, limit: number): number {
  if (tag.empty) return tag.end;
  let end = limit;
  walkTags(raw, tag.end, limit, () => undefined, (at, depth) => {
    if (depth === -1 && end === limit) end = raw.indexOf(GT, at) + 1;
  });
  return end;
}

/** The namespace declarations a stream header makes, from its decoded attributes. */
function scopeOf(frame: XmppFrame): StreamScope {
  const prefixes = new Map<string, string>();
  let defaultNs: string | undefined;
  for (const [name, value] of Object.entries(frame.attributes)) {
    if (name === 'xmlns') defaultNs = value;
    else if (name.startsWith('xmlns:')) prefixes.set(name.slice(6), value);
  }
  return { defaultNs, prefixes };
}

function attributeList(frame: XmppFrame, names: readonly string[], quote: '"' | "'"): string {
  let out = '';
  for (const name of names) {
    const value = frame.attributes[name];
    if (value !== undefined) out += ` ${name}=${quote}${escapeXml(value)}${quote}`;
  }
  return out;
}

/** `<open/>` → the RFC 6120 stream header, with an XML declaration (as Prosody and xmpp.js send). */
export function streamHeader(open: XmppFrame): Buffer {
  return Buffer.from(
    `<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}'${attributeList(open, HEADER_COPIED_TO_SERVER, "'")}>`,
    'utf8',
  );
}

/** The server's stream header → RFC 7395 `<open/>`. */
export function openElement(header: XmppFrame): Buffer {
  return Buffer.from(`<open xmlns="${NS_FRAMING}"${attributeList(header, HEADER_COPIED_TO_CLIENT, '"')}/>`, 'utf8');
}

/** A validated WebSocket element without the XML declaration the message may have begun with. */
function withoutDeclaration(raw: Buffer): Buffer {
  if (raw[1] !== 0x3f) return raw;
  let i = raw.indexOf('?>') + 2;
  while (isSpace(raw[i])) i++;
  return raw.subarray(i);
}

/** Whether `<stream:features>` offers STARTTLS (a first-level `<starttls/>` in the TLS namespace). */
function offersStarttls(frame: XmppFrame, scope: StreamScope): boolean {
  const raw = frame.raw;
  const top = readStartTag(raw, 0, raw.length);
  if (top.empty) return false;
  const childDefault = frame.attributes['xmlns'] ?? scope.defaultNs;
  let found = false;
  walkTags(raw, top.end, raw.lastIndexOf('</'), (tag, _at, depth) => {
    if (depth !== 0 || found) return;
    const colon = tag.name.indexOf(':');
    const local = colon < 0 ? tag.name : tag.name.slice(colon + 1);
    if (local !== 'starttls') return;
    const own = tag.attributes.get('xmlns');
    const ns = colon < 0 ? (own === undefined ? childDefault : decodeRef(own)) : (tag.attributes.get(`xmlns:${tag.name.slice(0, colon)}`) ?? frame.attributes[`xmlns:${tag.name.slice(0, colon)}`] ?? scope.prefixes.get(tag.name.slice(0, colon)));
    if (ns === NS_TLS) found = true;
  });
  return found;
}

const STARTTLS = Buffer.from(`<starttls xmlns='${NS_TLS}'/>`);

/** What {@link createXmppTransform} does besides translating. */
export interface XmppTransformOptions {
  /** Log in to the server with this session's stored credential in place of the client's SASL `<auth/>`. */
  readonly injector?: Injector | null;
  /** Mechanisms Gangway may log in with (`saslMechanisms`). @default all of {@link XMPP_SASL_MECHANISMS} */
  readonly saslMechanisms?: readonly XmppSaslMechanism[];
  /** Negotiate STARTTLS with the server before the client sees the stream. */
  readonly starttls?: boolean;
}

/** Client messages held while Gangway negotiates STARTTLS (a client has no reason to send any). */
const MAX_HELD_DURING_STARTTLS = 16;

/**
 * The per-session translator of `xmpp.proxy`: an RFC 7395 codec for what the client sends and an
 * RFC 6120 codec for what the server sends, linked so that SASL `<success/>` arms the stream
 * restart in both (validators/xmpp/README.md, "Stream restarts").
 */
export function createXmppTransform(limits: Partial<XmppLimits>, counter: FrameCounter, options: XmppTransformOptions = {}): Transform {
  const injector = options.injector ?? null;
  const link: RestartLink = { codecs: [] };
  const fromClient = new XmppWebSocketCodec('toServer', resolveOptions({ ...limits, framing: 'websocket' }), link);
  const fromServer = new XmppStreamCodec('toClient', resolveOptions({ ...limits, framing: 'tcp' }), link);
  link.codecs.push(fromClient, fromServer);
  /** The stream toward the server: not opened yet, open, or closed by the client. */
  let serverSide: 'none' | 'open' | 'closed' = 'none';
  let scope: StreamScope = NO_SCOPE;
  let backend: BackendLink | null = null;
  /**
   * STARTTLS by Gangway: `off` (not asked, or done), waiting for the server's first features,
   * for `<proceed/>`, or for the TLS handshake. Until `off`, the client sees nothing.
   */
  let tls: 'off' | 'features' | 'proceed' | 'handshake' = 'off';
  /** The client's `<open/>`, repeated as the stream header after the TLS handshake. */
  let clientOpen: XmppFrame | null = null;
  const held: Buffer[] = [];
  /** Whether the client has been sent an `<open/>` (a stream error before it needs none). */
  let clientOpened = false;
  /**
   * The client's stream as the client sees it: none (before its `<open/>`, and after SASL
   * `<success/>` until it restarts), awaiting the server's `<open/>`, open, or closed.
   */
  let clientStream: 'none' | 'awaiting' | 'open' | 'closed' = 'none';

  const refuse = (err: WireError): void => {
    tls = 'off';
    backend?.refuse(err);
  };
  /** Gangway's SASL login toward the server when it injects the credential. */
  const login = injector === null ? null : new XmppSaslLogin(options.saslMechanisms ?? XMPP_SASL_MECHANISMS, { write: (data) => backend?.write(data), refuse });

  /** The server's stream during STARTTLS: answered by Gangway, never shown to the client. */
  const negotiate = (frame: XmppFrame): void => {
    if (frame.type === 'open') {
      scope = scopeOf(frame);
      return;
    }
    if (frame.type !== 'element') return;
    if (tls === 'features' && frame.namespace === NS_STREAMS && frame.localName === 'features') {
      if (!offersStarttls(frame, scope)) {
        refuse(new InjectionError('xmpp', INJECT_ERRORS.STARTTLS_REFUSED, 'the XMPP server does not offer STARTTLS, which this service requires'));
        return;
      }
      tls = 'proceed';
      backend?.write(STARTTLS);
      return;
    }
    if (tls === 'proceed' && frame.namespace === NS_TLS && frame.localName === 'proceed') {
      tls = 'handshake';
      const current = backend;
      if (current === null) return;
      void current.startTls().then((ok) => {
        if (!ok || tls !== 'handshake') return;
        tls = 'off';
        // RFC 6120 §5.4.3.3: after TLS the initiating entity opens a new stream.
        if (clientOpen !== null) current.write(streamHeader(clientOpen));
        for (const m of held.splice(0)) current.write(m);
      });
      return;
    }
    refuse(new InjectionError('xmpp', INJECT_ERRORS.STARTTLS_REFUSED, `the XMPP server answered STARTTLS with <${frame.localName}/>`));
  };

  const translateFromServer = (frame: XmppFrame): Buffer | null => {
    switch (frame.type) {
      case 'whitespace':
        return null;
      case 'open':
        scope = scopeOf(frame);
        clientOpened = true;
        clientStream = 'open';
        return openElement(frame);
      case 'close':
        clientStream = 'closed';
        return CLOSE_TO_CLIENT;
      default: {
        if (frame.namespace === NS_SASL && frame.localName === 'success') clientStream = 'none';
        if (frame.namespace !== NS_STREAMS) {
          if (login === null || frame.namespace !== NS_SASL) return qualifyElement(frame, scope);
          let verdict: SaslVerdict;
          try {
            verdict = login.fromServer(frame);
          } catch (err) {
            if (!(err instanceof InjectionError)) throw err;
            refuse(err);
            return null;
          }
          if (verdict === 'pass') return qualifyElement(frame, scope);
          return verdict === 'drop' ? null : verdict;
        }
        const out = translateStreamElement(frame, scope, frame.localName === 'features');
        if (injector === null || login === null || frame.localName !== 'features') return out;
        try {
          // Refuse as soon as it is known that no credential may go out (plaintext link, none
          // stored), or that no mechanism the server offers can carry it.
          return login.features(out, injector.take(backend?.secure ?? false));
        } catch (err) {
          if (!(err instanceof InjectionError)) throw err;
          refuse(err);
          return null;
        }
      }
    }
  };

  const transform: Transform = {
    attach(l) {
      backend = l;
      if (options.starttls === true && !l.secure) tls = 'features';
    },
    fromClient(data, binary) {
      if (binary) {
        throw new XmppWireError('toServer', ERRORS.WEBSOCKET_FRAMING, 'binary message: RFC 7395 carries XMPP in text messages', 'websocket');
      }
      const frame = fromClient.validateMessage(data);
      counter.frame('toServer', frame.kind);
      let out: Buffer;
      switch (frame.type) {
        case 'open':
          if (serverSide === 'none') clientOpen = frame;
          serverSide = 'open';
          clientStream = 'awaiting';
          // The first header goes at once: it starts the STARTTLS negotiation too.
          return streamHeader(frame);
        case 'close':
          serverSide = 'closed';
          clientStream = 'closed';
          out = CLOSE_TO_SERVER;
          break;
        default:
          if (injector !== null && login !== null && frame.namespace === NS_SASL && frame.localName === 'auth') {
            out = login.auth(injector.take(backend?.secure ?? false));
          } else {
            out = withoutDeclaration(frame.raw);
          }
      }
      if (tls === 'off') return out;
      if (held.length >= MAX_HELD_DURING_STARTTLS) {
        throw new XmppWireError('toServer', ERRORS.STANZA_TOO_LARGE, `more than ${MAX_HELD_DURING_STARTTLS} messages before the stream was ready`, 'websocket');
      }
      held.push(Buffer.from(out));
      return null;
    },
    fromBackend(chunk, send) {
      let frames: XmppFrame[];
      try {
        frames = fromServer.push(chunk);
      } catch (err) {
        if (err instanceof WireError) {
          const text = `the XMPP server sent data Gangway refused (${err.code})`;
          for (const m of streamErrorMessages(BACKEND_STREAM_CONDITION, text, 'websocket')) send(m, false);
        }
        throw err;
      }
      for (const frame of frames) {
        counter.frame('toClient', frame.kind);
        if (tls !== 'off') {
          negotiate(frame);
          continue;
        }
        const out = translateFromServer(frame);
        if (out !== null) send(out, false);
      }
    },
    clientReply(err) {
      const messages = streamErrorMessages(err.condition, err.message, 'websocket');
      // A stream error needs an open stream (RFC 6120 §4.9.1.1): while Gangway withheld the
      // server's <open/> for STARTTLS, open the client's stream first.
      if (options.starttls === true && !clientOpened && clientOpen !== null) messages.unshift(Buffer.from(`<open xmlns="${NS_FRAMING}" version="1.0"/>`, 'utf8'));
      return messages;
    },
    endNotice(reason) {
      // A stream error needs an open stream (RFC 6120 §4.9.1.1): one the client asked for is
      // opened first; before the client's <open/> (or restart) there is no stream to speak in.
      if (clientStream === 'open') return streamErrorMessages(END_STREAM_CONDITION, reason, 'websocket');
      if (clientStream !== 'awaiting') return [];
      return [Buffer.from(`<open xmlns="${NS_FRAMING}" version="1.0"/>`, 'utf8'), ...streamErrorMessages(END_STREAM_CONDITION, reason, 'websocket')];
    },
    farewell() {
      if (serverSide !== 'open') return null;
      serverSide = 'closed';
      return CLOSE_TO_SERVER;
    },
    backendReply(err) {
      if (serverSide !== 'open') return null;
      serverSide = 'closed';
      const [reply] = streamErrorMessages(err.condition, err.message, 'tcp');
      return reply ?? CLOSE_TO_SERVER;
    },
  };
  if (injector !== null) transform.start = () => injector.load();
  return transform;
}

/**
 * `xmpp.proxy`: XMPP over WebSocket (RFC 7395, subprotocol `xmpp`) to an XMPP server's
 * client-to-server port (RFC 6120 XML stream over `tcp://` or `tls://`). Every message from the
 * client is validated as one element before it is translated and forwarded; the server's stream
 * is validated and cut into one element per message. STARTTLS is not offered to the client.
 * With `starttls`, Gangway upgrades the link to the server itself; with `inject`, the client is
 * offered SASL PLAIN only and Gangway logs in for it with the stored credential: SCRAM-SHA-256,
 * SCRAM-SHA-1 or PLAIN, the strongest the server offers (src/services/inject/xmpp-sasl.ts).
 */
export const xmppProxy: WireProtocol<XmppProxyProperties> = {
  type: 'xmpp.proxy',
  subprotocols: ['xmpp'],
  properties,
  serverValidationRequired: "it translates the server's XML stream into RFC 7395 messages, one element each",
  transform(session, props, metrics, credentials) {
    return createXmppTransform(props.limits as Partial<XmppLimits>, metrics, {
      injector: injectorFor('xmpp', session, props, credentials),
      starttls: props.starttls,
      saslMechanisms: props.saslMechanisms,
    });
  },
};
