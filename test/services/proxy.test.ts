import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { createHook } from 'node:async_hooks';
import tls from 'node:tls';
import type net from 'node:net';
import type { WebSocket } from 'ws';
import {
  Resources,
  closed,
  closedPort,
  nextMessage,
  onlySession,
  openClient,
  selfSignedCertificate,
  service,
  socketClosed,
  startGateway,
  tcpEchoServer,
  tcpServer,
  toBuffer,
  waitFor,
  type Message,
} from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

/** Collects messages until `bytes` bytes have arrived. */
function collect(ws: WebSocket, bytes: number): Promise<Message[]> {
  return new Promise((resolve, reject) => {
    const got: Message[] = [];
    let n = 0;
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      got.push({ data: toBuffer(data), isBinary });
      n += data.length;
      if (n >= bytes) {
        ws.off('message', onMessage);
        ws.off('close', onClose);
        resolve(got);
      }
    };
    const onClose = (code: number): void => reject(new Error(`closed with ${code} after ${n} of ${bytes} bytes`));
    ws.on('message', onMessage);
    ws.once('close', onClose);
  });
}

function proxy(connect: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return service('tcp', 'proxy', '/tcp', { connect, ...extra });
}

describe('proxy to a TCP back end', () => {
  it('carries text and binary both ways, the back end talking first', async () => {
    const received: Buffer[] = [];
    const backend = await tcpServer(res, (socket) => {
      socket.write('greeting');
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        socket.write(chunk);
      });
    });
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${backend.port}`)] });
    const ws = await openClient(res, gw.ws('/tcp'));

    // Before the client has sent anything, "mirror" delivers binary messages.
    const greeting = await collect(ws, 'greeting'.length);
    expect(Buffer.concat(greeting.map((m) => m.data)).toString()).toBe('greeting');
    expect(greeting.every((m) => m.isBinary)).toBe(true);

    const text = 'zwölf Boxkämpfer jagen Viktor ✓';
    const textBack = collect(ws, Buffer.byteLength(text));
    ws.send(text);
    const t = await textBack;
    expect(Buffer.concat(t.map((m) => m.data)).toString('utf8')).toBe(text);
    expect(t.every((m) => !m.isBinary)).toBe(true);

    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
    const binaryBack = collect(ws, bytes.length);
    ws.send(bytes, { binary: true });
    const b = await binaryBack;
    expect(Buffer.concat(b.map((m) => m.data)).equals(bytes)).toBe(true);
    expect(b.every((m) => m.isBinary)).toBe(true);

    expect(Buffer.concat(received).equals(Buffer.concat([Buffer.from(text), bytes]))).toBe(true);
  });

  it('with messageType text, holds back a character split across reads and refuses bytes that are not UTF-8', async () => {
    const backend = await tcpServer(res);
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${backend.port}`, { properties: { messageType: 'text' } })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const socket = await backend.nextSocket();

    const euro = Buffer.from('€', 'utf8');
    const first = nextMessage(ws);
    socket.write(Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]));
    const m1 = await first;
    expect(m1).toEqual({ data: Buffer.from('a'), isBinary: false });
    const second = nextMessage(ws);
    socket.write(euro.subarray(1));
    const m2 = await second;
    expect(m2.isBinary).toBe(false);
    expect(m2.data.toString('utf8')).toBe('€');

    socket.write(Buffer.from([0x41, 0xff, 0x42]));
    expect(await closed(ws)).toEqual({ code: 1011, reason: 'back end sent bytes that are not UTF-8 for a text message' });
    await socketClosed(socket);
  });

  it('closes with 1011 naming the refusal when nothing listens', async () => {
    const port = await closedPort();
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${port}`)] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const { code, reason } = await closed(ws);
    expect(code).toBe(1011);
    expect(reason).toBe(`back end tcp://127.0.0.1:${port} refused: ECONNREFUSED`);
    expect(gw.gateway.metrics.service('tcp').errors.get('GW_ERR_BACKEND_REFUSED')).toBe(1);
  });

  it('closes with 1014 when the back end does not complete the connection within connectTimeoutMs', async () => {
    // A plain TCP server that never answers a TLS ClientHello: the handshake waits forever.
    const silent = await tcpServer(res);
    const gw = await startGateway(res, { services: [proxy(`tls://127.0.0.1:${silent.port}`, { limits: { connectTimeoutMs: 300 } })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const socket = await silent.nextSocket();
    expect(await closed(ws)).toEqual({ code: 1014, reason: `back end tls://127.0.0.1:${silent.port} did not answer within 300 ms` });
    await socketClosed(socket);
    expect(gw.gateway.metrics.service('tcp').errors.get('GW_ERR_BACKEND_TIMEOUT')).toBe(1);
  });

  it('closes with 1000 when the back end closes, after delivering what it sent', async () => {
    const backend = await tcpServer(res, (socket) => socket.end('last words'));
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${backend.port}`)] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const words = await collect(ws, 'last words'.length);
    expect(Buffer.concat(words.map((m) => m.data)).toString()).toBe('last words');
    expect(await closed(ws)).toEqual({ code: 1000, reason: 'back end closed the connection' });
  });

  it('closes with 1011 naming the error when the back end resets the connection mid-session', async () => {
    const backend = await tcpEchoServer(res);
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${backend.port}`)] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const socket = await backend.nextSocket();
    const echoed = collect(ws, 4);
    ws.send(Buffer.from('ping'), { binary: true });
    await echoed;
    socket.resetAndDestroy();
    expect(await closed(ws)).toEqual({ code: 1011, reason: 'back end connection lost: ECONNRESET' });
    expect(gw.gateway.metrics.service('tcp').errors.get('GW_ERR_BACKEND_LOST')).toBe(1);
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ closeCode: 1011, reason: 'back end connection lost: ECONNRESET', error: 'GW_ERR_BACKEND_LOST' });
  });

  it('closes with 1001 "Gangway shutting down" on stop and ends the back-end connection', async () => {
    const backend = await tcpEchoServer(res);
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${backend.port}`)] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const socket = await backend.nextSocket();
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    await gw.gateway.stop();
    expect(await closed(ws)).toEqual({ code: 1001, reason: 'Gangway shutting down' });
    await ended;
    expect([...gw.gateway.sessions()]).toHaveLength(0);
  });

  it('closes the back-end socket when the client vanishes mid-transfer, leaving no socket, timer or held byte behind', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const backend = await tcpServer(res, (socket) => {
      const pump = (): void => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', pump);
      pump();
    });
    const gw = await startGateway(res, { services: [proxy(`tcp://127.0.0.1:${backend.port}`)] });
    const left = tracked();
    const ws = await openClient(res, gw.ws('/tcp'));
    const socket = await backend.nextSocket();
    const session = await onlySession(gw.gateway);
    await collect(ws, 256 * 1024);
    // Both ends of client ⇄ Gangway and of Gangway ⇄ back end; the back end's connect timer was set (and cleared).
    expect(left.sockets()).toBe(4);
    expect(left.timersSet()).toBeGreaterThan(0);
    ws.terminate();
    void socketClosed(socket);
    await waitFor(() => socket.closed, 5000, 'the back end to see its connection closed');
    await waitFor(() => [...gw.gateway.sessions()].length === 0, 5000, 'no sessions');
    expect(gw.gateway.metrics.service('tcp').sessionsCurrent).toBe(0);
    expect(session.closed).toBe(true);
    expect(session.buffered).toBe(0);
    await waitFor(() => left.sockets() === 0 && left.timers().length === 0, 3000, 'every socket and timer of the session to end').catch(() => undefined);
    expect(left.sockets()).toBe(0);
    expect(left.timers()).toEqual([]);
  }, 15_000);
});

/**
 * What is opened from now on until the test's teardown and not yet released: TCP sockets (both
 * ends of every loopback connection), and timers Gangway (src/) or ws set, listed by the stack
 * that set them, whether ref'd or not; `timersSet` counts those timers, released or not.
 */
function tracked(): { sockets(): number; timers(): string[]; timersSet(): number } {
  const origins = [join(__dirname, '..', '..', 'src') + sep, `${sep}node_modules${sep}ws${sep}`];
  const sockets = new Set<number>();
  const timers = new Map<number, string>();
  let timersSet = 0;
  const hook = createHook({
    init(id, type) {
      if (type === 'TCPWRAP') sockets.add(id);
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (!origins.some((o) => stack.includes(o))) return;
      timersSet++;
      timers.set(id, stack);
    },
    destroy(id) {
      sockets.delete(id);
      timers.delete(id);
    },
  }).enable();
  res.add(() => void hook.disable());
  return { sockets: () => sockets.size, timers: () => [...timers.values()], timersSet: () => timersSet };
}

describe('proxy to a TLS back end', () => {
  let dir: string;
  let cert: Buffer;
  let key: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gangway-tls-'));
    const files = selfSignedCertificate(dir, 'localhost', 'IP:127.0.0.1,DNS:localhost');
    cert = readFileSync(files.certFile);
    key = readFileSync(files.keyFile);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A TLS echo server; with `clientCa`, it asks for a client certificate and accepts only one `clientCa` signed. */
  async function tlsEchoServer(clientCa?: Buffer, peers: string[] = []): Promise<number> {
    const sockets: net.Socket[] = [];
    const options: tls.TlsOptions = clientCa === undefined ? { cert, key } : { cert, key, ca: [clientCa], requestCert: true, rejectUnauthorized: true };
    const server = tls.createServer(options, (socket) => {
      sockets.push(socket);
      const subject = socket.getPeerCertificate().subject as Record<string, string> | undefined;
      if (subject !== undefined) peers.push(subject.CN ?? '');
      socket.on('error', () => socket.destroy());
      socket.pipe(socket);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    res.add(() => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }));
    return (server.address() as net.AddressInfo).port;
  }

  it('refuses a self-signed certificate without caFile: 1011 with the TLS error code', async () => {
    const port = await tlsEchoServer();
    const gw = await startGateway(res, { services: [proxy(`tls://127.0.0.1:${port}`)] });
    const ws = await openClient(res, gw.ws('/tcp'));
    expect(await closed(ws)).toEqual({ code: 1011, reason: `TLS with back end tls://127.0.0.1:${port} failed: DEPTH_ZERO_SELF_SIGNED_CERT` });
    expect(gw.gateway.metrics.service('tcp').errors.get('GW_ERR_BACKEND_TLS')).toBe(1);
  });

  it('trusts the certificate given as caFile and carries data', async () => {
    const port = await tlsEchoServer();
    const gw = await startGateway(res, { services: [proxy(`tls://127.0.0.1:${port}`, { properties: { tls: { caFile: join(dir, 'cert.pem') } } })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const back = collect(ws, 5);
    ws.send(Buffer.from('hello'), { binary: true });
    const got = await back;
    expect(Buffer.concat(got.map((m) => m.data)).toString()).toBe('hello');
    const session = await onlySession(gw.gateway);
    expect(session.errorCode).toBeUndefined();
  });

  it('refuses a trusted certificate that does not name serverName: 1011 with the TLS error code', async () => {
    const port = await tlsEchoServer();
    const gw = await startGateway(res, { services: [proxy(`tls://127.0.0.1:${port}`, { properties: { tls: { caFile: join(dir, 'cert.pem'), serverName: 'mq.example.net' } } })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    expect(await closed(ws)).toEqual({ code: 1011, reason: `TLS with back end tls://127.0.0.1:${port} failed: ERR_TLS_CERT_ALTNAME_INVALID` });
    expect(gw.gateway.metrics.service('tcp').errors.get('GW_ERR_BACKEND_TLS')).toBe(1);
  });

  it('presents the client certificate of certFile and keyFile to a back end that requires one', async () => {
    const peers: string[] = [];
    const port = await tlsEchoServer(cert, peers);
    const tlsProps = { caFile: join(dir, 'cert.pem'), certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') };
    const gw = await startGateway(res, { services: [proxy(`tls://127.0.0.1:${port}`, { properties: { tls: tlsProps } })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    const back = collect(ws, 5);
    ws.send(Buffer.from('hello'), { binary: true });
    expect(Buffer.concat((await back).map((m) => m.data)).toString()).toBe('hello');
    expect(peers).toEqual(['localhost']);
  });

  it('is refused by a back end that requires a client certificate when none is configured: 1011', async () => {
    const peers: string[] = [];
    const port = await tlsEchoServer(cert, peers);
    const gw = await startGateway(res, { services: [proxy(`tls://127.0.0.1:${port}`, { properties: { tls: { caFile: join(dir, 'cert.pem') } } })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    ws.send(Buffer.from('hello'), { binary: true });
    const c = await closed(ws);
    expect(c.code).toBe(1011);
    expect(c.reason).toMatch(new RegExp(`^(TLS with back end|back end connection lost).*(CERTIFICATE_REQUIRED|ECONNRESET)`));
    expect(peers).toEqual([]);
  });
});
