import { AUTH_EXPIRED_REASON, SECURITY_ERRORS, SESSION_LIFETIME_REASON, type SecurityErrorSpec } from './errors';

/** When and why an authenticated session must end. */
export interface SessionDeadline {
  /** Epoch milliseconds; `Infinity` when nothing limits the session. */
  readonly at: number;
  readonly error: SecurityErrorSpec | null;
  /** Close code (1008) and reason to send, when `error` is set. */
  readonly close: number;
  readonly reason: string;
}

/**
 * The earlier of the credential's expiry and the maximum session lifetime.
 * @param startedAt epoch ms the session opened
 * @param expiresAt epoch ms the credential expires, undefined when it does not
 * @param maxSessionSeconds 0 for no limit
 */
export function sessionDeadline(startedAt: number, expiresAt: number | undefined, maxSessionSeconds: number): SessionDeadline {
  const lifetimeAt = maxSessionSeconds > 0 ? startedAt + maxSessionSeconds * 1000 : Infinity;
  const credentialAt = expiresAt ?? Infinity;
  if (credentialAt === Infinity && lifetimeAt === Infinity) return { at: Infinity, error: null, close: 1000, reason: '' };
  if (credentialAt <= lifetimeAt) return { at: credentialAt, error: SECURITY_ERRORS.AUTH_EXPIRED, close: SECURITY_ERRORS.AUTH_EXPIRED.close, reason: AUTH_EXPIRED_REASON };
  return { at: lifetimeAt, error: SECURITY_ERRORS.SESSION_LIFETIME, close: SECURITY_ERRORS.SESSION_LIFETIME.close, reason: SESSION_LIFETIME_REASON };
}

/** Longest single `setTimeout` delay Node accepts. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Ends a session at its deadline: calls `onDeadline` once with the close code, reason and
 * catalogue entry when the credential expires (1008 "authorization expired") or the session
 * reaches its maximum lifetime (1008 "session lifetime reached"). `extend` moves the credential
 * expiry after a refresh; the lifetime never moves. The timer does not keep the process alive.
 */
export class SessionTimer {
  private timer: NodeJS.Timeout | undefined;
  private expiresAt: number | undefined;
  private fired = false;

  constructor(
    readonly startedAt: number,
    expiresAt: number | undefined,
    readonly maxSessionSeconds: number,
    private readonly onDeadline: (close: number, reason: string, error: SecurityErrorSpec) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.expiresAt = expiresAt;
    this.arm();
  }

  /** The current deadline. */
  get deadline(): SessionDeadline {
    return sessionDeadline(this.startedAt, this.expiresAt, this.maxSessionSeconds);
  }

  /** Replaces the credential expiry (a refresh); undefined when the new credential does not expire. */
  extend(expiresAt: number | undefined): void {
    if (this.fired) return;
    this.expiresAt = expiresAt;
    this.arm();
  }

  /** Stops the timer (the session closed). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.stop();
    const d = this.deadline;
    if (d.at === Infinity || !d.error) return;
    const delay = d.at - this.now();
    if (delay <= 0) {
      this.fire(d);
      return;
    }
    this.timer = setTimeout(() => this.arm(), Math.min(delay, MAX_DELAY));
    this.timer.unref();
  }

  private fire(d: SessionDeadline): void {
    if (this.fired || !d.error) return;
    this.fired = true;
    this.onDeadline(d.close, d.reason, d.error);
  }
}
