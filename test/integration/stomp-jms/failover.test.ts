/**
 * Broker failure during traffic: RabbitMQ's application is stopped and started under two
 * Gangways, one per `brokerFailure` policy. With `keep`, the producer and the client-acknowledging
 * consumer stay connected; every message the broker confirmed (RECEIPT) reaches the consumer, and
 * every message it had but had not acknowledged comes again, `redelivered`, under the same
 * message id. With `close`, the session ends with ERROR and a new one works after the restart.
 *
 * RabbitMQ is down only until both Gangways have seen the loss (about a second); it is started
 * again in `finally`, and once more in `afterAll` should the test be cut short.
 */
import { requireBackend, type Backends } from '../../support/backends';
import { brokerTargets, eventually, JmsClient, rabbitmqctl, startJmsGateway, unique, type JmsGateway } from './support';

jest.setTimeout(120000);

interface Seen {
  readonly id: string;
  readonly redelivered: boolean;
}

describe('stomp.jms when RabbitMQ stops and starts during traffic', () => {
  let facts: Backends;
  const gateways: JmsGateway[] = [];
  const clients: JmsClient[] = [];
  let brokerDown = false;

  async function startBroker(): Promise<void> {
    await rabbitmqctl('start_app');
    await rabbitmqctl('await_startup');
    brokerDown = false;
  }

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
  });

  afterAll(async () => {
    if (brokerDown) await startBroker();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
  });

  it('keeps sessions and loses nothing confirmed (keep), or ends them with ERROR (close)', async () => {
    const target = brokerTargets(facts).rabbitmq;
    const keep = await startJmsGateway(target, { reconnect: { initialMs: 100, maxMs: 500 }, poolSize: 1 }, { connectTimeoutMs: 60000 });
    const close = await startJmsGateway(target, { brokerFailure: 'close', poolSize: 1 });
    gateways.push(keep, close);
    const queue = `/queue/${unique('gw.failover')}`;
    const consumer = await JmsClient.open(keep.url);
    const producer = await JmsClient.open(keep.url);
    const closing = await JmsClient.open(close.url);
    clients.push(consumer, producer, closing);

    /** Every delivery of each body, in order. */
    const seen = new Map<string, Seen[]>();
    /** Delivered and deliberately left unacknowledged when the broker stops. */
    const held = new Set<string>();
    let holding = false;
    await consumer.withReceipt((receipt) =>
      consumer.client.subscribe(
        queue,
        (m) => {
          const deliveries = seen.get(m.body) ?? [];
          deliveries.push({ id: m.headers['message-id'] as string, redelivered: m.headers.redelivered === 'true' });
          seen.set(m.body, deliveries);
          if (holding) held.add(m.body);
          else m.ack();
        },
        { ack: 'client-individual', receipt },
      ),
    );

    const confirmed = new Set<string>();
    let producing = true;
    const loop = (async () => {
      for (let seq = 0; producing; seq++) {
        const body = `m${seq}`;
        await producer.send(queue, body, { persistent: 'true' });
        confirmed.add(body);
      }
    })();

    await eventually(() => confirmed.size >= 30 && seen.size >= 20, 20000, '30 confirmed and 20 received messages');
    holding = true;
    await eventually(() => held.size >= 5, 20000, '5 messages held unacknowledged');
    // Later deliveries are acknowledged again (the held ones stay unacknowledged).
    holding = false;
    const heldAtStop = [...held];
    brokerDown = true;
    try {
      await rabbitmqctl('stop_app');
      await eventually(() => keep.service.brokerConnectionsUp() === 0 && close.service.brokerConnectionsUp() === 0, 10000, 'both Gangways to see the loss');
    } finally {
      await startBroker();
    }
    const atRestart = confirmed.size;
    await eventually(() => confirmed.size >= atRestart + 30, 60000, '30 more confirmed messages after the restart');
    producing = false;
    await loop;
    const missing = (): string[] => [...confirmed].filter((b) => !seen.has(b));
    const notAgain = (): string[] => heldAtStop.filter((b) => (seen.get(b)?.length ?? 0) < 2);
    await eventually(() => missing().length === 0 && notAgain().length === 0, 30000, 'every confirmed message and every held one again').catch((err: unknown) => {
      throw new Error(`${String(err)}; missing ${JSON.stringify(missing())}, held and not delivered again ${JSON.stringify(notAgain())}`);
    });

    // keep: nothing the broker confirmed was lost, and the sessions stayed.
    expect(consumer.closeCode).toBeNull();
    expect(producer.closeCode).toBeNull();
    expect(consumer.errors).toEqual([]);
    expect(keep.service.brokerConnectionsUp()).toBe(1);
    // The unacknowledged messages came again, marked redelivered, under their first message id.
    for (const body of heldAtStop) {
      const [first, again] = seen.get(body) as Seen[];
      expect(first?.redelivered).toBe(false);
      expect(again).toEqual({ id: first?.id, redelivered: true });
    }
    // Every body kept one message id, and distinct messages had distinct ids.
    const ids = [...seen.values()].map((d) => new Set(d.map((s) => s.id)));
    expect(ids.every((s) => s.size === 1)).toBe(true);
    expect(new Set(ids.map((s) => [...s][0])).size).toBe(seen.size);

    // close: the session ended with ERROR; a new one works once the broker is back.
    expect(await closing.closed()).toBe(1011);
    expect(closing.errors[0]?.headers.code).toBe('GW_ERR_STOMP_JMS_BROKER_LOST');
    const fresh = await JmsClient.open(close.url);
    clients.push(fresh);
    const probe = `/queue/${unique('gw.failover.after')}`;
    const inbox = await fresh.subscribe(probe);
    await fresh.send(probe, 'after the restart');
    expect((await inbox.count(1, 10000))[0]?.body).toBe('after the restart');
  });
});
