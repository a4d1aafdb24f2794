/**
 * No secret reaches the gateway's log: a real Gateway logging at trace level into a capture is
 * driven through every scheme, succeeding and failing (passwords, tokens, cookies, tickets,
 * refresh keys, the cookie key), and the captured text is searched for each secret. The
 * `session.open` line names the user whatever the scheme.
 */
import { Resources, closed, openClient, refusedUpgrade, waitFor } from '../support/gateway';
import { basicFor, createWorld, leakedSecrets, nowSeconds, request, startAuthGateway, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';

const CONFIG = `
realms:
  - name: corp
    modules:
      - { type: jwt, name: tokens, flag: sufficient, options: { secretFile: jwt.secret, clockSkewSeconds: 0 } }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
cookies:
  keys: [{ id: k1, secret: "\${COOKIE_KEY}" }]
loginRateLimit: { maxFailuresPerAddress: 100, maxFailuresPerUser: 2 }
services:
  - name: desk
    type: echo
    accept: ws://127.0.0.1:0/desk
    auth: { realm: corp, schemes: [basic, bearer, cookie, ticket], authorization: { anyOf: [trader] } }
`;

/**
 * `value` with one byte of what its base64url part after the last `.` (a JWT's signature, a
 * cookie's sealed box) encodes flipped, re-encoded: never equal to the original.
 */
function flipByte(value: string, at: number): string {
  const dot = value.lastIndexOf('.');
  const bytes = Buffer.from(value.slice(dot + 1), 'base64url');
  bytes[at] = (bytes[at] as number) ^ 0x01;
  const out = `${value.slice(0, dot + 1)}${bytes.toString('base64url')}`;
  expect(out).not.toBe(value);
  return out;
}

const res = new Resources();
let world: AuthWorld;
let gw: AuthGateway;

beforeAll(async () => {
  world = await createWorld();
});
afterEach(() => res.closeAll());
afterAll(() => world.cleanup());

describe('secrets and the gateway log', () => {
  it('logs every scheme at trace level, accepted and refused, without one secret, and names the user on session.open', async () => {
    gw = await startAuthGateway(res, world, CONFIG);
    const opened: string[] = [];
    const open = async (path: string, headers: Record<string, string>, user: string): Promise<void> => {
      const ws = await openClient(res, gw.ws(path), undefined, { headers });
      opened.push(user);
      const bye = closed(ws);
      ws.close(1000, 'done');
      await bye;
    };

    // Basic, right and wrong.
    await open('/desk', { Authorization: basicFor(world, 'alice') }, 'alice');
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Authorization: basicFor(world, 'alice', world.secret('alice-wrong-pw')) } })).status).toBe(401);
    // Bearer, valid, forged and expired.
    const token = await world.sign({ sub: 'carol', roles: ['trader'], exp: nowSeconds() + 600 }, 'HS256');
    await open('/desk?refresh=refresh-key-for-carol-01', { Authorization: `Bearer ${token}` }, 'carol');
    world.secret('refresh-key-for-carol-01');
    const forged = world.secret(flipByte(token, 5));
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Authorization: `Bearer ${forged}` } })).status).toBe(401);
    const expired = await world.sign({ sub: 'carol', roles: ['trader'], exp: nowSeconds() - 60 }, 'HS256');
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Authorization: `Bearer ${expired}` } })).status).toBe(401);
    // Cookie, issued by POST /login, accepted, then refused once tampered with.
    const login = await request(gw.http('/desk/login'), { headers: { Authorization: basicFor(world, 'bob') } });
    expect(login.status).toBe(200);
    const cookie = world.secret((login.headers['set-cookie']?.[0] ?? '').split(';')[0] as string);
    world.secret(cookie.slice(cookie.indexOf('=') + 1));
    await open('/desk', { Cookie: cookie }, 'bob');
    // A byte of the ciphertext changed: the GCM tag no longer matches.
    const tampered = world.secret(flipByte(cookie, 14));
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Cookie: tampered } })).status).toBe(401);
    // Ticket, used once and refused the second time.
    const issued = await request(gw.http('/desk/ticket'), { headers: { Authorization: `Bearer ${token}` } });
    const ticket = world.secret((JSON.parse(issued.body) as { ticket: string }).ticket);
    await open(`/desk?ticket=${ticket}`, {}, 'carol');
    expect((await refusedUpgrade(gw.ws(`/desk?ticket=${ticket}`))).status).toBe(401);
    // Forbidden, rate limited, and a refresh naming another user.
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Authorization: basicFor(world, 'viewer') } })).status).toBe(403);
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Authorization: basicFor(world, 'alice', world.secret('alice-wrong-pw-2')) } })).status).toBe(401);
    expect((await refusedUpgrade(gw.ws('/desk'), undefined, { headers: { Authorization: basicFor(world, 'alice') } })).status).toBe(429);
    expect((await request(gw.http('/desk/refresh?session=unknown-session-key-1'), { headers: { Authorization: basicFor(world, 'bob') } })).status).toBe(404);
    expect((await request(gw.http('/desk/login'), { headers: { Authorization: basicFor(world, 'root', world.secret('root-wrong-pw')) } })).status).toBe(401);

    await waitFor(() => gw.log.events('session.close').length === opened.length, 5000, 'every session.close line');
    const records = gw.log.records();
    // The capture really holds the detail: trace/debug lines and every kind of event above.
    expect(records.some((r) => r.level === 'debug' || r.level === 'trace')).toBe(true);
    for (const event of ['auth.ok', 'auth.failed', 'auth.forbidden', 'auth.rate-limited', 'ticket.issued', 'session.open', 'session.close']) {
      expect([event, records.some((r) => r.event === event)]).toEqual([event, true]);
    }
    expect(gw.log.events('auth.ok').map((r) => r.scheme)).toEqual(expect.arrayContaining(['basic', 'bearer', 'cookie', 'ticket']));
    expect(gw.log.events('session.open').map((r) => r.user)).toEqual(opened);

    // The secrets: passwords, tokens, cookie and its value, ticket, refresh key, cookie key, HS256 secret.
    expect(world.secrets.size).toBeGreaterThanOrEqual(20);
    expect(world.secrets).toContain(world.cookieKey);
    expect(world.secrets).toContain(world.hsSecret);
    expect(leakedSecrets(world, gw.log)).toEqual([]);
  });
});
