/**
 * Gangway's security library: realms of login modules (JAAS semantics), guards per service
 * (schemes, tickets, cookies, origins, roles, failed-login limits), session deadlines and
 * refresh, and TLS contexts by SNI with renewal. `createSecurity` builds it from configuration.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { CookieCodec, decodeCookieSecret } from './cookies';
import { Guard } from './guard';
import type { LoginModule } from './login-module';
import { LOGIN_MODULE_TYPES } from './modules';
import { LoginRateLimiter } from './rate-limit';
import { Realm, type RealmEntry } from './realm';
import { securityConfigSchema, serviceAuthConfigSchema, type SecurityConfigInput, type ServiceAuthConfig, type ServiceAuthInput } from './schema';
import { TicketStore } from './tickets';
import { TlsContextManager } from './tls';

export * from './defaults';
export * from './errors';
export * from './subject';
export * from './login-module';
export * from './realm';
export * from './passwords';
export * from './files';
export * from './tickets';
export * from './cookies';
export * from './origins';
export * from './rate-limit';
export * from './session-timer';
export * from './guard';
export * from './tls';
export * from './schema';
export * from './modules';

/** Options of `createSecurity`. */
export interface CreateSecurityOptions {
  /** Directory relative paths are resolved against (the configuration file's). @default process.cwd() */
  readonly baseDir?: string;
  /** The client's address of a request (trusted proxies resolved). @default the TCP peer's address */
  readonly clientAddress?: (req: IncomingMessage) => string;
}

/** The security library built from configuration. */
export interface Security {
  /** Realms by name. */
  readonly realms: ReadonlyMap<string, Realm>;
  /** The guard of a service (one per service; `auth` may be the raw or the parsed `auth:` section). */
  guardFor(auth: ServiceAuthInput | ServiceAuthConfig, serviceName: string): Guard;
  /** TLS contexts, when `tls:` is configured (its renewal check is started). */
  readonly tls: TlsContextManager | null;
  readonly tickets: TicketStore;
  readonly cookies: CookieCodec | null;
  readonly limiter: LoginRateLimiter;
  /** Stops timers (TLS renewal checks). */
  close(): void;
}

/**
 * Builds realms, the ticket store, the cookie codec, the failed-login limiter and the TLS manager
 * from the security part of the configuration (`realms:`, `tls:`, `cookies:`, `loginRateLimit:`,
 * `tickets:`). Validates with {@link securityConfigSchema}, loads every file now and throws
 * naming the file or key when something cannot be used.
 */
export function createSecurity(config: SecurityConfigInput, logger: Logger, options: CreateSecurityOptions = {}): Security {
  const baseDir = options.baseDir ?? process.cwd();
  const cfg = securityConfigSchema.parse(config);
  const log = logger.child({ component: 'security' });
  const realms = new Map<string, Realm>();
  for (const [ri, r] of cfg.realms.entries()) {
    const entries: RealmEntry[] = r.modules.map((m, mi) => {
      const build = LOGIN_MODULE_TYPES.get(m.type);
      if (!build) throw new Error(`realms[${ri}].modules[${mi}].type: unknown login module type ${m.type}`);
      const name = m.name ?? `${m.type}#${mi}`;
      let create: () => LoginModule;
      try {
        create = build(m, baseDir, log.child({ realm: r.name, module: name }));
      } catch (err) {
        throw new Error(`realms[${ri}].modules[${mi}] (${name}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      return { name, flag: m.flag, create, options: m.options };
    });
    realms.set(r.name, new Realm(r.name, entries, log, baseDir));
  }
  const tickets = new TicketStore(cfg.tickets.ttlSeconds, cfg.tickets.maxOutstanding);
  const limiter = new LoginRateLimiter(cfg.loginRateLimit);
  let cookies: CookieCodec | null = null;
  if (cfg.cookies) {
    const c = cfg.cookies;
    const keys = c.keys.map((k) => ({
      id: k.id,
      secret: decodeCookieSecret(k.secret ?? readFileSync(resolve(baseDir, k.secretFile as string), 'utf8'), k.id),
    }));
    cookies = new CookieCodec(keys, { name: c.name, ttlSeconds: c.ttlSeconds, sameSite: c.sameSite, secure: c.secure, path: c.path });
  }
  const tls = cfg.tls ? new TlsContextManager(cfg.tls, log, baseDir) : null;
  tls?.start();
  return {
    realms,
    tls,
    tickets,
    cookies,
    limiter,
    guardFor(auth, serviceName) {
      const parsed = serviceAuthConfigSchema.parse(auth);
      const realm = realms.get(parsed.realm);
      if (!realm) throw new Error(`service ${serviceName}: auth.realm ${parsed.realm} is not defined under realms:`);
      return new Guard({ service: serviceName, auth: parsed, realm, tickets, cookies, limiter, log: log.child({ service: serviceName }), clientAddress: options.clientAddress });
    },
    close() {
      tls?.close();
    },
  };
}
