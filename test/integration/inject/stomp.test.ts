/**
 * Credential injection in `stomp.proxy` with the real brokers (compose/up: rabbitmq, activemq —
 * ActiveMQ with its authentication plugin on): clients that hold no password log in with the
 * credential Gangway injects; a TCP tap records what reached the broker.
 */
import { Client, type IFrame } from '@stomp/stompjs';
import { WebSocket } from 'ws';
import { Resources, service, startGateway, type StartedGateway } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { rawClient, startTap, type RawClient, type Tap } from '../proxies/support';

jest.setTimeout(30_000);

const res = new Resources();
afterEach(() => res.closeAll());

interface Frame {
  readonly command: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

function parseFrame(data: Buffer): Frame | null {
  const text = data.toString('utf8');
  if (text === '\n' || text === '\r\n') return null;
  const blank = text.indexOf('\n\n');
  const head = text.slice(0, blank).split('\n');
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (!headers.has(line.slice(0, colon))) headers.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const rest = text.slice(blank + 2);
  return { command: head[0] ?? '', headers, body: rest.slice(0, rest.indexOf('\0')) };
}

function frames(client: RawClient): Frame[] {
  return client.messages.map((m) => parseFrame(m.data)).filter((f): f is Frame => f !== null);
}

/** The first CONNECT Gangway sent through the tap, as header lines. */
function sentConnect(tap: Tap): string[] {
  const text = tap.connections[0]?.sent().toString('utf8') ?? '';
  const end = text.indexOf('\0');
  return text.slice(0, end < 0 ? text.length : end).split('\n');
}

async function gateway(host: string, port: number, inject: Record<string, unknown>): Promise<{ gw: StartedGateway; tap: Tap }> {
  const tap = await startTap(res, { host, port });
  const gw = await startGateway(res, {
    services: [service('stomp-inject', 'stomp.proxy', '/stomp', { connect: `tcp://127.0.0.1:${tap.port}`, properties: { inject } })],
  });
  return { gw, tap };
}

/** A stompjs client with the given CONNECT headers; resolves on CONNECTED, rejects on ERROR or close. */
async function stompjs(gw: StartedGateway, connectHeaders: Record<string, string>): Promise<Client> {
  const client = new Client({
    webSocketFactory: () => new WebSocket(gw.ws('/stomp'), ['v12.stomp']),
    connectHeaders,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    reconnectDelay: 0,
    debug: () => undefined,
  });
  res.add(() => client.deactivate({ force: true }));
  const connected = new Promise<IFrame>((resolve, reject) => {
    client.onConnect = resolve;
    client.onStompError = (frame) => reject(new Error(`STOMP ERROR: ${frame.headers.message ?? ''} ${frame.body}`));
    client.onWebSocketClose = (event: { code?: number }) => reject(new Error(`WebSocket closed with ${event.code ?? 0} before CONNECTED`));
  });
  client.activate();
  await within(connected, 5000, 'CONNECTED through Gangway');
  return client;
}

/** Sends one message to a fresh queue and reads it back through the same session. */
async function roundTrip(client: Client): Promise<string> {
  const destination = `/queue/${unique('inject')}`;
  const body = unique('body');
  const got = new Promise<string>((resolve) => client.subscribe(destination, (m) => resolve(m.body)));
  client.publish({ destination, body });
  expect(await within(got, 5000, `MESSAGE on ${destination}`)).toBe(body);
  return body;
}

describe('stomp.proxy credential injection with RabbitMQ', () => {
  let facts: Backends;
  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
  });

  test('a client without passcode logs in as the injected user; its own login never reaches the broker', async () => {
    const { gw, tap } = await gateway(facts.host, facts.rabbitmq.stompPort, {
      source: 'service',
      username: facts.rabbitmq.guest.username,
      password: facts.rabbitmq.guest.password,
      allowPlaintextCredentials: true,
    });
    const client = await stompjs(gw, { host: facts.rabbitmq.vhost, login: 'mallory' });
    await roundTrip(client);
    const lines = sentConnect(tap);
    expect(lines[0]).toBe('CONNECT');
    expect(lines.filter((l) => l.startsWith('login:'))).toEqual([`login:${facts.rabbitmq.guest.username}`]);
    expect(lines.filter((l) => l.startsWith('passcode:'))).toEqual([`passcode:${facts.rabbitmq.guest.password}`]);
    expect(lines).not.toContain('login:mallory');
    expect(gw.log.text()).not.toContain(`passcode:${facts.rabbitmq.guest.password}`);
  });

  test('a wrong injected password: the broker refuses in STOMP (ERROR), then the session closes', async () => {
    const { gw } = await gateway(facts.host, facts.rabbitmq.stompPort, { source: 'service', username: 'guest', password: 'not-the-password', allowPlaintextCredentials: true });
    const client = await rawClient(res, gw.ws('/stomp'), 'v12.stomp');
    client.ws.send(`CONNECT\naccept-version:1.2\nhost:${facts.rabbitmq.vhost}\nheart-beat:0,0\n\n\0`);
    const close = await within(client.closed, 5000, 'the close');
    const error = frames(client).find((f) => f.command === 'ERROR');
    expect(error?.body).toMatch(/access refused/i);
    expect(close.code).toBe(1008);
    expect(gw.log.text()).not.toContain('not-the-password');
  });

  test('tcp:// without allowPlaintextCredentials: refused with a STOMP ERROR and 1008; no CONNECT reaches the broker', async () => {
    const { gw, tap } = await gateway(facts.host, facts.rabbitmq.stompPort, { source: 'service', username: 'guest', password: 'guest-secret-x' });
    const client = await rawClient(res, gw.ws('/stomp'), 'v12.stomp');
    client.ws.send(`CONNECT\naccept-version:1.2\nhost:${facts.rabbitmq.vhost}\nheart-beat:0,0\n\n\0`);
    const close = await within(client.closed, 5000, 'the close');
    const error = frames(client).find((f) => f.command === 'ERROR');
    expect(error?.headers.get('code')).toBe('GW_ERR_INJECT_PLAINTEXT_LINK');
    expect(error?.body).toMatch(/unencrypted link/);
    expect(close.code).toBe(1008);
    const sent = tap.connections[0]?.sent().toString('utf8') ?? '';
    expect(sent).not.toContain('CONNECT');
    expect(sent).not.toContain('guest-secret-x');
  });
});

describe('stomp.proxy credential injection with ActiveMQ (authentication plugin on)', () => {
  let facts: Backends;
  beforeAll(async () => {
    facts = await requireBackend('activemq');
  });

  test('the injected credential is accepted; the client sent none', async () => {
    const { gw, tap } = await gateway(facts.host, facts.activemq.stompPort, {
      source: 'service',
      username: facts.activemq.user.username,
      password: facts.activemq.user.password,
      allowPlaintextCredentials: true,
    });
    const client = await stompjs(gw, { host: 'localhost' });
    await roundTrip(client);
    expect(sentConnect(tap)).toContain(`login:${facts.activemq.user.username}`);
    expect(gw.log.text()).not.toContain(facts.activemq.user.password);
  });

  test('without injection the broker now refuses a client that sends no credential', async () => {
    const tap = await startTap(res, { host: facts.host, port: facts.activemq.stompPort });
    const gw = await startGateway(res, { services: [service('stomp', 'stomp.proxy', '/stomp', { connect: `tcp://127.0.0.1:${tap.port}` })] });
    const client = await rawClient(res, gw.ws('/stomp'), 'v12.stomp');
    client.ws.send('CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0');
    await within(client.closed, 5000, 'the close');
    expect(frames(client).find((f) => f.command === 'ERROR')?.headers.get('message')).toMatch(/password is invalid/i);
  });

  test('a wrong injected password: ERROR "User name [x] or password is invalid" to the client, then close', async () => {
    const { gw } = await gateway(facts.host, facts.activemq.stompPort, { source: 'service', username: facts.activemq.user.username, password: 'wrong-pass', allowPlaintextCredentials: true });
    const client = await rawClient(res, gw.ws('/stomp'), 'v12.stomp');
    client.ws.send('CONNECT\naccept-version:1.2\nhost:localhost\nlogin:x\npasscode:y\nheart-beat:0,0\n\n\0');
    const close = await within(client.closed, 5000, 'the close');
    expect(close.code).toBe(1008);
    const error = frames(client).find((f) => f.command === 'ERROR');
    expect(error?.headers.get('message')).toMatch(new RegExp(`User name \\[${facts.activemq.user.username}\\] or password is invalid`));
  });
});
