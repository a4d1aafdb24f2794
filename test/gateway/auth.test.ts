/**
 * Who may connect, end to end through the real Gateway: every scheme (Basic, Bearer HS256/RS256/
 * ES256, session cookie, single-use ticket) on a real WebSocket upgrade over ws:// and wss://
 * (two certificates chosen by SNI), refusals with their status, challenge and one-line body,
 * roles, origins, CORS on a guarded HTTP service, and the error counters by code.
 */
import { SignJWT } from 'jose';
import type { ClientOptions, WebSocket } from 'ws';
import { Resources, nextMessage, openClient, refusedUpgrade } from '../support/gateway';
import {
  HOST_A,
  HOST_B,
  SERIAL_A,
  SERIAL_B,
  basicFor,
  createWorld,
  leakedSecrets,
  nowSeconds,
  oneLine,
  opened,
  rawClient,
  request,
  servedSerial,
  startAuthGateway,
  tlsOptions,
  type AuthGateway,
  type AuthWorld,
} from '../fixtures/auth/world';

const CONFIG = `
realms:
  - name: corp
    modules:
      - { type: jwt, name: tokens, flag: sufficient, options: { secretFile: jwt.secret, clockSkewSeconds: 0 } }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
  - name: partners
    modules:
      - { type: jwt, name: partner-idp, flag: requisite, options: { publicKeyFile: rsa.pem, clockSkewSeconds: 0 } }
  - name: pki
    modules:
      - { type: jwt, name: jwks, flag: required, options: { jwksFile: jwks.json, algorithms: [ES256], clockSkewSeconds: 0 } }
cookies:
  keys:
    - { id: k1, secret: "\${COOKIE_KEY}" }
loginRateLimit: { maxFailuresPerAddress: 1000, maxFailuresPerUser: 1000 }
tls:
  certificates:
    - { cert: gw.crt, key: gw.key }
    - { cert: other.crt, key: other.key }
services:
  - name: desk
    type: echo
    accept: [ws://127.0.0.1:0/desk, wss://127.0.0.2:0/desk]
    auth: { realm: corp, schemes: [basic, bearer, cookie, ticket] }
  - name: ops
    type: echo
    accept: [ws://127.0.0.1:0/ops, wss://127.0.0.2:0/ops]
    auth:
      realm: corp
      schemes: [basic, bearer, ticket]
      authorization: { anyOf: [ops, admin], allOf: [staff] }
  - name: app
    type: echo
    accept: [ws://127.0.0.1:0/app, wss://127.0.0.2:0/app]
    auth:
      realm: corp
      schemes: [basic]
      origins: [https://app.example.com, https://*.example.com]
  - name: partner-feed
    type: echo
    accept: [ws://127.0.0.1:0/partner, wss://127.0.0.2:0/partner]
    auth: { realm: partners, schemes: [bearer] }
  - name: pki-feed
    type: echo
    accept: [ws://127.0.0.1:0/pki, wss://127.0.0.2:0/pki]
    auth: { realm: pki, schemes: [bearer] }
  - name: files
    type: directory
    accept: http://127.0.0.1:0/files
    properties: { root: www }
    auth:
      realm: corp
      schemes: [basic, cookie]
      origins: [https://app.example.com]
      cors: { methods: [GET], headers: [Authorization], maxAgeSeconds: 120 }
  - name: admin
    type: management
    accept: http://127.0.0.1:0/admin
    auth: { realm: corp, schemes: [basic, cookie], authorization: { anyOf: [admin] } }
`;

const CORP_CHALLENGE = 'Basic realm="corp", charset="UTF-8", Bearer realm="corp"';

type Transport = 'ws' | 'wss';
const TRANSPORTS: Transport[] = ['ws', 'wss'];

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

function url(transport: Transport, path: string): string {
  return transport === 'ws' ? gw.ws(path) : gw.wss(path);
}

function httpUrl(transport: Transport, path: string): string {
  return transport === 'ws' ? gw.http(path) : gw.https(path);
}

/** Client options for the transport, with extra headers. */
function opts(transport: Transport, headers: Record<string, string> = {}, extra: ClientOptions = {}): ClientOptions {
  return transport === 'ws' ? { headers, ...extra } : { headers, ...tlsOptions(world), ...extra };
}

/** Proves the session is live: one message through the echo service and back. */
async function echo(ws: WebSocket): Promise<void> {
  const back = nextMessage(ws);
  ws.send('still here');
  expect((await back).data.toString()).toBe('still here');
}

function sessionOpens(service: string): Record<string, unknown>[] {
  return gw.log.events('session.open').filter((r) => r.service === service);
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

describe.each(TRANSPORTS)('schemes over %s', (transport) => {
  it('Basic: the users file module (after an ignoring jwt module) opens the session, and session.open names the user', async () => {
    const before = sessionOpens('desk').length;
    const ws = await openClient(res, url(transport, '/desk'), undefined, opts(transport, { Authorization: basicFor(world, 'alice') }));
    await echo(ws);
    const opens = sessionOpens('desk');
    expect(opens).toHaveLength(before + 1);
    expect(opens[opens.length - 1]).toMatchObject({ event: 'session.open', service: 'desk', user: 'alice' });
    const session = [...gw.gateway.sessions()].find((s) => s.service === 'desk');
    expect(session?.subject?.user).toBe('alice');
    expect([...(session?.subject?.roles ?? [])]).toEqual(['trader']);
  });

  it('Bearer HS256: the sufficient jwt module admits a user the users file does not know', async () => {
    const token = await world.sign({ sub: 'carol', roles: ['trader'], exp: nowSeconds() + 600 }, 'HS256');
    const ws = await openClient(res, url(transport, '/desk'), undefined, opts(transport, { Authorization: `Bearer ${token}` }));
    await echo(ws);
    const opens = sessionOpens('desk');
    expect(opens[opens.length - 1]).toMatchObject({ user: 'carol' });
  });

  it.each([
    ['RS256', 'partner-feed', '/partner'],
    ['ES256', 'pki-feed', '/pki'],
  ] as const)('Bearer %s from a key file / local JWKS opens %s', async (alg, service, path) => {
    const token = await world.sign({ sub: `${alg.toLowerCase()}-client`, exp: nowSeconds() + 600 }, alg);
    const ws = await openClient(res, url(transport, path), undefined, opts(transport, { Authorization: `Bearer ${token}` }));
    await echo(ws);
    const opens = sessionOpens(service);
    expect(opens[opens.length - 1]).toMatchObject({ service, user: `${alg.toLowerCase()}-client` });
    // The other algorithm's token is worthless here.
    const other = await world.sign({ sub: 'x', exp: nowSeconds() + 600 }, alg === 'RS256' ? 'ES256' : 'RS256');
    const refused = await refusedUpgrade(url(transport, path), undefined, opts(transport, { Authorization: `Bearer ${other}` }));
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(`Bearer realm="${alg === 'RS256' ? 'partners' : 'pki'}", error="invalid_token"`);
  });

  it('session cookie: POST /login with Basic sets it, the upgrade presents it, POST /logout clears it', async () => {
    const login = await request(httpUrl(transport, '/desk/login'), { headers: { Authorization: basicFor(world, 'bob') }, tls: tlsOptions(world) });
    expect(login.status).toBe(200);
    expect(JSON.parse(login.body)).toEqual({ user: 'bob', roles: ['trader', 'ops'], expiresAt: null });
    const setCookie = login.headers['set-cookie']?.[0] ?? '';
    expect(setCookie).toMatch(/^gangway_session=v1\.k1\.[A-Za-z0-9_-]+; Path=\/; Max-Age=28800; HttpOnly; Secure; SameSite=Lax$/);
    const cookie = world.secret(setCookie.split(';')[0] as string);
    world.secret(cookie.slice('gangway_session='.length));

    const ws = await openClient(res, url(transport, '/desk'), undefined, opts(transport, { Cookie: `theme=dark; ${cookie}` }));
    await echo(ws);
    expect(sessionOpens('desk').at(-1)).toMatchObject({ user: 'bob' });

    // A cookie changed in one character is worthless: the upgrade counts as one without credentials.
    const at = cookie.length - 10;
    const forgedCookie = `${cookie.slice(0, at)}${cookie[at] === 'A' ? 'B' : 'A'}${cookie.slice(at + 1)}`;
    const forged = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport, { Cookie: forgedCookie }));
    expect(forged.status).toBe(401);
    expect(oneLine(forged.body)).toBe('authentication required for service desk');

    const logout = await request(httpUrl(transport, '/desk/logout'), { headers: { Cookie: cookie }, tls: tlsOptions(world) });
    expect(logout.status).toBe(204);
    expect(logout.headers['set-cookie']?.[0]).toMatch(/^gangway_session=; .*Max-Age=0/);
  });

  it('refuses POST /login and POST /ticket with wrong credentials: 401, challenge, X-Gangway-Error, counted', async () => {
    const errors = await errorsDuring('desk', async () => {
      for (const endpoint of ['/desk/login', '/desk/ticket']) {
        const r = await request(httpUrl(transport, endpoint), { headers: { Authorization: basicFor(world, 'bob', world.secret('bobs-wrong-password')) }, tls: tlsOptions(world) });
        expect(r.status).toBe(401);
        expect(r.headers['set-cookie']).toBeUndefined();
        expect(r.headers['www-authenticate']).toBe(CORP_CHALLENGE);
        expect(r.headers['x-gangway-error']).toBe('GW_ERR_AUTH_FAILED');
        expect(oneLine(r.body)).toBe('authentication failed for user bob');
      }
      const none = await request(httpUrl(transport, '/desk/ticket'), { tls: tlsOptions(world) });
      expect(none.status).toBe(401);
      expect(none.headers['x-gangway-error']).toBe('GW_ERR_AUTH_REQUIRED');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_FAILED: 2, GW_ERR_AUTH_REQUIRED: 1 });
  });

  it('ticket: POST /ticket with Basic gives one, accepted once on ?ticket= and refused the second time', async () => {
    const issued = await request(httpUrl(transport, '/desk/ticket'), { headers: { Authorization: basicFor(world, 'alice') }, tls: tlsOptions(world) });
    expect(issued.status).toBe(200);
    const body = JSON.parse(issued.body) as { ticket: string; expiresInSeconds: number };
    expect(body.expiresInSeconds).toBe(30);
    const ticket = world.secret(body.ticket);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43,}$/);

    const ws = await openClient(res, url(transport, `/desk?ticket=${ticket}`), undefined, opts(transport));
    await echo(ws);
    expect(sessionOpens('desk').at(-1)).toMatchObject({ user: 'alice' });

    const errors = await errorsDuring('desk', async () => {
      const again = await refusedUpgrade(url(transport, `/desk?ticket=${ticket}`), undefined, opts(transport));
      expect(again.status).toBe(401);
      expect(again.headers['www-authenticate']).toBe(CORP_CHALLENGE);
      expect(oneLine(again.body)).toBe('ticket unknown, used, expired or issued for another service');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_FAILED: 1 });
  });

  it('a ticket is only good for the service that issued it', async () => {
    const issued = await request(httpUrl(transport, '/desk/ticket'), { headers: { Authorization: basicFor(world, 'root') }, tls: tlsOptions(world) });
    const ticket = world.secret((JSON.parse(issued.body) as { ticket: string }).ticket);
    const elsewhere = await refusedUpgrade(url(transport, `/ops?ticket=${ticket}`), undefined, opts(transport));
    expect(elsewhere.status).toBe(401);
    // Spent by the failed attempt elsewhere: tickets are single-use whatever the outcome.
    const home = await refusedUpgrade(url(transport, `/desk?ticket=${ticket}`), undefined, opts(transport));
    expect(home.status).toBe(401);
  });

  it('refuses missing, wrong and malformed credentials with 401, the challenges and a one-line body', async () => {
    const badToken = world.secret(
      await new SignJWT({ sub: 'mallory', exp: nowSeconds() + 600 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-of-thirty-two-bytes!!')),
    );
    const errors = await errorsDuring('desk', async () => {
      const none = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport));
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe(CORP_CHALLENGE);
      expect(oneLine(none.body)).toBe('authentication required for service desk');

      const wrong = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport, { Authorization: basicFor(world, 'alice', world.secret('not-alices-password')) }));
      expect(wrong.status).toBe(401);
      expect(wrong.headers['www-authenticate']).toBe(CORP_CHALLENGE);
      expect(oneLine(wrong.body)).toBe('authentication failed for user alice');

      const unknown = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport, { Authorization: basicFor(world, 'nobody', world.secret('nobodys-password')) }));
      expect(unknown.status).toBe(401);
      expect(oneLine(unknown.body)).toBe('authentication failed for user nobody');

      const forged = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport, { Authorization: `Bearer ${badToken}` }));
      expect(forged.status).toBe(401);
      expect(forged.headers['www-authenticate']).toBe('Basic realm="corp", charset="UTF-8", Bearer realm="corp", error="invalid_token"');
      expect(oneLine(forged.body)).toBe('authentication failed');

      const malformed = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport, { Authorization: 'Basic !!!' }));
      expect(malformed.status).toBe(401);
      expect(oneLine(malformed.body)).toBe('malformed Basic credentials');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_REQUIRED: 1, GW_ERR_AUTH_FAILED: 4 });
  });

  it('answers 403 with a body to an authenticated user without the roles (anyOf and allOf)', async () => {
    const errors = await errorsDuring('ops', async () => {
      // alice: none of anyOf; bob: ops but not staff (allOf).
      for (const user of ['alice', 'bob'] as const) {
        const r = await refusedUpgrade(url(transport, '/ops'), undefined, opts(transport, { Authorization: basicFor(world, user) }));
        expect(r.status).toBe(403);
        expect(r.headers['www-authenticate']).toBeUndefined();
        expect(oneLine(r.body)).toBe(`user ${user} lacks the roles service ops requires`);
      }
    });
    expect(errors).toEqual({ GW_ERR_FORBIDDEN: 2 });
    // root: admin (anyOf) and staff (allOf).
    const root = await openClient(res, url(transport, '/ops'), undefined, opts(transport, { Authorization: basicFor(world, 'root') }));
    await echo(root);
    // Roles from a token's claim count as well.
    const token = await world.sign({ sub: 'dave', roles: ['ops', 'staff'], exp: nowSeconds() + 600 }, 'HS256');
    const dave = await openClient(res, url(transport, '/ops'), undefined, opts(transport, { Authorization: `Bearer ${token}` }));
    await echo(dave);
    // No ticket for a user who could not use it.
    const ticket = await request(httpUrl(transport, '/ops/ticket'), { headers: { Authorization: basicFor(world, 'alice') }, tls: tlsOptions(world) });
    expect(ticket.status).toBe(403);
    expect(ticket.headers['x-gangway-error']).toBe('GW_ERR_FORBIDDEN');
  });
});

describe('TLS listener with two certificates', () => {
  it.each([
    [HOST_A, SERIAL_A],
    [HOST_B, SERIAL_B],
  ])('serves %s its own certificate and authenticates the upgrade behind it', async (servername, serial) => {
    const ws = rawClient(res, gw.wss('/desk'), { headers: { Authorization: basicFor(world, 'alice') }, ...tlsOptions(world, servername) });
    const served = servedSerial(ws);
    await opened(ws);
    expect(await served).toBe(serial);
    const back = nextMessage(ws);
    ws.send('over tls');
    expect((await back).data.toString()).toBe('over tls');
  });

  it('refuses credentials over TLS just as over plain WebSocket', async () => {
    const r = await refusedUpgrade(gw.wss('/desk'), undefined, { ...tlsOptions(world, HOST_B) });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(CORP_CHALLENGE);
  });
});

describe.each(TRANSPORTS)('origins over %s', (transport) => {
  const withOrigin = (origin: string): ClientOptions => opts(transport, { Authorization: basicFor(world, 'alice') }, { origin });

  it('refuses a foreign origin with 403 before looking at credentials, and counts it', async () => {
    const errors = await errorsDuring('app', async () => {
      for (const origin of ['https://evil.example', 'https://example.com', 'http://app.example.com', 'https://app.example.com:8443', 'null']) {
        const r = await refusedUpgrade(url(transport, '/app'), undefined, withOrigin(origin));
        expect([origin, r.status]).toEqual([origin, 403]);
        expect(oneLine(r.body)).toBe('origin not allowed for this service');
      }
    });
    expect(errors).toEqual({ GW_ERR_ORIGIN_REFUSED: 5 });
  });

  it('accepts the listed origin, subdomains of the wildcard at any depth, and clients sending no Origin', async () => {
    for (const origin of ['https://app.example.com', 'https://APP.example.com:443', 'https://eu.desk.example.com']) {
      const ws = await openClient(res, url(transport, '/app'), undefined, withOrigin(origin));
      await echo(ws);
    }
    const ws = await openClient(res, url(transport, '/app'), undefined, opts(transport, { Authorization: basicFor(world, 'alice') }));
    await echo(ws);
  });

  it('without origins, accepts only the same origin (no cross-site WebSocket hijacking of a cookie session)', async () => {
    const login = await request(httpUrl(transport, '/desk/login'), { headers: { Authorization: basicFor(world, 'alice') }, tls: tlsOptions(world) });
    const cookie = world.secret((login.headers['set-cookie']?.[0] ?? '').split(';')[0] as string);
    world.secret(cookie.slice('gangway_session='.length));
    const hijack = await refusedUpgrade(url(transport, '/desk'), undefined, opts(transport, { Cookie: cookie }, { origin: 'https://evil.example' }));
    expect(hijack.status).toBe(403);
    const own = new URL(httpUrl(transport, '/')).origin;
    const ws = await openClient(res, url(transport, '/desk'), undefined, opts(transport, { Cookie: cookie }, { origin: own }));
    await echo(ws);
  });
});

describe('the guard endpoints and CORS', () => {
  it('answers a same-origin preflight of POST /login and refuses a foreign one with 403, counted', async () => {
    const own = new URL(gw.http('/')).origin;
    const ok = await request(gw.http('/desk/login'), { method: 'OPTIONS', headers: { Origin: own, 'Access-Control-Request-Method': 'POST' } });
    expect(ok.status).toBe(204);
    expect(ok.headers).toMatchObject({ 'access-control-allow-origin': own, 'access-control-allow-methods': 'GET, POST', 'access-control-allow-headers': 'Authorization, Content-Type', 'access-control-max-age': '600' });
    const errors = await errorsDuring('desk', async () => {
      const foreign = await request(gw.http('/desk/login'), { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
      expect(foreign.status).toBe(403);
      expect(foreign.headers['x-gangway-error']).toBe('GW_ERR_ORIGIN_REFUSED');
      expect(oneLine(foreign.body)).toBe('origin not allowed');
    });
    expect(errors).toEqual({ GW_ERR_ORIGIN_REFUSED: 1 });
  });
});

describe('a guarded HTTP service (directory)', () => {
  it('answers a CORS preflight from an allowed origin with 204 and the configured methods, headers and max age', async () => {
    const r = await request(gw.http('/files/hello.txt'), { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'GET' } });
    expect(r.status).toBe(204);
    expect(r.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET',
      'access-control-allow-headers': 'Authorization',
      'access-control-max-age': '120',
      vary: 'Origin',
    });
    expect(r.body).toBe('');
  });

  it('refuses a preflight and a request from another origin with 403, and counts them', async () => {
    const errors = await errorsDuring('files', async () => {
      const pre = await request(gw.http('/files/hello.txt'), { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' } });
      expect(pre.status).toBe(403);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
      expect(oneLine(pre.body)).toBe('origin not allowed');
      const get = await request(gw.http('/files/hello.txt'), { method: 'GET', headers: { Origin: 'https://evil.example', Authorization: basicFor(world, 'alice') } });
      expect(get.status).toBe(403);
      expect(get.body).not.toContain('hello');
    });
    expect(errors).toEqual({ GW_ERR_ORIGIN_REFUSED: 2 });
  });

  it('serves with Basic or the realm cookie and refuses without credentials', async () => {
    const errors = await errorsDuring('files', async () => {
      const none = await request(gw.http('/files/hello.txt'), { method: 'GET', headers: { Origin: 'https://app.example.com' } });
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe('Basic realm="corp", charset="UTF-8"');
      expect(oneLine(none.body)).toBe('authentication required for service files');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_REQUIRED: 1 });

    const ok = await request(gw.http('/files/hello.txt'), { method: 'GET', headers: { Origin: 'https://app.example.com', Authorization: basicFor(world, 'viewer') } });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('hello from a guarded directory\n');
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');

    // The cookie from another service of the same realm opens this one too.
    const login = await request(gw.http('/desk/login'), { headers: { Authorization: basicFor(world, 'viewer') } });
    const cookie = world.secret((login.headers['set-cookie']?.[0] ?? '').split(';')[0] as string);
    world.secret(cookie.slice('gangway_session='.length));
    const viaCookie = await request(gw.http('/files/hello.txt'), { method: 'GET', headers: { Cookie: cookie } });
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.body).toBe('hello from a guarded directory\n');
  });
});

describe('a guarded management service', () => {
  it('answers its guard endpoints beside its exact paths: POST /login sets the cookie that opens /metrics', async () => {
    expect((await request(gw.http('/admin/metrics'), { method: 'GET' })).status).toBe(401);
    expect((await request(gw.http('/admin/metrics'), { method: 'GET', headers: { Authorization: basicFor(world, 'viewer') } })).status).toBe(403);
    const login = await request(gw.http('/admin/login'), { headers: { Authorization: basicFor(world, 'root') } });
    expect(login.status).toBe(200);
    const cookie = world.secret((login.headers['set-cookie']?.[0] ?? '').split(';')[0] as string);
    world.secret(cookie.slice('gangway_session='.length));
    const metrics = await request(gw.http('/admin/metrics'), { method: 'GET', headers: { Cookie: cookie } });
    expect([metrics.status, metrics.body.includes('gangway_sessions')]).toEqual([200, true]);
    expect((await request(gw.http('/admin/logout'), { headers: { Cookie: cookie } })).status).toBe(204);
    expect((await request(gw.http('/admin/other'), { method: 'GET', headers: { Cookie: cookie } })).status).toBe(404);
  });
});

