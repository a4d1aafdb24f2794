import { LoginRateLimiter } from '../../security';

describe('failed-login limiter (sliding window)', () => {
  let now = 0;
  const make = () => new LoginRateLimiter({ windowSeconds: 60, maxFailuresPerAddress: 3, maxFailuresPerUser: 2 }, () => now);
  beforeEach(() => {
    now = 1_000_000;
  });

  it('limits a user after maxFailuresPerUser failures until the oldest leaves the window', () => {
    const l = make();
    l.fail('10.0.0.1', 'alice');
    now += 10_000;
    l.fail('10.0.0.2', 'alice');
    expect(l.check('10.0.0.3', 'alice')).toEqual({ limited: true, retryAfterSeconds: 50, by: 'user' });
    expect(l.check('10.0.0.3', 'bob')).toEqual({ limited: false });
    now += 50_000;
    expect(l.check('10.0.0.3', 'alice')).toEqual({ limited: false });
    l.fail('10.0.0.3', 'alice');
    expect(l.check('10.0.0.3', 'alice')).toEqual({ limited: true, retryAfterSeconds: 10, by: 'user' });
  });

  it('limits an address across users', () => {
    const l = make();
    for (const u of ['a', 'b', 'c']) l.fail('10.0.0.1', u);
    expect(l.check('10.0.0.1')).toMatchObject({ limited: true, by: 'address' });
    expect(l.check('10.0.0.2')).toEqual({ limited: false });
  });

  it('forgets a user failures on success, not the address ones', () => {
    const l = make();
    l.fail('10.0.0.1', 'alice');
    l.fail('10.0.0.1', 'alice');
    l.succeed('alice');
    expect(l.check('10.0.0.9', 'alice')).toEqual({ limited: false });
    l.fail('10.0.0.1', 'x');
    expect(l.check('10.0.0.1')).toMatchObject({ limited: true });
  });

  it('bounds the keys it tracks', () => {
    const l = new LoginRateLimiter({ windowSeconds: 60, maxFailuresPerAddress: 1, maxFailuresPerUser: 1, maxTrackedKeys: 2 }, () => now);
    l.fail('a');
    l.fail('b');
    l.fail('c');
    expect(l.check('a')).toEqual({ limited: false });
    expect(l.check('c')).toMatchObject({ limited: true });
  });
});
