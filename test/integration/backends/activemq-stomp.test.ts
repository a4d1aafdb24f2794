/** stompit → ActiveMQ Classic over STOMP 1.2 (compose/up: activemq). */
import type { Client } from 'stompit';
import { requireBackend, type Backends } from '../../support/backends';
import { unique } from './async';
import { stompBarrier, stompConnect, stompDisconnect, stompSend, stompSubscribe, type StompTarget } from './stomp';

describe('ActiveMQ over STOMP (stompit)', () => {
  let facts: Backends;
  let target: StompTarget;
  const clients: Client[] = [];

  beforeAll(async () => {
    facts = await requireBackend('activemq');
    target = {
      host: facts.host,
      port: facts.activemq.stompPort,
      login: facts.activemq.user.username,
      passcode: facts.activemq.user.password,
      virtualHost: 'localhost',
    };
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => stompDisconnect(client)));
  });

  async function open(): Promise<Client> {
    const client = await stompConnect(target);
    clients.push(client);
    return client;
  }

  it('round-trips a message through a queue, keeping its headers', async () => {
    const consumer = await open();
    const producer = await open();
    const queue = `/queue/${unique('gangway.test')}`;
    const body = unique('hello ActiveMQ');
    const subscription = stompSubscribe(consumer, queue);

    await stompSend(producer, queue, body, { 'x-gangway-test': 'kept' });
    const message = await subscription.next();

    expect(message.body).toBe(body);
    expect(message.headers.destination).toBe(queue);
    expect(message.headers['x-gangway-test']).toBe('kept');
    expect(message.headers['message-id']).toMatch(/^ID:/);
  });

  it('delivers a topic message to every subscriber', async () => {
    const first = await open();
    const second = await open();
    const producer = await open();
    const topic = `/topic/${unique('gangway.test')}`;
    const body = unique('fan-out');
    const subscriptions = [stompSubscribe(first, topic), stompSubscribe(second, topic)];
    // A topic keeps nothing for absent subscribers: make sure both SUBSCRIBEs are processed.
    await Promise.all([stompBarrier(first), stompBarrier(second)]);

    await stompSend(producer, topic, body);
    const received = await Promise.all(subscriptions.map((s) => s.next()));

    expect(received.map((m) => m.body)).toEqual([body, body]);
  });
});
