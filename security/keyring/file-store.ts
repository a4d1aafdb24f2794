/**
 * The embedded store: one JSON file holding the keyring metadata and every record.
 *
 * Durability: every change writes the whole file to a temporary file in the same folder (mode
 * 600), fsyncs it, renames it over the store file and fsyncs the folder; a change is
 * acknowledged only after all four steps. A crash at any point leaves either the previous file or
 * the new one, never a mix, so nothing acknowledged is lost.
 *
 * Concurrency: writers in this process run one at a time (a promise queue); writers in other
 * processes (the gateway and the `gangway keyring` CLI) are serialised by a lock file created
 * with O_EXCL beside the store, holding the writer's process id. A lock left by a process that no
 * longer exists is broken. Each write re-reads the file under the lock, so no writer overwrites
 * another's change. Readers take no lock: rename is atomic, so they see the old or the new file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { KEYRING_DEFAULTS } from './defaults';
import { KeyringError, messageOf } from './errors';
import {
  encodeMeta,
  encodeRecord,
  parseMeta,
  parseStoredRecord,
  sameRecord,
  type KeyringMeta,
  type KeyringStore,
  type PutOptions,
  type Replacement,
  type StoredRecord,
} from './store';

/** The `format` field of a store file. */
export const FILE_STORE_FORMAT = 'gangway-keyring';

/** Options of {@link FileKeyringStore}. */
export interface FileStoreOptions {
  /** The store file. */
  readonly path: string;
  /** @default KEYRING_DEFAULTS.lockTimeoutMs */
  readonly lockTimeoutMs?: number;
  /** @default KEYRING_DEFAULTS.maxFileBytes */
  readonly maxFileBytes?: number;
}

interface State {
  meta: KeyringMeta | null;
  users: Map<string, Map<string, StoredRecord>>;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === 'EPERM';
  }
}

/** The embedded file store. */
export class FileKeyringStore implements KeyringStore {
  readonly path: string;
  readonly description: string;
  private readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly maxFileBytes: number;
  private queue: Promise<unknown> = Promise.resolve();
  private cache: { sig: string; state: State } | null = null;
  private cleaned = false;

  constructor(options: FileStoreOptions) {
    this.path = resolve(options.path);
    this.description = `file ${this.path}`;
    this.lockPath = this.path + KEYRING_DEFAULTS.lockSuffix;
    this.lockTimeoutMs = options.lockTimeoutMs ?? KEYRING_DEFAULTS.lockTimeoutMs;
    this.maxFileBytes = options.maxFileBytes ?? KEYRING_DEFAULTS.maxFileBytes;
  }

  async get(user: string, service: string): Promise<StoredRecord | null> {
    return (await this.load()).users.get(user)?.get(service) ?? null;
  }

  async list(user: string): Promise<StoredRecord[]> {
    const services = (await this.load()).users.get(user);
    return services ? [...services.values()].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0)) : [];
  }

  put(record: StoredRecord, options: PutOptions): Promise<void> {
    return this.transact((state) => {
      if (!state.meta || state.meta.primaryKid !== record.kid) {
        throw new KeyringError('ROTATION', `${this.description}: the keyring's key is now ${state.meta?.primaryKid ?? 'unset'}, not ${record.kid}`);
      }
      let services = state.users.get(record.user);
      if (!services) {
        services = new Map();
        state.users.set(record.user, services);
      }
      if (!services.has(record.service) && services.size >= options.maxRecordsPerUser) {
        throw new KeyringError('LIMIT', `user ${JSON.stringify(record.user)} already stores ${services.size} credentials (the limit)`);
      }
      services.set(record.service, record);
      return { result: undefined, changed: true };
    });
  }

  delete(user: string, service: string): Promise<boolean> {
    return this.transact((state) => {
      const services = state.users.get(user);
      const had = services?.delete(service) ?? false;
      if (services && services.size === 0) state.users.delete(user);
      return { result: had, changed: had };
    });
  }

  async *records(): AsyncIterable<StoredRecord> {
    const state = await this.load();
    const all: StoredRecord[] = [];
    for (const services of state.users.values()) all.push(...services.values());
    yield* all;
  }

  replaceMany(replacements: readonly Replacement[]): Promise<number> {
    return this.transact((state) => {
      let n = 0;
      for (const { expected, next } of replacements) {
        const services = state.users.get(expected.user);
        const current = services?.get(expected.service);
        if (services && current && sameRecord(current, expected)) {
          services.set(expected.service, next);
          n++;
        }
      }
      return { result: n, changed: n > 0 };
    });
  }

  async readMeta(): Promise<KeyringMeta | null> {
    return (await this.load()).meta;
  }

  swapMeta(expected: KeyringMeta | null, next: KeyringMeta): Promise<boolean> {
    return this.transact((state) => {
      const same = state.meta === null ? expected === null : expected !== null && encodeMeta(state.meta) === encodeMeta(expected);
      if (same) state.meta = next;
      return { result: same, changed: same };
    });
  }

  async ping(): Promise<void> {
    await this.load();
  }

  async close(): Promise<void> {
    await this.queue;
  }

  /** The current state: the cached one when the file has not changed since it was read. */
  private async load(fresh = false): Promise<State> {
    let sig: string;
    try {
      const info = await stat(this.path);
      sig = `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
      if (info.size > this.maxFileBytes) {
        throw new KeyringError('STORE', `${this.description}: ${info.size} bytes is more than the ${this.maxFileBytes} allowed`);
      }
    } catch (err) {
      if (errCode(err) === 'ENOENT') return { meta: null, users: new Map() };
      if (err instanceof KeyringError) throw err;
      throw new KeyringError('STORE', `${this.description}: ${messageOf(err)}`, { cause: err });
    }
    if (!fresh && this.cache && this.cache.sig === sig) return this.cache.state;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') return { meta: null, users: new Map() };
      throw new KeyringError('STORE', `${this.description}: ${messageOf(err)}`, { cause: err });
    }
    const state = this.parse(text);
    if (!fresh) this.cache = { sig, state };
    return state;
  }

  private parse(text: string): State {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new KeyringError('MALFORMED', `${this.description}: not valid JSON`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new KeyringError('MALFORMED', `${this.description}: expected a JSON object`);
    const { format, version, meta, records } = doc as Record<string, unknown>;
    if (format !== FILE_STORE_FORMAT || version !== 1) {
      throw new KeyringError('MALFORMED', `${this.description}: expected format "${FILE_STORE_FORMAT}" version 1`);
    }
    if (!Array.isArray(records)) throw new KeyringError('MALFORMED', `${this.description}: records: expected an array`);
    const state: State = { meta: meta === null || meta === undefined ? null : parseMeta(meta, `${this.description}: meta`), users: new Map() };
    records.forEach((value: unknown, i) => {
      const record = parseStoredRecord(value, `${this.description}: records[${i}]`);
      let services = state.users.get(record.user);
      if (!services) {
        services = new Map();
        state.users.set(record.user, services);
      }
      if (services.has(record.service)) {
        throw new KeyringError('MALFORMED', `${this.description}: records[${i}]: a second record for ${record.user}/${record.service}`);
      }
      services.set(record.service, record);
    });
    return state;
  }

  private serialize(state: State): string {
    const lines: string[] = [];
    const users = [...state.users.keys()].sort();
    for (const user of users) {
      const services = state.users.get(user) as Map<string, StoredRecord>;
      for (const service of [...services.keys()].sort()) lines.push(encodeRecord(services.get(service) as StoredRecord));
    }
    const meta = state.meta ? encodeMeta(state.meta) : 'null';
    const body = lines.length ? `[\n  ${lines.join(',\n  ')}\n]` : '[]';
    return `{"format":"${FILE_STORE_FORMAT}","version":1,\n"meta":${meta},\n"records":${body}}\n`;
  }

  /** Runs `fn` on a fresh copy of the state under the in-process queue and the file lock; writes when it changed something. */
  private transact<T>(fn: (state: State) => { result: T; changed: boolean }): Promise<T> {
    const run = this.queue.then(async () => {
      const release = await this.lock();
      try {
        const state = await this.load(true);
        const { result, changed } = fn(state);
        if (changed) await this.write(state);
        return result;
      } finally {
        await release();
      }
    });
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async write(state: State): Promise<void> {
    const dir = dirname(this.path);
    const tmp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(this.serialize(state), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      let detail = messageOf(err);
      try {
        await unlink(tmp);
      } catch (cleanupErr) {
        if (errCode(cleanupErr) !== 'ENOENT') detail += `; the temporary file ${tmp} could not be removed: ${messageOf(cleanupErr)}`;
      }
      throw new KeyringError('STORE', `${this.description}: write failed: ${detail}`, { cause: err });
    }
    await this.syncDir(dir);
    try {
      const info = await stat(this.path);
      this.cache = { sig: `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`, state };
    } catch (err) {
      this.cache = null;
      throw new KeyringError('STORE', `${this.description}: ${messageOf(err)}`, { cause: err });
    }
  }

  private async syncDir(dir: string): Promise<void> {
    if (process.platform === 'win32') return;
    try {
      const fh = await open(dir, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new KeyringError('STORE', `${this.description}: fsync of folder ${dir} failed: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Takes the cross-process lock; resolves to its release. */
  private async lock(): Promise<() => Promise<void>> {
    const dir = dirname(this.path);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new KeyringError('STORE', `${this.description}: cannot create folder ${dir}: ${messageOf(err)}`, { cause: err });
    }
    const deadline = Date.now() + this.lockTimeoutMs;
    let wait = 5;
    for (;;) {
      try {
        const fh = await open(this.lockPath, 'wx', 0o600);
        try {
          await fh.writeFile(`${process.pid}\n`);
        } finally {
          await fh.close();
        }
        break;
      } catch (err) {
        if (errCode(err) !== 'EEXIST') {
          throw new KeyringError('STORE', `${this.description}: cannot create lock ${this.lockPath}: ${messageOf(err)}`, { cause: err });
        }
      }
      const holder = await this.lockHolder();
      if (holder === 'stale') {
        try {
          await unlink(this.lockPath);
        } catch (err) {
          if (errCode(err) !== 'ENOENT') throw new KeyringError('STORE', `${this.description}: cannot remove stale lock ${this.lockPath}: ${messageOf(err)}`, { cause: err });
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw new KeyringError('STORE', `${this.description}: locked by process ${holder} for more than ${this.lockTimeoutMs} ms (${this.lockPath})`);
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 100);
    }
    if (!this.cleaned) await this.removeStaleTemporaries();
    return async () => {
      try {
        await unlink(this.lockPath);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw new KeyringError('STORE', `${this.description}: cannot release lock ${this.lockPath}: ${messageOf(err)}`, { cause: err });
      }
    };
  }

  /** The lock holder's pid, or `stale` when it is gone (or the lock stayed empty for over a second). */
  private async lockHolder(): Promise<number | 'stale' | 'unknown'> {
    try {
      const text = await readFile(this.lockPath, 'utf8');
      const pid = Number(text.trim());
      if (Number.isInteger(pid) && pid > 0) return alive(pid) ? pid : 'stale';
      const info = await stat(this.lockPath);
      return Date.now() - info.mtimeMs > 1000 ? 'stale' : 'unknown';
    } catch (err) {
      if (errCode(err) === 'ENOENT') return 'unknown';
      throw new KeyringError('STORE', `${this.description}: cannot read lock ${this.lockPath}: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Removes temporary files left by writers that crashed (only writers holding the lock create them). */
  private async removeStaleTemporaries(): Promise<void> {
    const dir = dirname(this.path);
    const prefix = `.${basename(this.path)}.`;
    for (const name of await readdir(dir)) {
      if (name.startsWith(prefix) && name.endsWith('.tmp')) {
        try {
          await unlink(join(dir, name));
        } catch (err) {
          if (errCode(err) !== 'ENOENT') throw new KeyringError('STORE', `${this.description}: cannot remove ${name}: ${messageOf(err)}`, { cause: err });
        }
      }
    }
    this.cleaned = true;
  }
}
