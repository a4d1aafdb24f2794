/**
 * Keyring injection in `stomp.proxy` with the real brokers (compose/up: activemq with its
 * authentication plugin on, rabbitmq): stompjs authenticates to Gangway with HTTP Basic and sends
 * no back-end login; Gangway writes the user's keyring entry into CONNECT. Entries are stored
 * through the keyring's HTTP API, and one with `gangway keyring set -c` while the gateway runs.
 */
import { Client, type IFrame } from '@stomp/stompjs';
import { Resources } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { startTap, type Tap } from '../proxies/support';
import { authenticatedWebSocket, createKeyringWorld, nextConnection, store, type KeyringGateway, type KeyringWorld, type User } from './support';

jest.setTimeout(30_000);

let facts: Backends;
let world: KeyringWorld;
let gw: KeyringGateway;
let activemqTap: Tap;
let rabbitTap: Tap;

const suite = new Resources();
const res = new Resources();
afterEach(() => res.closeAll());
afterAll(async () => {
  await suite.closeAll();
  world.cleanup();
});

beforeAll(async () => {
  facts = await requireBackend('activemq');
  await requireBackend('rabbitmq');
  world = await createKeyringWorld();
  activemqTap = await startTap(suite, { host: facts.host, port: facts.activemq.stompPort });
  rabbitTap = await startTap(suite, { host: facts.host, port: facts.rabbitmq.stompPort });
  const inject = { allowPlaintextCredentials: true };
  gw = await world.start(suite, [
    { name: 'activemq', type: 'stomp.proxy', path: '/activemq', connect: `tcp://127.0.0.1:${activemqTap.port}`, inject },
    { name: 'rabbitmq', type: 'stomp.proxy', path: '/rabbitmq', connect: `tcp://127.0.0.1:${rabbitTap.port}`, inject },
  ]);
});

/** The outcome of a stompjs login through Gangway: the client, or the ERROR frame and the WebSocket close. */
type Login = { client: Client } | { error: IFrame | null; close: number };

/** stompjs as a Gangway user, with only the virtual host in CONNECT (no login, no passcode). */
async function login(path: string, user: User, host: string): Promise<Login> {
  const Socket = authenticatedWebSocket(res, gw.authorization(user));
  let error: IFrame | null = null;
  const client = new Client({
    webSocketFactory: () => new Socket(gw.ws(path), ['v12.stomp']),
    connectHeaders: { host },
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    reconnectDelay: 0,
    debug: () => undefined,
  });
  res.add(() => client.deactivate({ force: true }));
  const outcome = new Promise<Login>((done) => {
    client.onConnect = () => done({ client });
    client.onStompError = (frame) => {
      error = frame;
    };
    client.onWebSocketClose = (event: { code?: number }) => done({ error, close: event.code ?? 0 });
  });
  client.activate();
  return within(outcome, 5000, `STOMP login of ${user} through Gangway`);
}

function connected(result: Login): Client {
  if (!('client' in result)) throw new Error(`no CONNECTED: ERROR ${JSON.stringify(result.error?.headers ?? null)} ${result.error?.body ?? ''}, close ${result.close}`);
  return result.client;
}

function refused(result: Login): { error: IFrame; close: number } {
  if ('client' in result) throw new Error('the login was accepted');
  if (result.error === null) throw new Error(`closed with ${result.close} without an ERROR frame`);
  return { error: result.error, close: result.close };
}

/** One message to a fresh queue and back through the same session. */
async function roundTrip(client: Client): Promise<void> {
  const destination = `/queue/${unique('keyring')}`;
  const body = unique('body');
  const got = new Promise<string>((done) => client.subscribe(destination, (m) => done(m.body)));
  client.publish({ destination, body });
  expect(await within(got, 5000, `MESSAGE on ${destination}`)).toBe(body);
}

/** The header lines of the first CONNECT in what Gangway sent to the broker. */
function connectLines(sent: Buffer): string[] {
  const text = sent.toString('utf8');
  const end = text.indexOf('\0');
  return text.slice(0, end < 0 ? text.length : end).split('\n');
}

describe('keyring injection into STOMP CONNECT: ActiveMQ (authentication plugin on)', () => {
  test('alice, entry set with `gangway keyring set -c` while the gateway runs, logs in without a passcode and round-trips', async () => {
    const out = await gw.cliSet('alice', 'activemq', facts.activemq.user);
    expect(out).toMatch(/^stored the credential of alice for activemq /);
    expect(await gw.list('alice')).toContain('activemq');
    const tap = nextConnection(activemqTap);
    await roundTrip(connected(await login('/activemq', 'alice', 'localhost')));
    const lines = connectLines((await tap()).sent());
    expect(lines[0]).toBe('CONNECT');
    expect(lines.filter((l) => l.startsWith('login:'))).toEqual([`login:${facts.activemq.user.username}`]);
    expect(lines.filter((l) => l.startsWith('passcode:'))).toEqual([`passcode:${facts.activemq.user.password}`]);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('bob, with no entry: ERROR code GW_ERR_INJECT_NO_CREDENTIAL, close 1008, no CONNECT reaches the broker', async () => {
    const tap = nextConnection(activemqTap);
    const { error, close } = refused(await login('/activemq', 'bob', 'localhost'));
    expect(error.headers.code).toBe('GW_ERR_INJECT_NO_CREDENTIAL');
    expect(error.headers.message).toBe('no back-end credential for user bob on service activemq');
    expect(error.body).toMatch(/^GW_ERR_INJECT_NO_CREDENTIAL \(not-authorized\): no back-end credential for user bob on service activemq/);
    expect(close).toBe(1008);
    expect((await tap()).sent().toString('utf8')).not.toContain('CONNECT');
  });

  test('carol, with a wrong stored password: the broker\'s ERROR "User name [x] or password is invalid" reaches her, close 1008', async () => {
    await store(gw, 'carol', 'activemq', { username: facts.activemq.user.username, password: 'carol-wrong-amq-pw' });
    const { error, close } = refused(await login('/activemq', 'carol', 'localhost'));
    expect(error.headers.message).toMatch(new RegExp(`User name \\[${facts.activemq.user.username}\\] or password is invalid`));
    expect(close).toBe(1008);
    expect(gw.leakedSecrets()).toEqual([]);
  });
});

describe('keyring injection into STOMP CONNECT: RabbitMQ', () => {
  test('alice, entry stored through the HTTP API, logs in without a passcode and round-trips', async () => {
    await store(gw, 'alice', 'rabbitmq', facts.rabbitmq.gangway);
    const tap = nextConnection(rabbitTap);
    await roundTrip(connected(await login('/rabbitmq', 'alice', facts.rabbitmq.vhost)));
    const lines = connectLines((await tap()).sent());
    expect(lines.filter((l) => l.startsWith('login:'))).toEqual([`login:${facts.rabbitmq.gangway.username}`]);
    expect(lines.filter((l) => l.startsWith('passcode:'))).toEqual([`passcode:${facts.rabbitmq.gangway.password}`]);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('bob, with no entry: ERROR code GW_ERR_INJECT_NO_CREDENTIAL and close 1008', async () => {
    const { error, close } = refused(await login('/rabbitmq', 'bob', facts.rabbitmq.vhost));
    expect(error.headers.code).toBe('GW_ERR_INJECT_NO_CREDENTIAL');
    expect(error.headers.message).toBe('no back-end credential for user bob on service rabbitmq');
    expect(close).toBe(1008);
  });

  test('carol, with a wrong stored password: RabbitMQ\'s ERROR "Access refused" reaches her, close 1008', async () => {
    await store(gw, 'carol', 'rabbitmq', { username: facts.rabbitmq.gangway.username, password: 'carol-wrong-rmq-pw' });
    const { error, close } = refused(await login('/rabbitmq', 'carol', facts.rabbitmq.vhost));
    expect(`${error.headers.message ?? ''} ${error.body}`).toMatch(/access refused/i);
    expect(close).toBe(1008);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('dave: after DELETE of his entry through the API, the next session gets GW_ERR_INJECT_NO_CREDENTIAL', async () => {
    await store(gw, 'dave', 'rabbitmq', facts.rabbitmq.gangway);
    const first = connected(await login('/rabbitmq', 'dave', facts.rabbitmq.vhost));
    await roundTrip(first);
    expect((await gw.remove('dave', 'rabbitmq')).status).toBe(204);
    expect(await gw.list('dave')).toEqual([]);
    const { error, close } = refused(await login('/rabbitmq', 'dave', facts.rabbitmq.vhost));
    expect(error.headers.code).toBe('GW_ERR_INJECT_NO_CREDENTIAL');
    expect(close).toBe(1008);
  });
});
