/**
 * `stomp.jms` over plain TCP: stompit clients on a `tcp://` accept URI and @stomp/stompjs
 * clients over WebSocket on the same service, through Gangway to real ActiveMQ (stompit
 * binding) and real RabbitMQ (amqplib binding): shared topic subscriptions across both
 * transports, sends from TCP, heart-beats, connection limits, malformed input, login with
 * CONNECT login/passcode, metrics and log lines.
 */
import net from 'node:net';
import { connect as stompitConnect, type Client as StompitClient } from 'stompit';
import { buildConfig } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import type { StompJmsService } from '../../../src/services/stomp-jms';
import { requireBackend, type Backends } from '../../support/backends';
import { LogCapture, parseMetrics, sample } from '../../support/gateway';
import { USERS, createWorld, type AuthWorld } from '../../fixtures/auth/world';
import { activemqConsumers, brokerTargets, eventually, JmsClient, rabbitTopicConsumers, sleep, TYPES, unique, within, type BrokerTarget } from './support';

jest.setTimeout(60000);

/** A Gangway with one `stomp.jms` service on `ws://…/stomp` and `tcp://…`, logging into a capture. */
interface TcpGateway {
  readonly gateway: Gateway;
  readonly service: StompJmsService;
  readonly log: LogCapture;
  readonly wsUrl: string;
  readonly tcpPort: number;
  metric(name: string, labels: Record<string, string>): Promise<number | undefined>;
}

async function startGateway(target: BrokerTarget, extra: { properties?: Record<string, unknown>; limits?: Record<string, unknown>; top?: Record<string, unknown>; auth?: Record<string, unknown>; baseDir?: string } = {}): Promise<TcpGateway> {
  const config = buildConfig(
    {
      ...extra.top,
      services: [
        {
          name: 'jms',
          type: 'stomp.jms',
          accept: ['ws://127.0.0.1:0/stomp', 'tcp://127.0.0.1:0'],
          connect: target.connect,
          properties: { credentials: target.credentials, reconnect: { initialMs: 200, maxMs: 2000 }, ...extra.properties },
          limits: { connectionsPerSecondPerIp: 100000, connectTimeoutMs: 15000, ...extra.limits },
          ...(extra.auth ? { auth: extra.auth } : {}),
        },
      ],
    },
    { source: 'test', types: TYPES, env: {}, ...(extra.baseDir === undefined ? {} : { baseDir: extra.baseDir }) },
  );
  const log = new LogCapture();
  const gateway = new Gateway(config, createLogger('debug', log), TYPES);
  await gateway.start();
  return {
    gateway,
    log,
    service: [...gateway.services()][0] as StompJmsService,
    wsUrl: `ws://127.0.0.1:${gateway.port()}/stomp`,
    tcpPort: gateway.streamPort('jms'),
    metric: async (name, labels) => sample(parseMetrics((await gateway.metricsText()).body), name, labels),
  };
}

/** A stompit client connected over TCP; rejects with the ERROR frame's message when CONNECT is refused. */
function openTcp(port: number, headers: Record<string, string> = {}): Promise<StompitClient> {
  return within(
    new Promise<StompitClient>((resolve, reject) => {
      const client = stompitConnect({ host: '127.0.0.1', port, connectHeaders: { host: '/', 'accept-version': '1.2', 'heart-beat': '0,0', ...headers } }, (err: Error | null) =>
        err ? reject(err) : resolve(client),
      );
      client.on('error', () => undefined);
    }),
    15000,
    'stompit CONNECT over TCP',
  );
}

/** DISCONNECT, or nothing for a client whose connection is already gone. */
function disconnect(client: StompitClient): Promise<void> {
  if (client.getTransportSocket().destroyed) return Promise.resolve();
  return within(new Promise<void>((resolve) => client.disconnect(() => resolve())), 10000, 'DISCONNECT over TCP');
}

/** Waits for the RECEIPT of a frame stompit sends (or rejects on ERROR). */
function withReceipt(client: StompitClient, command: string, headers: Record<string, string>, body = ''): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      const frame = client.sendFrame(command, headers, { onReceipt: () => resolve(), onError: reject });
      frame.end(body);
    }),
    10000,
    `RECEIPT of ${command}`,
  );
}

/** Bodies of the messages of one stompit subscription, in order. */
class TcpInbox {
  readonly bodies: string[] = [];
  readonly headers: Record<string, string>[] = [];

  async count(n: number, ms = 10000): Promise<string[]> {
    await eventually(() => this.bodies.length >= n, ms, `${n} messages over TCP (have ${this.bodies.length})`);
    return this.bodies.slice(0, n);
  }
}

let nextSubscription = 0;

/** SUBSCRIBE over TCP; resolves on its RECEIPT (the broker subscription is open). */
async function subscribeTcp(client: StompitClient, destination: string): Promise<TcpInbox> {
  const inbox = new TcpInbox();
  const id = ++nextSubscription;
  client.setImplicitSubscription(id, 'auto', (err, message) => {
    if (err) return;
    // stompit keeps a frame's headers on it; its type definitions leave them out.
    inbox.headers.push(Reflect.get(message, 'headers') as Record<string, string>);
    message.readString('utf8', (e, body) => {
      if (!e) inbox.bodies.push(body ?? '');
    });
  });
  await withReceipt(client, 'SUBSCRIBE', { destination, id: String(id), ack: 'auto' });
  return inbox;
}

/** A raw TCP client: everything the server sent, once it closed the connection. */
async function rawClient(port: number): Promise<{ socket: net.Socket; received: () => string; all: Promise<string> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const all = new Promise<string>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks).toString())));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks).toString(), all };
}

describe.each(['activemq', 'rabbitmq'] as const)('stomp.jms over TCP through Gangway to %s', (broker) => {
  let facts: Backends;
  let target: BrokerTarget;
  let gw: TcpGateway;
  const tcpClients: StompitClient[] = [];
  const wsClients: JmsClient[] = [];

  beforeAll(async () => {
    facts = await requireBackend(broker);
    target = brokerTargets(facts)[broker];
    gw = await startGateway(target, { properties: { heartBeat: [500, 500] } });
  });

  afterAll(async () => {
    await gw.gateway.stop();
  });

  afterEach(async () => {
    await Promise.all([...tcpClients.splice(0).map((c) => disconnect(c)), ...wsClients.splice(0).map((c) => c.close())]);
  });

  async function tcp(headers: Record<string, string> = {}): Promise<StompitClient> {
    const c = await openTcp(gw.tcpPort, headers);
    tcpClients.push(c);
    return c;
  }

  async function ws(): Promise<JmsClient> {
    const c = await JmsClient.open(gw.wsUrl);
    wsClients.push(c);
    return c;
  }

  function brokerConsumers(topic: string): Promise<number> {
    return broker === 'activemq' ? activemqConsumers(facts.host, facts.activemq.openwirePort, 'topic', topic) : rabbitTopicConsumers(topic);
  }

  it('answers CONNECT over TCP with CONNECTED for STOMP 1.2', async () => {
    const c = await tcp();
    const headers: unknown = Reflect.get(c, 'headers');
    expect(headers).toMatchObject({ version: '1.2', server: 'Gangway/0.1.0' });
  });

  it('shares one broker subscription between a TCP and a WebSocket subscriber of a topic; both receive, whoever sends', async () => {
    const topic = unique('gw.tcp');
    const destination = `/topic/${topic}`;
    const overTcp = await tcp();
    const overWs = await ws();
    const tcpInbox = await subscribeTcp(overTcp, destination);
    const wsInbox = await overWs.subscribe(destination);
    expect(gw.service.sharedSubscriptions()).toBe(1);
    expect(await brokerConsumers(topic)).toBe(1);

    await withReceipt(overTcp, 'SEND', { destination, 'content-type': 'text/plain', 'x-origin': 'tcp' }, 'from tcp');
    await overWs.send(destination, 'from ws');
    expect(await tcpInbox.count(2)).toEqual(['from tcp', 'from ws']);
    const received = await wsInbox.count(2);
    expect(received.map((m) => m.body)).toEqual(['from tcp', 'from ws']);
    expect(received[0]?.headers['x-origin']).toBe('tcp');
    expect(tcpInbox.headers[0]).toMatchObject({ destination, 'x-origin': 'tcp' });

    // The broker subscription ends with the last local subscriber, whichever transport it is on.
    await overWs.close();
    expect(gw.service.sharedSubscriptions()).toBe(1);
    await disconnect(overTcp);
    tcpClients.splice(tcpClients.indexOf(overTcp), 1);
    await eventually(() => gw.service.sharedSubscriptions() === 0, 10000, 'the shared subscription to end');
  });

  it('delivers a queue message sent over TCP to a WebSocket consumer, and keeps an idle TCP client alive with heart-beats', async () => {
    const queue = `/queue/${unique('gw.tcp.q')}`;
    const consumer = await ws();
    const inbox = await consumer.subscribe(queue);
    const producer = await openTcp(gw.tcpPort, { 'heart-beat': '500,500' });
    tcpClients.push(producer);
    // 500 ms both ways: Gangway's EOLs keep stompit from giving up, stompit's keep Gangway from it.
    await sleep(3000);
    await withReceipt(producer, 'SEND', { destination: queue, persistent: 'true' }, 'after a quiet while');
    const [m] = await inbox.count(1);
    expect(m?.body).toBe('after a quiet while');
    const session = gw.log.events('session.open').filter((o) => o.transport === 'tcp').pop()?.session;
    expect([...gw.gateway.sessions()].find((s) => s.id === session)?.closed).toBe(false);
  });

  it('answers a malformed frame over TCP with an ERROR frame, then closes the connection', async () => {
    const c = await rawClient(gw.tcpPort);
    c.socket.write('CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n\0');
    await eventually(() => c.received().startsWith('CONNECTED'), 15000, 'CONNECTED');
    c.socket.write('SEND\ndestination:/queue/x\ncontent-length:abc\n\nbody\0');
    const text = await within(c.all, 10000, 'the close after ERROR');
    const error = text.slice(text.indexOf('\0') + 1).replace(/^\n+/, '');
    expect(error).toMatch(/^ERROR\n/);
    expect(error).toContain('\ncode:GW_ERR_STOMP_BAD_HEADER_VALUE\n');
    const closes = (): Record<string, unknown>[] => gw.log.events('session.close').filter((l) => l.error === 'GW_ERR_STOMP_BAD_HEADER_VALUE');
    await eventually(() => closes().length > 0, 5000, 'the session.close line');
    expect(closes()).toEqual([expect.objectContaining({ service: 'jms', transport: 'tcp', remote: '127.0.0.1', closeCode: 1002 })]);
  });

  it('counts TCP sessions in the metrics and writes their session.open and session.close lines', async () => {
    const before = (await gw.metric('gangway_sessions_total', { service: 'jms' })) ?? 0;
    const c = await tcp();
    const queue = `/queue/${unique('gw.tcp.m')}`;
    await withReceipt(c, 'SEND', { destination: queue }, 'counted');
    // Sessions of the tests before end in the background.
    await eventually(async () => (await gw.metric('gangway_sessions', { service: 'jms' })) === 1, 5000, 'one session open');
    expect(await gw.metric('gangway_sessions_total', { service: 'jms' })).toBe(before + 1);
    const open = gw.log.events('session.open').pop();
    expect(open).toMatchObject({ service: 'jms', transport: 'tcp', remote: '127.0.0.1' });
    await disconnect(c);
    tcpClients.splice(tcpClients.indexOf(c), 1);
    await eventually(() => gw.log.events('session.close').some((l) => l.session === open?.session), 5000, 'the session.close line');
    const close = gw.log.events('session.close').find((l) => l.session === open?.session);
    expect(close).toMatchObject({ transport: 'tcp', closeCode: 1000, reason: 'DISCONNECT' });
    expect(close?.bytesIn as number).toBeGreaterThan(0);
    expect(close?.bytesOut as number).toBeGreaterThan(0);
    await eventually(async () => (await gw.metric('gangway_sessions', { service: 'jms' })) === 0, 5000, 'no session open');
  });
});

describe('stomp.jms over TCP: limits and login, to rabbitmq', () => {
  let facts: Backends;
  let target: BrokerTarget;
  let world: AuthWorld;
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
    target = brokerTargets(facts).rabbitmq;
    world = await createWorld();
  });

  afterEach(async () => {
    await Promise.all(stops.splice(0).map((s) => s()));
  });

  afterAll(() => world.cleanup());

  async function started(extra: Parameters<typeof startGateway>[1]): Promise<TcpGateway> {
    const g = await startGateway(target, extra);
    stops.push(() => g.gateway.stop());
    return g;
  }

  it('closes a TCP connection past maxConnections at once; the sessions within it work', async () => {
    const gw = await started({ limits: { maxConnections: 1 } });
    const first = await openTcp(gw.tcpPort);
    const refused = await rawClient(gw.tcpPort);
    expect(await within(refused.all, 5000, 'the refused connection to close')).toBe('');
    expect(await gw.metric('gangway_errors_total', { service: 'jms', code: 'GW_ERR_TOO_MANY_CONNECTIONS' })).toBe(1);
    expect(gw.log.records().filter((r) => r.code === 'GW_ERR_TOO_MANY_CONNECTIONS')).toEqual([expect.objectContaining({ msg: 'service jms is at its limit of 1 connections' })]);
    await withReceipt(first, 'SEND', { destination: `/queue/${unique('gw.tcp.limit')}` }, 'still served');
    await disconnect(first);
  });

  it('logs a TCP client in with CONNECT login and passcode; a wrong passcode gets ERROR', async () => {
    const gw = await started({
      top: { realms: [{ name: 'corp', modules: [{ type: 'file', options: { path: 'users.yaml' } }] }] },
      auth: { realm: 'corp', authorization: { anyOf: ['trader'] } },
      baseDir: world.dir,
    });
    await expect(openTcp(gw.tcpPort, { login: 'alice', passcode: 'wrong-passcode' })).rejects.toThrow('authentication failed for user alice');
    const alice = await openTcp(gw.tcpPort, { login: 'alice', passcode: USERS.alice.password });
    const queue = `/queue/${unique('gw.tcp.auth')}`;
    await withReceipt(alice, 'SEND', { destination: queue }, 'from alice');
    expect(gw.log.events('session.login')).toEqual([expect.objectContaining({ user: 'alice' })]);
    await disconnect(alice);
    await eventually(() => gw.log.events('session.close').length === 2, 5000, 'both session.close lines');
    expect(gw.log.events('session.close').map((l) => [l.user, l.error])).toEqual([
      [undefined, 'GW_ERR_AUTH_FAILED'],
      ['alice', undefined],
    ]);
    expect(gw.log.text()).not.toContain(USERS.alice.password);
    expect(gw.log.text()).not.toContain('wrong-passcode');
  });
});
