import net from 'node:net';
import type { ListeningMessage } from './protocol';

/**
 * The back end of every measurement: a TCP echo server on 127.0.0.1, port 0. Each connection is
 * piped to itself, so backpressure is the kernel's and the stream's, nothing more.
 */
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.maxConnections = Number.MAX_SAFE_INTEGER;
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  const address = server.address() as net.AddressInfo;
  const message: ListeningMessage = { type: 'listening', port: address.port };
  process.send?.(message);
});
process.on('disconnect', () => process.exit(0));
