import { SignJWT } from 'jose';
import { Subject } from '../../security';
import { captureLogger, tempDir, request, basic } from './support';
import { startHarness, connect, closed, writeUsers, securityConfig, JWT_SECRET, USERS, type Harness } from './harness';

const token = (sub: string, expInSeconds: number, extra: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT({ sub, ...extra })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + expInSeconds)
    .sign(new TextEncoder().encode(JWT_SECRET));

let tmp: ReturnType<typeof tempDir>;
let h: Harness;

beforeAll(async () => {
  tmp = tempDir();
  await writeUsers(tmp.dir);
  h = await startHarness(captureLogger().log, tmp.dir, {
    chat: { realm: 'corp', schemes: ['basic', 'bearer', 'ticket', 'cookie'], origins: ['https://app.example.com', 'https://*.example.org'] },
    admin: { realm: 'corp', schemes: ['basic', 'ticket'], authorization: { anyOf: ['admin', 'root'] } },
    ops: { realm: 'corp', schemes: ['basic'], authorization: { allOf: ['trader', 'ops'] }, allowMissingOrigin: false, origins: ['https://ops.example.com'] },
    short: { realm: 'corp', schemes: ['basic'], maxSessionSeconds: 1 },
  });
});
afterAll(async () => {
  await h.close();
  tmp.cleanup();
});

describe('guard on WebSocket upgrades', () => {
  it('lets in a user with right Basic credentials, with the roles of the users file', async () => {
    const r = await connect(`${h.wsUrl}/chat`, { Authorization: basic('alice', USERS.alice.password) });
    if (!r.open) throw new Error(`refused ${r.status}`);
    expect(r.hello).toMatchObject({ user: 'alice', roles: ['trader'], scheme: 'basic' });
    r.ws.close();
  });

  it('answers a wrong password with 401 GW_ERR_AUTH_FAILED and challenges for the schemes offered', async () => {
    const r = await connect(`${h.wsUrl}/chat`, { Authorization: basic('alice', 'nope') });
    if (r.open) throw new Error('expected a refusal');
    expect(r.status).toBe(401);
    expect(r.headers['x-gangway-error']).toBe('GW_ERR_AUTH_FAILED');
    expect(r.headers['www-authenticate']).toBe('Basic realm="corp", charset="UTF-8", Bearer realm="corp"');
    expect(r.body.trim().split('\n')).toHaveLength(1);
  });

  it('answers no credentials with 401 GW_ERR_AUTH_REQUIRED, challenging only for Basic where only Basic is offered', async () => {
    const r = await connect(`${h.wsUrl}/admin`);
    if (r.open) throw new Error('expected a refusal');
    expect(r.status).toBe(401);
    expect(r.headers['x-gangway-error']).toBe('GW_ERR_AUTH_REQUIRED');
    expect(r.headers['www-authenticate']).toBe('Basic realm="corp", charset="UTF-8"');
  });

  it('does not take a scheme the service does not offer', async () => {
    const r = await connect(`${h.wsUrl}/admin`, { Authorization: `Bearer ${await token('root', 60, { roles: ['admin'] })}` });
    expect(r.open).toBe(false);
    if (!r.open) expect(r.headers['x-gangway-error']).toBe('GW_ERR_AUTH_REQUIRED');
  });

  it('lets in a valid Bearer JWT with its expiry, and refuses an expired one with an invalid_token challenge', async () => {
    const ok = await connect(`${h.wsUrl}/chat`, { Authorization: `Bearer ${await token('carol', 120, { roles: ['trader'] })}` });
    if (!ok.open) throw new Error('refused');
    expect(ok.hello.user).toBe('carol');
    expect(ok.hello.scheme).toBe('bearer');
    expect(ok.hello.expiresAt).toBeGreaterThan(Date.now());
    ok.ws.close();
    const expired = await connect(`${h.wsUrl}/chat`, { Authorization: `Bearer ${await token('carol', -5)}` });
    if (expired.open) throw new Error('expected a refusal');
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toContain('Bearer realm="corp", error="invalid_token"');
  });

  it('answers an authenticated user without the roles with 403 GW_ERR_FORBIDDEN (anyOf)', async () => {
    const r = await connect(`${h.wsUrl}/admin`, { Authorization: basic('alice', USERS.alice.password) });
    if (r.open) throw new Error('expected a refusal');
    expect(r.status).toBe(403);
    expect(r.headers['x-gangway-error']).toBe('GW_ERR_FORBIDDEN');
    const root = await connect(`${h.wsUrl}/admin`, { Authorization: basic('root', USERS.root.password) });
    expect(root.open).toBe(true);
    if (root.open) root.ws.close();
  });

  it('requires every role of allOf', async () => {
    const origin = { Origin: 'https://ops.example.com' };
    const alice = await connect(`${h.wsUrl}/ops`, { ...origin, Authorization: basic('alice', USERS.alice.password) });
    expect(alice.open ? 200 : alice.status).toBe(403);
    const bob = await connect(`${h.wsUrl}/ops`, { ...origin, Authorization: basic('bob', USERS.bob.password) });
    expect(bob.open).toBe(true);
    if (bob.open) bob.ws.close();
  });

  it('checks Origin: listed exact and wildcard origins pass, others get 403 GW_ERR_ORIGIN_REFUSED, missing Origin per service', async () => {
    const auth = { Authorization: basic('alice', USERS.alice.password) };
    for (const origin of ['https://app.example.com', 'https://x.example.org', 'https://a.b.example.org']) {
      const r = await connect(`${h.wsUrl}/chat`, { ...auth, Origin: origin });
      expect([origin, r.open]).toEqual([origin, true]);
      if (r.open) r.ws.close();
    }
    for (const origin of ['https://evil.example.com', 'http://app.example.com', 'https://example.org', 'null']) {
      const r = await connect(`${h.wsUrl}/chat`, { ...auth, Origin: origin });
      if (r.open) throw new Error(`${origin} was let in`);
      expect([origin, r.status, r.headers['x-gangway-error']]).toEqual([origin, 403, 'GW_ERR_ORIGIN_REFUSED']);
    }
    const missing = await connect(`${h.wsUrl}/ops`, { Authorization: basic('bob', USERS.bob.password) });
    expect(missing.open ? 200 : missing.headers['x-gangway-error']).toBe('GW_ERR_ORIGIN_REFUSED');
  });
});

describe('tickets for browsers', () => {
  it('issues a ticket to an authenticated POST /ticket and lets it open one WebSocket, once', async () => {
    const res = await request(`${h.url}/chat/ticket`, { method: 'POST', headers: { Authorization: basic('alice', USERS.alice.password) } });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(res.body) as { ticket: string; expiresInSeconds: number };
    expect(body.expiresInSeconds).toBe(30);
    expect(body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const first = await connect(`${h.wsUrl}/chat?ticket=${body.ticket}`);
    if (!first.open) throw new Error(`refused ${first.status}`);
    expect(first.hello).toMatchObject({ user: 'alice', roles: ['trader'], scheme: 'ticket' });
    first.ws.close();
    const again = await connect(`${h.wsUrl}/chat?ticket=${body.ticket}`);
    expect(again.open ? 200 : again.headers['x-gangway-error']).toBe('GW_ERR_AUTH_FAILED');
  });

  it('binds a ticket to the service it was issued for', async () => {
    const res = await request(`${h.url}/chat/ticket`, { method: 'POST', headers: { Authorization: basic('root', USERS.root.password) } });
    const { ticket } = JSON.parse(res.body) as { ticket: string };
    const elsewhere = await connect(`${h.wsUrl}/admin?ticket=${ticket}`);
    expect(elsewhere.open ? 200 : elsewhere.status).toBe(401);
  });

  it('refuses tickets to unauthenticated or unauthorized callers and to GET', async () => {
    expect((await request(`${h.url}/chat/ticket`, { method: 'POST' })).status).toBe(401);
    expect((await request(`${h.url}/admin/ticket`, { method: 'POST', headers: { Authorization: basic('alice', USERS.alice.password) } })).status).toBe(403);
    const get = await request(`${h.url}/chat/ticket`, { headers: { Authorization: basic('alice', USERS.alice.password) } });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST, OPTIONS');
  });

  it('answers a ticket preflight from an allowed origin and refuses one from another origin', async () => {
    const ok = await request(`${h.url}/chat/ticket`, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' } });
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(ok.headers['access-control-allow-credentials']).toBe('true');
    expect(ok.headers['access-control-allow-headers']).toBe('Authorization, Content-Type');
    const bad = await request(`${h.url}/chat/ticket`, { method: 'OPTIONS', headers: { Origin: 'https://evil.test', 'Access-Control-Request-Method': 'POST' } });
    expect(bad.status).toBe(403);
  });
});

describe('session cookies', () => {
  it('sets an encrypted cookie on POST /login that later WebSocket and HTTP requests present', async () => {
    const login = await request(`${h.url}/chat/login`, { method: 'POST', headers: { Authorization: basic('bob', USERS.bob.password) } });
    expect(login.status).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^gangway_session=v1\.k2\.[A-Za-z0-9_-]+; Path=\/; Max-Age=28800; HttpOnly; Secure; SameSite=Lax$/);
    expect(setCookie).not.toContain('bob');
    const cookie = setCookie.split(';')[0];
    const ws = await connect(`${h.wsUrl}/chat`, { Cookie: `other=1; ${cookie}` });
    if (!ws.open) throw new Error(`refused ${ws.status}`);
    expect(ws.hello).toMatchObject({ user: 'bob', roles: ['trader', 'ops'], scheme: 'cookie' });
    ws.ws.close();
    const data = await request(`${h.url}/chat/data`, { headers: { Cookie: cookie } });
    expect(data.status).toBe(200);
    expect(JSON.parse(data.body)).toMatchObject({ user: 'bob', scheme: 'cookie' });
    const ticket = await request(`${h.url}/chat/ticket`, { method: 'POST', headers: { Cookie: cookie } });
    expect(ticket.status).toBe(200);
  });

  it('treats a tampered cookie as no credentials, and clears the cookie on logout', async () => {
    const login = await request(`${h.url}/chat/login`, { method: 'POST', headers: { Authorization: basic('bob', USERS.bob.password) } });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    const at = cookie.length - 20;
    const tampered = `${cookie.slice(0, at)}${cookie[at] === 'A' ? 'B' : 'A'}${cookie.slice(at + 1)}`;
    const r = await request(`${h.url}/chat/data`, { headers: { Cookie: tampered } });
    expect(r.status).toBe(401);
    expect(r.headers['x-gangway-error']).toBe('GW_ERR_AUTH_REQUIRED');
    const out = await request(`${h.url}/chat/logout`, { method: 'POST', headers: { Cookie: cookie } });
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^gangway_session=; Path=\/; Max-Age=0; HttpOnly; Secure; SameSite=Lax$/);
  });
});

describe('failed-login rate limiting', () => {
  let limited: Harness;
  beforeAll(async () => {
    limited = await startHarness(
      captureLogger().log,
      tmp.dir,
      { chat: { realm: 'corp', schemes: ['basic'] } },
      securityConfig({ loginRateLimit: { windowSeconds: 60, maxFailuresPerUser: 2, maxFailuresPerAddress: 4 } }),
    );
  });
  afterAll(() => limited.close());

  it('answers 429 GW_ERR_LOGIN_RATE_LIMITED with Retry-After after too many failures for a user, even with the right password', async () => {
    for (let i = 0; i < 2; i++) expect((await request(`${limited.url}/chat/data`, { headers: { Authorization: basic('alice', 'bad') } })).status).toBe(401);
    const r = await request(`${limited.url}/chat/data`, { headers: { Authorization: basic('alice', USERS.alice.password) } });
    expect(r.status).toBe(429);
    expect(r.headers['x-gangway-error']).toBe('GW_ERR_LOGIN_RATE_LIMITED');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(59);
    const ws = await connect(`${limited.wsUrl}/chat`, { Authorization: basic('alice', USERS.alice.password) });
    expect(ws.open ? 200 : ws.status).toBe(429);
    expect((await request(`${limited.url}/chat/data`, { headers: { Authorization: basic('bob', USERS.bob.password) } })).status).toBe(200);
  });

  it('limits the client address across user names', async () => {
    for (const u of ['x1', 'x2']) await request(`${limited.url}/chat/data`, { headers: { Authorization: basic(u, 'bad') } });
    const r = await request(`${limited.url}/chat/data`, { headers: { Authorization: basic('root', USERS.root.password) } });
    expect(r.status).toBe(429);
  });
});

describe('session lifetime and refresh', () => {
  it('closes a session with 1008 "authorization expired" when its token expires', async () => {
    const r = await connect(`${h.wsUrl}/chat`, { Authorization: `Bearer ${await token('erin', 2)}` });
    if (!r.open) throw new Error('refused');
    const c = await closed(r.ws);
    expect(c).toEqual({ code: 1008, reason: 'authorization expired' });
  });

  it('closes a session with 1008 "session lifetime reached" at maxSessionSeconds', async () => {
    const r = await connect(`${h.wsUrl}/short`, { Authorization: basic('alice', USERS.alice.password) });
    if (!r.open) throw new Error('refused');
    const t0 = Date.now();
    expect(await closed(r.ws)).toEqual({ code: 1008, reason: 'session lifetime reached' });
    expect(Date.now() - t0).toBeGreaterThan(500);
  });

  it('keeps a session open past its first token when POST /refresh brings a new one for the same user', async () => {
    const key = 'client-chosen-refresh-key-0001';
    const r = await connect(`${h.wsUrl}/chat?refresh=${key}`, { Authorization: `Bearer ${await token('frank', 2)}` });
    if (!r.open) throw new Error('refused');
    let closedEarly = false;
    r.ws.once('close', () => (closedEarly = true));
    const unknown = await request(`${h.url}/chat/refresh?session=nope`, { method: 'POST', headers: { Authorization: `Bearer ${await token('frank', 60)}` } });
    expect([unknown.status, unknown.headers['x-gangway-error']]).toEqual([404, 'GW_ERR_SESSION_UNKNOWN']);
    const other = await request(`${h.url}/chat/refresh?session=${key}`, { method: 'POST', headers: { Authorization: `Bearer ${await token('mallory', 60)}` } });
    expect([other.status, other.headers['x-gangway-error']]).toEqual([403, 'GW_ERR_REFRESH_MISMATCH']);
    const bad = await request(`${h.url}/chat/refresh?session=${key}`, { method: 'POST', headers: { Authorization: 'Bearer not-a-token' } });
    expect(bad.status).toBe(401);
    const fresh = await token('frank', 60);
    const ok = await request(`${h.url}/chat/refresh?session=${r.hello.session}`, { method: 'POST', headers: { Authorization: `Bearer ${fresh}` } });
    expect(ok.status).toBe(200);
    const { expiresAt } = JSON.parse(ok.body) as { expiresAt: number };
    expect(expiresAt).toBeGreaterThan(Date.now() + 50_000);
    const byKey = await request(`${h.url}/chat/refresh?session=${key}`, { method: 'POST', headers: { Authorization: `Bearer ${fresh}` } });
    expect(byKey.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2600));
    expect(closedEarly).toBe(false);
    r.ws.close();
    await closed(r.ws);
    const gone = await request(`${h.url}/chat/refresh?session=${key}`, { method: 'POST', headers: { Authorization: `Bearer ${fresh}` } });
    expect(gone.status).toBe(404);
  });

  it('refreshes with credentials the gateway read itself (a control message), for the same user only', async () => {
    const guard = h.guards.get('chat');
    if (!guard) throw new Error('no guard');
    const closes: string[] = [];
    const subject = Subject.fromSnapshot({ realm: 'corp', user: 'alice', roles: ['trader'], expiresAt: Date.now() + 60_000 });
    const tracked = guard.track('manual-1', subject, (_code, reason) => closes.push(reason));
    expect(tracked.timer.deadline.reason).toBe('authorization expired');
    const wrongUser = await guard.refresh('manual-1', { credentials: { scheme: 'basic', username: 'bob', password: USERS.bob.password }, remoteAddress: '192.0.2.1' });
    expect(wrongUser).toMatchObject({ ok: false, status: 403, code: 'GW_ERR_REFRESH_MISMATCH' });
    const none = await guard.refresh('manual-1', { credentials: { scheme: 'none' }, remoteAddress: '192.0.2.1' });
    expect(none).toMatchObject({ ok: false, status: 401, code: 'GW_ERR_AUTH_REQUIRED' });
    const ok = await guard.refresh('manual-1', { credentials: { scheme: 'basic', username: 'alice', password: USERS.alice.password }, remoteAddress: '192.0.2.1' });
    expect(ok).toEqual({ ok: true, expiresAt: null });
    expect(subject.expiresAt).toBeUndefined();
    expect(tracked.timer.deadline.reason).toBe('session lifetime reached');
    await guard.end('manual-1');
    expect(await guard.refresh('manual-1', { credentials: { scheme: 'basic', username: 'alice', password: USERS.alice.password }, remoteAddress: '192.0.2.1' })).toMatchObject({ status: 404 });
    expect(closes).toEqual([]);
  });
});
