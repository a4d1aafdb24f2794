import { sessionDeadline, SessionTimer, SECURITY_ERRORS } from '../../security';

describe('session deadlines', () => {
  it('picks the earlier of credential expiry and lifetime, with the matching error', () => {
    expect(sessionDeadline(0, 5000, 10)).toMatchObject({ at: 5000, close: 1008, reason: 'authorization expired', error: SECURITY_ERRORS.AUTH_EXPIRED });
    expect(sessionDeadline(0, 20_000, 10)).toMatchObject({ at: 10_000, close: 1008, reason: 'session lifetime reached', error: SECURITY_ERRORS.SESSION_LIFETIME });
    expect(sessionDeadline(0, undefined, 10).at).toBe(10_000);
    expect(sessionDeadline(0, 7000, 0).at).toBe(7000);
    expect(sessionDeadline(0, undefined, 0)).toMatchObject({ at: Infinity, error: null });
  });

  it('fires once at the deadline, moves with extend, never past the lifetime', async () => {
    const fired: string[] = [];
    const start = Date.now();
    const t = new SessionTimer(start, start + 100, 1, (code, reason) => fired.push(`${code} ${reason}`));
    t.extend(start + 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(fired).toEqual([]);
    expect(t.deadline.reason).toBe('session lifetime reached');
    await new Promise((r) => setTimeout(r, 900));
    expect(fired).toEqual(['1008 session lifetime reached']);
    t.extend(Date.now() + 100_000);
    expect(fired).toHaveLength(1);
  });

  it('fires at once for an already expired credential, and not after stop', async () => {
    const fired: string[] = [];
    new SessionTimer(Date.now(), Date.now() - 1, 0, (_c, reason) => fired.push(reason));
    expect(fired).toEqual(['authorization expired']);
    const stopped = new SessionTimer(Date.now(), Date.now() + 50, 0, (_c, reason) => fired.push(reason));
    stopped.stop();
    await new Promise((r) => setTimeout(r, 120));
    expect(fired).toEqual(['authorization expired']);
  });
});
