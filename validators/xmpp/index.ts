/**
 * XMPP validator: streaming, restricted-XML codecs for RFC 7395 (WebSocket) and RFC 6120 (TCP)
 * framing. See README.md in this folder for the rules, limits and error codes.
 */
import type { ProtocolModule, WireError } from '../types';
import { createCodecPair, type XmppCodecPair, type XmppFrame } from './codec';
import { DEFAULT_OPTIONS, resolveOptions, type XmppOptions } from './limits';
import { reply } from './reply';

export {
  XmppCodec, XmppStreamCodec, XmppWebSocketCodec, createCodecPair,
  type RestartLink, type XmppCodecPair, type XmppFrame, type XmppFrameType,
} from './codec';
export { ERRORS, XmppWireError, type XmppErrorName } from './errors';
export {
  DEFAULT_LIMITS, DEFAULT_OPTIONS, NS_CLIENT, NS_FRAMING, NS_SASL, NS_SERVER, NS_STREAMS, NS_STREAM_ERRORS, NS_TLS,
  resolveOptions, type XmppContentNamespace, type XmppFraming, type XmppLimits, type XmppOptions,
} from './limits';
export { STREAM_ERROR_CONDITIONS, escapeXml, reply, streamError, streamErrorMessages } from './reply';

/** Creates the codecs of one connection; `options` override {@link DEFAULT_OPTIONS}. */
export function createPair(options?: Partial<XmppOptions>): XmppCodecPair {
  return createCodecPair(resolveOptions(options));
}

/**
 * The XMPP protocol module. `createPair()` defaults to TCP framing (RFC 6120 XML stream); pass
 * `{ framing: 'websocket' }` for RFC 7395. `reply(err)` answers in the framing of the codec that
 * raised `err`, and in the RFC 7395 form for any other `WireError`.
 */
export const protocol: ProtocolModule<XmppFrame, XmppOptions> & { createPair(options?: Partial<XmppOptions>): XmppCodecPair } = {
  name: 'xmpp',
  defaultLimits: DEFAULT_OPTIONS,
  createPair,
  reply(err: WireError): Buffer {
    return reply(err);
  },
};
