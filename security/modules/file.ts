import { randomBytes } from 'node:crypto';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Logger } from 'pino';
import { SECURITY_DEFAULTS } from '../defaults';
import { ReloadingFile } from '../files';
import type { LoginModule, LoginOutcome, LoginRequest } from '../login-module';
import { parseScryptHash, verifyPassword, type ScryptHash } from '../passwords';
import type { Subject } from '../subject';

/** Options of the `file` login module. */
export const fileModuleOptionsSchema = z.strictObject({
  /** Users file, YAML (`.yaml`, `.yml`) or JSON (`.json`); relative to the configuration file. */
  path: z.string().min(1),
});

/** Options of the `file` login module. */
export type FileModuleOptions = z.infer<typeof fileModuleOptionsSchema>;

const usersFileSchema = z.strictObject({
  users: z.record(
    z.string().min(1),
    z.strictObject({
      password: z.string(),
      roles: z.array(z.string()).default([]),
    }),
  ),
});

/** One user of a users file, hash parsed. */
export interface FileUser {
  readonly hash: ScryptHash;
  readonly roles: readonly string[];
}

/** Parses a users file (YAML or JSON by extension); throws naming the user and what is wrong. */
export function parseUsersFile(content: Buffer, path: string): ReadonlyMap<string, FileUser> {
  const text = content.toString('utf8');
  const raw: unknown = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  const parsed = usersFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${issue.path.map(String).join('.') || 'document'}: ${issue.message}`);
  }
  const users = new Map<string, FileUser>();
  for (const [name, u] of Object.entries(parsed.data.users)) {
    const hash = parseScryptHash(u.password);
    if (typeof hash === 'string') throw new Error(`users.${name}.password: ${hash}`);
    users.set(name, { hash, roles: u.roles });
  }
  return users;
}

/** A dummy hash with the default cost: an unknown user costs the same scrypt as a wrong password. */
function dummyHash(): ScryptHash {
  const d = SECURITY_DEFAULTS.scrypt;
  return { N: d.N, r: d.r, p: d.p, salt: randomBytes(d.saltBytes), hash: randomBytes(d.keyLength) };
}

/** The shared part of a `file` module entry: the users file, reloaded when it changes. */
export class UsersStore {
  private readonly file: ReloadingFile<ReadonlyMap<string, FileUser>>;
  private readonly dummy = dummyHash();

  constructor(path: string, log: Logger) {
    this.file = new ReloadingFile(path, (buf) => parseUsersFile(buf, path), log);
  }

  /**
   * Checks a user name and password. Always runs one scrypt: for an unknown user against a dummy
   * hash of the default cost, so the answer takes as long as for a wrong password.
   */
  async check(username: string, password: string): Promise<FileUser | null> {
    const users = await this.file.get();
    const user = users.get(username);
    const ok = await verifyPassword(password, user ? user.hash : this.dummy);
    return user && ok ? user : null;
  }
}

/**
 * The `file` login module: HTTP Basic user names and passwords checked against a users file of
 * scrypt hashes, with roles per user. Other schemes are ignored.
 */
export class FileLoginModule implements LoginModule {
  private pending: { user: string; roles: readonly string[] } | null = null;

  constructor(private readonly store: UsersStore) {}

  async login(request: LoginRequest): Promise<LoginOutcome> {
    const c = request.credentials;
    if (c.scheme !== 'basic') return 'ignore';
    const user = await this.store.check(c.username, c.password);
    if (!user) return false;
    this.pending = { user: c.username, roles: user.roles };
    return true;
  }

  commit(subject: Subject): void {
    if (!this.pending) return;
    subject.setUser(this.pending.user);
    subject.addRoles(this.pending.roles);
  }

  abort(): void {
    this.pending = null;
  }

  logout(): void {
    this.pending = null;
  }
}

/** Builds the factory of `file` module instances for one realm entry. */
export function fileModuleFactory(options: FileModuleOptions, baseDir: string, log: Logger): () => LoginModule {
  const store = new UsersStore(resolve(baseDir, options.path), log);
  return () => new FileLoginModule(store);
}
