/**
 * Keyring injection in `amqp.proxy` with RabbitMQ (compose/up: rabbitmq): amqplib (AMQP 0-9-1,
 * PLAIN with a user name and no password) and rhea (AMQP 1.0, SASL ANONYMOUS) authenticate to
 * Gangway with HTTP Basic; Gangway writes the user's keyring entry into Start-Ok or SASL-INIT.
 * Entries are stored through the keyring's HTTP API.
 */
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, type WebSocket } from 'ws';
import { create_container, type Connection, type ConnectionDetails, type EventContext } from 'rhea';
import { credentials, type ChannelModel } from 'amqplib';
import { Resources, type CloseEvent } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { startTap, type Tap } from '../proxies/support';
import { authenticatedWebSocket, closeOf, createKeyringWorld, nextConnection, store, type KeyringGateway, type KeyringWorld, type User } from './support';

jest.setTimeout(30_000);

let facts: Backends;
let world: KeyringWorld;
let gw: KeyringGateway;
let tap: Tap;

const suite = new Resources();
const res = new Resources();
afterEach(() => res.closeAll());
afterAll(async () => {
  await suite.closeAll();
  world.cleanup();
});

beforeAll(async () => {
  facts = await requireBackend('rabbitmq');
  world = await createKeyringWorld();
  tap = await startTap(suite, { host: facts.host, port: facts.rabbitmq.amqpPort });
  const connect = `tcp://127.0.0.1:${tap.port}`;
  const inject = { allowPlaintextCredentials: true };
  gw = await world.start(suite, [
    { name: 'amqp091', type: 'amqp.proxy', path: '/amqp091', connect, inject },
    { name: 'amqp10', type: 'amqp.proxy', path: '/amqp10', connect, inject },
  ]);
});

// --- AMQP 0-9-1 with amqplib ----------------------------------------------------------------

interface AmqpConnection {
  open(fields: Record<string, unknown>, done: (err: Error | null) => void): void;
}

/** amqplib's connection and channel model, driven over a stream of our own (its API dials TCP only). */
function amqplibInternals(): { Connection: new (stream: Duplex) => AmqpConnection; ChannelModel: new (c: AmqpConnection) => ChannelModel } {
  const dir = dirname(require.resolve('amqplib'));
  const load = (file: string, name: string): unknown => {
    const mod: unknown = require(join(dir, 'lib', file));
    const value: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, name) : undefined;
    if (typeof value !== 'function') throw new Error(`amqplib lib/${file} has no ${name}`);
    return value;
  };
  return {
    Connection: load('connection.js', 'Connection') as new (stream: Duplex) => AmqpConnection,
    ChannelModel: load('channel_model.js', 'ChannelModel') as new (c: AmqpConnection) => ChannelModel,
  };
}

/** amqplib as a Gangway user, offering PLAIN with its own name and an empty password. */
async function amqplibOpen(user: User): Promise<{ model: ChannelModel } | { error: Error; close: CloseEvent }> {
  const made: WebSocket[] = [];
  const Socket = authenticatedWebSocket(res, gw.authorization(user), made);
  const ws = new Socket(gw.ws('/amqp091'), ['amqp091']);
  await within(new Promise<void>((done, fail) => {
    ws.once('open', () => done());
    ws.once('unexpected-response', () => fail(new Error(`the upgrade as ${user} was refused`)));
  }), 5000, 'WebSocket open');
  const stream = createWebSocketStream(ws);
  stream.on('error', () => undefined);
  const { Connection, ChannelModel } = amqplibInternals();
  const connection = new Connection(stream);
  const auth = credentials.plain(user, '');
  const failed = await within(
    new Promise<Error | null>((done) =>
      connection.open(
        { clientProperties: { product: 'gangway-keyring-test', capabilities: { authentication_failure_close: true } }, mechanism: auth.mechanism, response: auth.response(), locale: 'en_US', channelMax: 0, frameMax: 131072, heartbeat: 0, virtualHost: facts.rabbitmq.vhost, capabilities: '', insist: 0 },
        done,
      ),
    ),
    5000,
    'AMQP 0-9-1 handshake through Gangway',
  );
  if (failed) return { error: failed, close: await within(closeOf(made[0]), 5000, 'the WebSocket close') };
  const model = new ChannelModel(connection);
  res.add(() => model.close().catch(() => undefined));
  return { model };
}

async function publishAndGet(model: ChannelModel): Promise<void> {
  const channel = await model.createChannel();
  const queue = unique('gangway.keyring');
  await channel.assertQueue(queue, { exclusive: true });
  const body = unique('body');
  channel.sendToQueue(queue, Buffer.from(body));
  let got: false | { content: Buffer } = false;
  for (let i = 0; i < 50 && got === false; i++) {
    got = await channel.get(queue, { noAck: true });
    if (got === false) await new Promise((r) => setTimeout(r, 20));
  }
  expect(got === false ? null : got.content.toString()).toBe(body);
}

function opened091(result: Awaited<ReturnType<typeof amqplibOpen>>): ChannelModel {
  if ('error' in result) throw result.error;
  return result.model;
}

function refused091(result: Awaited<ReturnType<typeof amqplibOpen>>): { error: Error; close: CloseEvent } {
  if ('model' in result) throw new Error('the AMQP 0-9-1 login was accepted');
  return result;
}

describe('keyring injection into AMQP 0-9-1 Start-Ok (amqplib, RabbitMQ)', () => {
  test('alice logs in with her stored credential and round-trips; the client sent no password', async () => {
    await store(gw, 'alice', 'amqp091', facts.rabbitmq.gangway);
    const link = nextConnection(tap);
    await publishAndGet(opened091(await amqplibOpen('alice')));
    const sent = (await link()).sent();
    expect(sent.includes(Buffer.from(`\0${facts.rabbitmq.gangway.username}\0${facts.rabbitmq.gangway.password}`))).toBe(true);
    expect(sent.includes(Buffer.from('\0alice\0'))).toBe(false);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('bob, with no entry: Connection.Close ACCESS_REFUSED naming the missing credential, close 1008, no login reaches the broker', async () => {
    const link = nextConnection(tap);
    const { error, close } = refused091(await amqplibOpen('bob'));
    expect(error.message).toMatch(/ACCESS_REFUSED - no back-end credential for user bob on service amqp091/);
    expect(close.code).toBe(1008);
    expect((await link()).sent().includes(Buffer.from('PLAIN'))).toBe(false);
  });

  test('carol, with a wrong stored password: RabbitMQ\'s ACCESS_REFUSED login refusal reaches her', async () => {
    await store(gw, 'carol', 'amqp091', { username: facts.rabbitmq.gangway.username, password: 'carol-wrong-amqp-pw' });
    const { error } = refused091(await amqplibOpen('carol'));
    expect(error.message).toMatch(/ACCESS_REFUSED - Login was refused/);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('dave: after DELETE of his entry through the API, the next session is refused for want of a credential', async () => {
    await store(gw, 'dave', 'amqp091', facts.rabbitmq.gangway);
    await publishAndGet(opened091(await amqplibOpen('dave')));
    expect((await gw.remove('dave', 'amqp091')).status).toBe(204);
    const { error, close } = refused091(await amqplibOpen('dave'));
    expect(error.message).toMatch(/ACCESS_REFUSED - no back-end credential for user dave on service amqp091/);
    expect(close.code).toBe(1008);
  });
});

// --- AMQP 1.0 with rhea ---------------------------------------------------------------------

/** rhea as a Gangway user with SASL ANONYMOUS (a user name, no password). */
async function rheaOpen(user: User): Promise<{ amqp: Connection } | { error: Error; close: CloseEvent }> {
  const made: WebSocket[] = [];
  const container = create_container({ id: unique('gangway-keyring-rhea') });
  const transport = container.websocket_connect(authenticatedWebSocket(res, gw.authorization(user), made));
  const details = transport(gw.ws('/amqp10'), ['amqp'], {}) as unknown as (counter: number) => ConnectionDetails;
  const amqp: Connection = container.connect({ host: '127.0.0.1', port: 0, connection_details: details, reconnect: false, username: user });
  res.add(async () => {
    if (!amqp.is_open()) return;
    const closed = new Promise<void>((done) => amqp.once('connection_close', () => done()));
    amqp.close();
    await within(closed, 5000, 'AMQP 1.0 close');
  });
  const outcome = await within(
    new Promise<Connection | Error>((done) => {
      amqp.once('connection_open', () => done(amqp));
      amqp.once('connection_error', (context: EventContext) => done(context.error instanceof Error ? context.error : new Error(`connection error: ${JSON.stringify(context.connection.error ?? null)}`)));
      amqp.once('disconnected', (context: EventContext) => done(context.error instanceof Error ? context.error : new Error(`disconnected: ${JSON.stringify(context.error ?? null)}`)));
    }),
    5000,
    'AMQP 1.0 open through Gangway',
  );
  if (outcome instanceof Error) return { error: outcome, close: await within(closeOf(made[0]), 5000, 'the WebSocket close') };
  return { amqp: outcome };
}

async function roundTrip10(amqp: Connection): Promise<void> {
  const address = `/queue/${unique('gangway.keyring10')}`;
  const receiver = amqp.open_receiver({ source: address });
  await within(new Promise<void>((done) => receiver.once('receiver_open', () => done())), 5000, 'receiver attach');
  const received = new Promise<EventContext>((done) => receiver.once('message', done));
  const sender = amqp.open_sender(address);
  await within(new Promise<void>((done) => sender.once('sendable', () => done())), 5000, 'sender credit');
  const body = unique('hello');
  sender.send({ body });
  expect((await within(received, 5000, 'message')).message?.body).toBe(body);
}

function opened10(result: Awaited<ReturnType<typeof rheaOpen>>): Connection {
  if ('error' in result) throw result.error;
  return result.amqp;
}

function refused10(result: Awaited<ReturnType<typeof rheaOpen>>): { error: Error; close: CloseEvent } {
  if ('amqp' in result) throw new Error('the AMQP 1.0 login was accepted');
  return result;
}

describe('keyring injection into AMQP 1.0 SASL-INIT (rhea, RabbitMQ)', () => {
  test('alice, offering ANONYMOUS, logs in with SASL PLAIN and her stored credential, and round-trips', async () => {
    await store(gw, 'alice', 'amqp10', facts.rabbitmq.gangway);
    const link = nextConnection(tap);
    await roundTrip10(opened10(await rheaOpen('alice')));
    const sent = (await link()).sent();
    expect(sent.includes(Buffer.from(`\0${facts.rabbitmq.gangway.username}\0${facts.rabbitmq.gangway.password}`))).toBe(true);
    expect(sent.includes(Buffer.from('ANONYMOUS'))).toBe(false);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('bob, with no entry: SASL outcome auth (code 1) from Gangway, close 1008, no SASL-INIT reaches the broker', async () => {
    const link = nextConnection(tap);
    const { error, close } = refused10(await rheaOpen('bob'));
    expect(error.message).toBe('Failed to authenticate: 1');
    expect(close.code).toBe(1008);
    expect((await link()).sent().includes(Buffer.from('PLAIN'))).toBe(false);
  });

  test('carol, with a wrong stored password: RabbitMQ\'s SASL outcome auth (code 1) reaches her', async () => {
    await store(gw, 'carol', 'amqp10', { username: facts.rabbitmq.gangway.username, password: 'carol-wrong-amqp10-pw' });
    const link = nextConnection(tap);
    const { error } = refused10(await rheaOpen('carol'));
    expect(error.message).toBe('Failed to authenticate: 1');
    // The refusal is the broker's: Gangway did send it the stored (wrong) credential.
    expect((await link()).sent().includes(Buffer.from(`\0${facts.rabbitmq.gangway.username}\0carol-wrong-amqp10-pw`))).toBe(true);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('dave: after DELETE of his entry through the API, the next session is refused for want of a credential', async () => {
    await store(gw, 'dave', 'amqp10', facts.rabbitmq.gangway);
    await roundTrip10(opened10(await rheaOpen('dave')));
    expect((await gw.remove('dave', 'amqp10')).status).toBe(204);
    const link = nextConnection(tap);
    const { error, close } = refused10(await rheaOpen('dave'));
    expect(error.message).toBe('Failed to authenticate: 1');
    expect(close.code).toBe(1008);
    expect((await link()).sent().includes(Buffer.from('PLAIN'))).toBe(false);
  });
});
