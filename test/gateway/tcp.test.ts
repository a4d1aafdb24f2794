/**
 * `tcp://` and `tls://` accept URIs: each accepted socket is a session with the limits, metrics,
 * log lines and shutdown of a WebSocket session. A byte-echo service type (in-process, this tier
 * only) stands for any type that declares `tcp`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { buildConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/log';
import { SERVICE_TYPES } from '../../src/services';
import type { Service, ServiceType } from '../../src/services/types';
import { LogCapture, Resources, closed, onlySession, openClient, parseMetrics, refusedUpgrade, sample, service, waitFor } from '../support/gateway';
import { HOST_B, createWorld, tlsOptions, type AuthWorld } from '../fixtures/auth/world';

const res = new Resources();
afterEach(() => res.closeAll());

const KiB = 1024;
const BOUND = 128 * KiB;

/** Every read comes back as it was. */
const bytesType: ServiceType<Record<string, never>> = {
  type: 'bytes',
  accepts: ['tcp'],
  connect: null,
  properties: z.strictObject({}),
  create({ config }): Service {
    return {
      config,
      handleSession(session): void {
        session.onMessage((data, binary) => {
          session.received(data.length);
          session.send(data, binary);
        });
      },
    };
  },
};

const TYPES: ReadonlyMap<string, ServiceType> = new Map<string, ServiceType>([...SERVICE_TYPES, ['bytes', bytesType as ServiceType]]);

interface Started {
  readonly gateway: Gateway;
  readonly log: LogCapture;
  /** The port of a service's first tcp:// or tls:// listener. */
  port(service: string): number;
  metric(name: string, labels: Record<string, string>): Promise<number | undefined>;
}

async function start(doc: Record<string, unknown>): Promise<Started> {
  const config = buildConfig(doc, { source: 'test', types: TYPES, env: {} });
  const log = new LogCapture();
  const gateway = new Gateway(config, createLogger('debug', log), TYPES);
  await gateway.start();
  res.add(() => gateway.stop());
  return {
    gateway,
    log,
    port: (service) => gateway.streamPort(service),
    metric: async (name, labels) => sample(parseMetrics((await gateway.metricsText()).body), name, labels),
  };
}

const bytes = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name, type: 'bytes', accept: 'tcp://127.0.0.1:0', ...extra });

/** A raw client: what it received, and when the server closed it. */
interface Client {
  readonly socket: net.Socket;
  readonly received: Buffer[];
  readonly closed: Promise<void>;
  text(): string;
}

function track(socket: net.Socket): Client {
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  res.add(() => {
    socket.destroy();
    return closed;
  });
  return { socket, received, closed, text: () => Buffer.concat(received).toString() };
}

async function connect(port: number): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const client = track(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return client;
}

async function echoes(c: Client, text: string): Promise<void> {
  const before = c.text().length;
  c.socket.write(text);
  await waitFor(() => c.text().length >= before + text.length, 5000, `the echo of ${text}`);
  expect(c.text().slice(before)).toBe(text);
}

describe('tcp:// sessions', () => {
  it('carries bytes both ways as a session with its session.open and session.close lines and metrics', async () => {
    const gw = await start({ services: [bytes('raw')] });
    const c = await connect(gw.port('raw'));
    await echoes(c, 'hello');
    await echoes(c, ' over tcp');
    const session = await onlySession(gw.gateway);
    expect(session.transport.kind).toBe('tcp');
    expect(session.endpoints).toMatchObject({ remotePort: c.socket.localPort, localPort: gw.port('raw') });
    expect(await gw.metric('gangway_sessions', { service: 'raw' })).toBe(1);
    expect(gw.log.events('session.open')).toEqual([expect.objectContaining({ service: 'raw', transport: 'tcp', remote: '127.0.0.1', session: session.id })]);
    expect(gw.log.events('listen')).toEqual([expect.objectContaining({ host: '127.0.0.1', port: gw.port('raw'), tls: false, service: 'raw', msg: `listening on tcp://127.0.0.1:${gw.port('raw')} (raw)` })]);

    c.socket.end();
    await c.closed;
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ service: 'raw', transport: 'tcp', remote: '127.0.0.1', closeCode: 1000, bytesIn: 14, bytesOut: 14, messagesOut: 2 });
    expect(gw.log.events('session.close')[0]?.error).toBeUndefined();
    expect(await gw.metric('gangway_sessions', { service: 'raw' })).toBe(0);
    expect(await gw.metric('gangway_sessions_total', { service: 'raw' })).toBe(1);
    expect(await gw.metric('gangway_bytes_total', { service: 'raw', direction: 'in' })).toBe(14);
    expect(await gw.metric('gangway_bytes_total', { service: 'raw', direction: 'out' })).toBe(14);
  });

  it('logs a client that resets its connection as 1006 with the socket error as the reason', async () => {
    const gw = await start({ services: [bytes('raw')] });
    const c = await connect(gw.port('raw'));
    await echoes(c, 'hello');
    c.socket.resetAndDestroy();
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ service: 'raw', transport: 'tcp', closeCode: 1006, reason: 'ECONNRESET' });
  });

  it('closes a connection past the service maxConnections at once, counted and logged as TOO_MANY_CONNECTIONS', async () => {
    const gw = await start({ services: [bytes('raw', { limits: { maxConnections: 1 } })] });
    const first = await connect(gw.port('raw'));
    await onlySession(gw.gateway);
    const second = await connect(gw.port('raw'));
    await second.closed;
    expect(second.received).toEqual([]);
    expect(await gw.metric('gangway_errors_total', { service: 'raw', code: 'GW_ERR_TOO_MANY_CONNECTIONS' })).toBe(1);
    expect(gw.log.records().filter((r) => r.code === 'GW_ERR_TOO_MANY_CONNECTIONS')).toEqual([
      expect.objectContaining({ level: 'debug', service: 'raw', remote: '127.0.0.1', msg: 'service raw is at its limit of 1 connections' }),
    ]);
    // The refused connection never was a session; the first one still works.
    expect(gw.log.events('session.open')).toHaveLength(1);
    await echoes(first, 'still here');
  });

  it('counts tcp:// sessions toward gangway.limits.maxConnections with WebSocket ones', async () => {
    const gw = await start({ gangway: { limits: { maxConnections: 1 } }, services: [service('echo', 'echo', '/echo'), bytes('raw')] });
    const ws = await openClient(res, `ws://127.0.0.1:${gw.gateway.port()}/echo`);
    const refused = await connect(gw.port('raw'));
    await refused.closed;
    expect(gw.log.records().filter((r) => r.code === 'GW_ERR_TOO_MANY_CONNECTIONS')).toEqual([expect.objectContaining({ service: 'raw', msg: 'Gangway is at its limit of 1 connections' })]);
    const wsClosed = closed(ws);
    ws.close();
    await wsClosed;
    await waitFor(() => [...gw.gateway.sessions()].length === 0, 5000, 'the WebSocket session to end');
    const admitted = await connect(gw.port('raw'));
    await echoes(admitted, 'a place freed up');
    const r = await refusedUpgrade(`ws://127.0.0.1:${gw.gateway.port()}/echo`);
    expect(r.status).toBe(503);
  });

  it('closes connections over connectionsPerSecondPerIp at once, counted and logged as RATE_LIMITED', async () => {
    const gw = await start({ services: [bytes('raw', { limits: { connectionsPerSecondPerIp: 0.5 } })] });
    await connect(gw.port('raw'));
    const refused = await connect(gw.port('raw'));
    await refused.closed;
    expect(refused.received).toEqual([]);
    expect(await gw.metric('gangway_errors_total', { service: 'raw', code: 'GW_ERR_RATE_LIMITED' })).toBe(1);
    expect(gw.log.records().filter((r) => r.code === 'GW_ERR_RATE_LIMITED')).toEqual([expect.objectContaining({ msg: 'too many new connections from 127.0.0.1: limit 0.5/s' })]);
  });

  it('ends an idle session, logging 1001 and IDLE_TIMEOUT', async () => {
    const gw = await start({ services: [bytes('raw', { limits: { idleTimeoutMs: 1000 } })] });
    const c = await connect(gw.port('raw'));
    await c.closed;
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ closeCode: 1001, reason: 'idle timeout', error: 'GW_ERR_IDLE_TIMEOUT' });
  }, 10_000);

  it('does not ping a tcp:// session (it has no pings): a silent client stays', async () => {
    const gw = await start({ services: [bytes('raw', { limits: { pingIntervalMs: 1000 } })] });
    const c = await connect(gw.port('raw'));
    const session = await onlySession(gw.gateway);
    await new Promise((r) => setTimeout(r, 2500));
    expect(session.closed).toBe(false);
    expect(session.awaitingPong).toBe(false);
    await echoes(c, 'alive');
  }, 10_000);

  it('turns on TCP keep-alive probes after pingIntervalMs of silence instead of pings; none with pingIntervalMs 0', async () => {
    const keepAlive = jest.spyOn(net.Socket.prototype, 'setKeepAlive');
    try {
      const gw = await start({ services: [bytes('probed', { limits: { pingIntervalMs: 1500 } }), bytes('unprobed', { limits: { pingIntervalMs: 0 } })] });
      const probed = await connect(gw.port('probed'));
      await echoes(probed, 'p');
      const unprobed = await connect(gw.port('unprobed'));
      await echoes(unprobed, 'u');
      const sockets = new Map([...gw.gateway.sessions()].map((s) => [s.service, s.transport.socket()]));
      const callsOn = (service: string): unknown[][] => keepAlive.mock.calls.filter((_, i) => keepAlive.mock.contexts[i] === sockets.get(service));
      expect(callsOn('probed')).toEqual([[true, 1500]]);
      expect(callsOn('unprobed')).toEqual([]);
    } finally {
      keepAlive.mockRestore();
    }
  });

  it('stops reading from a client that does not read, holding at most maxBufferedBytes, and ends it as a slow consumer', async () => {
    const gw = await start({ services: [bytes('raw', { limits: { maxBufferedBytes: BOUND, slowConsumerMs: 1500 } })] });
    const c = await connect(gw.port('raw'));
    c.socket.pause();
    const session = await onlySession(gw.gateway);
    const chunk = Buffer.alloc(64 * KiB, 0x61);
    let written = 0;
    const pump = (): void => {
      while (!c.socket.destroyed && written < 64 * 1024 * KiB && c.socket.write(chunk)) written += chunk.length;
    };
    c.socket.on('drain', pump);
    pump();
    await waitFor(() => session.pausedSince > 0, 10_000, 'the valve to pause reading from the client');
    await waitFor(() => session.errorCode !== undefined, 10_000, 'the slow-consumer close');
    expect(session.errorCode).toBe('GW_ERR_SLOW_CONSUMER');
    expect(session.peakBuffered).toBeLessThanOrEqual(BOUND);
    // The end of the stream queues behind what the client has not read; reading again delivers it.
    c.socket.off('drain', pump);
    c.socket.resume();
    await c.closed;
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ closeCode: 1008, reason: 'slow consumer', error: 'GW_ERR_SLOW_CONSUMER' });
  }, 30_000);

  it('ends tcp:// sessions on shutdown and stops listening', async () => {
    const gw = await start({ services: [bytes('raw')] });
    const port = gw.port('raw');
    const c = await connect(port);
    await onlySession(gw.gateway);
    expect(gw.gateway.listening()).toBe(true);
    await gw.gateway.stop();
    await c.closed;
    expect(gw.log.events('session.close')[0]).toMatchObject({ transport: 'tcp', closeCode: 1001, reason: 'Gangway shutting down', error: 'GW_ERR_SHUTDOWN' });
    const refused = net.connect({ host: '127.0.0.1', port });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => refused.once('error', resolve));
    expect(error.code).toBe('ECONNREFUSED');
  });
});

describe('tls:// sessions', () => {
  let world: AuthWorld;
  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(() => world.cleanup());

  it('serves the configured certificate by SNI and carries bytes as a tcp:// session does', async () => {
    const config = buildConfig(
      {
        tls: { certificates: [{ cert: 'gw.crt', key: 'gw.key' }, { cert: 'other.crt', key: 'other.key' }] },
        services: [{ name: 'secure', type: 'bytes', accept: ['tls://127.0.0.1:0', 'tcp://127.0.0.1:0'] }],
      },
      { source: 'test', types: TYPES, env: {}, baseDir: world.dir },
    );
    const log = new LogCapture();
    const gateway = new Gateway(config, createLogger('debug', log), TYPES);
    await gateway.start();
    res.add(() => gateway.stop());
    const port = gateway.streamPort('secure', 'tls');
    expect(port).not.toBe(gateway.streamPort('secure', 'tcp'));
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(world, HOST_B) });
    const c = track(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subject.CN).toBe(HOST_B);
    await echoes(c, 'over tls');
    expect(log.events('listen')).toEqual(expect.arrayContaining([expect.objectContaining({ tls: true, msg: `listening on tls://127.0.0.1:${port} (secure)` })]));
    expect(log.events('session.open')).toEqual([expect.objectContaining({ service: 'secure', transport: 'tcp' })]);
  });

  /** A Gangway with one `bytes` service on a tls:// listener, the test certificates and `gangway` settings. */
  async function startTls(serviceExtra: Record<string, unknown>, gangway: Record<string, unknown> = {}): Promise<Started> {
    const config = buildConfig(
      { gangway, tls: { certificates: [{ cert: 'gw.crt', key: 'gw.key' }] }, services: [{ name: 'secure', type: 'bytes', accept: 'tls://127.0.0.1:0', ...serviceExtra }] },
      { source: 'test', types: TYPES, env: {}, baseDir: world.dir },
    );
    const log = new LogCapture();
    const gateway = new Gateway(config, createLogger('debug', log), TYPES);
    await gateway.start();
    res.add(() => gateway.stop());
    return { gateway, log, port: (name) => gateway.streamPort(name), metric: async (name, labels) => sample(parseMetrics((await gateway.metricsText()).body), name, labels) };
  }

  /** A TLS client on `port` (or over `socket`): whether its handshake finished, and when it was closed. */
  function tlsClient(port: number, socket?: net.Socket): { client: Client; secured: Promise<boolean> } {
    const s = tls.connect({ host: '127.0.0.1', port, ...(socket ? { socket } : {}), ...tlsOptions(world) });
    const client = track(s);
    const secured = new Promise<boolean>((resolve) => {
      s.once('secureConnect', () => resolve(true));
      s.once('close', () => resolve(false));
    });
    return { client, secured };
  }

  it('takes the rate token on the TCP connection: a refused client gets no handshake', async () => {
    const gw = await startTls({ limits: { connectionsPerSecondPerIp: 0.5 } });
    const first = tlsClient(gw.port('secure'));
    expect(await first.secured).toBe(true);
    await echoes(first.client, 'admitted');
    const refused = tlsClient(gw.port('secure'));
    expect(await refused.secured).toBe(false);
    expect(await gw.metric('gangway_errors_total', { service: 'secure', code: 'GW_ERR_RATE_LIMITED' })).toBe(1);
    expect(gw.log.records().filter((r) => r.code === 'GW_ERR_RATE_LIMITED')).toEqual([expect.objectContaining({ level: 'debug', remote: '127.0.0.1', msg: 'too many new connections from 127.0.0.1: limit 0.5/s' })]);
    expect(gw.log.records().filter((r) => r.msg === 'TLS handshake failed')).toEqual([]);
  });

  it('closes a connection past maxConnections before its handshake, and checks the places again after one', async () => {
    const gw = await startTls({ limits: { maxConnections: 1 } });
    // Admitted while the place is free; its handshake starts later.
    const pending = await connect(gw.port('secure'));
    const first = tlsClient(gw.port('secure'));
    expect(await first.secured).toBe(true);
    await echoes(first.client, 'the one session');
    const refused = tlsClient(gw.port('secure'));
    expect(await refused.secured).toBe(false);
    expect(await gw.metric('gangway_errors_total', { service: 'secure', code: 'GW_ERR_TOO_MANY_CONNECTIONS' })).toBe(1);
    // The earlier connection finishes its handshake now that the place is taken: closed, not a session.
    const late = tlsClient(0, pending.socket);
    await late.client.closed;
    expect(await gw.metric('gangway_errors_total', { service: 'secure', code: 'GW_ERR_TOO_MANY_CONNECTIONS' })).toBe(2);
    expect(gw.log.records().filter((r) => r.code === 'GW_ERR_TOO_MANY_CONNECTIONS')).toEqual([
      expect.objectContaining({ service: 'secure', msg: 'service secure is at its limit of 1 connections' }),
      expect.objectContaining({ service: 'secure', msg: 'service secure is at its limit of 1 connections' }),
    ]);
    expect(gw.log.events('session.open')).toHaveLength(1);
    await echoes(first.client, 'still here');
  });

  it('closes a client whose TLS handshake is not done within tlsHandshakeTimeoutMs, logging why', async () => {
    const gw = await startTls({}, { limits: { tlsHandshakeTimeoutMs: 1000 } });
    const silent = await connect(gw.port('secure'));
    await silent.closed;
    expect(silent.received).toEqual([]);
    expect(gw.log.records().filter((r) => r.msg === 'TLS handshake failed')).toEqual([
      expect.objectContaining({ level: 'debug', service: 'secure', remote: '127.0.0.1', err: 'ERR_TLS_HANDSHAKE_TIMEOUT' }),
    ]);
    expect(gw.log.events('session.open')).toEqual([]);
    // A client that completes its handshake in time is served.
    const prompt = tlsClient(gw.port('secure'));
    expect(await prompt.secured).toBe(true);
    await echoes(prompt.client, 'in time');
  });

  it('holds wss:// listeners to tlsHandshakeTimeoutMs as well', async () => {
    const config = buildConfig(
      { gangway: { limits: { tlsHandshakeTimeoutMs: 300 } }, tls: { certificates: [{ cert: 'gw.crt', key: 'gw.key' }] }, services: [{ name: 'echo', type: 'echo', accept: 'wss://127.0.0.1:0/echo' }] },
      { source: 'test', types: TYPES, env: {}, baseDir: world.dir },
    );
    const log = new LogCapture();
    const gateway = new Gateway(config, createLogger('debug', log), TYPES);
    await gateway.start();
    res.add(() => gateway.stop());
    const silent = await connect(gateway.port());
    await silent.closed;
    expect(silent.received).toEqual([]);
    expect(log.records().filter((r) => r.msg === 'TLS handshake failed')).toEqual([
      expect.objectContaining({ listener: `https://127.0.0.1:${gateway.port()}`, remote: '127.0.0.1', err: 'ERR_TLS_HANDSHAKE_TIMEOUT' }),
    ]);
  });
});
