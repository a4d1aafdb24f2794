/**
 * The bounds on broker connections: sessions share `poolSize` connections (counted by RabbitMQ
 * itself), and durable subscriptions on ActiveMQ, which need a connection of their own per client
 * id, stop at `maxDedicatedConnections`.
 */
import { requireBackend, type Backends } from '../../support/backends';
import { brokerTargets, eventually, JmsClient, rabbitmqctl, sleep, startJmsGateway, unique, type JmsGateway } from './support';

jest.setTimeout(90000);

describe('stomp.jms broker connection bounds', () => {
  const clients: JmsClient[] = [];
  let gw: JmsGateway | undefined;

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await gw?.stop();
    gw = undefined;
  });

  async function open(url: string, headers: Record<string, string> = {}): Promise<JmsClient> {
    const c = await JmsClient.open(url, headers);
    clients.push(c);
    return c;
  }

  describe('on RabbitMQ', () => {
    let facts: Backends;
    /** A virtual host of this run: its connections are Gangway's. */
    const vhost = unique('gw.pool');

    beforeAll(async () => {
      facts = await requireBackend('rabbitmq');
      await rabbitmqctl('add_vhost', vhost);
      await rabbitmqctl('set_permissions', '-p', vhost, facts.rabbitmq.gangway.username, '.*', '.*', '.*');
    });

    afterAll(async () => {
      await rabbitmqctl('delete_vhost', vhost);
    });

    /** RabbitMQ's own count of connections to the run's virtual host. */
    async function brokerConnections(): Promise<number> {
      const out = await rabbitmqctl('list_connections', 'vhost', '--no-table-headers');
      return out.split('\n').filter((l) => l.trim() === vhost).length;
    }

    it('carries many sessions and their subscriptions on exactly poolSize broker connections', async () => {
      const POOL = 3;
      const SESSIONS = 12;
      gw = await startJmsGateway(brokerTargets(facts).rabbitmq, { poolSize: POOL, virtualHost: vhost });
      const topic = `/topic/${unique('gw.pool')}`;
      const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => open((gw as JmsGateway).url, { 'client-id': `c${i}` })));
      // Every kind of subscription a session can hold on the shared connections, durable ones too
      // (RabbitMQ's durable subscriptions are queues any connection can consume).
      const inboxes = await Promise.all(
        sessions.map(async (c, i) => {
          await c.subscribe(`/queue/${unique('gw.poolq')}`, { ack: 'client-individual' });
          await c.subscribe('/temp-queue/replies');
          if (i % 3 === 0) await c.subscribe(`/topic/${unique('gw.poolown')}`, { ack: 'client' });
          if (i % 4 === 0) await c.subscribe(`/topic/${unique('gw.pooldur')}`, { 'durable-subscription-name': 'd' });
          return c.subscribe(topic);
        }),
      );
      await (sessions[0] as JmsClient).send(topic, 'to all');
      await Promise.all(inboxes.map((inbox) => inbox.count(1)));
      expect(gw.service.brokerConnectionsUp()).toBe(POOL);
      expect(await brokerConnections()).toBe(POOL);
      // Sessions come and go; the pool stays.
      await Promise.all(sessions.slice(0, SESSIONS / 2).map((c) => c.close()));
      const later = await Promise.all(Array.from({ length: 4 }, () => open((gw as JmsGateway).url)));
      await Promise.all(later.map((c) => c.subscribe(`/queue/${unique('gw.poolq')}`, { ack: 'client' })));
      await sleep(200);
      expect(await brokerConnections()).toBe(POOL);
    });
  });

  describe('on ActiveMQ', () => {
    let facts: Backends;

    beforeAll(async () => {
      facts = await requireBackend('activemq');
    });

    it('opens at most maxDedicatedConnections connections for durable subscriptions; one more SUBSCRIBE gets ERROR', async () => {
      gw = await startJmsGateway(brokerTargets(facts).activemq, { poolSize: 1, maxDedicatedConnections: 2 });
      const g = gw;
      const topic = `/topic/${unique('gw.dedicated')}`;
      const durable = { 'durable-subscription-name': 'prices' };
      const a = await open(g.url, { 'client-id': unique('cid-a') });
      const b = await open(g.url, { 'client-id': unique('cid-b') });
      const c = await open(g.url, { 'client-id': unique('cid-c') });
      const inboxA = await a.subscribe(topic, durable);
      const inboxB = await b.subscribe(topic, durable);
      await expect(c.subscribe(topic, durable)).rejects.toThrow(/too many durable subscription connections.*GW_ERR_STOMP_JMS_LIMIT: the service holds 2 broker connections for durable subscriptions \(maxDedicatedConnections\)/s);
      expect(await c.closed()).toBe(1008);
      expect(c.errors[0]?.headers.code).toBe('GW_ERR_STOMP_JMS_LIMIT');
      // Non-durable subscriptions of other sessions still go on the pool.
      const plain = await (await open(g.url)).subscribe(topic);
      const producer = await open(g.url);
      await producer.send(topic, 'one');
      for (const inbox of [inboxA, inboxB, plain]) expect((await inbox.count(1))[0]?.body).toBe('one');
      // A session that leaves gives its connection back: the next durable subscriber gets one.
      await a.withReceipt((receipt) => inboxA.subscription?.unsubscribe({ ...durable, receipt }));
      await a.close();
      await eventually(() => g.service.connections() === 3, 10000, 'the session to end');
      const d = await open(g.url, { 'client-id': unique('cid-d') });
      const inboxD = await d.subscribe(topic, durable);
      await producer.send(topic, 'two');
      expect((await inboxD.count(1))[0]?.body).toBe('two');
      for (const [client, inbox] of [
        [b, inboxB],
        [d, inboxD],
      ] as const) {
        await client.withReceipt((receipt) => inbox.subscription?.unsubscribe({ ...durable, receipt }));
      }
    });
  });
});
