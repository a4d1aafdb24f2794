/**
 * `stomp.jms` with the AMQP 1.0 binding (rhea → RabbitMQ's AMQP 1.0 plugin): what is particular
 * to it. The cases every binding shares (queues, topics, temporary queues, ack modes, NACK,
 * transactions, receipts, durable subscriptions and selectors) run in messaging.test.ts
 * (`rabbitmq10`).
 */
import { connect as amqpConnect } from 'amqplib';
import { create_container, type Connection, type EventContext, type Message } from 'rhea';
import { AMQP10_MAX_SENDERS } from '../../../adapters/amqp10';
import { requireBackend, type Backends } from '../../support/backends';
import { brokerTargets, eventually, expectRefusalIsolated, JmsClient, rabbitDropTopicQueues, rabbitmqctl, rabbitTopicConsumers, sleep, startJmsGateway, unique, within, type JmsGateway } from './support';

jest.setTimeout(60000);

describe('stomp.jms through Gangway to RabbitMQ over AMQP 1.0', () => {
  let facts: Backends;
  let gw: JmsGateway;
  const clients: JmsClient[] = [];
  const natives: Connection[] = [];
  const topics: string[] = [];

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
    gw = await startJmsGateway(brokerTargets(facts).rabbitmq10);
  });

  afterAll(async () => {
    await gw.stop();
    await rabbitDropTopicQueues(topics);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const n of natives.splice(0)) n.close();
  });

  async function open(headers: Record<string, string> = {}): Promise<JmsClient> {
    const c = await JmsClient.open(gw.url, headers);
    clients.push(c);
    return c;
  }

  /** A plain AMQP 1.0 client on RabbitMQ, beside Gangway. */
  async function native(): Promise<Connection> {
    const conn = create_container().connect({ host: facts.host, port: facts.rabbitmq.amqpPort, ...facts.rabbitmq.gangway, reconnect: false });
    natives.push(conn);
    await within(new Promise<void>((resolve) => conn.once('connection_open', () => resolve())), 10000, 'AMQP 1.0 open');
    return conn;
  }

  it('fans a topic out to several WebSocket subscribers through one broker link', async () => {
    const key = unique('gw.a10t');
    topics.push(key);
    const subs = await Promise.all([open(), open(), open()].map(async (p) => (await p).subscribe(`/topic/${key}`)));
    expect(await rabbitTopicConsumers(key)).toBe(1);
    const producer = await open();
    await producer.send(`/topic/${key}`, 'tick');
    for (const s of subs) expect((await s.count(1))[0]?.body).toBe('tick');
    // The broker subscription ends with its last local subscriber.
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await eventually(async () => (await rabbitTopicConsumers(key)) === 0, 10000, 'no consumer on the topic');
  });

  it('takes messages from a durable queue another RabbitMQ client declared', async () => {
    const name = unique('gw.a10dq');
    const conn = await amqpConnect({ hostname: facts.host, port: facts.rabbitmq.amqpPort, ...facts.rabbitmq.gangway });
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue(name, { durable: true });
      ch.sendToQueue(name, Buffer.from('from 0-9-1'), { persistent: true });
      await ch.waitForConfirms();
    } finally {
      await conn.close();
    }
    const consumer = await open();
    const inbox = await consumer.subscribe(`/queue/${name}`, { ack: 'client-individual' });
    const [m] = await inbox.count(1);
    expect(m?.body).toBe('from 0-9-1');
    await consumer.withReceipt((receipt) => m?.message.ack({ receipt }));
    const producer = await open();
    await producer.send(`/queue/${name}`, 'from STOMP');
    expect((await inbox.count(2))[1]?.body).toBe('from STOMP');
  });

  it('gives reply-to as a RabbitMQ address: a plain AMQP 1.0 client answers to the temporary queue', async () => {
    const service = `/queue/${unique('gw.a10svc')}`;
    const responder = await native();
    const requests: string[] = [];
    const receiver = responder.open_receiver({ source: { address: service, durable: 1 } });
    receiver.on('message', (ctx: EventContext) => {
      const req = ctx.message as Message;
      const replyTo = String(req.reply_to);
      requests.push(replyTo);
      const sender = responder.open_sender({ target: { address: replyTo } });
      sender.once('sendable', () => sender.send({ body: 'pong', correlation_id: req.correlation_id }));
    });
    await within(new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())), 10000, 'receiver attach');
    const requester = await open();
    const replies = await requester.subscribe('/temp-queue/replies');
    await requester.send(service, 'ping', { 'reply-to': '/temp-queue/replies', 'correlation-id': 'c-10' });
    const [reply] = await replies.count(1);
    expect(requests).toEqual([expect.stringMatching(/^\/queue\/gangway\.temp\.[^/]+\.replies$/)]);
    expect(reply?.body).toBe('pong');
    expect(reply?.headers.destination).toBe('/temp-queue/replies');
    expect(reply?.headers['correlation-id']).toBe('c-10');
  });

  it.each([
    ['/queue/NAME', (q: string) => `/queue/${q}`, 'queue'],
    ['/amq/queue/NAME', (q: string) => `/amq/queue/${q}`, 'queue'],
    ['a bare queue name', (q: string) => q, 'queue'],
    ['/topic/KEY', (k: string) => `/topic/${k}`, 'topic'],
    ['/exchange/amq.topic/KEY', (k: string) => `/exchange/amq.topic/${k}`, 'topic'],
  ] as const)("shows a plain AMQP 1.0 client's reply-to %s as a destination a STOMP client answers to", async (_form, replyAddress, kind) => {
    const service = `/queue/${unique('gw.a10svc')}`;
    const name = unique('gw.a10rq');
    if (kind === 'topic') topics.push(name);
    const responder = await open();
    const requests = await responder.subscribe(service);
    const requester = await native();
    const replies: string[] = [];
    const receiver = requester.open_receiver({ source: kind === 'queue' ? { address: `/queue/${name}`, durable: 1 } : { address: `/topic/${name}` } });
    receiver.on('message', (ctx: EventContext) => replies.push(String(ctx.message?.correlation_id)));
    await within(new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())), 10000, 'receiver attach');
    const sender = requester.open_sender({ target: { address: service, durable: 1 } });
    sender.once('sendable', () => sender.send({ body: 'ping', reply_to: replyAddress(name), correlation_id: 'c-11' }));
    const [req] = await requests.count(1);
    expect(req?.headers['reply-to']).toBe(`/${kind}/${name}`);
    await responder.send(req?.headers['reply-to'] as string, 'pong', { 'correlation-id': req?.headers['correlation-id'] as string });
    await within(
      (async () => {
        while (replies.length === 0) await sleep(20);
      })(),
      5000,
      'the reply',
    );
    expect(replies).toEqual(['c-11']);
  });

  /** RabbitMQ's count of channels (an AMQP 1.0 session is one) by client connection (`host:port`). */
  async function channelsByConnection(): Promise<Map<string, number>> {
    const names = await rabbitmqctl('list_channels', 'name', '--no-table-headers');
    const counts = new Map<string, number>();
    for (const line of names.split('\n')) {
      const client = line.split(' -> ')[0];
      if (client) counts.set(client, (counts.get(client) ?? 0) + 1);
    }
    return counts;
  }

  it(`keeps at most ${AMQP10_MAX_SENDERS} sender sessions per broker connection, closing the least recently used`, async () => {
    const before = await channelsByConnection();
    const local = await startJmsGateway(brokerTargets(facts).rabbitmq10, { poolSize: 1 });
    try {
      const producer = await JmsClient.open(local.url);
      const queues = Array.from({ length: AMQP10_MAX_SENDERS + 6 }, () => `/queue/${unique('gw.a10lru')}`);
      for (const q of queues) await producer.send(q, 'x');
      // Gangway's broker connection: the new one with the most sessions.
      const sessions = async (): Promise<number> => Math.max(0, ...[...(await channelsByConnection())].filter(([c]) => !before.has(c)).map(([, n]) => n));
      await eventually(async () => (await sessions()) === AMQP10_MAX_SENDERS, 10000, `${AMQP10_MAX_SENDERS} sessions`);
      // A destination whose sender was closed gets a new one (and another idle one goes).
      const consumer = await JmsClient.open(local.url);
      const inbox = await consumer.subscribe(queues[0] as string);
      await producer.send(queues[0] as string, 'again');
      expect((await inbox.count(2)).map((m) => m.body)).toEqual(['x', 'again']);
      await eventually(async () => (await sessions()) === AMQP10_MAX_SENDERS + 1, 10000, `${AMQP10_MAX_SENDERS} sender sessions and one subscription`);
      await Promise.all([producer.close(), consumer.close()]);
    } finally {
      await local.stop();
    }
  });

  it('fails only the refused frame when RabbitMQ refuses an attach: the shared broker connection stays up', async () => {
    await expectRefusalIsolated(brokerTargets(facts).rabbitmq10, async (url) => {
      const subscriber = await JmsClient.open(url);
      const sender = await JmsClient.open(url);
      // RabbitMQ takes no "/" in a queue name: it refuses the attach by ending the AMQP session.
      const bad = `/queue/${unique('gw.a10iso')}/x`;
      await expect(subscriber.subscribe(bad)).rejects.toThrow(/SUBSCRIBE to \/queue\/gw\.a10iso-\S+\/x failed GW_ERR_STOMP_JMS_BROKER_REFUSED: the broker refused \/queue\/\S+\/x: Attach rejected: \{invalid_destination,queue,.*\(amqp:invalid-field\)/);
      expect(await subscriber.closed()).toBe(1011);
      await expect(sender.send(bad, 'nowhere')).rejects.toThrow(/SEND to \/queue\/\S+\/x failed GW_ERR_STOMP_JMS_BROKER_REFUSED: the broker refused \/queue\/\S+\/x: Attach rejected/);
      expect(await sender.closed()).toBe(1011);
      return [subscriber, sender];
    });
  });
});
