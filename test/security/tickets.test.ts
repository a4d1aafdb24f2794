import { TicketStore } from '../../security';

const alice = { realm: 'corp', user: 'alice', roles: ['trader'] };

describe('ticket store', () => {
  let now = 1_000_000;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('issues 256-bit tickets valid once, for 30 s by default', () => {
    const s = new TicketStore(undefined, undefined, clock);
    const a = s.issue('chat', alice);
    if (!a.ok) throw new Error('not issued');
    expect(a.expiresInSeconds).toBe(30);
    expect(Buffer.from(a.ticket, 'base64url')).toHaveLength(32);
    expect(s.redeem(a.ticket, 'chat')).toEqual(alice);
    expect(s.redeem(a.ticket, 'chat')).toBeNull();
  });

  it('refuses an expired ticket', () => {
    const s = new TicketStore(30, 10, clock);
    const a = s.issue('chat', alice);
    const b = s.issue('chat', alice);
    if (!a.ok || !b.ok) throw new Error('not issued');
    now += 29_999;
    expect(s.redeem(a.ticket, 'chat')).toEqual(alice);
    now += 1;
    expect(s.redeem(b.ticket, 'chat')).toBeNull();
  });

  it('binds a ticket to its service, and a misused ticket is spent', () => {
    const s = new TicketStore(30, 10, clock);
    const a = s.issue('chat', alice);
    if (!a.ok) throw new Error('not issued');
    expect(s.redeem(a.ticket, 'admin')).toBeNull();
    expect(s.redeem(a.ticket, 'chat')).toBeNull();
  });

  it('never outlives the credential it came from', () => {
    const s = new TicketStore(30, 10, clock);
    const a = s.issue('chat', { ...alice, expiresAt: now + 5_000 });
    if (!a.ok) throw new Error('not issued');
    expect(a.expiresInSeconds).toBe(5);
    now += 5_000;
    expect(s.redeem(a.ticket, 'chat')).toBeNull();
  });

  it('bounds outstanding tickets, sweeping expired ones first', () => {
    const s = new TicketStore(30, 2, clock);
    expect(s.issue('chat', alice).ok).toBe(true);
    expect(s.issue('chat', alice).ok).toBe(true);
    expect(s.issue('chat', alice)).toEqual({ ok: false, reason: 'exhausted' });
    now += 30_000;
    expect(s.issue('chat', alice).ok).toBe(true);
    expect(s.size).toBe(1);
  });
});
