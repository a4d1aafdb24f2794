/**
 * The gateway's own error catalogue: stable codes for what happens around the wire protocols
 * (routing, limits, back-end reachability, shutdown). Wire-format codes live in
 * `validators/errors.ts`. Every code is documented in the README (a test checks).
 */
export interface GatewayErrorSpec {
  readonly code: string;
  readonly summary: string;
  /** HTTP status when the error refuses a request or an upgrade. */
  readonly status?: number;
  /** WebSocket close code when the error ends a session. */
  readonly close?: number;
}

const spec = <T extends Record<string, GatewayErrorSpec>>(t: T): T => t;

export const GATEWAY_ERRORS = spec({
  NOT_FOUND: { code: 'GW_ERR_NOT_FOUND', status: 404, summary: 'no service is mounted at the request path' },
  UPGRADE_REQUIRED: { code: 'GW_ERR_UPGRADE_REQUIRED', status: 426, summary: 'a plain HTTP request reached a WebSocket-only path' },
  NOT_WEBSOCKET: { code: 'GW_ERR_NOT_WEBSOCKET', status: 400, summary: 'a WebSocket upgrade reached a path that serves HTTP only' },
  BAD_UPGRADE: { code: 'GW_ERR_BAD_UPGRADE', status: 400, summary: 'the upgrade request is malformed (method, Sec-WebSocket-Key, version)' },
  SUBPROTOCOL: { code: 'GW_ERR_SUBPROTOCOL', status: 400, summary: 'the client offered WebSocket subprotocols, none of which the service speaks (or none where one is required)' },
  TOO_MANY_CONNECTIONS: { code: 'GW_ERR_TOO_MANY_CONNECTIONS', status: 503, summary: 'the service or the gateway is at its connection limit' },
  RATE_LIMITED: { code: 'GW_ERR_RATE_LIMITED', status: 429, summary: 'too many new connections per second from one client address' },
  METHOD_NOT_ALLOWED: { code: 'GW_ERR_METHOD_NOT_ALLOWED', status: 405, summary: 'the HTTP method is not served at this path' },
  FORBIDDEN_PATH: { code: 'GW_ERR_FORBIDDEN_PATH', status: 403, summary: 'the path leaves the directory root (traversal, symlink escape) or names a hidden file' },
  MESSAGE_TOO_LARGE: { code: 'GW_ERR_MESSAGE_TOO_LARGE', close: 1009, summary: 'a WebSocket message exceeded maxMessageBytes' },
  WEBSOCKET_PROTOCOL: { code: 'GW_ERR_WEBSOCKET_PROTOCOL', close: 1002, summary: 'the client broke the WebSocket framing (RFC 6455); invalid UTF-8 in a text message closes with 1007' },
  SLOW_CONSUMER: { code: 'GW_ERR_SLOW_CONSUMER', close: 1008, summary: 'a receiver did not drain for slowConsumerMs while its sender was paused' },
  IDLE_TIMEOUT: { code: 'GW_ERR_IDLE_TIMEOUT', close: 1001, summary: 'no message in either direction for idleTimeoutMs' },
  PING_TIMEOUT: { code: 'GW_ERR_PING_TIMEOUT', close: 1006, summary: 'the client did not answer a ping before the next one; the connection is dropped' },
  BACKEND_REFUSED: { code: 'GW_ERR_BACKEND_REFUSED', close: 1011, summary: 'the back end refused the connection or could not be reached' },
  BACKEND_TIMEOUT: { code: 'GW_ERR_BACKEND_TIMEOUT', close: 1014, summary: 'the back end did not accept the connection within connectTimeoutMs' },
  BACKEND_LOST: { code: 'GW_ERR_BACKEND_LOST', close: 1011, summary: 'the back-end connection failed during the session' },
  BACKEND_TLS: { code: 'GW_ERR_BACKEND_TLS', close: 1011, summary: 'the TLS handshake with the back end failed (certificate or hostname)' },
  BACKEND_INVALID_UTF8: { code: 'GW_ERR_BACKEND_INVALID_UTF8', close: 1011, summary: 'the back end sent bytes that are not UTF-8 to a session that receives text messages' },
  SHUTDOWN: { code: 'GW_ERR_SHUTDOWN', close: 1001, summary: 'Gangway is shutting down' },
});

export type GatewayErrorName = keyof typeof GATEWAY_ERRORS;
