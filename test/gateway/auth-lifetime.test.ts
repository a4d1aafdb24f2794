/**
 * How long an authenticated session may live, through the real Gateway over ws:// and wss:// (a
 * test CA): expired tokens refused at the upgrade, sessions closed with 1008 when their JWT
 * expires or at `maxSessionSeconds`, and a refresh beside the session (`POST
 * <mount>/refresh?session=<key>`) that moves the expiry.
 */
import type { ClientOptions, WebSocket } from 'ws';
import { Resources, closed, nextMessage, openClient, refusedUpgrade, waitFor } from '../support/gateway';
import { basicFor, createWorld, leakedSecrets, nowSeconds, oneLine, request, startAuthGateway, tlsOptions, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';

const CONFIG = `
realms:
  - name: corp
    modules:
      - { type: jwt, name: tokens, flag: sufficient, options: { secretFile: jwt.secret, clockSkewSeconds: 0 } }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
  - name: lenient
    modules:
      - { type: jwt, name: skewed, options: { secretFile: jwt.secret, clockSkewSeconds: 30 } }
tls:
  certificates:
    - { cert: gw.crt, key: gw.key }
services:
  - name: live
    type: echo
    accept: [ws://127.0.0.1:0/live, wss://127.0.0.2:0/live]
    auth: { realm: corp, schemes: [bearer, basic, ticket] }
  - name: short
    type: echo
    accept: [ws://127.0.0.1:0/short, wss://127.0.0.2:0/short]
    auth: { realm: corp, schemes: [basic], maxSessionSeconds: 1 }
  - name: lenient
    type: echo
    accept: [ws://127.0.0.1:0/lenient, wss://127.0.0.2:0/lenient]
    auth: { realm: lenient, schemes: [bearer] }
`;

type Transport = 'ws' | 'wss';
const TRANSPORTS: Transport[] = ['ws', 'wss'];

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

function url(transport: Transport, path: string): string {
  return transport === 'ws' ? gw.ws(path) : gw.wss(path);
}

function httpUrl(transport: Transport, path: string): string {
  return transport === 'ws' ? gw.http(path) : gw.https(path);
}

/** Client options for the transport, with headers. */
function opts(transport: Transport, headers: Record<string, string> = {}): ClientOptions {
  return transport === 'ws' ? { headers } : { headers, ...tlsOptions(world) };
}

/** Error counters of a service gained while `run` ran. */
async function errorsDuring(service: string, run: () => Promise<void>): Promise<Record<string, number>> {
  const before = gw.errors(service);
  await run();
  const after = gw.errors(service);
  const delta: Record<string, number> = {};
  for (const [code, n] of Object.entries(after)) if (n !== (before[code] ?? 0)) delta[code] = n - (before[code] ?? 0);
  return delta;
}

/** Resolves once the wall clock has passed `at` (epoch ms). */
function until(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));
}

describe.each(TRANSPORTS)('expired credentials at the upgrade over %s', (transport) => {
  it('refuses a JWT past its exp with 401, the invalid_token challenge and a one-line body', async () => {
    const token = await world.sign({ sub: 'carol', exp: nowSeconds() - 60 }, 'HS256');
    const errors = await errorsDuring('live', async () => {
      const r = await refusedUpgrade(url(transport, '/live'), undefined, opts(transport, { Authorization: `Bearer ${token}` }));
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic realm="corp", charset="UTF-8", Bearer realm="corp", error="invalid_token"');
      expect(oneLine(r.body)).toBe('authentication failed');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_FAILED: 1 });
  });

  it('refuses a JWT the clock skew still lets through but that has expired, with GW_ERR_AUTH_EXPIRED', async () => {
    const token = await world.sign({ sub: 'carol', exp: nowSeconds() - 5 }, 'HS256');
    const errors = await errorsDuring('lenient', async () => {
      const r = await refusedUpgrade(url(transport, '/lenient'), undefined, opts(transport, { Authorization: `Bearer ${token}` }));
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="lenient", error="invalid_token"');
      expect(oneLine(r.body)).toBe('the credential has expired');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_EXPIRED: 1 });
  });
});

describe.each(TRANSPORTS)('sessions end with their credential over %s', (transport) => {
  it('closes a session whose JWT expires with 1008 "authorization expired"', async () => {
    const user = `erin-${transport}`;
    const exp = nowSeconds() + 2;
    const token = await world.sign({ sub: user, exp }, 'HS256');
    const ws = await openClient(res, url(transport, '/live'), undefined, opts(transport, { Authorization: `Bearer ${token}` }));
    await echo(ws);
    const errors = await errorsDuring('live', async () => {
      const close = await closed(ws);
      const at = Date.now();
      expect(close).toEqual({ code: 1008, reason: 'authorization expired' });
      expect(at).toBeGreaterThanOrEqual(exp * 1000 - 50);
      expect(at).toBeLessThanOrEqual(exp * 1000 + LATE_MS);
    });
    expect(errors).toEqual({ GW_ERR_AUTH_EXPIRED: 1 });
    await waitFor(() => gw.log.events('session.close').some((l) => l.user === user), 2000, 'the session.close line');
    expect(gw.log.events('session.close').find((l) => l.user === user)).toMatchObject({ service: 'live', closeCode: 1008, reason: 'authorization expired', error: 'GW_ERR_AUTH_EXPIRED' });
    expect(gw.log.events('session.deadline').find((l) => l.user === user)).toMatchObject({ service: 'live', code: 'GW_ERR_AUTH_EXPIRED' });
  });

  it('keeps a session refreshed in time open past the first expiry, then closes it when the new token expires', async () => {
    const user = `frank-${transport}`;
    const key = world.secret(`refresh-key-${user}-0001`);
    const exp1 = nowSeconds() + 2;
    const exp2 = exp1 + 2;
    const first = await world.sign({ sub: user, exp: exp1 }, 'HS256');
    const second = await world.sign({ sub: user, exp: exp2 }, 'HS256');
    const someoneElse = await world.sign({ sub: 'grace', exp: exp2 }, 'HS256');
    const tls = tlsOptions(world);

    const errors = await errorsDuring('live', async () => {
      // A browser's way in: a ticket bought with the token (it carries the token's expiry), and a refresh key.
      const issued = await request(httpUrl(transport, '/live/ticket'), { headers: { Authorization: `Bearer ${first}` }, tls });
      expect(issued.status).toBe(200);
      const ticket = world.secret((JSON.parse(issued.body) as { ticket: string }).ticket);
      const ws = await openClient(res, url(transport, `/live?ticket=${ticket}&refresh=${key}`), undefined, opts(transport));
      await echo(ws);

      const unknown = await request(httpUrl(transport, '/live/refresh?session=no-such-session-key'), { headers: { Authorization: `Bearer ${second}` }, tls });
      expect(unknown.status).toBe(404);
      expect(unknown.headers['x-gangway-error']).toBe('GW_ERR_SESSION_UNKNOWN');
      const mismatch = await request(httpUrl(transport, `/live/refresh?session=${key}`), { headers: { Authorization: `Bearer ${someoneElse}` }, tls });
      expect(mismatch.status).toBe(403);
      expect(mismatch.headers['x-gangway-error']).toBe('GW_ERR_REFRESH_MISMATCH');
      expect(oneLine(mismatch.body)).toBe('the credential belongs to another user than the session');

      const refreshed = await request(httpUrl(transport, `/live/refresh?session=${key}`), { headers: { Authorization: `Bearer ${second}` }, tls });
      expect(refreshed.status).toBe(200);
      expect(JSON.parse(refreshed.body)).toEqual({ expiresAt: exp2 * 1000 });
      expect(gw.log.events('session.refreshed').some((l) => l.user === user)).toBe(true);

      const closing = closed(ws);
      await until(exp1 * 1000 + 400);
      await echo(ws);
      const close = await closing;
      const at = Date.now();
      expect(close).toEqual({ code: 1008, reason: 'authorization expired' });
      expect(at).toBeGreaterThanOrEqual(exp2 * 1000 - 50);
      expect(at).toBeLessThanOrEqual(exp2 * 1000 + LATE_MS);
    });
    expect(errors).toEqual({ GW_ERR_SESSION_UNKNOWN: 1, GW_ERR_REFRESH_MISMATCH: 1, GW_ERR_AUTH_EXPIRED: 1 });
  }, 10_000);

  it('closes at maxSessionSeconds with 1008 "session lifetime reached", which a refresh does not move', async () => {
    const key = world.secret(`refresh-key-alice-${transport}-0002`);
    const errors = await errorsDuring('short', async () => {
      const ws = await openClient(res, url(transport, `/short?refresh=${key}`), undefined, opts(transport, { Authorization: basicFor(world, 'alice') }));
      const opened = Date.now();
      const refreshed = await request(httpUrl(transport, `/short/refresh?session=${key}`), { headers: { Authorization: basicFor(world, 'alice') }, tls: tlsOptions(world) });
      expect(refreshed.status).toBe(200);
      expect(JSON.parse(refreshed.body)).toEqual({ expiresAt: null });
      const close = await closed(ws);
      const lived = Date.now() - opened;
      expect(close).toEqual({ code: 1008, reason: 'session lifetime reached' });
      expect(lived).toBeGreaterThanOrEqual(950);
      expect(lived).toBeLessThanOrEqual(1000 + LATE_MS);
    });
    expect(errors).toEqual({ GW_ERR_SESSION_LIFETIME: 1 });
  });
});
