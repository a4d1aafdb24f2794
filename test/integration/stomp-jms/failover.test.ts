/**
 * Broker failure during traffic, for every binding: the broker's own process is stopped and
 * started again (RabbitMQ's node under `amqp://` and `amqp10://`, ActiveMQ's instance under
 * `stomp://`) under two Gangways, one per `brokerFailure` policy. A producer sends persistent
 * messages to a durable queue with receipts; a consumer acknowledges each one (client-individual)
 * except a few it holds when the broker stops.
 *
 * With `keep`, producer and consumer stay connected: every message the broker confirmed (RECEIPT)
 * reaches the consumer, every held one comes again, `redelivered:true`, under its first message
 * id; no two bodies share an id, and a body has a second id only when its SEND, under way at the
 * loss, was sent again. With `close`, the session ends with ERROR and a new one works after the
 * restart.
 *
 * The broker is down only until both Gangways have seen the loss; it is started in `finally`,
 * and once more in `afterAll` should the test be cut short.
 */
import { brokerProcess, requireBackend, type Backends, type BrokerName, type BrokerProcess } from '../../support/backends';
import { brokerTargets, eventually, JmsClient, rabbitmqctl, startJmsGateway, unique, type JmsGateway } from './support';

/** A broker restart on a loaded machine takes tens of seconds; start-up may take up to two minutes. */
jest.setTimeout(420000);

/** How long a SEND may wait for its RECEIPT (it waits for the broker to come back). */
const SEND_MS = 240000;

interface Seen {
  readonly id: string;
  readonly redelivered: boolean;
}

const CASES: readonly { binding: string; target: 'rabbitmq' | 'rabbitmq10' | 'activemq'; broker: BrokerName }[] = [
  { binding: 'amqp091', target: 'rabbitmq', broker: 'rabbitmq' },
  { binding: 'amqp10', target: 'rabbitmq10', broker: 'rabbitmq' },
  { binding: 'stomp', target: 'activemq', broker: 'activemq' },
];

describe.each(CASES)('stomp.jms ($binding) when the $broker process stops and starts during traffic', ({ target: targetName, broker: brokerName }) => {
  let facts: Backends;
  let broker: BrokerProcess | undefined;
  const gateways: JmsGateway[] = [];
  const clients: JmsClient[] = [];
  /** Queues this test made on RabbitMQ (durable: removed at the end). */
  const queues: string[] = [];
  /** The stop and start of the broker, once under way. */
  let outage: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    facts = await requireBackend(brokerName);
    broker = brokerProcess(brokerName, facts);
  });

  afterAll(async () => {
    await outage.catch(() => undefined);
    // Whatever happened, the broker runs again before anything else.
    await broker?.start();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    if (brokerName === 'rabbitmq' && queues.length > 0) {
      const existing = new Set((await rabbitmqctl('list_queues', 'name', '--no-table-headers')).split('\n'));
      for (const q of queues.splice(0)) if (existing.has(q)) await rabbitmqctl('delete_queue', q);
    }
  });

  it('keeps sessions and loses nothing confirmed (keep), or ends them with ERROR (close)', async () => {
    const server = broker as BrokerProcess;
    const target = brokerTargets(facts)[targetName];
    const keep = await startJmsGateway(target, { reconnect: { initialMs: 100, maxMs: 1000 }, poolSize: 1 }, { connectTimeoutMs: SEND_MS });
    const close = await startJmsGateway(target, { brokerFailure: 'close', poolSize: 1 });
    gateways.push(keep, close);
    const name = unique('gw.failover');
    queues.push(name);
    const queue = `/queue/${name}`;
    const consumer = await JmsClient.open(keep.url);
    const producer = await JmsClient.open(keep.url);
    const closing = await JmsClient.open(close.url);
    clients.push(consumer, producer, closing);

    /** Every delivery of each body, in order. */
    const seen = new Map<string, Seen[]>();
    /** Delivered and deliberately left unacknowledged when the broker stops. */
    const held = new Set<string>();
    let holding = false;
    /** Bodies delivered with `redelivered:true` before the broker stopped. */
    const flaggedBeforeStop: string[] = [];
    let stopped = false;
    await consumer.withReceipt((receipt) =>
      consumer.client.subscribe(
        queue,
        (m) => {
          const deliveries = seen.get(m.body) ?? [];
          const redelivered = m.headers.redelivered === 'true';
          deliveries.push({ id: m.headers['message-id'] as string, redelivered });
          seen.set(m.body, deliveries);
          if (redelivered && !stopped) flaggedBeforeStop.push(m.body);
          if (holding) held.add(m.body);
          else m.ack();
        },
        { ack: 'client-individual', receipt },
      ),
    );

    const confirmed = new Set<string>();
    /**
     * Bodies whose SEND was under way from the stop until the broker answered again: one whose
     * confirmation was lost with the connection is sent once more, and a broker that assigns
     * message ids itself (ActiveMQ) gives the second copy an id of its own.
     */
    const straddling = new Set<string>();
    let sending = '';
    let down = false;
    let producing = true;
    const loop = (async () => {
      for (let seq = 0; producing; seq++) {
        const body = `m${seq}`;
        sending = body;
        if (down) straddling.add(body);
        await producer.withReceipt((receipt) => producer.client.publish({ destination: queue, body, headers: { persistent: 'true', receipt } }), SEND_MS);
        confirmed.add(body);
      }
    })();

    await eventually(() => confirmed.size >= 30 && seen.size >= 20, 30000, '30 confirmed and 20 received messages');
    holding = true;
    await eventually(() => held.size >= 5, 30000, '5 messages held unacknowledged');
    // Later deliveries are acknowledged again (the held ones stay unacknowledged).
    holding = false;
    const heldAtStop = [...held];
    down = true;
    stopped = true;
    straddling.add(sending);
    outage = (async () => {
      try {
        await server.stop();
        await eventually(() => keep.service.brokerConnectionsUp() === 0 && close.service.brokerConnectionsUp() === 0, 30000, 'both Gangways to see the loss');
      } finally {
        await server.start();
        down = false;
      }
    })();
    await outage;
    const atRestart = confirmed.size;
    await eventually(() => confirmed.size >= atRestart + 30, SEND_MS, '30 more confirmed messages after the restart');
    producing = false;
    await loop;
    const missing = (): string[] => [...confirmed].filter((b) => !seen.has(b));
    const notAgain = (): string[] => heldAtStop.filter((b) => (seen.get(b)?.length ?? 0) < 2);
    await eventually(() => missing().length === 0 && notAgain().length === 0, 60000, 'every confirmed message and every held one again').catch((err: unknown) => {
      throw new Error(`${String(err)}; missing ${JSON.stringify(missing())}, held and not delivered again ${JSON.stringify(notAgain())}`);
    });

    // keep: nothing the broker confirmed was lost, and the sessions stayed.
    expect(consumer.closeCode).toBeNull();
    expect(producer.closeCode).toBeNull();
    expect(consumer.errors).toEqual([]);
    expect(producer.errors).toEqual([]);
    expect(keep.service.brokerConnectionsUp()).toBe(1);
    // The unacknowledged messages came again, marked redelivered, under their first message id.
    for (const body of heldAtStop) {
      const [first, again] = seen.get(body) as Seen[];
      expect(first?.redelivered).toBe(false);
      expect({ body, ...again }).toEqual({ body, id: first?.id, redelivered: true });
    }
    // Nothing was marked redelivered before the broker stopped. (After it, a first delivery to the
    // client may be: the broker had sent it over the connection it lost.)
    expect(flaggedBeforeStop).toEqual([]);
    // Distinct bodies never share a message id; a body has a second id only if its SEND was sent again.
    const idsOf = new Map([...seen].map(([body, deliveries]) => [body, new Set(deliveries.map((d) => d.id))]));
    const bodyOfId = new Map<string, string>();
    const shared: string[] = [];
    for (const [body, ids] of idsOf) {
      for (const id of ids) {
        const other = bodyOfId.get(id);
        if (other !== undefined && other !== body) shared.push(`${id}: ${other}, ${body}`);
        bodyOfId.set(id, body);
      }
    }
    expect(shared).toEqual([]);
    expect([...idsOf].filter(([body, ids]) => ids.size > 1 && !straddling.has(body)).map(([body]) => body)).toEqual([]);

    // close: the session ended with ERROR; a new one works once the broker is back.
    expect(await closing.closed()).toBe(1011);
    expect(closing.errors[0]?.headers.code).toBe('GW_ERR_STOMP_JMS_BROKER_LOST');
    const fresh = await JmsClient.open(close.url);
    clients.push(fresh);
    const after = unique('gw.failover.after');
    queues.push(after);
    const inbox = await fresh.subscribe(`/queue/${after}`);
    await fresh.send(`/queue/${after}`, 'after the restart');
    expect((await inbox.count(1, 10000))[0]?.body).toBe('after the restart');
  });
});
