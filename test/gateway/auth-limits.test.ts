/**
 * Failed-login limits through the real Gateway: past `maxFailuresPerUser` failures for a name, or
 * `maxFailuresPerAddress` from an address, even the right password gets 429 with Retry-After, on
 * the WebSocket upgrade and on the login and ticket endpoints alike.
 */
import { Resources, nextMessage, openClient, refusedUpgrade } from '../support/gateway';
import { basicFor, createWorld, leakedSecrets, nowSeconds, oneLine, request, startAuthGateway, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';

const WINDOW_SECONDS = 30;

const CONFIG = `
realms:
  - name: corp
    modules:
      - { type: jwt, name: tokens, flag: sufficient, options: { secretFile: jwt.secret, clockSkewSeconds: 0 } }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
cookies:
  keys: [{ id: k1, secret: "\${COOKIE_KEY}" }]
loginRateLimit: { windowSeconds: ${WINDOW_SECONDS}, maxFailuresPerAddress: 6, maxFailuresPerUser: 2 }
services:
  - name: feed
    type: echo
    accept: ws://127.0.0.1:0/feed
    auth: { realm: corp, schemes: [basic, bearer, ticket] }
`;

const suite = new Resources();
const res = new Resources();
let world: AuthWorld;
let gw: AuthGateway;

beforeAll(async () => {
  world = await createWorld();
  gw = await startAuthGateway(suite, world, CONFIG);
});
afterEach(async () => {
  await res.closeAll();
  expect(leakedSecrets(world, gw.log)).toEqual([]);
});
afterAll(async () => {
  await suite.closeAll();
  world.cleanup();
});

function expectRateLimited(r: { status: number; headers: Record<string, string | string[] | undefined>; body: string }): void {
  expect(r.status).toBe(429);
  const retry = Number(r.headers['retry-after']);
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(WINDOW_SECONDS);
  expect(oneLine(r.body)).toBe(`too many failed logins; retry in ${retry} s`);
}

describe('failed-login rate limits', () => {
  it('limits a user after maxFailuresPerUser failures, then the address after maxFailuresPerAddress', async () => {
    const wrong = { Authorization: basicFor(world, 'alice', world.secret('alice-guess-1')) };
    for (let i = 0; i < 2; i++) {
      const r = await refusedUpgrade(gw.ws('/feed'), undefined, { headers: wrong });
      expect(r.status).toBe(401);
    }
    // The right password no longer helps alice, on the upgrade or the endpoints.
    const right = { Authorization: basicFor(world, 'alice') };
    expectRateLimited(await refusedUpgrade(gw.ws('/feed'), undefined, { headers: right }));
    const login = await request(gw.http('/feed/login'), { headers: right });
    expectRateLimited(login);
    expect(login.headers['x-gangway-error']).toBe('GW_ERR_LOGIN_RATE_LIMITED');
    expect(login.headers['set-cookie']).toBeUndefined();
    expectRateLimited(await request(gw.http('/feed/ticket'), { headers: right }));
    expect(gw.log.events('auth.rate-limited').filter((l) => l.user === 'alice' && l.by === 'user').length).toBeGreaterThanOrEqual(3);

    // Another user from the same address is still let in (2 of 6 address failures so far).
    const bob = await openClient(res, gw.ws('/feed'), undefined, { headers: { Authorization: basicFor(world, 'bob') } });
    const back = nextMessage(bob);
    bob.send('in');
    expect((await back).data.toString()).toBe('in');

    // Four more failures under other names fill the address's allowance.
    for (const name of ['mallory', 'trudy', 'eve', 'oscar']) {
      const r = await refusedUpgrade(gw.ws('/feed'), undefined, { headers: { Authorization: basicFor(world, name, world.secret(`${name}-guess`)) } });
      expect(r.status).toBe(401);
    }
    expectRateLimited(await refusedUpgrade(gw.ws('/feed'), undefined, { headers: { Authorization: basicFor(world, 'bob') } }));
    const token = await world.sign({ sub: 'carol', exp: nowSeconds() + 600 }, 'HS256');
    expectRateLimited(await refusedUpgrade(gw.ws('/feed'), undefined, { headers: { Authorization: `Bearer ${token}` } }));
    expect(gw.log.events('auth.rate-limited').some((l) => l.by === 'address')).toBe(true);

    expect(gw.errors('feed')).toEqual({ GW_ERR_AUTH_FAILED: 6, GW_ERR_LOGIN_RATE_LIMITED: 5 });
  });

  it('counts failures per client address behind a trusted proxy, not per proxy', async () => {
    const proxied = await startAuthGateway(res, world, `${CONFIG.replace('maxFailuresPerUser: 2', 'maxFailuresPerUser: 100')}gangway: { trustedProxies: [127.0.0.1] }\n`);
    const from = (client: string, user: string, password?: string): Record<string, string> => ({
      'X-Forwarded-For': client,
      Authorization: basicFor(world, user, password === undefined ? undefined : world.secret(password)),
    });
    for (let i = 0; i < 6; i++) {
      expect((await refusedUpgrade(proxied.ws('/feed'), undefined, { headers: from('203.0.113.5', 'alice', `alice-proxied-guess-${i}`) })).status).toBe(401);
    }
    // The client behind the proxy is limited; another client behind the same proxy is not.
    expectRateLimited(await refusedUpgrade(proxied.ws('/feed'), undefined, { headers: from('203.0.113.5', 'bob') }));
    const other = await openClient(res, proxied.ws('/feed'), undefined, { headers: from('203.0.113.6', 'bob') });
    const back = nextMessage(other);
    other.send('still in');
    expect((await back).data.toString()).toBe('still in');
    const limited = proxied.log.events('auth.rate-limited');
    expect(limited.map((l) => [l.by, l.remote])).toEqual([['address', '203.0.113.5']]);
    expect(proxied.log.events('auth.failed').every((l) => l.remote === '203.0.113.5')).toBe(true);
    expect(leakedSecrets(world, proxied.log)).toEqual([]);
  });
});
