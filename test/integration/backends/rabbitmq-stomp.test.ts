/** stompit → RabbitMQ's STOMP plugin (compose/up: rabbitmq). */
import { createConnection } from 'node:net';
import type { Client } from 'stompit';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from './async';
import { stompConnect, stompDisconnect, stompSend, stompSubscribe, type StompTarget } from './stomp';

describe('RabbitMQ over STOMP (stompit)', () => {
  let facts: Backends;
  let target: StompTarget;
  const clients: Client[] = [];

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
    target = {
      host: facts.host,
      port: facts.rabbitmq.stompPort,
      login: facts.rabbitmq.guest.username,
      passcode: facts.rabbitmq.guest.password,
      virtualHost: facts.rabbitmq.vhost,
    };
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => stompDisconnect(client)));
  });

  it('round-trips a message through a queue', async () => {
    const consumer = await stompConnect(target);
    clients.push(consumer);
    const producer = await stompConnect(target);
    clients.push(producer);
    const queue = `/queue/${unique('gangway.test')}`;
    const body = unique('hello RabbitMQ');
    const subscription = stompSubscribe(consumer, queue);

    await stompSend(producer, queue, body, { 'x-gangway-test': 'kept' });
    const message = await subscription.next();

    expect(message.body).toBe(body);
    expect(message.headers.destination).toBe(queue);
    expect(message.headers['x-gangway-test']).toBe('kept');
  });

  it('accepts the gangway user', async () => {
    const client = await stompConnect({ ...target, login: facts.rabbitmq.gangway.username, passcode: facts.rabbitmq.gangway.password });
    clients.push(client);
    const queue = `/queue/${unique('gangway.test')}`;
    const subscription = stompSubscribe(client, queue);

    await stompSend(client, queue, 'to myself');

    expect((await subscription.next()).body).toBe('to myself');
  });

  it('refuses a wrong password with an ERROR frame', async () => {
    // Raw frames: see stompConnect for why stompit cannot observe a refused login.
    const reply = await within(
      new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = createConnection({ host: target.host, port: target.port }, () => {
          socket.write(`CONNECT\naccept-version:1.2\nhost:${target.virtualHost}\nlogin:${target.login}\npasscode:not-${target.passcode}\n\n\0`);
        });
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\0')) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(text));
      }),
      5000,
      'STOMP ERROR for a wrong password',
    );

    expect(reply).toMatch(/^ERROR\n/);
    expect(reply).toContain(`Access refused for user '${target.login}'`);
  });
});
