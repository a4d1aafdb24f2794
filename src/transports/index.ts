/**
 * Front-side transports: how a session's client is connected. Sessions and services see only the
 * {@link Transport} interface.
 */
export type { Source, Transport, TransportKind } from './types';
export { WebSocketTransport } from './websocket';
export { StreamTransport } from './stream';
