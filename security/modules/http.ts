import { z } from 'zod';
import type { Logger } from 'pino';
import { SECURITY_DEFAULTS } from '../defaults';
import type { LoginModule, LoginOutcome, LoginRequest } from '../login-module';
import type { Subject } from '../subject';

/** Options of the `http` login module. */
export const httpModuleOptionsSchema = z.strictObject({
  /** Endpoint the credentials are POSTed to (http:// or https://). */
  url: z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }),
  /** @default 5000 */
  timeoutMs: z.number().int().min(1).max(60_000).default(SECURITY_DEFAULTS.httpModuleTimeoutMs),
  /** Extra request headers (for instance the endpoint's own API key). */
  headers: z.record(z.string(), z.string()).default({}),
});

/** Options of the `http` login module. */
export type HttpModuleOptions = z.infer<typeof httpModuleOptionsSchema>;

const answerSchema = z.object({
  user: z.string().min(1),
  roles: z.array(z.string()).default([]),
  /** Epoch seconds (as JWT `exp`) or an ISO 8601 date. */
  expiresAt: z.union([z.number(), z.iso.datetime({ offset: true })]).optional(),
});

/** Body the `http` module POSTs: the credentials and where they come from. */
export interface HttpLoginBody {
  readonly realm: string;
  readonly service?: string;
  readonly scheme: 'basic' | 'bearer';
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
  readonly remoteAddress: string;
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw new Error(`endpoint answer exceeds ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The `http` login module: delegates the decision to an HTTP endpoint. It POSTs the credentials
 * as JSON ({@link HttpLoginBody}); `200` with `{user, roles, expiresAt?}` is a success, `401` or
 * `403` a failure, anything else (or a timeout) an error. Requests without Basic or Bearer
 * credentials are ignored.
 */
export class HttpLoginModule implements LoginModule {
  private pending: { user: string; roles: string[]; expiresAt?: number } | null = null;

  constructor(
    private readonly options: HttpModuleOptions,
    private readonly log: Logger,
  ) {}

  async login(request: LoginRequest): Promise<LoginOutcome> {
    const c = request.credentials;
    if (c.scheme === 'none') return 'ignore';
    const body: HttpLoginBody =
      c.scheme === 'basic'
        ? { realm: request.realm, service: request.service, scheme: 'basic', username: c.username, password: c.password, remoteAddress: request.remoteAddress }
        : { realm: request.realm, service: request.service, scheme: 'bearer', token: c.token, remoteAddress: request.remoteAddress };
    let res: Response;
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      res = await fetch(this.options.url, {
        method: 'POST',
        headers: { ...this.options.headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal,
        redirect: 'error',
      });
    } catch (err) {
      throw new Error(signal.aborted ? `login endpoint did not answer within ${this.options.timeoutMs} ms` : 'login endpoint unreachable', { cause: err });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      return false;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`login endpoint answered ${res.status}`);
    }
    const text = await readLimited(res, SECURITY_DEFAULTS.httpModuleMaxResponseBytes);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error('login endpoint answered 200 with a body that is not JSON');
    }
    const parsed = answerSchema.safeParse(json);
    if (!parsed.success) throw new Error(`login endpoint answered 200 without {user, roles}: ${parsed.error.issues[0].message}`);
    const { user, roles, expiresAt } = parsed.data;
    const at = expiresAt === undefined ? undefined : typeof expiresAt === 'number' ? expiresAt * 1000 : Date.parse(expiresAt);
    this.pending = at === undefined ? { user, roles } : { user, roles, expiresAt: at };
    this.log.debug({ event: 'http.login.accepted', user }, 'login endpoint accepted the credentials');
    return true;
  }

  commit(subject: Subject): void {
    if (!this.pending) return;
    subject.setUser(this.pending.user);
    subject.addRoles(this.pending.roles);
    if (this.pending.expiresAt !== undefined) subject.limitExpiry(this.pending.expiresAt);
  }

  abort(): void {
    this.pending = null;
  }

  logout(): void {
    this.pending = null;
  }
}

/** Builds the factory of `http` module instances for one realm entry. */
export function httpModuleFactory(options: HttpModuleOptions, log: Logger): () => LoginModule {
  return () => new HttpLoginModule(options, log);
}
