import type { Logger } from 'pino';
import type { Binding, BindingFactory, BindingOptions, BrokerSubscription, Delivery, LossInfo, SubscribeSpec } from '../../../adapters/jms';

/** Reconnect backoff. */
export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based, counted since the last connection that
 * succeeded): `min(maxMs, initialMs × factor^attempt)`, moved by a uniform fraction in
 * [-jitter, +jitter) of itself (so a delay at the ceiling lies within maxMs × (1 ± jitter)),
 * rounded to ms, never below 0. `random` gives uniform numbers in [0, 1).
 */
export function backoffDelay(b: Backoff, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * b.factor ** attempt);
  return Math.max(0, Math.round(base * (1 + b.jitter * (random() * 2 - 1))));
}

/** The member is closed for good. */
export class MemberClosedError extends Error {
  override readonly name = 'MemberClosedError';
}

/**
 * One broker connection that reconnects itself: after a loss it waits (backoff with jitter),
 * opens a new binding and re-creates every subscription opened through it.
 */
export class Member {
  private binding: Binding | null = null;
  private up: Promise<Binding> | null = null;
  private resolveUp: ((b: Binding) => void) | null = null;
  private rejectUp: ((e: Error) => void) | null = null;
  private closed = false;
  /** A connection attempt is under way (one at a time: a second would leak its connection). */
  private connecting = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Subscriptions re-created after a reconnect. */
  readonly subscriptions = new Set<ManagedSubscription>();
  private readonly downListeners = new Set<(info: LossInfo) => void>();
  /** Number of connections made (1 after the first). */
  generation = 0;
  lastError: Error | null = null;

  constructor(
    readonly index: number,
    private readonly create: BindingFactory,
    private readonly options: BindingOptions,
    private readonly backoff: Backoff,
    private readonly log: Logger,
  ) {
    this.waitForUp();
  }

  private waitForUp(): void {
    this.up = new Promise<Binding>((resolve, reject) => {
      this.resolveUp = resolve;
      this.rejectUp = reject;
    });
    this.up.catch(() => undefined);
  }

  /** Starts connecting (once). */
  start(): void {
    if (this.binding === null && this.timer === undefined && !this.connecting && !this.closed) void this.attemptConnect();
  }

  get connected(): boolean {
    return this.binding !== null;
  }

  /** The binding now, or `null` while reconnecting. */
  current(): Binding | null {
    return this.binding;
  }

  /** Resolves with the binding once connected; rejects after `timeoutMs` or when closed. */
  ready(timeoutMs: number): Promise<Binding> {
    if (this.binding) return Promise.resolve(this.binding);
    if (this.closed) return Promise.reject(new MemberClosedError('broker connection closed'));
    this.start();
    const up = this.up as Promise<Binding>;
    return new Promise<Binding>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the broker is not reachable${this.lastError ? `: ${this.lastError.message}` : ''} (waited ${timeoutMs} ms)`)), timeoutMs);
      up.then(
        (b) => {
          clearTimeout(t);
          resolve(b);
        },
        (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  /** Called with the loss each time the connection fails. */
  onDown(listener: (info: LossInfo) => void): () => void {
    this.downListeners.add(listener);
    return () => this.downListeners.delete(listener);
  }

  private async attemptConnect(): Promise<void> {
    this.timer = undefined;
    this.connecting = true;
    const binding = this.create(this.options);
    try {
      await binding.connect();
    } catch (err) {
      this.lastError = err instanceof Error ? err : new Error(String(err));
      await binding.close().catch(() => undefined);
      this.connecting = false;
      if (this.closed) return;
      const delay = backoffDelay(this.backoff, this.attempt++);
      this.log.warn({ member: this.index, err: this.lastError.message, retryInMs: delay }, 'broker connection failed');
      this.timer = setTimeout(() => void this.attemptConnect(), delay);
      return;
    }
    this.connecting = false;
    if (this.closed) {
      await binding.close();
      return;
    }
    this.attempt = 0;
    this.lastError = null;
    this.generation++;
    this.binding = binding;
    binding.onLost((info) => this.lost(binding, info));
    if (this.generation > 1) this.log.info({ member: this.index, generation: this.generation }, 'broker connection restored');
    (this.resolveUp as (b: Binding) => void)(binding);
    for (const s of [...this.subscriptions]) s.reopen(binding);
  }

  private lost(binding: Binding, info: LossInfo): void {
    if (this.binding !== binding) return;
    this.binding = null;
    this.lastError = info.error;
    this.waitForUp();
    this.log.warn({ member: this.index, err: info.error.message }, 'broker connection lost');
    for (const s of this.subscriptions) s.dropped();
    for (const l of [...this.downListeners]) l(info);
    if (this.closed) return;
    const delay = backoffDelay(this.backoff, this.attempt++);
    this.timer = setTimeout(() => void this.attemptConnect(), delay);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    (this.rejectUp as (e: Error) => void)(new MemberClosedError('broker connection closed'));
    const b = this.binding;
    this.binding = null;
    if (b) await b.close().catch(() => undefined);
  }
}

/**
 * A subscription that lives across reconnects: opened on a member, re-opened on the member's
 * next binding after a loss (deliveries of the lost connection are the broker's to redeliver).
 */
export class ManagedSubscription {
  private sub: BrokerSubscription | null = null;
  private opening: Promise<void> | null = null;
  private closed = false;
  /** Increments on every (re)open; deliveries carry it so stale acks are ignored. */
  epoch = 0;

  constructor(
    readonly member: Member,
    readonly spec: SubscribeSpec,
    private readonly onDelivery: (delivery: Delivery, epoch: number) => void,
    /** The broker refused to re-create the subscription, or ended it. */
    private readonly onFailed: (error: Error) => void,
    /** The connection under the subscription was lost (its deliveries will come again). */
    private readonly onDropped: () => void = () => undefined,
  ) {}

  /** Opens the subscription; rejects with the broker's reason. */
  async open(timeoutMs: number): Promise<void> {
    const binding = await this.member.ready(timeoutMs);
    this.member.subscriptions.add(this);
    await this.openOn(binding);
  }

  private openOn(binding: Binding): Promise<void> {
    const epoch = ++this.epoch;
    const p = binding
      .subscribe(
        this.spec,
        (d) => {
          if (!this.closed && this.epoch === epoch) this.onDelivery(d, epoch);
        },
        (err) => {
          if (this.closed || this.epoch !== epoch) return;
          this.sub = null;
          this.member.subscriptions.delete(this);
          this.onFailed(err);
        },
      )
      .then(async (sub) => {
        if (this.closed) {
          await sub.close().catch(() => undefined);
          return;
        }
        this.sub = sub;
      });
    this.opening = p.catch(() => undefined);
    return p;
  }

  reopen(binding: Binding): void {
    if (this.closed) return;
    this.openOn(binding).catch((err: unknown) => {
      if (this.closed) return;
      this.member.subscriptions.delete(this);
      this.onFailed(err instanceof Error ? err : new Error(String(err)));
    });
  }

  dropped(): void {
    this.sub = null;
    this.epoch++;
    if (!this.closed) this.onDropped();
  }

  /** Ends the subscription (`remove`: a durable subscription is deleted on the broker). */
  async close(remove = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.member.subscriptions.delete(this);
    if (this.opening) await this.opening;
    const sub = this.sub;
    this.sub = null;
    if (sub) await (remove ? sub.remove() : sub.close());
  }
}
