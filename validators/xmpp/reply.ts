/**
 * Stream errors sent to the peer that broke the rules (RFC 6120 §4.9, RFC 7395 §3.6).
 */
import type { WireError } from '../types';
import { XmppWireError } from './errors';
import { NS_FRAMING, NS_STREAMS, NS_STREAM_ERRORS, type XmppFraming } from './limits';

/** The defined stream error conditions of RFC 6120 §4.9.3. */
export const STREAM_ERROR_CONDITIONS: ReadonlySet<string> = new Set([
  'bad-format', 'bad-namespace-prefix', 'conflict', 'connection-timeout', 'host-gone', 'host-unknown',
  'improper-addressing', 'internal-server-error', 'invalid-from', 'invalid-namespace', 'invalid-xml',
  'not-authorized', 'not-well-formed', 'policy-violation', 'remote-connection-failed', 'reset',
  'resource-constraint', 'restricted-xml', 'see-other-host', 'system-shutdown', 'undefined-condition',
  'unsupported-encoding', 'unsupported-feature', 'unsupported-stanza-type', 'unsupported-version',
]);

/** Escapes text for XML character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case '&': return '&amp;';
      case '<': return '&lt;';
      case '>': return '&gt;';
      case '"': return '&quot;';
      default: return '&apos;';
    }
  });
}

function errorBody(condition: string, text: string): string {
  const cond = STREAM_ERROR_CONDITIONS.has(condition) ? condition : 'undefined-condition';
  const textElement = text === '' ? '' : `<text xmlns="${NS_STREAM_ERRORS}">${escapeXml(text)}</text>`;
  return `<${cond} xmlns="${NS_STREAM_ERRORS}"/>${textElement}`;
}

/**
 * The stream error for `condition` as separate wire units: over WebSocket two messages
 * (`<error/>`, then `<close/>`, RFC 7395 §3.6), over TCP one unit
 * (`<stream:error>…</stream:error></stream:stream>`). An unknown condition becomes
 * `undefined-condition`.
 */
export function streamErrorMessages(condition: string, text: string, framing: XmppFraming = 'websocket'): Buffer[] {
  const body = errorBody(condition, text);
  if (framing === 'websocket') {
    return [
      Buffer.from(`<error xmlns="${NS_STREAMS}">${body}</error>`, 'utf8'),
      Buffer.from(`<close xmlns="${NS_FRAMING}"/>`, 'utf8'),
    ];
  }
  return [Buffer.from(`<stream:error>${body}</stream:error></stream:stream>`, 'utf8')];
}

/**
 * The stream error for `condition` as one buffer: {@link streamErrorMessages} concatenated.
 * Over WebSocket a transport that keeps RFC 7395 framing exactly sends the two elements as two
 * messages (use {@link streamErrorMessages}).
 */
export function streamError(condition: string, text: string, framing: XmppFraming = 'websocket'): Buffer {
  return Buffer.concat(streamErrorMessages(condition, text, framing));
}

/**
 * The reply for a codec error: a stream error with the error's condition and message, in the
 * framing of the codec that raised it ({@link XmppWireError.framing}); any other `WireError`
 * gets the RFC 7395 form.
 */
export function reply(err: WireError): Buffer {
  const framing: XmppFraming = err instanceof XmppWireError ? err.framing : 'websocket';
  return streamError(err.condition, err.message, framing);
}
