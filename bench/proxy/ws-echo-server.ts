import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { ListeningMessage } from './protocol';

/**
 * The reference: a bare `ws` echo server with the library's defaults (no compression), agreeing
 * to the `binary` subprotocol when it is offered, as Gangway and websockify do.
 */
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  backlog: 4096,
  perMessageDeflate: false,
  handleProtocols: (offered: Set<string>) => (offered.has('binary') ? 'binary' : false),
});
wss.on('connection', (ws) => {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on('listening', () => {
  const message: ListeningMessage = { type: 'listening', port: (wss.address() as AddressInfo).port };
  process.send?.(message);
});
process.on('disconnect', () => process.exit(0));
