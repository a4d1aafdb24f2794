import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import type { RawData } from 'ws';
import { Resources, closed, onlySession, openClient, service, startGateway, tcpServer, toBuffer, waitFor } from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

const KiB = 1024;
const MiB = 1024 * KiB;
const BOUND = 256 * KiB;

/** `count` blocks of `size` pseudo-random bytes, each stamped with its index so that reordering shows. */
function blocks(count: number, size: number): Buffer[] {
  const base = randomBytes(size);
  return Array.from({ length: count }, (_, i) => {
    const b = Buffer.from(base);
    b.writeUInt32BE(i, 0);
    b.writeUInt32BE(i, size - 4);
    return b;
  });
}

function sha256(parts: readonly Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Reads from `socket` in bursts: after every `burst` bytes it stops reading for one timer turn of `pauseMs`. */
function readSlowly(socket: net.Socket | { pause(): void; resume(): void }, burst: number, pauseMs: number): (n: number) => void {
  let sinceBreak = 0;
  return (n: number) => {
    sinceBreak += n;
    if (sinceBreak >= burst) {
      sinceBreak = 0;
      socket.pause();
      setTimeout(() => socket.resume(), pauseMs);
    }
  };
}

describe('proxy backpressure', () => {
  it('delivers 50 MB in order to a slow WebSocket reader while holding at most maxBufferedBytes', async () => {
    const data = blocks(50, MiB);
    const sent = sha256(data);
    const backend = await tcpServer(res, (socket) => {
      let i = 0;
      const pump = (): void => {
        while (i < data.length) {
          if (!socket.write(data[i++] as Buffer)) return;
        }
        socket.end();
      };
      socket.on('drain', pump);
      pump();
    });
    const gw = await startGateway(res, {
      services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.port}`, limits: { maxBufferedBytes: BOUND, slowConsumerMs: 60_000 } })],
    });
    const ws = await openClient(res, gw.ws('/tcp'));
    const session = await onlySession(gw.gateway);

    const hash = createHash('sha256');
    let received = 0;
    const slow = readSlowly(ws, 2 * MiB, 25);
    ws.on('message', (msg: RawData) => {
      const buf = toBuffer(msg);
      hash.update(buf);
      received += buf.length;
      slow(buf.length);
    });
    expect(await closed(ws)).toEqual({ code: 1000, reason: 'back end closed the connection' });

    expect(received).toBe(50 * MiB);
    expect(hash.digest('hex')).toBe(sent);
    expect(session.bytesOut).toBe(50 * MiB);
    // The valve engaged (the reader was slow enough to fill the socket buffers) and held the bound.
    expect(session.peakBuffered).toBeGreaterThan(BOUND / 2);
    expect(session.peakBuffered).toBeLessThanOrEqual(BOUND);
    expect(session.buffered).toBe(0);
  }, 30_000);

  it('bounds what waits for a slow TCP back end to maxBufferedBytes plus one message', async () => {
    const MESSAGE = 64 * KiB;
    const data = blocks(320, MESSAGE); // 20 MiB
    const total = data.length * MESSAGE;
    const hash = createHash('sha256');
    let received = 0;
    let allIn: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      allIn = resolve;
    });
    const backend = await tcpServer(res, (socket) => {
      const slow = readSlowly(socket, 2 * MiB, 25);
      socket.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        received += chunk.length;
        slow(chunk.length);
        if (received >= total) allIn();
      });
    });
    const gw = await startGateway(res, {
      services: [
        service('tcp', 'proxy', '/tcp', {
          connect: `tcp://127.0.0.1:${backend.port}`,
          limits: { maxBufferedBytes: BOUND, maxMessageBytes: MESSAGE, slowConsumerMs: 60_000 },
        }),
      ],
    });
    const ws = await openClient(res, gw.ws('/tcp'));
    const session = await onlySession(gw.gateway);
    await backend.nextSocket();
    for (const block of data) ws.send(block, { binary: true });
    await done;

    expect(received).toBe(total);
    expect(hash.digest('hex')).toBe(sha256(data));
    expect(session.bytesIn).toBe(total);
    // Reading from the client stops once the bound is near; what was already read off the socket
    // (at most one message beyond the bound) still goes to the back end.
    expect(session.peakBuffered).toBeGreaterThan(BOUND / 2);
    expect(session.peakBuffered).toBeLessThanOrEqual(BOUND + MESSAGE);
    await waitFor(() => session.buffered === 0, 5000, 'the back end to take everything');
  }, 30_000);

  it('closes a client that never reads with 1008 "slow consumer" after slowConsumerMs', async () => {
    const chunk = Buffer.alloc(64 * KiB, 0x62);
    const backend = await tcpServer(res, (socket) => {
      const pump = (): void => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', pump);
      pump();
    });
    const gw = await startGateway(res, {
      services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.port}`, limits: { maxBufferedBytes: BOUND, slowConsumerMs: 1500 } })],
    });
    const ws = await openClient(res, gw.ws('/tcp'));
    ws.pause();
    const session = await onlySession(gw.gateway);
    await waitFor(() => session.pausedSince > 0, 10_000, 'the valve to pause the back end');
    await waitFor(() => session.errorCode !== undefined, 10_000, 'the slow-consumer close');
    expect(session.errorCode).toBe('GW_ERR_SLOW_CONSUMER');
    expect(session.peakBuffered).toBeLessThanOrEqual(BOUND);
    // The close frame queues behind the data the client has not read; reading again delivers it.
    ws.on('message', () => undefined);
    ws.resume();
    expect(await closed(ws)).toEqual({ code: 1008, reason: 'slow consumer' });
    expect(gw.gateway.metrics.service('tcp').errors.get('GW_ERR_SLOW_CONSUMER')).toBe(1);
  }, 20_000);
});
