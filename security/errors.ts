/**
 * The security library's error catalogue, the same shape as the gateway's own
 * (`GatewayErrorSpec` in src/errors.ts): a stable code, a summary, the HTTP status when the error
 * refuses a request or an upgrade, and the WebSocket close code when it ends a session. Every code
 * is documented in security/README.md (a test checks).
 */

/** One catalogue entry. */
export interface SecurityErrorSpec {
  readonly code: string;
  readonly summary: string;
  /** HTTP status when the error refuses a request or an upgrade. */
  readonly status?: number;
  /** WebSocket close code when the error ends a session. */
  readonly close?: number;
}

const spec = <T extends Record<string, SecurityErrorSpec>>(t: T): T => t;

/** Every security error code. */
export const SECURITY_ERRORS = spec({
  AUTH_REQUIRED: { code: 'GW_ERR_AUTH_REQUIRED', status: 401, summary: 'the service requires authentication and the request presented no usable credentials' },
  AUTH_FAILED: { code: 'GW_ERR_AUTH_FAILED', status: 401, summary: 'the credentials presented were refused by the realm (wrong password, bad token, used or unknown ticket)' },
  AUTH_EXPIRED: { code: 'GW_ERR_AUTH_EXPIRED', status: 401, close: 1008, summary: 'the credential that authorized the session expired and was not refreshed; the session closes with 1008 "authorization expired"' },
  SESSION_LIFETIME: { code: 'GW_ERR_SESSION_LIFETIME', close: 1008, summary: 'the session reached maxSessionSeconds; it closes with 1008 "session lifetime reached"' },
  FORBIDDEN: { code: 'GW_ERR_FORBIDDEN', status: 403, summary: 'the user is authenticated but lacks the roles the service requires' },
  LOGIN_RATE_LIMITED: { code: 'GW_ERR_LOGIN_RATE_LIMITED', status: 429, summary: 'too many failed logins from the client address or for the user name; Retry-After says when to try again' },
  ORIGIN_REFUSED: { code: 'GW_ERR_ORIGIN_REFUSED', status: 403, summary: 'the Origin of the request is not allowed for the service (WebSocket upgrade, CORS request or preflight)' },
  TICKETS_EXHAUSTED: { code: 'GW_ERR_TICKETS_EXHAUSTED', status: 503, summary: 'too many tickets are outstanding; try again once some are used or expired' },
  SESSION_UNKNOWN: { code: 'GW_ERR_SESSION_UNKNOWN', status: 404, summary: 'a refresh named a session that does not exist, has ended or cannot be refreshed' },
  REFRESH_MISMATCH: { code: 'GW_ERR_REFRESH_MISMATCH', status: 403, summary: 'a refresh presented a credential for another user than the one the session belongs to' },
});

/** Names of the catalogue entries. */
export type SecurityErrorName = keyof typeof SECURITY_ERRORS;

/** Close reason sent with {@link SECURITY_ERRORS.AUTH_EXPIRED}. */
export const AUTH_EXPIRED_REASON = 'authorization expired';

/** Close reason sent with {@link SECURITY_ERRORS.SESSION_LIFETIME}. */
export const SESSION_LIFETIME_REASON = 'session lifetime reached';
