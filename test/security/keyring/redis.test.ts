/**
 * The Redis store against the real Redis server.
 *
 * NEEDS REDIS: start it with `compose/up redis` (see compose/.env for the port). Without it the
 * tests fail in `beforeAll` with a message saying so; they never skip.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Keyring, KEYRING_ERRORS, RedisKeyringStore, openKeyringFromProperties, keyringPropertiesSchema } from '../../../security/keyring';
import { requireBackend } from '../../support/backends';
import { FAST_SCRYPT, tempDir, writeKeyFile } from './helpers';

describe('Redis store (needs `compose/up redis`)', () => {
  let url: string;
  let admin: Redis;
  let prefix: string;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    let facts;
    try {
      facts = await requireBackend('redis');
    } catch (err) {
      throw new Error(`these tests need Redis: run \`compose/up redis\` first. ${(err as Error).message}`);
    }
    url = `redis://${facts.host}:${facts.redis.port}/0`;
    admin = new Redis(url);
    tmp = tempDir();
  });
  beforeEach(() => {
    prefix = `{gangway-keyring-test-${randomBytes(4).toString('hex')}}:`;
  });
  afterEach(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length) await admin.del(...keys);
  });
  afterAll(async () => {
    await admin.quit();
    tmp.cleanup();
  });

  const open = async (keyFile: string, previous: string[] = []): Promise<Keyring> => {
    const store = new RedisKeyringStore({ url, prefix });
    await store.connect();
    try {
      return await Keyring.open({ store, key: { file: keyFile }, previousKeys: previous.map((file) => ({ file })), scrypt: FAST_SCRYPT });
    } catch (err) {
      await store.close();
      throw err;
    }
  };

  it('round-trips, lists, deletes, and keeps ciphertext only in Redis', async () => {
    const key = writeKeyFile(tmp.dir, `k-${prefix.length}-a.key`);
    const keyring = await open(key.path);
    try {
      await keyring.set('alice', 'rabbitmq', { username: 'alice', password: 'redis-secret-pw-1' });
      await keyring.set('alice', 'slack', { token: 'redis-token-2' });
      await keyring.set('bob', 'rabbitmq', { username: 'bob', password: 'redis-secret-pw-3' });
      expect((await keyring.get('alice', 'rabbitmq'))?.credential).toEqual({ username: 'alice', password: 'redis-secret-pw-1' });
      expect(await keyring.list('alice')).toEqual(['rabbitmq', 'slack']);
      expect(await admin.smembers(`${prefix}users`)).toEqual(expect.arrayContaining(['alice', 'bob']));
      const raw = await admin.hget(`${prefix}user:alice`, 'rabbitmq');
      expect(raw).not.toContain('redis-secret-pw-1');
      expect(JSON.parse(raw ?? '{}')).toMatchObject({ user: 'alice', service: 'rabbitmq', kid: key.id });

      expect(await keyring.delete('alice', 'slack')).toBe(true);
      expect(await keyring.delete('alice', 'slack')).toBe(false);
      expect(await keyring.delete('bob', 'rabbitmq')).toBe(true);
      expect(await admin.smembers(`${prefix}users`)).toEqual(['alice']);
    } finally {
      await keyring.close();
    }
  });

  it('refuses a wrong key, a moved record and a tampered one', async () => {
    const key = writeKeyFile(tmp.dir, 'r-right.key');
    const wrong = writeKeyFile(tmp.dir, 'r-wrong.key');
    const keyring = await open(key.path);
    try {
      await keyring.set('alice', 'x', { token: 'tok-alice' });
      await keyring.set('bob', 'x', { token: 'tok-bob' });
      await expect(open(wrong.path)).rejects.toMatchObject({ code: KEYRING_ERRORS.WRONG_KEY.code });
      const bobs = JSON.parse((await admin.hget(`${prefix}user:bob`, 'x')) ?? '{}') as Record<string, string>;
      await admin.hset(`${prefix}user:alice`, 'x', JSON.stringify(bobs));
      await expect(keyring.get('alice', 'x')).rejects.toMatchObject({ code: KEYRING_ERRORS.TAMPERED.code, message: expect.stringContaining('names bob/x') });
      await admin.hset(`${prefix}user:alice`, 'x', JSON.stringify({ ...bobs, user: 'alice' }));
      await expect(keyring.get('alice', 'x')).rejects.toMatchObject({ code: KEYRING_ERRORS.TAMPERED.code, message: expect.stringContaining('failed authentication') });
    } finally {
      await keyring.close();
    }
  });

  it('enforces the per-user limit atomically under concurrent writers', async () => {
    const key = writeKeyFile(tmp.dir, 'r-limit.key');
    const store = new RedisKeyringStore({ url, prefix });
    await store.connect();
    const keyring = await Keyring.open({ store, key: { file: key.path }, limits: { maxRecordsPerUser: 3 } });
    try {
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => keyring.set('alice', `s${i}`, { token: `t${i}` })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: KEYRING_ERRORS.LIMIT.code });
      expect(await keyring.list('alice')).toHaveLength(3);
    } finally {
      await keyring.close();
    }
  });

  it('rotates, resuming an interrupted rotation, and retires the old key', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'r-old.key');
    const newKey = writeKeyFile(tmp.dir, 'r-new.key');
    const keyring = await open(oldKey.path);
    try {
      for (let i = 0; i < 9; i++) await keyring.set(`u${i % 3}`, `s${i}`, { username: `u${i}`, password: `redis-rot-pw-${i}` });
      const abort = new AbortController();
      await expect(keyring.rotate({ file: newKey.path }, { batchSize: 4, signal: abort.signal, onBatch: () => abort.abort() })).rejects.toMatchObject({
        code: KEYRING_ERRORS.ROTATION.code,
      });
      for (let i = 0; i < 9; i++) expect((await keyring.get(`u${i % 3}`, `s${i}`))?.credential).toEqual({ username: `u${i}`, password: `redis-rot-pw-${i}` });
      const result = await keyring.rotate({ file: newKey.path });
      expect(result).toEqual({ keyId: newKey.id, reencrypted: 5, retired: [oldKey.id] });
    } finally {
      await keyring.close();
    }
    const after = await open(newKey.path);
    try {
      for (let i = 0; i < 9; i++) expect((await after.get(`u${i % 3}`, `s${i}`))?.keyId).toBe(newKey.id);
    } finally {
      await after.close();
    }
    await expect(open(oldKey.path)).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_RETIRED.code });
  });

  it('opens from service properties', async () => {
    const key = writeKeyFile(tmp.dir, 'r-props.key');
    const properties = keyringPropertiesSchema.parse({ store: 'redis', redisUrl: url, redisPrefix: prefix, masterKey: { file: key.path } });
    const keyring = await openKeyringFromProperties(properties);
    try {
      await keyring.set('alice', 'x', { token: 'tok-props' });
      expect(await keyring.ready()).toEqual({ ok: true });
    } finally {
      await keyring.close();
    }
  });

  it('fails with a clear error when the server is not there', async () => {
    const store = new RedisKeyringStore({ url: 'redis://127.0.0.1:1/0', prefix, redisOptions: { connectTimeout: 200 } });
    await expect(store.connect()).rejects.toMatchObject({ code: KEYRING_ERRORS.STORE.code, message: expect.stringContaining('redis redis://127.0.0.1:1/0') });
    await store.close();
  });
});
