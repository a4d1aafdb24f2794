import { SECURITY_DEFAULTS } from './defaults';

/** Limiter settings. */
export interface LoginRateLimitSettings {
  /** @default 60 */
  readonly windowSeconds: number;
  /** @default 20 */
  readonly maxFailuresPerAddress: number;
  /** @default 5 */
  readonly maxFailuresPerUser: number;
  /** @default 100000 */
  readonly maxTrackedKeys?: number;
}

/** Whether a login may be attempted now. */
export type RateDecision = { readonly limited: false } | { readonly limited: true; readonly retryAfterSeconds: number; readonly by: 'address' | 'user' };

/**
 * Failed-login limiter with sliding windows: per client address and per user name, the times of
 * failures within the last `windowSeconds` are kept; at `max` failures further attempts are refused
 * until the oldest leaves the window. A success clears the user's failures (not the address's).
 * The number of tracked keys is bounded; the oldest are forgotten first.
 */
export class LoginRateLimiter {
  private readonly byAddress = new Map<string, number[]>();
  private readonly byUser = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(
    private readonly settings: LoginRateLimitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.windowMs = settings.windowSeconds * 1000;
    this.maxKeys = settings.maxTrackedKeys ?? SECURITY_DEFAULTS.maxTrackedLoginKeys;
  }

  /** Checks the address and, when known, the user name. */
  check(address: string, user?: string): RateDecision {
    const now = this.now();
    const a = this.blockedFor(this.byAddress, address, this.settings.maxFailuresPerAddress, now);
    if (a > 0) return { limited: true, retryAfterSeconds: a, by: 'address' };
    if (user !== undefined) {
      const u = this.blockedFor(this.byUser, user, this.settings.maxFailuresPerUser, now);
      if (u > 0) return { limited: true, retryAfterSeconds: u, by: 'user' };
    }
    return { limited: false };
  }

  /** Records a failed login. */
  fail(address: string, user?: string): void {
    const now = this.now();
    this.record(this.byAddress, address, this.settings.maxFailuresPerAddress, now);
    if (user !== undefined) this.record(this.byUser, user, this.settings.maxFailuresPerUser, now);
  }

  /** Records a successful login: the user's failures are forgotten. */
  succeed(user: string): void {
    this.byUser.delete(user);
  }

  private blockedFor(map: Map<string, number[]>, key: string, max: number, now: number): number {
    const times = map.get(key);
    if (!times) return 0;
    while (times.length > 0 && times[0] <= now - this.windowMs) times.shift();
    if (times.length === 0) {
      map.delete(key);
      return 0;
    }
    if (times.length < max) return 0;
    return Math.max(1, Math.ceil((times[times.length - max] + this.windowMs - now) / 1000));
  }

  private record(map: Map<string, number[]>, key: string, max: number, now: number): void {
    let times = map.get(key);
    if (!times) {
      if (map.size >= this.maxKeys) {
        const oldest = map.keys().next();
        if (!oldest.done) map.delete(oldest.value);
      }
      times = [];
      map.set(key, times);
    }
    times.push(now);
    if (times.length > max) times.splice(0, times.length - max);
  }
}
