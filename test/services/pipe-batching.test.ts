import { createHash } from 'node:crypto';
import net from 'node:net';
import { Resources, closed, onlySession, openClient, service, startGateway, tcpServer, waitFor, type TcpServer } from '../support/gateway';

/**
 * The pipe gathers client bytes for the back end and writes them once per tick (or per 16 KiB).
 * These tests drive bursts: the client and the gateway share this process's event loop, so every
 * message sent in one synchronous loop is on the gateway's socket before it reads any of them.
 */

const res = new Resources();
afterEach(() => {
  jest.restoreAllMocks();
  return res.closeAll();
});

const KiB = 1024;

/** `count` messages of `size` bytes, each stamped with its index at both ends so that reordering shows. */
function stamped(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => {
    const b = Buffer.alloc(size, i % 251);
    b.writeUInt32BE(i, 0);
    b.writeUInt32BE(i, size - 4);
    return b;
  });
}

/** A back end that keeps everything it receives and notes when the gateway ended its side. */
async function collectingBackend(): Promise<{ server: TcpServer; data: () => Buffer; ended: Promise<void> }> {
  const chunks: Buffer[] = [];
  let onEnd: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => {
    onEnd = resolve;
  });
  const server = await tcpServer(res, (socket) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => onEnd());
  });
  return { server, data: () => Buffer.concat(chunks), ended };
}

/** Counts `write()` calls made on sockets connected to `port` (the gateway's side of a back end). */
function countWritesTo(port: number): () => number {
  const spy = jest.spyOn(net.Socket.prototype, 'write');
  return () => spy.mock.contexts.filter((s) => (s as net.Socket).remotePort === port).length;
}

describe('pipe write batching', () => {
  it('keeps the order of a burst of small messages and of large ones among them, in far fewer writes', async () => {
    const backend = await collectingBackend();
    const gw = await startGateway(res, { services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.server.port}` })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    await backend.server.nextSocket();
    const writes = countWritesTo(backend.server.port);
    // 3,000 messages of 64 B, with a 40 KiB message (written on its own) after the 1,000th and
    // the 2,000th: what was gathered before a large message must reach the back end before it.
    const messages = stamped(3000, 64);
    messages.splice(2000, 0, ...stamped(1, 40 * KiB));
    messages.splice(1000, 0, ...stamped(1, 40 * KiB));
    for (const m of messages) ws.send(m, { binary: true });
    const expected = Buffer.concat(messages);
    await waitFor(() => backend.data().length >= expected.length, 5000, 'every byte at the back end');

    expect(backend.data().equals(expected)).toBe(true);
    // One write per message would be 3,002; gathering makes it a few per 64 KiB socket read.
    expect(writes()).toBeLessThan(100);
    const session = await onlySession(gw.gateway);
    await waitFor(() => session.buffered === 0, 5000, 'the valve to be released');
  });

  it('writes everything gathered before it ends the back end when the client closes', async () => {
    const backend = await collectingBackend();
    const gw = await startGateway(res, { services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.server.port}` })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    await backend.server.nextSocket();
    const messages = stamped(500, 100);
    for (const m of messages) ws.send(m, { binary: true });
    ws.close(1000, 'done');
    await backend.ended;

    expect(backend.data().equals(Buffer.concat(messages))).toBe(true);
    expect(await closed(ws)).toEqual({ code: 1000, reason: 'done' });
  });

  it('writes the lines gathered before refused input, then the farewell, then ends the back end', async () => {
    const backend = await collectingBackend();
    const gw = await startGateway(res, { services: [service('irc', 'irc.proxy', '/irc', { connect: `tcp://127.0.0.1:${backend.server.port}` })] });
    const ws = await openClient(res, gw.ws('/irc'), 'text.ircv3.net');
    await backend.server.nextSocket();
    const lines = Array.from({ length: 200 }, (_, i) => `PRIVMSG #room :line ${i}`);
    for (const line of lines) ws.send(line);
    // NUL is forbidden in IRC: the session is refused after the 200 lines were accepted.
    ws.send('PRIVMSG #room :\u0000');
    await backend.ended;

    expect(backend.data().toString()).toBe(`${lines.map((l) => `${l}\r\n`).join('')}QUIT :Gangway refused the client input\r\n`);
    expect((await closed(ws)).code).toBe(1008);
  });

  it('holds at most maxBufferedBytes plus one message for a slow back end fed small messages', async () => {
    const BOUND = 256 * KiB;
    const MESSAGE = KiB;
    const messages = stamped(16 * KiB, MESSAGE); // 16 MiB: more than the kernel's socket buffers hold
    const total = messages.length * MESSAGE;
    const hash = createHash('sha256');
    let received = 0;
    const backend = await tcpServer(res, (socket) => {
      // The back end reads nothing until the gateway has paused the client.
      socket.pause();
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
      });
    });
    const gw = await startGateway(res, {
      services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.port}`, limits: { maxBufferedBytes: BOUND, slowConsumerMs: 60_000 } })],
    });
    const ws = await openClient(res, gw.ws('/tcp'));
    const session = await onlySession(gw.gateway);
    const socket = await backend.nextSocket();
    for (const m of messages) ws.send(m, { binary: true });
    await waitFor(() => session.pausedSince > 0, 10_000, 'the valve to pause the client');
    const peakWhilePaused = session.peakBuffered;
    socket.resume();
    await waitFor(() => received >= total, 20_000, 'every byte at the back end');

    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(Buffer.concat(messages)).digest('hex'));
    // Batched bytes count from the moment they are taken, so the bound held while nothing drained.
    expect(peakWhilePaused).toBeGreaterThan(BOUND / 2);
    expect(session.peakBuffered).toBeLessThanOrEqual(BOUND + MESSAGE);
    await waitFor(() => session.buffered === 0, 5000, 'the back end to take everything');
  }, 30_000);
});
