/**
 * The cluster store: records in Redis, shared by every gateway of a cluster.
 *
 * Keys (prefix {@link KEYRING_DEFAULTS.redisPrefix}; the braces keep the whole keyring in one
 * Redis Cluster hash slot so multi-key scripts and MULTI work there too):
 * - `<prefix>meta`: the keyring metadata (JSON string);
 * - `<prefix>user:<user>`: a hash, service name → record (JSON);
 * - `<prefix>users`: a set of the users that have at least one record.
 *
 * Writes that touch several keys run as Lua scripts (atomic on the server); rotation batches send
 * their compare-and-set scripts in one MULTI/EXEC transaction.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { KEYRING_DEFAULTS } from './defaults';
import { KeyringError, messageOf } from './errors';
import { encodeMeta, encodeRecord, parseMeta, parseStoredRecord, type KeyringMeta, type KeyringStore, type PutOptions, type Replacement, type StoredRecord } from './store';

/** Options of {@link RedisKeyringStore}. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port/db` or `rediss://`; ignored when `client` is given. */
  readonly url?: string;
  /** A client to use instead of one made from `url` (the store does not close it). */
  readonly client?: Redis;
  /** @default KEYRING_DEFAULTS.redisPrefix */
  readonly prefix?: string;
  /** Extra ioredis options for a client made from `url`. */
  readonly redisOptions?: RedisOptions;
}

// KEYS: user hash, users set, meta. ARGV: service, record, kid, max, user.
const PUT = `
local meta = redis.call('GET', KEYS[3])
if not meta then return redis.error_reply('KEYRING_ROTATION none') end
local kid = cjson.decode(meta)['primaryKid']
if kid ~= ARGV[3] then return redis.error_reply('KEYRING_ROTATION ' .. tostring(kid)) end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  local n = redis.call('HLEN', KEYS[1])
  if n >= tonumber(ARGV[4]) then return redis.error_reply('KEYRING_LIMIT ' .. n) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[5])
return 1`;

// KEYS: user hash, users set. ARGV: service, user.
const DELETE = `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return n`;

// KEYS: user hash. ARGV: service, expected record, next record.
const REPLACE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0`;

// KEYS: meta. ARGV: expected ('' for none), next.
const SWAP_META = `
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** A Redis URL as it may be shown: user info replaced by `***`, query dropped. */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    const auth = u.username || u.password ? '***@' : '';
    return `${u.protocol}//${auth}${u.host}${u.pathname}`;
  } catch {
    return 'an unparsable Redis URL';
  }
}

/** The Redis store. */
export class RedisKeyringStore implements KeyringStore {
  readonly description: string;
  private readonly client: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;
  private lastError: string | null = null;

  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? KEYRING_DEFAULTS.redisPrefix;
    if (options.client) {
      this.client = options.client;
      this.owned = false;
      this.description = `redis (${this.prefix})`;
    } else {
      if (!options.url) throw new KeyringError('INVALID', 'the Redis store needs a URL');
      let connectedOnce = false;
      this.client = new Redis(options.url, {
        lazyConnect: true,
        connectTimeout: 2000,
        // How long a closing socket may linger before it is destroyed (ioredis keeps the process
        // alive for that long).
        disconnectTimeout: 200,
        maxRetriesPerRequest: 1,
        // The first connection fails fast (a CLI run or a gateway start reports it at once);
        // once connected, a lost connection is retried for ever, backing off to 2 s.
        retryStrategy: (times) => (connectedOnce ? Math.min(times * 200, 2000) : null),
        ...options.redisOptions,
      });
      this.client.once('ready', () => {
        connectedOnce = true;
      });
      this.owned = true;
      this.description = `redis ${describeRedisUrl(options.url)} (${this.prefix})`;
    }
    // Connection errors surface through the commands that fail (the last one is kept for their
    // messages); without a listener Node would end the process on the client's error events.
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
  }

  /** Connects (for a client this store made); throws naming the server when it cannot. */
  async connect(): Promise<void> {
    if (this.client.status === 'wait') {
      try {
        await this.client.connect();
      } catch (err) {
        this.client.disconnect();
        throw new KeyringError('STORE', `${this.description}: cannot connect: ${this.lastError ?? messageOf(err)}`, { cause: err });
      }
    }
  }

  private userKey(user: string): string {
    return `${this.prefix}user:${user}`;
  }

  private async run<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof KeyringError) throw err;
      const text = messageOf(err);
      const limit = /KEYRING_LIMIT (\d+)/.exec(text);
      if (limit) throw new KeyringError('LIMIT', `${what}: the user already stores ${limit[1]} credentials (the limit)`);
      const rotation = /KEYRING_ROTATION (\S+)/.exec(text);
      if (rotation) throw new KeyringError('ROTATION', `${this.description}: the keyring's key is now ${rotation[1] === 'none' ? 'unset' : rotation[1]}`);
      throw new KeyringError('STORE', `${this.description}: ${what} failed: ${text}`, { cause: err });
    }
  }

  private decode(text: string, where: string): StoredRecord {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new KeyringError('MALFORMED', `${this.description}: ${where}: not valid JSON`);
    }
    return parseStoredRecord(value, `${this.description}: ${where}`);
  }

  async get(user: string, service: string): Promise<StoredRecord | null> {
    const text = await this.run('get', () => this.client.hget(this.userKey(user), service));
    return text === null ? null : this.decode(text, `${user}/${service}`);
  }

  async list(user: string): Promise<StoredRecord[]> {
    const all = await this.run('list', () => this.client.hgetall(this.userKey(user)));
    return Object.keys(all)
      .sort()
      .map((service) => this.decode(all[service], `${user}/${service}`));
  }

  async put(record: StoredRecord, options: PutOptions): Promise<void> {
    await this.run(`put ${record.user}/${record.service}`, () =>
      this.client.eval(PUT, 3, this.userKey(record.user), `${this.prefix}users`, `${this.prefix}meta`, record.service, encodeRecord(record), record.kid, String(options.maxRecordsPerUser), record.user),
    );
  }

  async delete(user: string, service: string): Promise<boolean> {
    const n = await this.run('delete', () => this.client.eval(DELETE, 2, this.userKey(user), `${this.prefix}users`, service, user));
    return n === 1;
  }

  async *records(): AsyncIterable<StoredRecord> {
    let cursor = '0';
    do {
      const [next, users] = await this.run('scan', () => this.client.sscan(`${this.prefix}users`, cursor, 'COUNT', 100));
      cursor = next;
      for (const user of users) yield* await this.list(user);
    } while (cursor !== '0');
  }

  async replaceMany(replacements: readonly Replacement[]): Promise<number> {
    if (replacements.length === 0) return 0;
    const results = await this.run('rotation batch', async () => {
      const tx = this.client.multi();
      for (const { expected, next } of replacements) tx.eval(REPLACE, 1, this.userKey(expected.user), expected.service, encodeRecord(expected), encodeRecord(next));
      const out = await tx.exec();
      if (out === null) throw new Error('transaction aborted');
      return out;
    });
    let n = 0;
    for (const [err, value] of results) {
      if (err) throw new KeyringError('STORE', `${this.description}: rotation batch failed: ${err.message}`, { cause: err });
      if (value === 1) n++;
    }
    return n;
  }

  async readMeta(): Promise<KeyringMeta | null> {
    const text = await this.run('read metadata', () => this.client.get(`${this.prefix}meta`));
    if (text === null) return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new KeyringError('MALFORMED', `${this.description}: meta: not valid JSON`);
    }
    return parseMeta(value, `${this.description}: meta`);
  }

  async swapMeta(expected: KeyringMeta | null, next: KeyringMeta): Promise<boolean> {
    const n = await this.run('write metadata', () => this.client.eval(SWAP_META, 1, `${this.prefix}meta`, expected ? encodeMeta(expected) : '', encodeMeta(next)));
    return n === 1;
  }

  async ping(): Promise<void> {
    await this.run('ping', () => this.client.ping());
  }

  async close(): Promise<void> {
    if (!this.owned) return;
    if (this.client.status === 'end' || this.client.status === 'wait') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch (err) {
      this.client.disconnect();
      throw new KeyringError('STORE', `${this.description}: close failed: ${messageOf(err)}`, { cause: err });
    }
  }
}
