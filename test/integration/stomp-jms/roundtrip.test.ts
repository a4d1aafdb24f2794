/**
 * `stomp.jms` end to end on ActiveMQ and RabbitMQ: temporary topics (private to the client
 * connection, answerable through `reply-to`), and the JMS header fields `expires`, `timestamp`
 * and `persistent` after a round trip through the broker.
 */
import { requireBackend } from '../../support/backends';
import { brokerTargets, JmsClient, sleep, startJmsGateway, unique, type JmsGateway } from './support';

jest.setTimeout(60000);

describe.each(['activemq', 'rabbitmq'] as const)('stomp.jms round trips on %s', (broker) => {
  let gw: JmsGateway;
  const clients: JmsClient[] = [];

  beforeAll(async () => {
    gw = await startJmsGateway(brokerTargets(await requireBackend(broker))[broker]);
  });

  afterAll(async () => {
    await gw.stop();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  async function open(): Promise<JmsClient> {
    const c = await JmsClient.open(gw.url);
    clients.push(c);
    return c;
  }

  it('publishes to a temporary topic that only its own connection can subscribe to, answerable through reply-to', async () => {
    const owner = await open();
    const responder = await open();
    const stranger = await open();
    const service = `/queue/${unique('gw.ttsvc')}`;
    const requests = await responder.subscribe(service);
    // Two subscriptions of the owner to its temporary topic: a topic gives each of them the message.
    const events = await owner.subscribe('/temp-topic/events');
    const again = await owner.subscribe('/temp-topic/events');
    const strangers = await stranger.subscribe('/temp-topic/events');
    await owner.send(service, 'subscribe me', { 'reply-to': '/temp-topic/events' });
    const [req] = await requests.count(1);
    const replyTo = req?.headers['reply-to'] as string;
    expect(replyTo).toMatch(/^\/remote-temp-topic\/gangway\.temp\./);
    await responder.send(replyTo, 'event 1');
    for (const inbox of [events, again]) {
      const [m] = await inbox.count(1);
      expect(m?.body).toBe('event 1');
      expect(m?.headers.destination).toBe('/temp-topic/events');
    }
    // The owner publishes to its own temporary topic under its short name too.
    await owner.send('/temp-topic/events', 'event 2');
    expect((await events.count(2))[1]?.body).toBe('event 2');
    await sleep(300);
    expect(strangers.messages).toHaveLength(0);
    expect(again.bodies()).toEqual(['event 1', 'event 2']);
  });

  it('keeps expires, timestamp and persistent through the broker', async () => {
    const queue = `/queue/${unique('gw.fields')}`;
    const producer = await open();
    const inbox = await (await open()).subscribe(queue);
    const expires = Date.now() + 60_000;
    const before = Date.now();
    await producer.send(queue, 'kept', { expires: String(expires), persistent: 'true' });
    await producer.send(queue, 'transient', { persistent: 'false' });
    const after = Date.now();
    const [kept, transient] = await inbox.count(2);
    expect(kept?.headers.expires).toBe(String(expires));
    expect(kept?.headers.persistent).toBe('true');
    const timestamp = Number(kept?.headers.timestamp);
    expect(timestamp).toBeGreaterThanOrEqual(before);
    expect(timestamp).toBeLessThanOrEqual(after);
    expect(Number(transient?.headers.timestamp)).toBeGreaterThanOrEqual(timestamp);
    // ActiveMQ writes `persistent` only when it is true.
    expect(transient?.headers.persistent).toBe(broker === 'activemq' ? undefined : 'false');
    expect(transient?.headers.expires ?? '0').toBe('0');
  });

  it('lets the broker drop a message whose expires has passed', async () => {
    const queue = `/queue/${unique('gw.expired')}`;
    const producer = await open();
    await producer.send(queue, 'stale', { expires: String(Date.now() + 200) });
    await producer.send(queue, 'fresh', { expires: String(Date.now() + 60_000) });
    await sleep(1000);
    const inbox = await (await open()).subscribe(queue);
    await inbox.count(1);
    await sleep(300);
    expect(inbox.bodies()).toEqual(['fresh']);
  });
});
