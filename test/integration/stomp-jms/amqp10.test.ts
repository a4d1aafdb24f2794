/** `stomp.jms` with the AMQP 1.0 binding (rhea → RabbitMQ's AMQP 1.0 plugin). */
import { requireBackend, type Backends } from '../../support/backends';
import { brokerTargets, expectIndividualRedelivery, JmsClient, rabbitTopicConsumers, sleep, startJmsGateway, unique, type JmsGateway } from './support';

jest.setTimeout(60000);

describe('stomp.jms through Gangway to RabbitMQ over AMQP 1.0', () => {
  let facts: Backends;
  let gw: JmsGateway;
  const clients: JmsClient[] = [];

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
    gw = await startJmsGateway(brokerTargets(facts).rabbitmq10);
  });

  afterAll(async () => {
    await gw.stop();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  async function open(headers: Record<string, string> = {}): Promise<JmsClient> {
    const c = await JmsClient.open(gw.url, headers);
    clients.push(c);
    return c;
  }

  it('delivers a queue message with its headers, RECEIPT after settlement', async () => {
    const producer = await open();
    const consumer = await open();
    const queue = `/queue/${unique('gw.a10')}`;
    const inbox = await consumer.subscribe(queue);
    await producer.send(queue, 'over amqp 1.0', { 'correlation-id': 'c1', 'x-desk': 'fx', 'content-type': 'text/plain' });
    const [m] = await inbox.count(1);
    expect(m?.body).toBe('over amqp 1.0');
    expect(m?.headers.destination).toBe(queue);
    expect(m?.headers['correlation-id']).toBe('c1');
    expect(m?.headers['x-desk']).toBe('fx');
    expect(m?.headers['content-type']).toBe('text/plain');
  });

  it('fans a topic out to several WebSocket subscribers through one broker link', async () => {
    const key = unique('gw.a10t');
    const subs = await Promise.all([open(), open(), open()].map(async (p) => (await p).subscribe(`/topic/${key}`)));
    expect(await rabbitTopicConsumers(key)).toBe(1);
    const producer = await open();
    await producer.send(`/topic/${key}`, 'tick');
    for (const s of subs) expect((await s.count(1))[0]?.body).toBe('tick');
  });

  it('redelivers an unacknowledged client-individual message after the client leaves', () => expectIndividualRedelivery(gw.url, open, `/queue/${unique('gw.a10ack')}`));

  it('applies a transaction at COMMIT and drops it at ABORT', async () => {
    const queue = `/queue/${unique('gw.a10tx')}`;
    const producer = await open();
    const consumer = await open();
    const inbox = await consumer.subscribe(queue);
    const aborted = producer.client.begin();
    producer.client.publish({ destination: queue, body: 'dropped', headers: { transaction: aborted.id } });
    aborted.abort();
    const tx = producer.client.begin();
    producer.client.publish({ destination: queue, body: 'kept', headers: { transaction: tx.id } });
    await sleep(300);
    expect(inbox.messages).toHaveLength(0);
    tx.commit();
    await inbox.count(1);
    await sleep(300);
    expect(inbox.bodies()).toEqual(['kept']);
  });

  it('refuses durable subscriptions with an ERROR naming the binding', async () => {
    const c = await open({ 'client-id': unique('cid') });
    await expect(c.subscribe(`/topic/${unique('gw.a10d')}`, { 'durable-subscription-name': 'x' })).rejects.toThrow(/durable subscriptions are not supported.*amqp10/s);
    expect(await c.closed()).toBe(1008);
  });
});
