/**
 * Credential injection in `amqp.proxy` with RabbitMQ (compose/up: rabbitmq): amqplib (AMQP 0-9-1)
 * and rhea (AMQP 1.0) over WebSocket log in with a wrong or empty password, or with ANONYMOUS;
 * Gangway replaces the login with the credential it holds. A TCP tap records what reached the broker.
 */
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, createWebSocketStream } from 'ws';
import { create_container, type Connection, type ConnectionDetails, type EventContext } from 'rhea';
import { credentials, type ChannelModel } from 'amqplib';
import { Resources, service, startGateway, type StartedGateway } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { rawClient, startTap, type Tap } from '../proxies/support';

jest.setTimeout(30_000);

const res = new Resources();
afterEach(() => res.closeAll());

let facts: Backends;
beforeAll(async () => {
  facts = await requireBackend('rabbitmq');
});

async function gateway(inject: Record<string, unknown>): Promise<{ gw: StartedGateway; tap: Tap }> {
  const tap = await startTap(res, { host: facts.host, port: facts.rabbitmq.amqpPort });
  const gw = await startGateway(res, { services: [service('amqp-inject', 'amqp.proxy', '/amqp', { connect: `tcp://127.0.0.1:${tap.port}`, properties: { inject } })] });
  return { gw, tap };
}

function injected(password: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { source: 'service', username: facts.rabbitmq.gangway.username, password, allowPlaintextCredentials: true, ...extra };
}

// --- AMQP 0-9-1 with amqplib ----------------------------------------------------------------

interface AmqpConnection {
  open(fields: Record<string, unknown>, done: (err: Error | null) => void): void;
}

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

/** amqplib's handshake over a WebSocket stream with `auth`; resolves with the channel model or the error. */
async function amqplibOpen(gw: StartedGateway, auth: { mechanism: string; response(): Buffer }): Promise<ChannelModel | Error> {
  const ws = new WebSocket(gw.ws('/amqp'), ['amqp091']);
  await within(new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  }), 5000, 'WebSocket open');
  const stream = createWebSocketStream(ws);
  stream.on('error', () => undefined);
  res.add(() => ws.terminate());
  const { Connection, ChannelModel } = amqplibInternals();
  const connection = new Connection(stream);
  const opened = await within(
    new Promise<Error | null>((resolve) =>
      connection.open(
        { clientProperties: { product: 'gangway-test', capabilities: { authentication_failure_close: true } }, mechanism: auth.mechanism, response: auth.response(), locale: 'en_US', channelMax: 0, frameMax: 131072, heartbeat: 0, virtualHost: facts.rabbitmq.vhost, capabilities: '', insist: 0 },
        resolve,
      ),
    ),
    5000,
    'AMQP 0-9-1 handshake through Gangway',
  );
  if (opened) return opened;
  const model = new ChannelModel(connection);
  res.add(() => model.close().catch(() => undefined));
  return model;
}

async function publishAndGet(model: ChannelModel): Promise<void> {
  const channel = await model.createChannel();
  const queue = unique('gangway.inject');
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

describe('amqp.proxy injection: AMQP 0-9-1 (amqplib)', () => {
  test.each([
    ['PLAIN with a wrong password', () => credentials.plain(facts.rabbitmq.gangway.username, 'wrong-password')],
    ['PLAIN with an empty password', () => credentials.plain('nobody', '')],
    ['AMQPLAIN with a wrong password', () => credentials.amqplain('nobody', 'wrong-password')],
  ])('%s: Gangway injects the stored credential and the session works', async (_name, auth) => {
    const { gw, tap } = await gateway(injected(facts.rabbitmq.gangway.password));
    const model = await amqplibOpen(gw, auth());
    if (model instanceof Error) throw model;
    await publishAndGet(model);
    const sent = (await tap.first()).sent();
    expect(sent.includes(Buffer.from(facts.rabbitmq.gangway.password))).toBe(true);
    expect(sent.includes(Buffer.from('wrong-password'))).toBe(false);
    expect(gw.log.text()).not.toContain(facts.rabbitmq.gangway.password);
  });

  test('a wrong injected password: the broker refuses with ACCESS_REFUSED', async () => {
    const { gw } = await gateway(injected('not-the-password'));
    const result = await amqplibOpen(gw, credentials.plain('x', 'y'));
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/ACCESS_REFUSED|403/);
  });

  test('tcp:// without allowPlaintextCredentials: Connection.Close 403 from Gangway, no login reaches the broker', async () => {
    const { gw, tap } = await gateway(injected(facts.rabbitmq.gangway.password, { allowPlaintextCredentials: false }));
    const result = await amqplibOpen(gw, credentials.plain('x', 'client-secret'));
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/ACCESS_REFUSED.*unencrypted link/);
    const sent = (await tap.first()).sent();
    expect(sent.includes(Buffer.from(facts.rabbitmq.gangway.password))).toBe(false);
    expect(sent.includes(Buffer.from('client-secret'))).toBe(false);
  });
});

// --- AMQP 1.0 with rhea ---------------------------------------------------------------------

/** rhea over WebSocket with `options` (username only: SASL ANONYMOUS); resolves on open or with the error. */
async function rheaOpen(gw: StartedGateway, options: { username?: string; password?: string }): Promise<Connection | Error> {
  const container = create_container({ id: unique('gangway-rhea') });
  const transport = container.websocket_connect(WebSocket);
  const details = transport(gw.ws('/amqp'), ['amqp'], {}) as unknown as (counter: number) => ConnectionDetails;
  const amqp: Connection = container.connect({ host: '127.0.0.1', port: gw.port, connection_details: details, reconnect: false, ...options });
  res.add(async () => {
    if (!amqp.is_open()) return;
    const closed = new Promise<void>((resolve) => amqp.once('connection_close', () => resolve()));
    amqp.close();
    await within(closed, 15000, 'AMQP 1.0 close');
  });
  return within(
    new Promise<Connection | Error>((resolve) => {
      amqp.once('connection_open', () => resolve(amqp));
      amqp.once('connection_error', (context: EventContext) => resolve(context.connection.error instanceof Error ? context.connection.error : new Error(JSON.stringify(context.connection.error))));
      amqp.once('disconnected', (context: EventContext) => resolve(context.error instanceof Error ? context.error : new Error(`disconnected: ${JSON.stringify(context.error ?? null)}`)));
    }),
    5000,
    'AMQP 1.0 open through Gangway',
  );
}

async function roundTrip10(amqp: Connection): Promise<void> {
  const address = `/queue/${unique('gangway.inject10')}`;
  const receiver = amqp.open_receiver({ source: address });
  await within(new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())), 5000, 'receiver attach');
  const received = new Promise<EventContext>((resolve) => receiver.once('message', resolve));
  const sender = amqp.open_sender(address);
  await within(new Promise<void>((resolve) => sender.once('sendable', () => resolve())), 5000, 'sender credit');
  const body = unique('hello');
  sender.send({ body });
  expect((await within(received, 5000, 'message')).message?.body).toBe(body);
}

describe('amqp.proxy injection: AMQP 1.0 (rhea)', () => {
  test('a client offering ANONYMOUS logs in with SASL PLAIN and the stored credential', async () => {
    const { gw, tap } = await gateway(injected(facts.rabbitmq.gangway.password));
    const amqp = await rheaOpen(gw, { username: 'anonymous-client' });
    if (amqp instanceof Error) throw amqp;
    await roundTrip10(amqp);
    const sent = (await tap.first()).sent();
    expect(sent.includes(Buffer.from('PLAIN'))).toBe(true);
    expect(sent.includes(Buffer.from(`\0${facts.rabbitmq.gangway.username}\0${facts.rabbitmq.gangway.password}`))).toBe(true);
    expect(sent.includes(Buffer.from('ANONYMOUS'))).toBe(false);
    expect(gw.log.text()).not.toContain(facts.rabbitmq.gangway.password);
  });

  test('a client sending a wrong PLAIN password is logged in with the stored one', async () => {
    const { gw } = await gateway(injected(facts.rabbitmq.gangway.password));
    const amqp = await rheaOpen(gw, { username: 'someone', password: 'wrong-password' });
    if (amqp instanceof Error) throw amqp;
    await roundTrip10(amqp);
  });

  test('a wrong injected password: the broker fails the SASL exchange', async () => {
    const { gw } = await gateway(injected('not-the-password'));
    const result = await rheaOpen(gw, { username: 'anonymous-client' });
    expect(result).toBeInstanceOf(Error);
  });

  test('a client skipping SASL (rhea given no username does) is refused with open + close amqp:unauthorized-access', async () => {
    const { gw, tap } = await gateway(injected(facts.rabbitmq.gangway.password));
    const client = await rawClient(res, gw.ws('/amqp'), 'amqp');
    client.ws.send(Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'));
    const close = await within(client.closed, 5000, 'the close');
    expect(close.code).toBe(1008);
    const got = client.received();
    expect(got.subarray(0, 8).toString('latin1')).toBe('AMQP\x00\x01\x00\x00');
    expect(got.includes(Buffer.from('amqp:unauthorized-access'))).toBe(true);
    expect(got.includes(Buffer.from('SASL header'))).toBe(true);
    expect((await tap.first()).sent().includes(Buffer.from(facts.rabbitmq.gangway.password))).toBe(false);
  });

  test('tcp:// without allowPlaintextCredentials: SASL outcome sys-perm, no credential on the wire', async () => {
    const { gw, tap } = await gateway(injected(facts.rabbitmq.gangway.password, { allowPlaintextCredentials: false }));
    const result = await rheaOpen(gw, { username: 'anonymous-client' });
    expect(result).toBeInstanceOf(Error);
    const sent = (await tap.first()).sent();
    expect(sent.includes(Buffer.from(facts.rabbitmq.gangway.password))).toBe(false);
    expect(sent.includes(Buffer.from([0x00, 0x53, 0x41]))).toBe(false);
  });
});
