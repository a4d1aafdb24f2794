/** amqplib → RabbitMQ over AMQP 0-9-1 (compose/up: rabbitmq). */
import { connect, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { requireBackend, type Backends, type Credentials } from '../../support/backends';
import { unique, within } from './async';

describe('RabbitMQ over AMQP 0-9-1 (amqplib)', () => {
  let facts: Backends;
  const connections: ChannelModel[] = [];

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
  });

  afterEach(async () => {
    await Promise.all(connections.splice(0).map((connection) => connection.close()));
  });

  function url(user: Credentials): string {
    const vhost = encodeURIComponent(facts.rabbitmq.vhost);
    return `amqp://${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@${facts.host}:${facts.rabbitmq.amqpPort}/${vhost}`;
  }

  async function open(user: Credentials): Promise<ChannelModel> {
    const connection = await connect(url(user));
    connections.push(connection);
    return connection;
  }

  it.each([
    ['guest', (f: Backends) => f.rabbitmq.guest],
    ['gangway', (f: Backends) => f.rabbitmq.gangway],
  ])('round-trips a message through a queue as %s', async (_name, user) => {
    const connection = await open(user(facts));
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue(unique('gangway.test'), { exclusive: true, autoDelete: true });
    const body = unique('hello AMQP 0-9-1');
    const received = new Promise<ConsumeMessage>((resolve) => {
      void channel.consume(queue, (message) => {
        if (message) resolve(message);
      }, { noAck: true });
    });

    channel.sendToQueue(queue, Buffer.from(body), { contentType: 'text/plain', headers: { 'x-gangway-test': 'kept' } });
    const message = await within(received, 5000, `message on ${queue}`);

    expect(message.content.toString('utf8')).toBe(body);
    expect(message.properties.contentType).toBe('text/plain');
    expect(message.properties.headers?.['x-gangway-test']).toBe('kept');
  });

  it('refuses a wrong password', async () => {
    const guest = facts.rabbitmq.guest;
    await expect(connect(url({ username: guest.username, password: `not-${guest.password}` }))).rejects.toThrow(/ACCESS[-_]REFUSED/);
  });
});
