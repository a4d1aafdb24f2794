/**
 * Every limit and timeout of the security library, in one place. Each can be overridden in the
 * configuration where noted; security/README.md lists the same values.
 */

/** scrypt cost parameters for new password hashes (`hashPassword`). */
export interface ScryptDefaults {
  /** CPU/memory cost, a power of two. @default 16384 */
  readonly N: number;
  /** Block size. @default 8 */
  readonly r: number;
  /** Parallelism. @default 1 */
  readonly p: number;
  /** Length of the derived key in bytes. @default 32 */
  readonly keyLength: number;
  /** Length of the random salt in bytes. @default 16 */
  readonly saltBytes: number;
  /** Largest N accepted from a users file (a bigger one is refused as a denial-of-service risk). @default 1048576 */
  readonly maxN: number;
  /** Largest r accepted from a users file. @default 32 */
  readonly maxR: number;
  /** Largest p accepted from a users file. @default 16 */
  readonly maxP: number;
}

/** The defaults object; frozen. */
export interface SecurityDefaults {
  readonly scrypt: ScryptDefaults;
  /** Lifetime of a WebSocket ticket issued by `POST /ticket` (`tickets.ttlSeconds`). @default 30 */
  readonly ticketTtlSeconds: number;
  /** Tickets outstanding at once over the whole gateway; past it ticket requests get 503 (`tickets.maxOutstanding`). @default 100000 */
  readonly maxOutstandingTickets: number;
  /** Random bytes in a ticket (base64url encoded). @default 32 */
  readonly ticketBytes: number;
  /** Name of the session cookie (`cookies.name`). @default "gangway_session" */
  readonly cookieName: string;
  /** Lifetime of a session cookie (`cookies.ttlSeconds`). @default 28800 (8 h) */
  readonly cookieTtlSeconds: number;
  /** SameSite attribute of the session cookie (`cookies.sameSite`). @default "Lax" */
  readonly cookieSameSite: 'Strict' | 'Lax' | 'None';
  /** Whether the session cookie carries `Secure` (`cookies.secure`). @default true */
  readonly cookieSecure: boolean;
  /** Largest cookie value accepted (bytes); longer ones are refused unread. @default 4096 */
  readonly maxCookieBytes: number;
  /** Largest `Authorization` header value accepted (bytes); longer ones are refused unread. @default 8192 */
  readonly maxAuthorizationBytes: number;
  /** Time the `http` login module waits for its endpoint (`options.timeoutMs`). @default 5000 */
  readonly httpModuleTimeoutMs: number;
  /** Largest response body the `http` login module reads from its endpoint. @default 65536 */
  readonly httpModuleMaxResponseBytes: number;
  /** Clock skew tolerated on `exp` and `nbf` by the `jwt` login module (`options.clockSkewSeconds`). @default 30 */
  readonly jwtClockSkewSeconds: number;
  /** Claim holding the roles for the `jwt` login module (`options.rolesClaim`; a dotted path is followed). @default "roles" */
  readonly jwtRolesClaim: string;
  /** Claim holding the user name for the `jwt` login module (`options.userClaim`). @default "sub" */
  readonly jwtUserClaim: string;
  /** Sliding window of the failed-login limiter (`loginRateLimit.windowSeconds`). @default 60 */
  readonly loginWindowSeconds: number;
  /** Failed logins per client address in the window before 429 (`loginRateLimit.maxFailuresPerAddress`). @default 20 */
  readonly maxFailuresPerAddress: number;
  /** Failed logins per user name in the window before 429 (`loginRateLimit.maxFailuresPerUser`). @default 5 */
  readonly maxFailuresPerUser: number;
  /** Addresses and user names the limiter tracks at once; the oldest are forgotten first. @default 100000 */
  readonly maxTrackedLoginKeys: number;
  /** `Access-Control-Max-Age` of preflight answers (`auth.cors.maxAgeSeconds`). @default 600 */
  readonly corsMaxAgeSeconds: number;
  /** Methods allowed cross-origin (`auth.cors.methods`). @default ["GET","POST"] */
  readonly corsMethods: readonly string[];
  /** Request headers allowed cross-origin (`auth.cors.headers`). @default ["Authorization","Content-Type"] */
  readonly corsHeaders: readonly string[];
  /** Whether a request without `Origin` (a non-browser client) passes the origin check (`auth.allowMissingOrigin`). @default true */
  readonly allowMissingOrigin: boolean;
  /** Longest life of an authenticated session whatever its credential (`auth.maxSessionSeconds`); 0 means no limit. @default 86400 (24 h) */
  readonly maxSessionSeconds: number;
  /** Smallest TLS version a listener accepts (`tls.minVersion`). @default "TLSv1.2" */
  readonly tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  /** How often certificate and key files are checked for renewal (`tls.reloadCheckMs`). @default 10000 */
  readonly tlsReloadCheckMs: number;
  /** Largest request body read by `POST /ticket`, `/login`, `/refresh`. @default 4096 */
  readonly maxRequestBodyBytes: number;
}

/** The one defaults object of the security library. */
export const SECURITY_DEFAULTS: SecurityDefaults = Object.freeze({
  scrypt: Object.freeze({ N: 16384, r: 8, p: 1, keyLength: 32, saltBytes: 16, maxN: 1 << 20, maxR: 32, maxP: 16 }),
  ticketTtlSeconds: 30,
  maxOutstandingTickets: 100_000,
  ticketBytes: 32,
  cookieName: 'gangway_session',
  cookieTtlSeconds: 8 * 3600,
  cookieSameSite: 'Lax',
  cookieSecure: true,
  maxCookieBytes: 4096,
  maxAuthorizationBytes: 8192,
  httpModuleTimeoutMs: 5000,
  httpModuleMaxResponseBytes: 64 * 1024,
  jwtClockSkewSeconds: 30,
  jwtRolesClaim: 'roles',
  jwtUserClaim: 'sub',
  loginWindowSeconds: 60,
  maxFailuresPerAddress: 20,
  maxFailuresPerUser: 5,
  maxTrackedLoginKeys: 100_000,
  corsMaxAgeSeconds: 600,
  corsMethods: Object.freeze(['GET', 'POST']),
  corsHeaders: Object.freeze(['Authorization', 'Content-Type']),
  allowMissingOrigin: true,
  maxSessionSeconds: 86_400,
  tlsMinVersion: 'TLSv1.2',
  tlsReloadCheckMs: 10_000,
  maxRequestBodyBytes: 4096,
});
