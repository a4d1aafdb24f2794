import type { JmsMessage, SubscribeSpec } from '../../../adapters/jms';
import { destinationText } from '../../../adapters/jms';
import type { SplitMessage } from './frames';
import { ManagedSubscription, type Member } from './pool';

/** One broker delivery on a shared subscription, with its MESSAGE frame encoded once per view. */
export class SharedDelivery {
  private readonly views = new Map<string, SplitMessage>();

  constructor(readonly message: JmsMessage) {}

  /**
   * The frame for one view (the version, and the session when it owns a temporary destination the
   * message names) and one subscription id: the headers are encoded once per view, the frame once
   * per subscription id, and shared by every subscriber with the same view and id.
   */
  frame(view: string, id: string, line: Buffer, encode: () => SplitMessage): Buffer {
    let split = this.views.get(view);
    if (split === undefined) {
      split = encode();
      this.views.set(view, split);
    }
    return split.frameFor(id, line);
  }

  /** Distinct header encodings made (for tests and metrics). */
  get encodings(): number {
    return this.views.size;
  }
}

/** A local subscriber of a shared broker subscription (one client SUBSCRIBE). */
export interface SharedSubscriber {
  deliverShared(delivery: SharedDelivery): void;
  /** The broker ended the shared subscription (or refused to re-create it). */
  sharedFailed(error: Error): void;
  /** The connection under the shared subscription was lost. */
  sharedDropped(): void;
}

interface Shared {
  readonly managed: ManagedSubscription;
  readonly subscribers: Set<SharedSubscriber>;
  readonly ready: Promise<void>;
}

/** FNV-1a, to spread shared subscriptions over the pool. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The key of a shared subscription: destination and selector. */
export function sharedKey(spec: SubscribeSpec): string {
  return `${destinationText(spec.destination)}\0${spec.selector ?? ''}`;
}

/**
 * Offloading: one broker subscription per (destination, selector) fans out to every local
 * subscriber; it opens with the first subscriber and ends with the last.
 */
export class SubscriptionHub {
  private readonly shared = new Map<string, Shared>();

  constructor(
    private readonly members: readonly Member[],
    private readonly timeoutMs: number,
  ) {}

  /** Adds a subscriber; resolves when the broker subscription is open. */
  join(spec: SubscribeSpec, subscriber: SharedSubscriber): Promise<void> {
    const key = sharedKey(spec);
    let entry = this.shared.get(key);
    if (!entry) {
      const member = this.members[hash(key) % this.members.length] as Member;
      const subscribers = new Set<SharedSubscriber>();
      const managed = new ManagedSubscription(
        member,
        spec,
        (d) => {
          const shared = new SharedDelivery(d.message);
          for (const s of subscribers) s.deliverShared(shared);
        },
        (err) => {
          if (this.shared.get(key)?.managed === managed) this.shared.delete(key);
          for (const s of [...subscribers]) s.sharedFailed(err);
        },
        () => {
          for (const s of [...subscribers]) s.sharedDropped();
        },
      );
      const ready = managed.open(this.timeoutMs);
      const created: Shared = { managed, subscribers, ready };
      ready.catch(() => {
        if (this.shared.get(key) === created) this.shared.delete(key);
        void managed.close();
      });
      entry = created;
      this.shared.set(key, entry);
    }
    entry.subscribers.add(subscriber);
    return entry.ready;
  }

  /** Removes a subscriber; the last one ends the broker subscription. */
  leave(spec: SubscribeSpec, subscriber: SharedSubscriber): void {
    const key = sharedKey(spec);
    const entry = this.shared.get(key);
    if (!entry || !entry.subscribers.delete(subscriber)) return;
    if (entry.subscribers.size === 0) {
      this.shared.delete(key);
      void entry.managed.close().catch(() => undefined);
    }
  }

  /** Shared broker subscriptions open now. */
  get size(): number {
    return this.shared.size;
  }

  /** Local subscribers of the shared subscription with this key. */
  subscribersOf(spec: SubscribeSpec): number {
    return this.shared.get(sharedKey(spec))?.subscribers.size ?? 0;
  }
}
