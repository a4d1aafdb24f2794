import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Subject } from './subject';

/**
 * Credentials presented by a client, as the guard extracted them. `none` means the request
 * carried no `Authorization` header; a module may still authenticate it from `headers` (an API key
 * header, a client certificate forwarded by a proxy) or from the address.
 */
export type Credentials =
  | { readonly scheme: 'basic'; readonly username: string; readonly password: string }
  | { readonly scheme: 'bearer'; readonly token: string }
  | { readonly scheme: 'none' };

/** What a login module sees of one login attempt. */
export interface LoginRequest {
  /** Name of the realm running the chain. */
  readonly realm: string;
  /** Service the client is connecting to, when the attempt comes from a service's guard. */
  readonly service?: string;
  readonly credentials: Credentials;
  /** The client's address (the socket's remote address). */
  readonly remoteAddress: string;
  /** The request headers (read-only; never log `authorization` or `cookie`). */
  readonly headers: IncomingHttpHeaders;
}

/** Result of `LoginModule.login`: success, failure, or "this module does not apply". */
export type LoginOutcome = boolean | 'ignore';

/** What `initialize` receives besides the module's own options. */
export interface ModuleEnvironment {
  /** Realm the module belongs to. */
  readonly realm: string;
  /** Name of the module in logs (`name:` in the configuration, or its type). */
  readonly name: string;
  /** Logger for the module; it redacts the usual secret keys, but never log credentials anyway. */
  readonly log: Logger;
  /** Directory relative paths in options are resolved against (the configuration file's). */
  readonly baseDir: string;
}

/**
 * A login module, the pluggable unit of a realm (the JAAS `LoginModule` contract).
 *
 * A realm creates a **new instance per login attempt**, calls `initialize`, then `login`. Once every
 * module of the chain has been asked, the realm calls `commit` on every module when the chain
 * succeeded, or `abort` on every module when it failed — including modules whose `login` was not
 * called because the chain stopped early. `logout` is called on every module of a committed attempt
 * when the session ends. Keep per-attempt state on the instance and shared state (caches, clients)
 * outside it.
 *
 * - `login` resolves `true` when the credentials are valid, `false` when they are not, and
 *   `'ignore'` when the module does not apply (for instance a token module shown a password); a
 *   thrown error counts as a failure and is logged without the credentials.
 * - `commit` adds the principals of a successful `login` to the subject (user name, roles, claims,
 *   `limitExpiry`) and does nothing when the module's own login did not succeed.
 * - `abort` forgets what `login` saved.
 * - `logout` releases what `commit` set up.
 *
 * A custom module is a CommonJS file or package exporting the class (default export, `LoginModule`
 * or the export named in the configuration) or a factory function returning an instance.
 */
export interface LoginModule {
  /** Receives the module's `options` from the configuration (unvalidated for custom modules). */
  initialize?(options: Readonly<Record<string, unknown>>, env: ModuleEnvironment): void | Promise<void>;
  /** Phase one: checks the credentials. */
  login(request: LoginRequest): Promise<LoginOutcome>;
  /** Phase two after overall success: adds principals to the subject. */
  commit(subject: Subject): void | Promise<void>;
  /** Phase two after overall failure: forgets the attempt. */
  abort(): void | Promise<void>;
  /** At session end, for committed attempts. */
  logout(subject: Subject): void | Promise<void>;
}

/** JAAS control flags. */
export type ControlFlag = 'required' | 'requisite' | 'sufficient' | 'optional';

/** The control flags, in documentation order. */
export const CONTROL_FLAGS: readonly ControlFlag[] = ['required', 'requisite', 'sufficient', 'optional'];
