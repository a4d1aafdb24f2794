import { randomBytes } from 'node:crypto';
import { SECURITY_DEFAULTS } from './defaults';
import type { SubjectSnapshot } from './subject';

interface Entry {
  readonly service: string;
  readonly subject: SubjectSnapshot;
  readonly expiresAt: number;
}

/** Result of issuing a ticket. */
export type IssueResult = { readonly ok: true; readonly ticket: string; readonly expiresInSeconds: number } | { readonly ok: false; readonly reason: 'exhausted' };

/**
 * Short-lived, single-use tickets for browsers that cannot set headers on a WebSocket: issued by
 * an authenticated `POST /ticket`, presented once as `?ticket=...` on the upgrade. A ticket is
 * bound to the service (and so the realm) it was issued for, and holds a snapshot of the subject.
 */
export class TicketStore {
  private readonly entries = new Map<string, Entry>();

  /**
   * @param ttlSeconds lifetime of a ticket; @default SECURITY_DEFAULTS.ticketTtlSeconds
   * @param maxOutstanding tickets held at once; @default SECURITY_DEFAULTS.maxOutstandingTickets
   */
  constructor(
    readonly ttlSeconds: number = SECURITY_DEFAULTS.ticketTtlSeconds,
    private readonly maxOutstanding: number = SECURITY_DEFAULTS.maxOutstandingTickets,
    private readonly now: () => number = Date.now,
  ) {}

  /** Tickets held (issued, not used, possibly expired but not yet swept). */
  get size(): number {
    return this.entries.size;
  }

  /** Issues a ticket for `service`; never outlives the subject's own credential. */
  issue(service: string, subject: SubjectSnapshot): IssueResult {
    const now = this.now();
    if (this.entries.size >= this.maxOutstanding) this.sweep(now);
    if (this.entries.size >= this.maxOutstanding) return { ok: false, reason: 'exhausted' };
    const ticket = randomBytes(SECURITY_DEFAULTS.ticketBytes).toString('base64url');
    const expiresAt = Math.min(now + this.ttlSeconds * 1000, subject.expiresAt ?? Infinity);
    this.entries.set(ticket, { service, subject, expiresAt });
    return { ok: true, ticket, expiresInSeconds: Math.max(0, Math.floor((expiresAt - now) / 1000)) };
  }

  /** Uses a ticket: returns its subject when it exists, is unexpired and belongs to `service`; it is gone afterwards either way. */
  redeem(ticket: string, service: string): SubjectSnapshot | null {
    const e = this.entries.get(ticket);
    if (!e) return null;
    this.entries.delete(ticket);
    if (e.expiresAt <= this.now() || e.service !== service) return null;
    return e.subject;
  }

  /** Drops expired tickets. */
  sweep(now: number = this.now()): void {
    for (const [t, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(t);
  }
}
