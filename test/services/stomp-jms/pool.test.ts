/** The `stomp.jms` pool member: one connection attempt at a time, reconnect after a loss with backoff and jitter. */
import type { Binding, BindingOptions, LossInfo } from '../../../adapters/jms';
import { STOMP_CAPABILITIES } from '../../../adapters/stomp';
import { createLogger } from '../../../src/log';
import { STOMP_JMS_DEFAULTS } from '../../../src/services/stomp-jms';
import { Member, backoffDelay, type Backoff } from '../../../src/services/stomp-jms/pool';
import { prng } from '../../support/wire';

/** A binding whose connect() resolves when the test says so, or is refused at once. */
class FakeBinding implements Binding {
  readonly kind = 'fake';
  readonly capabilities = STOMP_CAPABILITIES;
  closed = false;
  private lostListener: ((info: LossInfo) => void) | null = null;
  private release: (() => void) | null = null;

  constructor(private readonly refuse = false) {}

  connect(): Promise<void> {
    if (this.refuse) return Promise.reject(new Error('refused'));
    return new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }

  up(): void {
    this.release?.();
  }

  lose(): void {
    this.lostListener?.({ error: new Error('gone') });
  }

  subscribe(): Promise<never> {
    return Promise.reject(new Error('not used'));
  }

  send(): Promise<void> {
    return Promise.resolve();
  }

  begin(): Promise<never> {
    return Promise.reject(new Error('not used'));
  }

  async declareTemporary(): Promise<void> {
    await Promise.resolve();
  }

  async deleteTemporary(): Promise<void> {
    await Promise.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.resolve();
  }

  onLost(listener: (info: LossInfo) => void): void {
    this.lostListener = listener;
  }
}

const options: BindingOptions = { url: new URL('stomp://127.0.0.1:1'), heartbeatMs: 0, connectTimeoutMs: 1000 };
const backoff = { initialMs: 1, maxMs: 1, factor: 1, jitter: 0 };

describe('stomp.jms pool member', () => {
  it('opens one connection however many sessions wait for it at once', async () => {
    const made: FakeBinding[] = [];
    const member = new Member(0, () => made[made.push(new FakeBinding()) - 1] as FakeBinding, options, backoff, createLogger('silent'));
    const waits = Array.from({ length: 50 }, () => member.ready(1000));
    expect(made).toHaveLength(1);
    made[0]?.up();
    const bindings = await Promise.all(waits);
    expect(new Set(bindings).size).toBe(1);
    expect(made).toHaveLength(1);
    await member.close();
    expect(made[0]?.closed).toBe(true);
  });

  it('reconnects once after a loss, even when sessions ask for the connection meanwhile', async () => {
    const made: FakeBinding[] = [];
    const member = new Member(0, () => made[made.push(new FakeBinding()) - 1] as FakeBinding, options, backoff, createLogger('silent'));
    const first = member.ready(1000);
    made[0]?.up();
    await first;
    made[0]?.lose();
    expect(member.connected).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    const again = Array.from({ length: 10 }, () => member.ready(1000));
    expect(made).toHaveLength(2);
    made[1]?.up();
    await Promise.all(again);
    expect(member.generation).toBe(2);
    expect(made).toHaveLength(2);
    await member.close();
  });
});

describe('stomp.jms reconnect backoff', () => {
  const defaults: Backoff = { initialMs: STOMP_JMS_DEFAULTS.reconnectInitialMs, maxMs: STOMP_JMS_DEFAULTS.reconnectMaxMs, factor: STOMP_JMS_DEFAULTS.reconnectFactor, jitter: 0 };

  it('starts at initialMs, grows by factor per attempt and stops at maxMs', () => {
    expect(Array.from({ length: 9 }, (_, n) => backoffDelay(defaults, n))).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    // However many attempts (factor^attempt overflows to Infinity), never past the ceiling.
    expect(backoffDelay(defaults, 5000)).toBe(30000);
    expect(Array.from({ length: 4 }, (_, n) => backoffDelay({ initialMs: 250, maxMs: 10000, factor: 1.5, jitter: 0 }, n))).toEqual([250, 375, 563, 844]);
    expect(Array.from({ length: 3 }, (_, n) => backoffDelay({ initialMs: 700, maxMs: 10000, factor: 1, jitter: 0 }, n))).toEqual([700, 700, 700]);
    // A first delay above the ceiling is the ceiling.
    expect(backoffDelay({ initialMs: 5000, maxMs: 1000, factor: 2, jitter: 0 }, 0)).toBe(1000);
  });

  it('moves each delay by at most ± jitter of itself, the ceiling included', () => {
    const b: Backoff = { ...defaults, jitter: 0.2 };
    expect(backoffDelay(b, 0, () => 0)).toBe(400);
    expect(backoffDelay(b, 0, () => 0.5)).toBe(500);
    expect(backoffDelay(b, 0, () => 0.999999)).toBe(600);
    expect(backoffDelay(b, 20, () => 0)).toBe(24000);
    expect(backoffDelay(b, 20, () => 0.999999)).toBe(36000);
    // Full jitter (1) can bring a delay down to 0, never below.
    expect(backoffDelay({ ...b, jitter: 1 }, 3, () => 0)).toBe(0);
  });

  it('spreads delays over the whole ± jitter range, evenly', () => {
    const b: Backoff = { ...defaults, jitter: 0.2 };
    const random = prng(7);
    const delays = Array.from({ length: 10000 }, () => backoffDelay(b, 3, random));
    const [low, high] = [3200, 4800];
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(low);
    expect(Math.max(...delays)).toBeLessThanOrEqual(high);
    // Both ends are reached (within 1 % of the range), the middle is the undisturbed delay.
    expect(Math.min(...delays)).toBeLessThan(low + 16);
    expect(Math.max(...delays)).toBeGreaterThan(high - 16);
    expect(Math.abs(delays.reduce((a, d) => a + d, 0) / delays.length - 4000)).toBeLessThan(20);
    // Ten equal slices of the range each hold about a tenth of the delays.
    const slices = new Array<number>(10).fill(0);
    for (const d of delays) slices[Math.min(9, Math.floor(((d - low) / (high - low)) * 10))]++;
    for (const n of slices) expect(n).toBeGreaterThan(800);
    // The default source (Math.random) keeps to the same range.
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(b, 3);
      expect(d).toBeGreaterThanOrEqual(low);
      expect(d).toBeLessThanOrEqual(high);
    }
  });

  it('waits the backoff between failed attempts and starts over once connected', async () => {
    jest.useFakeTimers();
    try {
      const start = Date.now();
      const attempts: number[] = [];
      const made: FakeBinding[] = [];
      let refuse = true;
      const create = (): FakeBinding => {
        attempts.push(Date.now() - start);
        return made[made.push(new FakeBinding(refuse)) - 1] as FakeBinding;
      };
      const member = new Member(0, create, options, { initialMs: 100, maxMs: 400, factor: 2, jitter: 0 }, createLogger('silent'));
      member.start();
      await jest.advanceTimersByTimeAsync(1450);
      expect(attempts).toEqual([0, 100, 300, 700, 1100]);
      refuse = false;
      await jest.advanceTimersByTimeAsync(100);
      expect(attempts).toEqual([0, 100, 300, 700, 1100, 1500]);
      made[5]?.up();
      await jest.advanceTimersByTimeAsync(0);
      expect(member.connected).toBe(true);
      // After a loss (at 1550) the first delay is initialMs again.
      made[5]?.lose();
      await jest.advanceTimersByTimeAsync(99);
      expect(attempts).toHaveLength(6);
      await jest.advanceTimersByTimeAsync(1);
      expect(attempts).toEqual([0, 100, 300, 700, 1100, 1500, 1650]);
      await member.close();
    } finally {
      jest.useRealTimers();
    }
  });
});
