/** The `stomp.jms` pool member: one connection attempt at a time, reconnect after a loss. */
import type { Binding, BindingOptions, LossInfo } from '../../../adapters/jms';
import { STOMP_CAPABILITIES } from '../../../adapters/stomp';
import { createLogger } from '../../../src/log';
import { Member } from '../../../src/services/stomp-jms/pool';

/** A binding whose connect() resolves when the test says so. */
class FakeBinding implements Binding {
  readonly kind = 'fake';
  readonly capabilities = STOMP_CAPABILITIES;
  closed = false;
  private lostListener: ((info: LossInfo) => void) | null = null;
  private release: (() => void) | null = null;

  connect(): Promise<void> {
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
