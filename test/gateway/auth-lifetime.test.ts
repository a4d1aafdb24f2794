/**
 * How long an authenticated session may live, through the real Gateway: expired tokens refused at
 * the upgrade, sessions closed with 1008 when their JWT expires or at `maxSessionSeconds`, and a
 * refresh beside the session (`POST <mount>/refresh?session=<key>`) that moves the expiry.
 */
import type { WebSocket } from 'ws';
import { Resources, closed, nextMessage, openClient, refusedUpgrade, waitFor } from '../support/gateway';
import { basicFor, createWorld, leakedSecrets, nowSeconds, oneLine, request, startAuthGateway, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';

const CONFIG = `
realms:
  - name: corp
    modules:
      - { type: jwt, name: tokens, flag: sufficient, options: { secretFile: jwt.secret, clockSkewSeconds: 0 } }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
  - name: lenient
    modules:
      - { type: jwt, name: skewed, options: { secretFile: jwt.secret, clockSkewSeconds: 30 } }
services:
  - name: live
    type: echo
    accept: ws://127.0.0.1:0/live
    auth: { realm: corp, schemes: [bearer, basic, ticket] }
  - name: short
    type: echo
    accept: ws://127.0.0.1:0/short
    auth: { realm: corp, schemes: [basic], maxSessionSeconds: 1 }
  - name: lenient
    type: echo
    accept: ws://127.0.0.1:0/lenient
    auth: { realm: lenient, schemes: [bearer] }
`;

/** Slack for timers firing and the close handshake. */
const LATE_MS = 1200;

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

async function echo(ws: WebSocket): Promise<void> {
  const back = nextMessage(ws);
  ws.send('alive');
  expect((await back).data.toString()).toBe('alive');
}

/** Resolves once the wall clock has passed `at` (epoch ms). */
function until(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}

describe('expired credentials at the upgrade', () => {
  it('refuses a JWT past its exp with 401, the invalid_token challenge and a one-line body', async () => {
    const token = await world.sign({ sub: 'carol', exp: nowSeconds() - 60 }, 'HS256');
    const before = gw.errors('live').GW_ERR_AUTH_FAILED ?? 0;
    const r = await refusedUpgrade(gw.ws('/live'), undefined, { headers: { Authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="corp", charset="UTF-8", Bearer realm="corp", error="invalid_token"');
    expect(oneLine(r.body)).toBe('authentication failed');
    expect(gw.errors('live').GW_ERR_AUTH_FAILED).toBe(before + 1);
  });

  it('refuses a JWT the clock skew still lets through but that has expired, with GW_ERR_AUTH_EXPIRED', async () => {
    const token = await world.sign({ sub: 'carol', exp: nowSeconds() - 5 }, 'HS256');
    const r = await refusedUpgrade(gw.ws('/lenient'), undefined, { headers: { Authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="lenient", error="invalid_token"');
    expect(oneLine(r.body)).toBe('the credential has expired');
    expect(gw.errors('lenient')).toEqual({ GW_ERR_AUTH_EXPIRED: 1 });
  });
});

describe('sessions end with their credential', () => {
  it('closes a session whose JWT expires with 1008 "authorization expired"', async () => {
    const exp = nowSeconds() + 2;
    const token = await world.sign({ sub: 'erin', exp }, 'HS256');
    const ws = await openClient(res, gw.ws('/live'), undefined, { headers: { Authorization: `Bearer ${token}` } });
    await echo(ws);
    const close = await closed(ws);
    const at = Date.now();
    expect(close).toEqual({ code: 1008, reason: 'authorization expired' });
    expect(at).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(at).toBeLessThanOrEqual(exp * 1000 + LATE_MS);
    await waitFor(() => gw.log.events('session.close').some((l) => l.user === 'erin'), 2000, 'the session.close line');
    expect(gw.log.events('session.close').find((l) => l.user === 'erin')).toMatchObject({ service: 'live', closeCode: 1008, reason: 'authorization expired', error: 'GW_ERR_AUTH_EXPIRED' });
    expect(gw.log.events('session.deadline').find((l) => l.user === 'erin')).toMatchObject({ service: 'live', code: 'GW_ERR_AUTH_EXPIRED' });
    expect(gw.errors('live').GW_ERR_AUTH_EXPIRED).toBeGreaterThanOrEqual(1);
  });

  it('keeps a session refreshed in time open past the first expiry, then closes it when the new token expires', async () => {
    const key = 'refresh-key-frank-0001';
    world.secret(key);
    const exp1 = nowSeconds() + 2;
    const exp2 = exp1 + 2;
    const first = await world.sign({ sub: 'frank', exp: exp1 }, 'HS256');
    const second = await world.sign({ sub: 'frank', exp: exp2 }, 'HS256');
    const someoneElse = await world.sign({ sub: 'grace', exp: exp2 }, 'HS256');

    // A browser's way in: a ticket bought with the token (it carries the token's expiry), and a refresh key.
    const issued = await request(gw.http('/live/ticket'), { headers: { Authorization: `Bearer ${first}` } });
    expect(issued.status).toBe(200);
    const ticket = world.secret((JSON.parse(issued.body) as { ticket: string }).ticket);
    const ws = await openClient(res, gw.ws(`/live?ticket=${ticket}&refresh=${key}`));
    await echo(ws);

    const unknown = await request(gw.http('/live/refresh?session=no-such-session-key'), { headers: { Authorization: `Bearer ${second}` } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers['x-gangway-error']).toBe('GW_ERR_SESSION_UNKNOWN');
    const mismatch = await request(gw.http(`/live/refresh?session=${key}`), { headers: { Authorization: `Bearer ${someoneElse}` } });
    expect(mismatch.status).toBe(403);
    expect(mismatch.headers['x-gangway-error']).toBe('GW_ERR_REFRESH_MISMATCH');
    expect(oneLine(mismatch.body)).toBe('the credential belongs to another user than the session');

    const refreshed = await request(gw.http(`/live/refresh?session=${key}`), { headers: { Authorization: `Bearer ${second}` } });
    expect(refreshed.status).toBe(200);
    expect(JSON.parse(refreshed.body)).toEqual({ expiresAt: exp2 * 1000 });
    expect(gw.log.events('session.refreshed').some((l) => l.user === 'frank')).toBe(true);

    const closing = closed(ws);
    await until(exp1 * 1000 + 400);
    await echo(ws);
    const close = await closing;
    const at = Date.now();
    expect(close).toEqual({ code: 1008, reason: 'authorization expired' });
    expect(at).toBeGreaterThanOrEqual(exp2 * 1000 - 50);
    expect(at).toBeLessThanOrEqual(exp2 * 1000 + LATE_MS);
    expect(gw.errors('live')).toMatchObject({ GW_ERR_SESSION_UNKNOWN: 1, GW_ERR_REFRESH_MISMATCH: 1 });
  });

  it('closes at maxSessionSeconds with 1008 "session lifetime reached", which a refresh does not move', async () => {
    const key = 'refresh-key-alice-0002';
    world.secret(key);
    const ws = await openClient(res, gw.ws(`/short?refresh=${key}`), undefined, { headers: { Authorization: basicFor(world, 'alice') } });
    const opened = Date.now();
    const refreshed = await request(gw.http(`/short/refresh?session=${key}`), { headers: { Authorization: basicFor(world, 'alice') } });
    expect(refreshed.status).toBe(200);
    expect(JSON.parse(refreshed.body)).toEqual({ expiresAt: null });
    const close = await closed(ws);
    const lived = Date.now() - opened;
    expect(close).toEqual({ code: 1008, reason: 'session lifetime reached' });
    expect(lived).toBeGreaterThanOrEqual(950);
    expect(lived).toBeLessThanOrEqual(1000 + LATE_MS);
    expect(gw.errors('short')).toEqual({ GW_ERR_SESSION_LIFETIME: 1 });
  });
});
