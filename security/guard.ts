import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { SECURITY_DEFAULTS } from './defaults';
import { SECURITY_ERRORS, type SecurityErrorSpec } from './errors';
import type { CookieCodec } from './cookies';
import type { Credentials } from './login-module';
import { applyCors, OriginPolicy, type CorsResult } from './origins';
import type { LoginRateLimiter } from './rate-limit';
import type { Realm } from './realm';
import type { ServiceAuthConfig } from './schema';
import { SessionTimer } from './session-timer';
import { Subject } from './subject';
import type { TicketStore } from './tickets';

/** An authentication scheme a service offers. */
export type AuthScheme = ServiceAuthConfig['schemes'][number];

/** A refusal: what to answer the request or upgrade with. */
export interface Refusal {
  readonly ok: false;
  readonly status: 401 | 403 | 404 | 429 | 503;
  /** `WWW-Authenticate`, `Retry-After`, as applicable. */
  readonly headers: Readonly<Record<string, string>>;
  /** One line, no newline. */
  readonly body: string;
  /** Catalogue code (`GW_ERR_AUTH_REQUIRED`, ...). */
  readonly code: string;
}

/** Result of `Guard.check`. */
export type Verdict =
  | {
      readonly ok: true;
      readonly subject: Subject;
      /** How the client authenticated. */
      readonly scheme: AuthScheme | 'none';
      /** Key the client chose (`?refresh=`) to refresh the session's credential later, when valid. */
      readonly refreshKey?: string;
    }
  | (Refusal & { readonly status: 401 | 403 | 429 });

/** Result of `Guard.refresh`. */
export type RefreshResult = { readonly ok: true; readonly expiresAt: number | null } | Refusal;

/** What the guard needs; `createSecurity` builds it. */
export interface GuardOptions {
  readonly service: string;
  readonly auth: ServiceAuthConfig;
  readonly realm: Realm;
  readonly tickets: TicketStore;
  readonly cookies: CookieCodec | null;
  readonly limiter: LoginRateLimiter;
  readonly log: Logger;
  /**
   * The client's address for logs and the failed-login limiter (the gateway resolves trusted
   * proxies' `Forwarded` headers). @default the TCP peer's address
   */
  readonly clientAddress?: (req: IncomingMessage) => string;
}

/** A session the guard watches for expiry and may refresh. */
export interface TrackedSession {
  readonly sessionId: string;
  readonly subject: Subject;
  readonly timer: SessionTimer;
  readonly refreshKey?: string;
}

type Extracted =
  | { kind: 'login'; scheme: 'basic' | 'bearer'; credentials: Credentials }
  | { kind: 'ticket'; ticket: string }
  | { kind: 'cookie'; value: string }
  | { kind: 'none' }
  | { kind: 'malformed'; scheme: 'basic' | 'bearer' };

/** What the realm and the failed-login limiter said, before the role check. */
type Authenticated = { ok: true; subject: Subject; scheme: AuthScheme | 'none' } | (Refusal & { status: 401 | 429 });

const REFRESH_KEY = /^[A-Za-z0-9_-]{16,128}$/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function queryParam(req: IncomingMessage, name: string): string | undefined {
  try {
    return new URL(req.url ?? '/', 'http://gangway').searchParams.get(name) ?? undefined;
  } catch {
    return undefined;
  }
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** Parses `Authorization: Basic` / `Bearer` for the schemes allowed; `none` when absent or another scheme. */
export function parseAuthorization(value: string | undefined, allowed: ReadonlySet<string>): Extracted {
  if (value === undefined) return { kind: 'none' };
  const sp = value.indexOf(' ');
  const scheme = (sp < 0 ? value : value.slice(0, sp)).toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return { kind: 'none' };
  if (!allowed.has(scheme)) return { kind: 'none' };
  if (value.length > SECURITY_DEFAULTS.maxAuthorizationBytes || sp < 0) return { kind: 'malformed', scheme };
  const param = value.slice(sp + 1).trim();
  if (!TOKEN68.test(param)) return { kind: 'malformed', scheme };
  if (scheme === 'bearer') return { kind: 'login', scheme, credentials: { scheme: 'bearer', token: param } };
  const decoded = Buffer.from(param, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'malformed', scheme };
  return { kind: 'login', scheme, credentials: { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
}

/**
 * The authentication and authorization gate of one service. `check` decides an upgrade or a
 * request; the `handle*Request` methods serve the HTTP endpoints a browser needs (`POST /ticket`,
 * `POST /login`, `POST /logout`, `POST /refresh`); `track`/`refresh`/`end` manage the life of an
 * authenticated session.
 */
export class Guard {
  readonly origins: OriginPolicy;
  private readonly schemes: ReadonlySet<AuthScheme>;
  private readonly sessions = new Map<string, TrackedSession>();

  constructor(private readonly o: GuardOptions) {
    this.origins = new OriginPolicy(o.auth.origins, o.auth.allowMissingOrigin);
    this.schemes = new Set(o.auth.schemes);
    if (this.schemes.has('cookie') && !o.cookies) throw new Error(`service ${o.service}: the cookie scheme needs a top-level cookies: section with keys`);
  }

  private remoteOf(req: IncomingMessage): string {
    return this.o.clientAddress ? this.o.clientAddress(req) : req.socket.remoteAddress ?? 'unknown';
  }

  /** The service's name. */
  get service(): string {
    return this.o.service;
  }

  /** The realm's name. */
  get realmName(): string {
    return this.o.realm.name;
  }

  /**
   * Decides whether a request or WebSocket upgrade may proceed: origin, credentials (Authorization
   * Basic/Bearer, `?ticket=`, session cookie, in that precedence among the schemes offered), the
   * failed-login limiter, the realm, then the service's role constraints.
   */
  async check(req: IncomingMessage): Promise<Verdict> {
    const remote = this.remoteOf(req);
    if (!this.origins.allows(req)) {
      this.o.log.info({ event: 'auth.refused', service: this.o.service, remote, code: SECURITY_ERRORS.ORIGIN_REFUSED.code }, 'origin refused');
      return this.refuse(SECURITY_ERRORS.ORIGIN_REFUSED, 403, 'origin not allowed for this service') as Verdict;
    }
    const ex = this.extract(req, this.schemes);
    const verdict = await this.admit(await this.authenticate(req.headers, ex, remote), remote);
    if (!verdict.ok) return verdict;
    const key = queryParam(req, 'refresh');
    return key !== undefined && REFRESH_KEY.test(key) ? { ...verdict, refreshKey: key } : verdict;
  }

  /**
   * Decides a session whose client presents its credentials inside its own protocol rather than in
   * an HTTP request (a STOMP CONNECT's `login` and `passcode` over TCP): a Basic or Bearer
   * credential, taken only when the service offers that scheme, then the failed-login limiter, the
   * realm and the role constraints as {@link Guard.check} applies them. There is no origin,
   * ticket or cookie on such a connection.
   */
  async checkCredentials(credentials: Credentials, remoteAddress: string): Promise<Verdict> {
    const offered = credentials.scheme !== 'none' && this.schemes.has(credentials.scheme);
    const ex: Extracted = offered ? { kind: 'login', scheme: credentials.scheme, credentials } : { kind: 'none' };
    return this.admit(await this.authenticate({}, ex, remoteAddress), remoteAddress);
  }

  /** The role check and the `auth.ok` line after a successful authentication. */
  private async admit(result: Authenticated, remote: string): Promise<Verdict> {
    if (!result.ok) return result;
    const { subject, scheme } = result;
    if (!this.authorized(subject)) {
      this.o.log.info({ event: 'auth.forbidden', service: this.o.service, realm: this.o.realm.name, user: subject.user, remote }, 'user lacks the required roles');
      await this.o.realm.logout(subject);
      return this.refuse(SECURITY_ERRORS.FORBIDDEN, 403, `user ${subject.user ?? ''} lacks the roles service ${this.o.service} requires`) as Verdict;
    }
    this.o.log.info({ event: 'auth.ok', service: this.o.service, realm: this.o.realm.name, user: subject.user, scheme, remote }, 'authenticated');
    return { ok: true, subject, scheme };
  }

  /** Whether a subject satisfies the service's `authorization` (any valid user when absent). */
  authorized(subject: Subject): boolean {
    const a = this.o.auth.authorization;
    if (!a) return true;
    if (a.anyOf && !a.anyOf.some((r) => subject.roles.has(r))) return false;
    if (a.allOf && !a.allOf.every((r) => subject.roles.has(r))) return false;
    return true;
  }

  /** CORS for the service's HTTP requests (see `applyCors`); call before serving any request. */
  applyCors(req: IncomingMessage, res: ServerResponse): CorsResult {
    return applyCors(this.origins, this.o.auth.cors, req, res);
  }

  /**
   * `POST /ticket`: authenticates with Basic, Bearer or the session cookie and answers
   * `{ticket, expiresInSeconds}`; the ticket opens one WebSocket of this service as `?ticket=`.
   */
  async handleTicketRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const subject = await this.httpLogin(req, res, true);
    if (!subject) return;
    const issued = this.o.tickets.issue(this.o.service, subject.snapshot());
    await this.o.realm.logout(subject);
    if (!issued.ok) {
      this.sendRefusal(res, this.refuse(SECURITY_ERRORS.TICKETS_EXHAUSTED, 503, 'too many tickets outstanding; try again shortly', { 'Retry-After': '5' }));
      return;
    }
    this.o.log.info({ event: 'ticket.issued', service: this.o.service, user: subject.user }, 'ticket issued');
    sendJson(res, 200, { ticket: issued.ticket, expiresInSeconds: issued.expiresInSeconds });
  }

  /**
   * `POST /login`: authenticates with Basic or Bearer and sets the encrypted session cookie,
   * answering `{user, roles, expiresAt}`. Without a `cookies:` section it answers 404 (the
   * gateway's `GW_ERR_NOT_FOUND`); mount it only when `Security.cookies` is set.
   */
  async handleLoginRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cookies = this.o.cookies;
    if (!cookies) {
      this.sendRefusal(res, { ok: false, status: 404, headers: {}, body: 'cookie sessions are not configured', code: 'GW_ERR_NOT_FOUND' });
      return;
    }
    const subject = await this.httpLogin(req, res, false);
    if (!subject) return;
    const snapshot = subject.snapshot();
    await this.o.realm.logout(subject);
    res.setHeader('Set-Cookie', cookies.setCookieHeader(cookies.seal(snapshot)));
    sendJson(res, 200, { user: snapshot.user, roles: snapshot.roles, expiresAt: snapshot.expiresAt ?? null });
  }

  /** `POST /logout`: removes the session cookie. */
  handleLogoutRequest(req: IncomingMessage, res: ServerResponse): void {
    if (!this.preamble(req, res)) return;
    if (this.o.cookies) res.setHeader('Set-Cookie', this.o.cookies.clearCookieHeader());
    res.writeHead(204, { 'Cache-Control': 'no-store' });
    res.end();
  }

  /**
   * `POST /refresh?session=<key>` with a new Basic or Bearer credential: see {@link Guard.refresh}.
   * Answers 200 `{expiresAt}` (epoch ms or null) or the refusal.
   */
  async handleRefreshRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.preamble(req, res)) return;
    const r = await this.refresh(queryParam(req, 'session') ?? '', req);
    if (r.ok) sendJson(res, 200, { expiresAt: r.expiresAt });
    else this.sendRefusal(res, r);
  }

  /**
   * Watches an authenticated session: `close` is called once with 1008 and the reason when its
   * credential expires or it reaches `maxSessionSeconds`. The session can then be refreshed by its
   * id or by the `refreshKey` of its verdict.
   */
  track(sessionId: string, subject: Subject, close: (code: number, reason: string, error: SecurityErrorSpec) => void, refreshKey?: string, startedAt: number = Date.now()): TrackedSession {
    const timer = new SessionTimer(startedAt, subject.expiresAt, this.o.auth.maxSessionSeconds, (code, reason, error) => {
      this.o.log.info({ event: 'session.deadline', service: this.o.service, session: sessionId, user: subject.user, code: error.code }, reason);
      close(code, reason, error);
    });
    const usable = refreshKey !== undefined && !this.sessions.has(refreshKey) ? refreshKey : undefined;
    const tracked: TrackedSession = usable === undefined ? { sessionId, subject, timer } : { sessionId, subject, timer, refreshKey: usable };
    this.sessions.set(sessionId, tracked);
    if (usable !== undefined) this.sessions.set(usable, tracked);
    return tracked;
  }

  /**
   * Refreshes a tracked session's credential. `key` is the session id or its refresh key; the new
   * credential comes from `source`: an HTTP request (its Authorization Basic or Bearer header, as
   * `POST /refresh` sends it) or credentials the gateway read itself (for instance from a control
   * message on the session). The credential must authenticate in the same realm as the same user
   * and still satisfy the service's roles; the session's expiry then follows the new credential
   * (`expiresAt`, epoch ms, null when it does not expire). The maximum session lifetime does not
   * move. Failed refreshes count toward the failed-login limits.
   */
  async refresh(key: string, source: IncomingMessage | { readonly credentials: Credentials; readonly remoteAddress: string }): Promise<RefreshResult> {
    const tracked = this.sessions.get(key);
    if (!tracked) return this.refuse(SECURITY_ERRORS.SESSION_UNKNOWN, 404, 'no such session to refresh');
    let ex: Extracted;
    let remote: string;
    let headers: IncomingHttpHeaders;
    if ('credentials' in source) {
      const c = source.credentials;
      ex = c.scheme === 'none' ? { kind: 'none' } : { kind: 'login', scheme: c.scheme, credentials: c };
      remote = source.remoteAddress;
      headers = {};
    } else {
      ex = this.extract(source, new Set<AuthScheme>(['basic', 'bearer']));
      remote = this.remoteOf(source);
      headers = source.headers;
    }
    if (ex.kind !== 'login' && ex.kind !== 'malformed') return this.refuse(SECURITY_ERRORS.AUTH_REQUIRED, 401, 'a refresh needs a new Basic or Bearer credential', this.challenge());
    const result = await this.authenticate(headers, ex, remote);
    if (!result.ok) return result;
    const fresh = result.subject;
    await this.o.realm.logout(fresh);
    if (fresh.user !== tracked.subject.user) {
      this.o.log.warn({ event: 'refresh.mismatch', service: this.o.service, session: tracked.sessionId, remote }, 'refresh credential names another user');
      return this.refuse(SECURITY_ERRORS.REFRESH_MISMATCH, 403, 'the credential belongs to another user than the session');
    }
    if (!this.authorized(fresh)) return this.refuse(SECURITY_ERRORS.FORBIDDEN, 403, `user ${fresh.user ?? ''} lacks the roles service ${this.o.service} requires`);
    tracked.subject.replaceExpiry(fresh.expiresAt);
    tracked.timer.extend(fresh.expiresAt);
    this.o.log.info({ event: 'session.refreshed', service: this.o.service, session: tracked.sessionId, user: fresh.user }, 'session credential refreshed');
    return { ok: true, expiresAt: fresh.expiresAt ?? null };
  }

  /**
   * Releases a subject that `check` accepted but that never became a session (the gateway refused
   * the upgrade later, for a connection limit say): runs the realm's logout for it.
   */
  async release(subject: Subject): Promise<void> {
    await this.o.realm.logout(subject);
  }

  /** Ends tracking of a session (it closed): stops its timer and logs its subject out of the realm. */
  async end(sessionId: string): Promise<void> {
    const t = this.sessions.get(sessionId);
    if (!t || t.sessionId !== sessionId) return;
    t.timer.stop();
    this.sessions.delete(sessionId);
    if (t.refreshKey !== undefined) this.sessions.delete(t.refreshKey);
    await this.o.realm.logout(t.subject);
  }

  /** The `WWW-Authenticate` challenges of the Basic and Bearer schemes offered. */
  challenge(error?: 'invalid_token'): Record<string, string> {
    const realm = quote(this.o.realm.name);
    const list: string[] = [];
    if (this.schemes.has('basic')) list.push(`Basic realm=${realm}, charset="UTF-8"`);
    if (this.schemes.has('bearer')) list.push(error ? `Bearer realm=${realm}, error="${error}"` : `Bearer realm=${realm}`);
    return list.length ? { 'WWW-Authenticate': list.join(', ') } : {};
  }

  private extract(req: IncomingMessage, schemes: ReadonlySet<AuthScheme>): Extracted {
    const fromHeader = parseAuthorization(header(req, 'authorization'), schemes);
    if (fromHeader.kind !== 'none') return fromHeader;
    if (schemes.has('ticket')) {
      const ticket = queryParam(req, 'ticket');
      if (ticket !== undefined && ticket !== '') return { kind: 'ticket', ticket };
    }
    if (schemes.has('cookie') && this.o.cookies) {
      const value = this.o.cookies.readFrom(header(req, 'cookie'));
      if (value !== undefined && value !== '') return { kind: 'cookie', value };
    }
    return { kind: 'none' };
  }

  private async authenticate(headers: IncomingHttpHeaders, ex: Extracted, remote: string): Promise<Authenticated> {
    const user = ex.kind === 'login' && ex.credentials.scheme === 'basic' ? ex.credentials.username : undefined;
    const limit = this.o.limiter.check(remote, user);
    if (limit.limited) {
      this.o.log.warn({ event: 'auth.rate-limited', service: this.o.service, remote, user, by: limit.by }, 'too many failed logins');
      return this.refuse(SECURITY_ERRORS.LOGIN_RATE_LIMITED, 429, `too many failed logins; retry in ${limit.retryAfterSeconds} s`, { 'Retry-After': String(limit.retryAfterSeconds) }) as Refusal & { status: 429 };
    }
    const failed = (scheme: string, detail: string, bearer = false): Refusal & { status: 401 } => {
      this.o.limiter.fail(remote, user);
      this.o.log.info({ event: 'auth.failed', service: this.o.service, realm: this.o.realm.name, scheme, user, remote, code: SECURITY_ERRORS.AUTH_FAILED.code }, detail);
      return this.refuse(SECURITY_ERRORS.AUTH_FAILED, 401, detail, this.challenge(bearer ? 'invalid_token' : undefined)) as Refusal & { status: 401 };
    };
    switch (ex.kind) {
      case 'malformed':
        return failed(ex.scheme, `malformed ${ex.scheme === 'basic' ? 'Basic' : 'Bearer'} credentials`, ex.scheme === 'bearer');
      case 'ticket': {
        const snap = this.o.tickets.redeem(ex.ticket, this.o.service);
        if (!snap || snap.realm !== this.o.realm.name) return failed('ticket', 'ticket unknown, used, expired or issued for another service');
        return { ok: true, subject: Subject.fromSnapshot(snap), scheme: 'ticket' };
      }
      case 'cookie': {
        const snap = this.o.cookies?.open(ex.value) ?? null;
        if (snap && snap.realm === this.o.realm.name) return { ok: true, subject: Subject.fromSnapshot(snap), scheme: 'cookie' };
        this.o.log.debug({ event: 'auth.cookie-refused', service: this.o.service, remote }, 'session cookie invalid, expired or from another realm');
        return this.loginWith({ scheme: 'none' }, headers, remote, undefined, failed);
      }
      case 'login':
        return this.loginWith(ex.credentials, headers, remote, user, failed);
      case 'none':
        return this.loginWith({ scheme: 'none' }, headers, remote, undefined, failed);
    }
  }

  private async loginWith(
    credentials: Credentials,
    headers: IncomingHttpHeaders,
    remote: string,
    user: string | undefined,
    failed: (scheme: string, detail: string, bearer?: boolean) => Refusal & { status: 401 },
  ): Promise<{ ok: true; subject: Subject; scheme: AuthScheme | 'none' } | (Refusal & { status: 401 })> {
    const r = await this.o.realm.login({ realm: this.o.realm.name, service: this.o.service, credentials, remoteAddress: remote, headers });
    if (r.ok) {
      const subject = r.subject;
      if (subject.expiresAt !== undefined && subject.expiresAt <= Date.now()) {
        await this.o.realm.logout(subject);
        return this.refuse(SECURITY_ERRORS.AUTH_EXPIRED, 401, 'the credential has expired', this.challenge('invalid_token')) as Refusal & { status: 401 };
      }
      if (subject.user !== undefined) this.o.limiter.succeed(subject.user);
      return { ok: true, subject, scheme: credentials.scheme };
    }
    if (credentials.scheme === 'none' && r.reason === 'ignored') {
      this.o.log.debug({ event: 'auth.required', service: this.o.service, remote }, 'no credentials presented');
      return this.refuse(SECURITY_ERRORS.AUTH_REQUIRED, 401, `authentication required for service ${this.o.service}`, this.challenge()) as Refusal & { status: 401 };
    }
    return failed(credentials.scheme, user === undefined ? 'authentication failed' : `authentication failed for user ${user}`, credentials.scheme === 'bearer');
  }

  /** Origin/CORS, method and preflight handling shared by the HTTP endpoints; false when answered. */
  private preamble(req: IncomingMessage, res: ServerResponse): boolean {
    req.resume();
    const cors = this.applyCors(req, res);
    if (cors !== 'continue') return false;
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      sendText(res, 405, 'use POST');
      return false;
    }
    return true;
  }

  private async httpLogin(req: IncomingMessage, res: ServerResponse, allowCookie: boolean): Promise<Subject | null> {
    if (!this.preamble(req, res)) return null;
    const remote = this.remoteOf(req);
    const schemes = new Set<AuthScheme>(['basic', 'bearer']);
    if (allowCookie && this.schemes.has('cookie')) schemes.add('cookie');
    const ex = this.extract(req, schemes);
    const r = await this.authenticate(req.headers, ex, remote);
    if (!r.ok) {
      this.sendRefusal(res, r);
      return null;
    }
    if (!this.authorized(r.subject)) {
      await this.o.realm.logout(r.subject);
      this.sendRefusal(res, this.refuse(SECURITY_ERRORS.FORBIDDEN, 403, `user ${r.subject.user ?? ''} lacks the roles service ${this.o.service} requires`));
      return null;
    }
    return r.subject;
  }

  private refuse(spec: SecurityErrorSpec, status: Refusal['status'], body: string, headers: Record<string, string> = {}): Refusal {
    return { ok: false, status, headers, body, code: spec.code };
  }

  private sendRefusal(res: ServerResponse, r: Refusal): void {
    for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
    res.setHeader('X-Gangway-Error', r.code);
    sendText(res, r.status, r.body);
  }
}

function sendText(res: ServerResponse, status: number, body: string): void {
  const text = `${body}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}
