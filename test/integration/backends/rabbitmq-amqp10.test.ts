/** rhea → RabbitMQ's AMQP 1.0 plugin (compose/up: rabbitmq). */
import { create_container, type Connection, type EventContext } from 'rhea';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from './async';

describe('RabbitMQ over AMQP 1.0 (rhea)', () => {
  let facts: Backends;
  let connection: Connection | undefined;

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
  });

  afterEach(async () => {
    const open = connection;
    connection = undefined;
    if (open && open.is_open()) {
      const closed = new Promise<void>((resolve) => open.once('connection_close', () => resolve()));
      open.close();
      await within(closed, 5000, 'AMQP 1.0 close');
    }
  });

  function openConnection(): Promise<Connection> {
    const container = create_container({ id: unique('gangway-test') });
    const opened = container.connect({
      host: facts.host,
      port: facts.rabbitmq.amqpPort,
      username: facts.rabbitmq.guest.username,
      password: facts.rabbitmq.guest.password,
      reconnect: false,
    });
    connection = opened;
    return within(
      new Promise<Connection>((resolve, reject) => {
        opened.once('connection_open', () => resolve(opened));
        opened.once('connection_error', (context: EventContext) => reject(context.connection.error ?? new Error('connection_error')));
        opened.once('disconnected', (context: EventContext) => reject(context.error ?? new Error('disconnected')));
      }),
      5000,
      'AMQP 1.0 open',
    );
  }

  it('round-trips a message through a /queue/ address', async () => {
    const amqp = await openConnection();
    const address = `/queue/${unique('gangway.test')}`;
    const body = unique('hello AMQP 1.0');
    const receiver = amqp.open_receiver(address);
    await within(new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())), 5000, 'receiver attach');
    const received = new Promise<EventContext>((resolve) => receiver.once('message', resolve));

    const sender = amqp.open_sender(address);
    await within(new Promise<void>((resolve) => sender.once('sendable', () => resolve())), 5000, 'sender credit');
    const accepted = new Promise<void>((resolve, reject) => {
      sender.once('accepted', () => resolve());
      sender.once('rejected', (context: EventContext) => reject(new Error(`rejected: ${JSON.stringify(context.delivery?.remote_state)}`)));
    });
    sender.send({ body, subject: 'gangway-test', application_properties: { kept: 'yes' } });

    await within(accepted, 5000, 'delivery outcome');
    const context = await within(received, 5000, `message on ${address}`);
    expect(context.message?.body).toBe(body);
    expect(context.message?.subject).toBe('gangway-test');
    expect(context.message?.application_properties).toEqual({ kept: 'yes' });
  });
});
