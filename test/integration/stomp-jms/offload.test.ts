/**
 * Offloading: many WebSocket subscribers of one topic share one broker subscription (counted by
 * the broker itself), and a subscriber that stops reading does not hold up the others.
 */
import WebSocket, { type RawData } from 'ws';
import type { Socket } from 'node:net';
import { requireBackend, type Backends } from '../../support/backends';
import { activemqConsumers, brokerTargets, eventually, JmsClient, rabbitTopicConsumers, sleep, startJmsGateway, unique, within, type Inbox, type JmsGateway } from './support';

jest.setTimeout(180000);

const SUBSCRIBERS = 1000;
/** The slow-subscriber bursts: message count and body size, and the per-session bounds. */
const N = 4000;
const SIZE = 8192;
const MAX_QUEUED = 50;
const MAX_BUFFERED = 131072;

describe.each(['activemq', 'rabbitmq'] as const)('stomp.jms offloading on %s', (broker) => {
  let facts: Backends;
  let gw: JmsGateway;
  const clients: JmsClient[] = [];

  beforeAll(async () => {
    facts = await requireBackend(broker);
  });

  afterEach(async () => {
    for (let i = 0; i < clients.length; i += 200) await Promise.all(clients.slice(i, i + 200).map((c) => c.close()));
    clients.length = 0;
    await gw.stop();
  });

  async function brokerConsumers(topic: string): Promise<number> {
    return broker === 'activemq' ? activemqConsumers(facts.host, facts.activemq.openwirePort, 'topic', topic) : rabbitTopicConsumers(topic);
  }

  it(`gives ${SUBSCRIBERS} WebSocket subscribers of one topic exactly one broker subscription`, async () => {
    gw = await startJmsGateway(brokerTargets(facts)[broker]);
    const topic = unique('gw.offload');
    const inboxes: Inbox[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, SUBSCRIBERS - i) }, () => JmsClient.open(gw.url)));
      clients.push(...batch);
      inboxes.push(...(await Promise.all(batch.map((c) => c.subscribe(`/topic/${topic}`)))));
    }
    expect(gw.service.sharedSubscriptions()).toBe(1);
    expect(await brokerConsumers(topic)).toBe(1);

    const producer = await JmsClient.open(gw.url);
    clients.push(producer);
    await producer.send(`/topic/${topic}`, 'to all');
    await Promise.all(inboxes.map((inbox) => inbox.count(1, 20000)));
    expect(new Set(inboxes.map((inbox) => inbox.messages[0]?.body))).toEqual(new Set(['to all']));

    // The broker subscription ends with the last local subscriber.
    for (let i = 0; i < SUBSCRIBERS; i += 200) await Promise.all(clients.slice(i, Math.min(i + 200, SUBSCRIBERS)).map((c) => c.close()));
    await eventually(() => gw.service.sharedSubscriptions() === 0, 10000, 'the shared subscription to end');
    await eventually(async () => (await brokerConsumers(topic)) === 0, 20000, 'the broker consumer to go');
  });

  /** A raw STOMP client whose socket stops reading after SUBSCRIBE. */
  async function stalledSubscriber(url: string, destination: string): Promise<{ ws: WebSocket; frames: Buffer[] }> {
    const ws = new WebSocket(url, ['v12.stomp']);
    const frames: Buffer[] = [];
    ws.on('message', (data: RawData) => frames.push(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
    ws.send(`SUBSCRIBE\nid:0\ndestination:${destination}\nreceipt:sub\n\n\0`);
    await within(
      (async () => {
        while (!frames.some((f) => f.toString().startsWith('RECEIPT'))) await sleep(10);
      })(),
      10000,
      'RECEIPT of the stalled subscriber',
    );
    const socket: unknown = Reflect.get(ws, '_socket');
    (socket as Socket).pause();
    return { ws, frames };
  }

  async function publishMany(producer: JmsClient, destination: string, n: number, size: number): Promise<void> {
    const pad = 'x'.repeat(size);
    for (let i = 0; i < n; i++) producer.client.publish({ destination, body: `${i}:${pad}` });
    await producer.withReceipt((receipt) => producer.client.publish({ destination: destination.replace('/topic/', '/queue/'), body: 'barrier', headers: { receipt } }), 60000);
  }

  /** Gangway held no more for any one session than its bounds allow (plus one frame in flight). */
  function expectWithinBounds(g: JmsGateway): void {
    const peaks = g.service.peaks();
    expect(peaks.heldFrames).toBeGreaterThan(0);
    expect(peaks.heldFrames).toBeLessThanOrEqual(MAX_QUEUED + 1);
    expect(peaks.bufferedBytes).toBeLessThanOrEqual(MAX_BUFFERED + SIZE + 1024);
  }

  it('keeps delivering to the others while one subscriber stops reading, and ends the stalled one', async () => {
    gw = await startJmsGateway(brokerTargets(facts)[broker], { maxQueuedMessages: MAX_QUEUED }, { maxBufferedBytes: MAX_BUFFERED });
    const topic = `/topic/${unique('gw.slow')}`;
    const fast = await Promise.all([JmsClient.open(gw.url), JmsClient.open(gw.url)]);
    clients.push(...fast);
    const inboxes = await Promise.all(fast.map((c) => c.subscribe(topic)));
    const slow = await stalledSubscriber(gw.url, topic);
    try {
      const producer = await JmsClient.open(gw.url);
      clients.push(producer);
      // Enough to fill the loopback socket buffers of the stalled client (tens of MB) and its bound.
      await publishMany(producer, topic, N, SIZE);
      await Promise.all(inboxes.map((inbox) => inbox.count(N, 60000)));
      for (const inbox of inboxes) expect(inbox.messages.map((m) => Number(m.body.split(':')[0]))).toEqual(Array.from({ length: N }, (_, i) => i));
      // The stalled subscriber's session was ended with ERROR "slow consumer", not the others'.
      await eventually(() => gw.service.connections() === 3, 20000, 'the stalled session to end');
      expect(gw.gateway.metrics.service('jms').errors.get('GW_ERR_STOMP_JMS_SLOW_CONSUMER')).toBe(1);
      expect(fast.every((c) => c.closeCode === null && c.errors.length === 0)).toBe(true);
      expectWithinBounds(gw);
    } finally {
      slow.ws.terminate();
    }
  });

  it('conflates a stalled subscriber of a conflatable destination instead of ending it, the others at full rate', async () => {
    const base = unique('gw.prices');
    gw = await startJmsGateway(brokerTargets(facts)[broker], { maxQueuedMessages: MAX_QUEUED, conflate: [`/topic/${base}.*`] }, { maxBufferedBytes: MAX_BUFFERED });
    const topic = `/topic/${base}.eurusd`;
    // A control topic with the same traffic and no stalled subscriber, published interleaved.
    const control = `/topic/${base}-control`;
    const fast = await JmsClient.open(gw.url);
    const reference = await JmsClient.open(gw.url);
    const producer = await JmsClient.open(gw.url);
    clients.push(fast, reference, producer);
    const inbox = await fast.subscribe(topic);
    const controlInbox = await reference.subscribe(control);
    const slow = await stalledSubscriber(gw.url, topic);
    try {
      const started = Date.now();
      const done = (i: Inbox): Promise<number> => i.count(N, 60000).then(() => Date.now() - started);
      const finished = Promise.all([done(inbox), done(controlInbox)]);
      const pad = 'x'.repeat(SIZE);
      for (let i = 0; i < N; i++) {
        producer.client.publish({ destination: topic, body: `${i}:${pad}` });
        producer.client.publish({ destination: control, body: `${i}:${pad}` });
      }
      const [withStalled, alone] = await finished;
      expect(inbox.messages.map((m) => Number(m.body.split(':')[0]))).toEqual(Array.from({ length: N }, (_, i) => i));
      // The stalled subscriber does not hold the others back: they finish with the control.
      expect(withStalled).toBeLessThanOrEqual(1.5 * alone + 500);
      // Nobody was ended: the stalled one is conflated, not cut.
      expect(gw.service.connections()).toBe(4);
      expectWithinBounds(gw);
      // Let the stalled one read again: it gets the latest price, with older ones dropped.
      const socket: unknown = Reflect.get(slow.ws, '_socket');
      (socket as Socket).resume();
      await eventually(() => slow.frames.some((f) => f.toString().includes(`\n\n${N - 1}:`)), 20000, 'the latest price');
      const seqs = slow.frames.filter((f) => f.toString().startsWith('MESSAGE')).map((f) => Number(f.toString().split('\n\n')[1]?.split(':')[0]));
      expect(seqs.length).toBeLessThan(N);
      expect(seqs[seqs.length - 1]).toBe(N - 1);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    } finally {
      slow.ws.terminate();
    }
  });
});
