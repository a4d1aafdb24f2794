/**
 * The byte-stream transport of tcp:// and tls:// sessions: closing ends the stream, and a client
 * that neither reads the rest nor ends its own side is cut after the end timeout.
 */
import net from 'node:net';
import { StreamTransport } from '../../src/transports/stream';
import { Resources } from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

const END_TIMEOUT_MS = 300;

/** A connected pair: the server's socket and a client socket; `allowHalfOpen` keeps the client from answering an end with its own. */
async function pair(allowHalfOpen: boolean): Promise<{ server: net.Socket; client: net.Socket }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  res.add(() => new Promise<void>((resolve) => listener.close(() => resolve())));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, allowHalfOpen });
  client.on('error', () => undefined);
  res.add(() => {
    client.destroy();
  });
  const server = await accepted;
  res.add(() => {
    server.destroy();
  });
  return { server, client };
}

function closeOf(transport: StreamTransport): Promise<{ code: number; reason: string; at: number }> {
  return new Promise((resolve) => transport.onClose((code, reason) => resolve({ code, reason, at: Date.now() })));
}

describe('StreamTransport', () => {
  it('cuts a stream whose client does not end its side within the end timeout', async () => {
    const { server, client } = await pair(true);
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    client.resume();
    const transport = new StreamTransport(server, END_TIMEOUT_MS);
    const close = closeOf(transport);
    const started = Date.now();
    transport.close();
    await ended;
    const { at } = await close;
    expect(at - started).toBeGreaterThanOrEqual(END_TIMEOUT_MS - 20);
    expect(server.destroyed).toBe(true);
    expect(transport.socket()).toBeNull();
  });

  it('closes as soon as the client answers the end with its own: 1000, no cut', async () => {
    const { server, client } = await pair(false);
    client.resume();
    const transport = new StreamTransport(server, 10_000);
    const close = closeOf(transport);
    const started = Date.now();
    transport.close();
    const { code, reason, at } = await close;
    expect({ code, reason }).toEqual({ code: 1000, reason: '' });
    expect(at - started).toBeLessThan(5_000);
  });
});
