/**
 * No secret reaches a log line: every scheme, successful and failed, through every module type,
 * logged at trace level by a logger WITHOUT the gateway's redaction, so the library itself must
 * keep secrets out.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import { captureLogger, tempDir, request, basic, listen } from './support';
import { startHarness, connect, closed, writeUsers, securityConfig, JWT_SECRET, COOKIE_KEY_NEW, COOKIE_KEY_OLD, USERS, type Harness } from './harness';

const API_KEY = 'api-key-secret-value-9d8c7b';
const ENDPOINT_KEY = 'endpoint-shared-key-5f4e3d';
const HTTP_PASSWORD = 'http-user-password-1a2b';

describe('no secrets in logs', () => {
  const { log, lines } = captureLogger(false);
  const secrets: string[] = [API_KEY, ENDPOINT_KEY, HTTP_PASSWORD, JWT_SECRET, COOKIE_KEY_NEW, COOKIE_KEY_OLD, 'wrong-password-xyz', ...Object.values(USERS).map((u) => u.password)];
  let tmp: ReturnType<typeof tempDir>;
  let h: Harness;
  let endpoint: Awaited<ReturnType<typeof listen>>;

  const token = (sub: string, exp: number) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + exp)
      .sign(new TextEncoder().encode(JWT_SECRET));

  beforeAll(async () => {
    tmp = tempDir();
    await writeUsers(tmp.dir);
    endpoint = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { username?: string; password?: string };
        const ok = body.username === 'httpuser' && body.password === HTTP_PASSWORD;
        res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        res.end(ok ? JSON.stringify({ user: 'httpuser', roles: ['trader'] }) : '{}');
      });
    });
    const base = securityConfig();
    h = await startHarness(
      log,
      tmp.dir,
      { chat: { realm: 'corp', schemes: ['basic', 'bearer', 'ticket', 'cookie'] } },
      {
        ...base,
        realms: [
          {
            name: 'corp',
            modules: [
              {
                type: 'custom',
                name: 'api-key',
                flag: 'sufficient',
                module: resolve(__dirname, '../../examples/login-module/api-key-module.ts'),
                options: { keys: { [createHash('sha256').update(API_KEY).digest('hex')]: { user: 'bot', roles: ['trader'] } } },
              },
              { type: 'jwt', name: 'tokens', flag: 'sufficient', options: { secretFile: 'jwt.secret', clockSkewSeconds: 0 } },
              { type: 'http', name: 'idp', flag: 'sufficient', options: { url: `${endpoint.url}/check`, headers: { 'x-endpoint-key': ENDPOINT_KEY } } },
              { type: 'file', name: 'users', flag: 'required', options: { path: 'users.yaml' } },
            ],
          },
        ],
      },
    );
  });
  afterAll(async () => {
    await h.close();
    await endpoint.close();
    tmp.cleanup();
  });

  it('logs logins of every scheme and module, successful and failed, without any secret', async () => {
    const expectOpen = async (url: string, headers: Record<string, string>, open: boolean) => {
      const r = await connect(url, headers);
      expect([url.replace(/ticket=.*/, 'ticket'), r.open]).toEqual([url.replace(/ticket=.*/, 'ticket'), open]);
      if (r.open) {
        r.ws.close();
        await closed(r.ws);
      }
    };
    const ws = `${h.wsUrl}/chat`;
    // Basic through the users file and through the http endpoint.
    await expectOpen(ws, { Authorization: basic('alice', USERS.alice.password) }, true);
    await expectOpen(ws, { Authorization: basic('alice', 'wrong-password-xyz') }, false);
    await expectOpen(ws, { Authorization: basic('httpuser', HTTP_PASSWORD) }, true);
    // Bearer.
    const good = await token('carol', 60);
    const expired = await token('carol', -10);
    secrets.push(good, good.split('.')[2], expired, expired.split('.')[2]);
    await expectOpen(ws, { Authorization: `Bearer ${good}` }, true);
    await expectOpen(ws, { Authorization: `Bearer ${expired}` }, false);
    // API key header (custom module).
    await expectOpen(ws, { 'X-Api-Key': API_KEY }, true);
    await expectOpen(ws, { 'X-Api-Key': `${API_KEY}-wrong` }, false);
    secrets.push(`${API_KEY}-wrong`);
    // Ticket.
    const t = await request(`${h.url}/chat/ticket`, { method: 'POST', headers: { Authorization: basic('bob', USERS.bob.password) } });
    const { ticket } = JSON.parse(t.body) as { ticket: string };
    secrets.push(ticket);
    await expectOpen(`${ws}?ticket=${ticket}`, {}, true);
    await expectOpen(`${ws}?ticket=${ticket}`, {}, false);
    // Cookie.
    const login = await request(`${h.url}/chat/login`, { method: 'POST', headers: { Authorization: basic('bob', USERS.bob.password) } });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    const cookieValue = cookie.slice(cookie.indexOf('=') + 1);
    secrets.push(cookieValue, cookieValue.split('.')[2]);
    await expectOpen(ws, { Cookie: cookie }, true);
    await expectOpen(ws, { Cookie: `${cookie.slice(0, -12)}AAAAAAAAAAAA` }, false);
    // Refresh.
    const r = await connect(`${ws}?refresh=refresh-key-for-log-test`, { Authorization: `Bearer ${good}` });
    if (!r.open) throw new Error('refused');
    const fresh = await token('carol', 120);
    secrets.push(fresh, fresh.split('.')[2]);
    expect((await request(`${h.url}/chat/refresh?session=refresh-key-for-log-test`, { method: 'POST', headers: { Authorization: `Bearer ${fresh}` } })).status).toBe(200);
    expect((await request(`${h.url}/chat/refresh?session=refresh-key-for-log-test`, { method: 'POST', headers: { Authorization: basic('alice', 'wrong-password-xyz') } })).status).toBe(401);
    r.ws.close();
    await closed(r.ws);

    const all = lines.join('');
    expect(lines.length).toBeGreaterThan(20);
    expect(all).toContain('"event":"auth.ok"');
    expect(all).toContain('"event":"auth.failed"');
    expect(all).toContain('"event":"ticket.issued"');
    expect(all).toContain('"event":"session.refreshed"');
    const leaked = secrets.filter((s) => all.includes(s));
    expect(leaked).toEqual([]);
    // Basic credentials as sent on the wire are not in the logs either.
    expect(all).not.toContain(basic('alice', USERS.alice.password).slice(6));
  });
});
