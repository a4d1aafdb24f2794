/**
 * `stomp.jms` end to end: @stomp/stompjs clients over WebSocket → Gangway → real ActiveMQ
 * (stompit binding), real RabbitMQ (amqplib binding) and RabbitMQ's AMQP 1.0 plugin (rhea
 * binding, `rabbitmq10`).
 */
import { connect as amqpConnect } from 'amqplib';
import { connect as stompitConnect, type Client as StompitClient } from 'stompit';
import { requireBackend, type Backends } from '../../support/backends';
import { brokerTargets, expectIndividualRedelivery, expectRefusalIsolated, JmsClient, rabbitDropTopicQueues, sleep, startJmsGateway, unique, within, type BrokerTarget, type JmsGateway } from './support';

jest.setTimeout(60000);

/** Reads one message from a queue straight from the broker, bypassing Gangway. */
async function readDirect(facts: Backends, broker: 'activemq' | 'rabbitmq', queue: string): Promise<string | null> {
  if (broker === 'rabbitmq') {
    const conn = await amqpConnect({ hostname: facts.host, port: facts.rabbitmq.amqpPort, username: facts.rabbitmq.gangway.username, password: facts.rabbitmq.gangway.password });
    try {
      const ch = await conn.createChannel();
      const m = await ch.get(queue, { noAck: true });
      return m === false ? null : m.content.toString();
    } finally {
      await conn.close();
    }
  }
  const client = await new Promise<StompitClient>((resolve, reject) => {
    const c = stompitConnect(
      { host: facts.host, port: facts.activemq.stompPort, connectHeaders: { host: 'localhost', 'accept-version': '1.2', 'heart-beat': '0,0', login: 'gangway', passcode: 'gangway-test' } },
      (err: Error | null) => (err ? reject(err) : resolve(c)),
    );
    c.on('error', () => undefined);
  });
  try {
    return await within(
      new Promise<string>((resolve, reject) => {
        client.subscribe({ destination: `/queue/${queue}`, ack: 'auto' }, (err, message) => {
          if (err) {
            reject(err);
            return;
          }
          message.readString('utf8', (e, s) => (e ? reject(e) : resolve(s ?? '')));
        });
      }),
      3000,
      'direct read from ActiveMQ',
    ).catch(() => null);
  } finally {
    await new Promise<void>((resolve) => client.disconnect(() => resolve()));
  }
}

describe.each(['activemq', 'rabbitmq', 'rabbitmq10'] as const)('stomp.jms through Gangway to %s', (binding) => {
  /** The broker behind the binding. */
  const broker = binding === 'activemq' ? 'activemq' : 'rabbitmq';
  let facts: Backends;
  let target: BrokerTarget;
  let gw: JmsGateway;
  const clients: JmsClient[] = [];
  /** Topic names used, for {@link rabbitDropTopicQueues}. */
  const topics: string[] = [];

  function topicName(prefix: string): string {
    const name = unique(prefix);
    topics.push(name);
    return name;
  }

  beforeAll(async () => {
    facts = await requireBackend(broker);
    target = brokerTargets(facts)[binding];
    gw = await startJmsGateway(target);
  });

  afterAll(async () => {
    await gw.stop();
    if (binding === 'rabbitmq10') await rabbitDropTopicQueues(topics);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  async function open(headers: Record<string, string> = {}): Promise<JmsClient> {
    const c = await JmsClient.open(gw.url, headers);
    clients.push(c);
    return c;
  }

  /**
   * `first` leaves; a marker sent after it is then the only message left on `queue`: what `first`
   * received was settled and does not come again.
   */
  async function expectSettled(first: JmsClient, producer: JmsClient, queue: string): Promise<void> {
    await first.drop();
    await producer.send(queue, 'marker');
    const again = await (await open()).subscribe(queue);
    await again.count(1);
    await sleep(300);
    expect(again.bodies()).toEqual(['marker']);
  }

  it('negotiates STOMP 1.2 and heart-beats in CONNECTED', async () => {
    const c = await open();
    expect(c.client.connectedVersion).toBe('1.2');
  });

  it('delivers a queue message point to point with its JMS headers and custom properties', async () => {
    const producer = await open();
    const consumer = await open();
    const queue = `/queue/${unique('gw.p2p')}`;
    const inbox = await consumer.subscribe(queue);
    await producer.send(queue, 'order 1', {
      'correlation-id': 'corr-1',
      type: 'Order',
      priority: '7',
      persistent: 'true',
      'content-type': 'text/plain',
      'x-trade': '42',
    });
    const [m] = await inbox.count(1);
    expect(m?.body).toBe('order 1');
    expect(m?.headers.destination).toBe(queue);
    expect(m?.headers['message-id']).toMatch(/^ID:/);
    expect(m?.headers['correlation-id']).toBe('corr-1');
    expect(m?.headers.type).toBe('Order');
    expect(m?.headers.priority).toBe('7');
    expect(m?.headers['content-type']).toBe('text/plain');
    expect(m?.headers['x-trade']).toBe('42');
  });

  it('gives each queue message to one of two competing consumers', async () => {
    const producer = await open();
    const a = await (await open()).subscribe(`/queue/${unique('unused')}`);
    expect(a.messages).toHaveLength(0);
    const queue = `/queue/${unique('gw.compete')}`;
    const c1 = await (await open()).subscribe(queue);
    const c2 = await (await open()).subscribe(queue);
    for (let i = 0; i < 10; i++) await producer.send(queue, `m${i}`);
    await within(
      (async () => {
        while (c1.messages.length + c2.messages.length < 10) await sleep(20);
      })(),
      5000,
      '10 messages',
    );
    await sleep(200);
    const all = [...c1.bodies(), ...c2.bodies()].sort();
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
  });

  it('fans a topic message out to every subscriber', async () => {
    const topic = `/topic/${topicName('gw.fan')}`;
    const subs = await Promise.all([open(), open(), open()].map(async (p) => (await p).subscribe(topic)));
    const producer = await open();
    await producer.send(topic, 'tick');
    for (const s of subs) expect((await s.count(1))[0]?.body).toBe('tick');
  });

  it('answers a request through a temporary queue, rewriting reply-to both ways', async () => {
    const requester = await open();
    const responder = await open();
    const other = await open();
    const service = `/queue/${unique('gw.svc')}`;
    const requests = await responder.subscribe(service);
    const replies = await requester.subscribe('/temp-queue/replies');
    const stranger = await other.subscribe('/temp-queue/replies');
    await requester.send(service, 'ping', { 'reply-to': '/temp-queue/replies', 'correlation-id': 'c-7' });
    const [req] = await requests.count(1);
    const replyTo = req?.headers['reply-to'] as string;
    expect(replyTo).toMatch(/^\/remote-temp-queue\/gangway\.temp\./);
    await responder.send(replyTo, 'pong', { 'correlation-id': req?.headers['correlation-id'] as string });
    const [reply] = await replies.count(1);
    expect(reply?.body).toBe('pong');
    expect(reply?.headers.destination).toBe('/temp-queue/replies');
    expect(reply?.headers['correlation-id']).toBe('c-7');
    await sleep(300);
    expect(stranger.messages).toHaveLength(0);
  });

  if (binding === 'rabbitmq10') {
    it('refuses a durable topic subscription with an ERROR saying why', async () => {
      const c = await open({ 'client-id': unique('cid') });
      await expect(c.subscribe(`/topic/${topicName('gw.durable')}`, { 'durable-subscription-name': 'prices' })).rejects.toThrow(
        /durable subscriptions are not supported GW_ERR_STOMP_JMS_UNSUPPORTED: the amqp10 binding has no durable subscriptions: RabbitMQ's AMQP 1\.0 plugin \(3\.x\) gives a durable topic subscription a server-named queue/,
      );
      expect(await c.closed()).toBe(1008);
    });
  } else {
    it('keeps a durable topic subscription across a client reconnect', () => expectDurable(`/topic/${topicName('gw.durable')}`));
  }

  async function expectDurable(topic: string): Promise<void> {
    const clientId = unique('cid');
    const headers = { 'durable-subscription-name': 'prices' };
    const first = await JmsClient.open(gw.url, { 'client-id': clientId });
    const live = await first.subscribe(topic, headers);
    const producer = await open();
    await producer.send(topic, 'while connected');
    expect((await live.count(1))[0]?.body).toBe('while connected');
    await first.close();
    await producer.send(topic, 'while away');
    const second = await JmsClient.open(gw.url, { 'client-id': clientId });
    clients.push(second);
    const back = await second.subscribe(topic, headers);
    expect((await back.count(1, 10000))[0]?.body).toBe('while away');
    // Remove the durable subscription: later messages are kept for nobody.
    await second.withReceipt((receipt) => back.subscription?.unsubscribe({ ...headers, receipt }));
  }

  it('acknowledges individually with client-individual: an unacknowledged message comes again, redelivered', () => expectIndividualRedelivery(gw.url, open, `/queue/${unique('gw.ci')}`));

  it('acknowledges cumulatively with client: an ACK settles every earlier message of the subscription', async () => {
    const queue = `/queue/${unique('gw.cl')}`;
    const producer = await open();
    for (const b of ['a', 'b', 'c']) await producer.send(queue, b);
    const first = await JmsClient.open(gw.url);
    const inbox = await first.subscribe(queue, { ack: 'client' });
    const [, b] = await inbox.count(3);
    await first.withReceipt((receipt) => b?.message.ack({ receipt }));
    await first.drop();
    const second = await open();
    const again = await second.subscribe(queue, { ack: 'client' });
    const [m] = await again.count(1, 10000);
    expect(m?.body).toBe('c');
    expect(m?.headers.redelivered).toBe('true');
    m?.message.ack();
    await sleep(300);
    expect(again.bodies()).toEqual(['c']);
  });

  it('settles auto-acknowledged messages: nothing comes again after the client leaves', async () => {
    const queue = `/queue/${unique('gw.auto')}`;
    const producer = await open();
    await producer.send(queue, 'x');
    const first = await JmsClient.open(gw.url);
    await (await first.subscribe(queue)).count(1);
    await expectSettled(first, producer, queue);
  });

  it('returns a NACKed message to the broker', async () => {
    const queue = `/queue/${unique('gw.nack')}`;
    const producer = await open();
    const consumer = await open();
    const inbox = await consumer.subscribe(queue, { ack: 'client-individual' });
    // ActiveMQ dead-letters persistent messages only.
    await producer.send(queue, 'bad', { persistent: 'true' });
    const [m] = await inbox.count(1);
    await consumer.withReceipt((receipt) => m?.message.nack({ receipt }));
    if (broker === 'rabbitmq') {
      // RabbitMQ requeues: the message comes again, marked redelivered.
      const [, again] = await inbox.count(2, 10000);
      expect(again?.body).toBe('bad');
      expect(again?.headers.redelivered).toBe('true');
      again?.message.ack();
    } else {
      // ActiveMQ's STOMP NACK is a poison ack: the message goes to the dead-letter queue.
      const dlq = await consumer.subscribe('/queue/ActiveMQ.DLQ', { selector: `JMSMessageID = '${m?.headers['message-id'] as string}'` });
      expect((await dlq.count(1, 10000))[0]?.body).toBe('bad');
    }
  });

  it('commits a transaction: its messages appear together, only at COMMIT', async () => {
    const queue = `/queue/${unique('gw.tx')}`;
    const producer = await open();
    const consumer = await open();
    const inbox = await consumer.subscribe(queue);
    const tx = producer.client.begin();
    producer.client.publish({ destination: queue, body: 't1', headers: { transaction: tx.id } });
    producer.client.publish({ destination: queue, body: 't2', headers: { transaction: tx.id } });
    await sleep(500);
    expect(inbox.messages).toHaveLength(0);
    tx.commit();
    await inbox.count(2);
    expect(inbox.bodies()).toEqual(['t1', 't2']);
  });

  it('aborts a transaction: its messages never appear', async () => {
    const queue = `/queue/${unique('gw.abort')}`;
    const producer = await open();
    const consumer = await open();
    const inbox = await consumer.subscribe(queue);
    const tx = producer.client.begin();
    producer.client.publish({ destination: queue, body: 'dropped', headers: { transaction: tx.id } });
    tx.abort();
    await producer.send(queue, 'kept');
    await inbox.count(1);
    await sleep(300);
    expect(inbox.bodies()).toEqual(['kept']);
  });

  it('applies an ACK inside a transaction at COMMIT', async () => {
    const queue = `/queue/${unique('gw.txack')}`;
    const producer = await open();
    await producer.send(queue, 'settle-me');
    const first = await JmsClient.open(gw.url);
    const inbox = await first.subscribe(queue, { ack: 'client-individual' });
    const [m] = await inbox.count(1);
    const tx = first.client.begin();
    m?.message.ack({ transaction: tx.id });
    tx.commit();
    // The RECEIPT of a later frame comes after the COMMIT's broker confirmation.
    await first.send(`/queue/${unique('gw.barrier')}`, 'barrier');
    await expectSettled(first, producer, queue);
  });

  it('sends RECEIPT for SEND only once the broker holds the message', async () => {
    const name = unique('gw.receipt');
    const producer = await open();
    await producer.send(`/queue/${name}`, 'confirmed');
    expect(await readDirect(facts, broker, name)).toBe('confirmed');
  });

  it('answers an unknown destination form with ERROR and closes', async () => {
    const c = await open();
    await expect(c.send('/exchange/x/y', 'no')).rejects.toThrow(/destination: expected \/queue\/NAME/);
    expect(await c.closed()).toBe(1008);
  });

  if (broker === 'activemq') {
    it('fails only the refused frame when ActiveMQ answers ERROR: the shared broker connection stays up', async () => {
      await expectRefusalIsolated(target, async (url) => {
        const culprit = await JmsClient.open(url);
        // ActiveMQ refuses a malformed selector with ERROR (receipt-id of the SUBSCRIBE) and keeps the connection.
        await expect(culprit.subscribe(`/topic/${unique('gw.iso')}`, { selector: "color = = 'red'" })).rejects.toThrow(/SUBSCRIBE to \/topic\/.* failed.*GW_ERR_STOMP_JMS_BROKER_REFUSED: Couldn't create TopicSubscription/s);
        expect(await culprit.closed()).toBe(1011);
        return [culprit];
      });
    });

    it('passes a selector to ActiveMQ', async () => {
      const queue = `/queue/${unique('gw.sel')}`;
      const producer = await open();
      const consumer = await open();
      const inbox = await consumer.subscribe(queue, { selector: "color = 'red'" });
      await producer.send(queue, 'blue one', { color: 'blue' });
      await producer.send(queue, 'red one', { color: 'red' });
      await inbox.count(1);
      await sleep(300);
      expect(inbox.bodies()).toEqual(['red one']);
    });
  } else {
    it('refuses a selector with an ERROR saying RabbitMQ cannot filter', async () => {
      const c = await open();
      const reason = binding === 'rabbitmq' ? /selectors are not supported GW_ERR_STOMP_JMS_UNSUPPORTED: the amqp091 binding cannot filter/ : /selectors are not supported GW_ERR_STOMP_JMS_UNSUPPORTED: the amqp10 binding cannot filter messages with a selector \(RabbitMQ's AMQP 1\.0 plugin has no selector filter\)/;
      await expect(c.subscribe(`/queue/${unique('gw.sel')}`, { selector: "color = 'red'" })).rejects.toThrow(reason);
      expect(await c.closed()).toBe(1008);
    });
  }
});
