/**
 * The keyring: per-user back-end credentials, encrypted under a master key, in a
 * {@link KeyringStore}. See security/keyring/README.md for the format and the rotation procedure.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { describeKeySource, isPassphraseSource, loadMasterKey, MasterKey, newKdfParams, recordAad, RECORD_FORMAT, type KdfParams, type MasterKeySource } from './crypto';
import { KEYRING_DEFAULTS, type ScryptCost } from './defaults';
import { KeyringError, messageOf } from './errors';
import type { KeyringMeta, KeyringStore, Replacement, StoredRecord } from './store';

/** A back-end credential: a user name and password, or a token. */
export type Credential = { readonly username: string; readonly password: string } | { readonly token: string };

/** Schema of a {@link Credential}: exactly one of the two shapes, no other fields. */
export const credentialSchema = z.union([
  z.strictObject({ username: z.string().min(1), password: z.string() }),
  z.strictObject({ token: z.string().min(1) }),
]);

/** A decrypted record. */
export interface KeyringEntry {
  readonly user: string;
  readonly service: string;
  readonly credential: Credential;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Id of the key the record is encrypted under. */
  readonly keyId: string;
}

/** Per-keyring limits (defaults from {@link KEYRING_DEFAULTS}). */
export interface KeyringLimits {
  readonly maxRecordsPerUser: number;
  readonly maxCredentialBytes: number;
}

/** Options of {@link Keyring.open}. */
export interface KeyringOptions {
  readonly store: KeyringStore;
  /** The key records are written under. */
  readonly key: MasterKeySource | MasterKey;
  /** Keys still accepted for reading while a rotation away from them is unfinished. @default [] */
  readonly previousKeys?: readonly (MasterKeySource | MasterKey)[];
  /** Folder relative key and passphrase files resolve against. @default process.cwd() */
  readonly baseDir?: string;
  /** Environment read for `env` and `passphraseEnv` sources. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Events (ids and names only, never secrets). */
  readonly log?: Logger;
  /** @default { maxRecordsPerUser: KEYRING_DEFAULTS.maxRecordsPerUser, maxCredentialBytes: KEYRING_DEFAULTS.maxCredentialBytes } */
  readonly limits?: Partial<KeyringLimits>;
  /** scrypt cost when this open or a rotation creates the passphrase salt. @default KEYRING_DEFAULTS.scrypt */
  readonly scrypt?: ScryptCost;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

/** Options of {@link Keyring.rotate}. */
export interface RotateOptions {
  /** @default KEYRING_DEFAULTS.rotationBatchSize */
  readonly batchSize?: number;
  /** Stops the rotation after the current batch; running `rotate` again with the same key resumes it. */
  readonly signal?: AbortSignal;
  /** Told after each batch is written. */
  readonly onBatch?: (progress: { readonly reencrypted: number }) => void;
}

/** What a completed rotation did. */
export interface RotationResult {
  /** The key every record is now under. */
  readonly keyId: string;
  /** Records re-encrypted by this run. */
  readonly reencrypted: number;
  /** Key ids retired by this run. */
  readonly retired: readonly string[];
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws `INVALID` unless `user` is a usable user name. */
export function checkUser(user: string): void {
  if (typeof user !== 'string' || user === '' || CONTROL.test(user) || Buffer.byteLength(user) > KEYRING_DEFAULTS.maxUserBytes) {
    throw new KeyringError('INVALID', `a user name is 1-${KEYRING_DEFAULTS.maxUserBytes} bytes without control characters`);
  }
}

/** Throws `INVALID` unless `service` is a usable service name. */
export function checkService(service: string): void {
  if (typeof service !== 'string' || !SERVICE_NAME.test(service) || service.length > KEYRING_DEFAULTS.maxServiceLength) {
    throw new KeyringError('INVALID', `a service name is 1-${KEYRING_DEFAULTS.maxServiceLength} letters, digits, "_", "." or "-", starting with a letter or digit`);
  }
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** The encrypted credential keyring. */
export class Keyring {
  private meta: KeyringMeta;
  private readonly keys = new Map<string, MasterKey>();
  private readonly sources = new Map<string, string>();
  private readonly limits: KeyringLimits;

  private constructor(
    readonly store: KeyringStore,
    meta: KeyringMeta,
    keys: readonly { key: MasterKey; source: string }[],
    private readonly options: KeyringOptions,
  ) {
    this.meta = meta;
    for (const { key, source } of keys) {
      this.keys.set(key.id, key);
      this.sources.set(key.id, source);
    }
    this.limits = {
      maxRecordsPerUser: options.limits?.maxRecordsPerUser ?? KEYRING_DEFAULTS.maxRecordsPerUser,
      maxCredentialBytes: options.limits?.maxCredentialBytes ?? KEYRING_DEFAULTS.maxCredentialBytes,
    };
  }

  /**
   * Opens the keyring in `options.store`, creating its metadata on first use (for a passphrase
   * key, with a fresh random salt). Throws `WRONG_KEY`, `KEY_RETIRED` or `ROTATION` when the keys
   * given cannot write to it.
   */
  static async open(options: KeyringOptions): Promise<Keyring> {
    const { store } = options;
    const now = options.now ?? (() => new Date());
    let meta = await store.readMeta();
    let kdf: KdfParams | null = meta?.kdf ?? null;
    const isPassphrase = (k: MasterKeySource | MasterKey): boolean => !(k instanceof MasterKey) && isPassphraseSource(k);
    // A previous key derived from a passphrase cannot have encrypted anything when no salt is stored.
    const previous = (options.previousKeys ?? []).filter((k) => kdf !== null || !isPassphrase(k));
    const inputs = [options.key, ...previous];
    const needsKdf = isPassphrase(options.key);
    if (needsKdf && !kdf) {
      if (meta) {
        throw new KeyringError('WRONG_KEY', `${store.description}: the keyring's key (key id ${meta.primaryKid}) is not derived from a passphrase; give its key file or variable`);
      }
      kdf = newKdfParams(options.scrypt);
    }
    const keys = await Promise.all(inputs.map((k) => Keyring.resolve(k, kdf, options)));
    if (!meta) {
      const fresh: KeyringMeta = { format: 1, primaryKid: keys[0].key.id, retiredKids: [], kdf: needsKdf ? kdf : null, rotation: null, createdAt: now().toISOString() };
      if (await store.swapMeta(null, fresh)) {
        meta = fresh;
        options.log?.info({ event: 'keyring.created', store: store.description, keyId: fresh.primaryKid }, 'keyring created');
      } else {
        // Another process created the keyring first: open what it created.
        return Keyring.open(options);
      }
    }
    const keyring = new Keyring(store, meta, keys, options);
    keyring.adopt(meta);
    return keyring;
  }

  private static async resolve(k: MasterKeySource | MasterKey, kdf: KdfParams | null, options: KeyringOptions): Promise<{ key: MasterKey; source: string }> {
    if (k instanceof MasterKey) return { key: k, source: `key id ${k.id}` };
    const key = await loadMasterKey(k, {
      baseDir: options.baseDir,
      env: options.env,
      kdf,
      onWarning: (message) => options.log?.warn({ event: 'keyring.key.permissions' }, message),
    });
    return { key, source: describeKeySource(k) };
  }

  /** Takes `meta` as current: drops retired keys, checks the primary key is loaded. */
  private adopt(meta: KeyringMeta): void {
    const retired = new Set(meta.retiredKids);
    const hadRetired: string[] = [];
    for (const id of [...this.keys.keys()]) {
      if (retired.has(id)) {
        hadRetired.push(id);
        this.keys.delete(id);
        this.options.log?.warn({ event: 'keyring.key.retired', keyId: id }, `key id ${id} (${this.sources.get(id) ?? 'given key'}) was retired by a rotation and is not used`);
      }
    }
    if (!this.keys.has(meta.primaryKid)) {
      const where = this.store.description;
      if (meta.rotation) {
        throw new KeyringError(
          'ROTATION',
          `${where}: a rotation to key id ${meta.rotation.to} is unfinished; give that key, keep key id(s) ${meta.rotation.from.join(', ')} as previous keys, and run rotate again`,
        );
      }
      if (hadRetired.length > 0) {
        throw new KeyringError('KEY_RETIRED', `${where}: key id ${hadRetired.join(', ')} was retired by a rotation; the keyring's key is now key id ${meta.primaryKid}`);
      }
      const given = [...this.keys.keys()].map((id) => `key id ${id} from ${this.sources.get(id) ?? 'a given key'}`).join(', ');
      throw new KeyringError('WRONG_KEY', `${where}: the master key given (${given}) is not this keyring's key (key id ${meta.primaryKid})`);
    }
    this.meta = meta;
  }

  /** Id of the key new records are written under. */
  get primaryKeyId(): string {
    return this.meta.primaryKid;
  }

  /** Ids of the keys loaded and usable for reading. */
  get keyIds(): readonly string[] {
    return [...this.keys.keys()];
  }

  /** The current metadata (a rotation under way, retired keys). */
  get metadata(): KeyringMeta {
    return this.meta;
  }

  private now(): string {
    return (this.options.now ?? (() => new Date()))().toISOString();
  }

  private seal(user: string, service: string, plaintext: Buffer, key: MasterKey, createdAt: string, updatedAt: string): StoredRecord {
    const meta = { v: RECORD_FORMAT, user, service, kid: key.id, createdAt, updatedAt };
    const { nonce, ciphertext, tag } = key.seal(plaintext, recordAad(meta));
    return { ...meta, nonce: nonce.toString('base64'), ct: ciphertext.toString('base64'), tag: tag.toString('base64') };
  }

  /** Decrypts and authenticates a record found under `user`/`service`. */
  private unseal(record: StoredRecord, user: string, service: string): KeyringEntry {
    const name = `${user}/${service}`;
    if (record.user !== user || record.service !== service) {
      throw new KeyringError('TAMPERED', `record ${name} names ${record.user}/${record.service}: it was moved; refused`);
    }
    if (this.meta.retiredKids.includes(record.kid)) {
      throw new KeyringError('KEY_RETIRED', `record ${name} is encrypted under key id ${record.kid}, retired by a rotation; refused`);
    }
    const key = this.keys.get(record.kid);
    if (!key) {
      const hint = this.meta.rotation?.from.includes(record.kid) ? ' (a rotation away from it is unfinished: give it as a previous key)' : '';
      throw new KeyringError('KEY_UNKNOWN', `record ${name} is encrypted under key id ${record.kid}, which was not loaded${hint}`);
    }
    const plaintext = key.open(Buffer.from(record.nonce, 'base64'), Buffer.from(record.ct, 'base64'), Buffer.from(record.tag, 'base64'), recordAad(record));
    if (!plaintext) {
      throw new KeyringError(
        'TAMPERED',
        `record ${name} (key id ${record.kid}) failed authentication: its ciphertext, nonce, tag or metadata were altered, or it was moved from another user or service; refused`,
      );
    }
    let credential: Credential;
    try {
      const parsed = credentialSchema.safeParse(JSON.parse(plaintext.toString('utf8')));
      if (!parsed.success) throw new Error('wrong fields');
      credential = parsed.data;
    } catch {
      throw new KeyringError('MALFORMED', `record ${name} decrypted to something that is not a credential`);
    } finally {
      plaintext.fill(0);
    }
    return { user, service, credential, createdAt: record.createdAt, updatedAt: record.updatedAt, keyId: record.kid };
  }

  /** Validates a credential and returns its JSON bytes (throws `INVALID` or `LIMIT`). */
  private encodeCredential(credential: unknown): Buffer {
    const parsed = credentialSchema.safeParse(credential);
    if (!parsed.success) throw new KeyringError('INVALID', 'a credential is {"username", "password"} or {"token"}, strings, with no other fields');
    const bytes = Buffer.from(JSON.stringify(parsed.data), 'utf8');
    if (bytes.length > this.limits.maxCredentialBytes) {
      bytes.fill(0);
      throw new KeyringError('LIMIT', `the credential is ${bytes.length} bytes; at most ${this.limits.maxCredentialBytes} are stored`);
    }
    return bytes;
  }

  /** Stores (or replaces) `user`'s credential for `service`, encrypted under the primary key. */
  async set(user: string, service: string, credential: Credential): Promise<void> {
    checkUser(user);
    checkService(service);
    const plaintext = this.encodeCredential(credential);
    try {
      const existing = await this.store.get(user, service);
      const updatedAt = this.now();
      const createdAt = existing?.user === user && existing.service === service ? existing.createdAt : updatedAt;
      for (let attempt = 0; ; attempt++) {
        const key = this.keys.get(this.meta.primaryKid) as MasterKey;
        try {
          await this.store.put(this.seal(user, service, plaintext, key, createdAt, updatedAt), { maxRecordsPerUser: this.limits.maxRecordsPerUser });
          this.options.log?.info({ event: 'keyring.set', user, service, keyId: key.id }, 'credential stored');
          return;
        } catch (err) {
          if (!KeyringError.is(err, 'ROTATION') || attempt > 0) throw err;
          await this.refresh();
        }
      }
    } finally {
      plaintext.fill(0);
    }
  }

  /** Re-reads the metadata (another process may have rotated the keyring). */
  async refresh(): Promise<void> {
    const meta = await this.store.readMeta();
    if (!meta) throw new KeyringError('STORE', `${this.store.description}: the keyring metadata disappeared`);
    this.adopt(meta);
  }

  /** `user`'s credential for `service`, decrypted; `null` when there is none. */
  async get(user: string, service: string): Promise<KeyringEntry | null> {
    checkUser(user);
    checkService(service);
    const record = await this.store.get(user, service);
    if (!record) return null;
    if (!this.keys.has(record.kid) && !this.meta.retiredKids.includes(record.kid)) await this.refresh();
    return this.unseal(record, user, service);
  }

  /** Names of the services `user` stores credentials for (nothing is decrypted). */
  async list(user: string): Promise<string[]> {
    checkUser(user);
    return (await this.store.list(user)).map((r) => r.service);
  }

  /** Removes `user`'s credential for `service`; whether there was one. */
  async delete(user: string, service: string): Promise<boolean> {
    checkUser(user);
    checkService(service);
    const removed = await this.store.delete(user, service);
    if (removed) this.options.log?.info({ event: 'keyring.delete', user, service }, 'credential removed');
    return removed;
  }

  /**
   * Rotates to `newKey`: records it as the key new records are written under, re-encrypts every
   * record under it (in batches, compare-and-set so concurrent changes are never overwritten),
   * then retires the old keys. Reading works throughout. When interrupted (crash, `signal`),
   * running it again with the same key resumes; until then the keyring must be opened with the
   * new key and the old one as a previous key.
   */
  async rotate(newKey: MasterKeySource | MasterKey, options: RotateOptions = {}): Promise<RotationResult> {
    const log = this.options.log;
    const batchSize = Math.max(1, options.batchSize ?? KEYRING_DEFAULTS.rotationBatchSize);
    let meta = await this.store.readMeta();
    if (!meta) throw new KeyringError('STORE', `${this.store.description}: the keyring metadata disappeared`);
    const kdf = meta.kdf ?? (!(newKey instanceof MasterKey) && isPassphraseSource(newKey) ? newKdfParams(this.options.scrypt) : null);
    const { key, source } = await Keyring.resolve(newKey, kdf, this.options);
    if (meta.retiredKids.includes(key.id)) {
      throw new KeyringError('KEY_RETIRED', `key id ${key.id} (${source}) was retired by an earlier rotation; rotate to a new key`);
    }
    if (meta.rotation && meta.rotation.to !== key.id) {
      throw new KeyringError('ROTATION', `a rotation to key id ${meta.rotation.to} is unfinished; run rotate with that key first`);
    }
    this.keys.set(key.id, key);
    this.sources.set(key.id, source);
    if (meta.primaryKid !== key.id) {
      const next: KeyringMeta = {
        ...meta,
        kdf,
        primaryKid: key.id,
        rotation: { from: unique([...(meta.rotation?.from ?? []), meta.primaryKid]), to: key.id, startedAt: this.now() },
      };
      if (!(await this.store.swapMeta(meta, next))) {
        throw new KeyringError('ROTATION', `${this.store.description}: the keyring metadata changed as the rotation started; run rotate again`);
      }
      meta = next;
      log?.info({ event: 'keyring.rotation.started', keyId: key.id, from: next.rotation?.from }, 'key rotation started');
    }
    this.meta = meta;

    const seen = new Set<string>(meta.rotation?.from ?? []);
    let reencrypted = 0;
    const flush = async (batch: Replacement[]): Promise<void> => {
      if (batch.length === 0) return;
      reencrypted += await this.store.replaceMany(batch);
      batch.length = 0;
      options.onBatch?.({ reencrypted });
      if (options.signal?.aborted) {
        throw new KeyringError('ROTATION', `rotation to key id ${key.id} interrupted after ${reencrypted} record(s); run rotate again with the same key to resume`, {
          cause: options.signal.reason,
        });
      }
    };
    for (let pass = 1; ; pass++) {
      let pending = 0;
      const batch: Replacement[] = [];
      for await (const record of this.store.records()) {
        if (record.kid === key.id) continue;
        pending++;
        seen.add(record.kid);
        const entry = this.unseal(record, record.user, record.service);
        const plaintext = Buffer.from(JSON.stringify(entry.credential), 'utf8');
        try {
          batch.push({ expected: record, next: this.seal(record.user, record.service, plaintext, key, record.createdAt, record.updatedAt) });
        } finally {
          plaintext.fill(0);
        }
        if (batch.length >= batchSize) await flush(batch);
      }
      await flush(batch);
      if (pending === 0) break;
      if (pass >= KEYRING_DEFAULTS.rotationMaxPasses) {
        throw new KeyringError('ROTATION', `records under the old keys kept changing for ${pass} passes; run rotate again`);
      }
    }

    const retired = [...seen].filter((id) => id !== key.id);
    const done: KeyringMeta = { ...meta, rotation: null, retiredKids: unique([...meta.retiredKids, ...retired]) };
    if (!(await this.store.swapMeta(meta, done))) {
      throw new KeyringError('ROTATION', `${this.store.description}: the keyring metadata changed during the rotation; run rotate again`);
    }
    for (const id of retired) this.keys.delete(id);
    this.meta = done;
    log?.info({ event: 'keyring.rotation.completed', keyId: key.id, reencrypted, retired }, 'key rotation completed');
    return { keyId: key.id, reencrypted, retired };
  }

  /** Whether the store answers (for `/ready`). */
  async ready(): Promise<{ ok: boolean; detail?: string }> {
    try {
      await this.store.ping();
      return { ok: true };
    } catch (err) {
      return { ok: false, detail: messageOf(err) };
    }
  }

  /** Closes the store. */
  async close(): Promise<void> {
    await this.store.close();
  }
}
