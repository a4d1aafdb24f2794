/** ioredis → Redis (compose/up: redis). */
import { Redis } from 'ioredis';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from './async';

describe('Redis (ioredis)', () => {
  let facts: Backends;
  const clients: Redis[] = [];

  beforeAll(async () => {
    facts = await requireBackend('redis');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.quit()));
  });

  function open(): Redis {
    const client = new Redis({ host: facts.host, port: facts.redis.port, maxRetriesPerRequest: 1, retryStrategy: () => null });
    clients.push(client);
    return client;
  }

  it('answers PING and stores a value with a TTL', async () => {
    const redis = open();
    const key = unique('gangway:test');

    expect(await redis.ping()).toBe('PONG');
    expect(await redis.set(key, 'value', 'EX', 30)).toBe('OK');
    expect(await redis.get(key)).toBe('value');
    expect(await redis.ttl(key)).toBeGreaterThan(0);
    expect(await redis.del(key)).toBe(1);
  });

  it('delivers a published message to a subscriber', async () => {
    const subscriber = open();
    const publisher = open();
    const channel = unique('gangway:test');
    const body = unique('hello Redis');
    const received = new Promise<[string, string]>((resolve) => subscriber.on('message', (ch: string, message: string) => resolve([ch, message])));

    await subscriber.subscribe(channel);
    expect(await publisher.publish(channel, body)).toBe(1);

    expect(await within(received, 5000, `message on ${channel}`)).toEqual([channel, body]);
  });
});
