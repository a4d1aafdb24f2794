/**
 * The `http` login module end to end: a realm of the real Gateway delegating to a local HTTP
 * endpoint (a tiny node:http server standing in for the identity service), over ws:// and wss://
 * (a test CA). Accepted credentials open the session as the user and roles the endpoint names,
 * and the session closes when the endpoint's `expiresAt` passes; refused credentials, and an
 * endpoint that does not answer within `timeoutMs`, get 401 with `WWW-Authenticate`
 * (`GW_ERR_AUTH_FAILED`: a module error is a failure for the chain); a user without the roles, 403.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientOptions, WebSocket } from 'ws';
import { Resources, closed, nextMessage, openClient, refusedUpgrade, waitFor } from '../support/gateway';
import { listen } from '../security/support';
import { basicFor, createWorld, leakedSecrets, nowSeconds, oneLine, startAuthGateway, tlsOptions, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';

/** The endpoint's answers by user name (Basic) or token (Bearer). */
const ALICE_PW = 'alice-idp-Pw-41c7';
const VIEWER_PW = 'viewer-idp-Pw-88a0';
const ACCOUNTS: Readonly<Record<string, { readonly password: string; readonly roles: string[] }>> = {
  alice: { password: ALICE_PW, roles: ['trader'] },
  viewer: { password: VIEWER_PW, roles: ['viewer'] },
};
/** A user the endpoint never answers for. */
const SLOW_USER = 'slow';
/** A user the endpoint answers for (as a trader) only when a test says so. */
const QUEUED_USER = 'queued';
const TIMEOUT_MS = 300;
const CHALLENGE = 'Basic realm="idp", charset="UTF-8", Bearer realm="idp"';
/** Slack for timers firing and the close handshake. */
const LATE_MS = 1200;

type Transport = 'ws' | 'wss';
const TRANSPORTS: Transport[] = ['ws', 'wss'];

const suite = new Resources();
const res = new Resources();
let world: AuthWorld;
let gw: AuthGateway;
let endpointKey: string;
/** Tokens the endpoint accepts, with the user and the expiry (epoch seconds) it answers. */
const tokens = new Map<string, { user: string; expiresAt: number }>();
/** Bodies the endpoint received, and the endpoint key header sent with each. */
const seen: { body: Record<string, unknown>; key: string | undefined }[] = [];
/** Answers the endpoint holds back (the slow user), ended at teardown. */
const held: ServerResponse[] = [];
/** Answers for the queued user, waiting for a test to send them. */
const queued: (() => void)[] = [];

function answer(req: IncomingMessage, res2: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const key = req.headers['x-endpoint-key'];
    seen.push({ body, key: typeof key === 'string' ? key : undefined });
    const reply = (status: number, json?: unknown): void => {
      res2.writeHead(status, { 'content-type': 'application/json' });
      res2.end(json === undefined ? '' : JSON.stringify(json));
    };
    if (key !== endpointKey) return reply(401);
    if (body.scheme === 'bearer') {
      const t = tokens.get(String(body.token));
      return t === undefined ? reply(401) : reply(200, { user: t.user, roles: ['trader'], expiresAt: t.expiresAt });
    }
    if (body.username === SLOW_USER) {
      held.push(res2);
      return undefined;
    }
    if (body.username === QUEUED_USER) {
      queued.push(() => reply(200, { user: QUEUED_USER, roles: ['trader'] }));
      return undefined;
    }
    const account = ACCOUNTS[String(body.username)];
    return account !== undefined && account.password === body.password ? reply(200, { user: body.username, roles: account.roles }) : reply(401);
  });
}

beforeAll(async () => {
  world = await createWorld();
  for (const a of Object.values(ACCOUNTS)) world.secret(a.password);
  endpointKey = world.secret('endpoint-key-5d1e9b7c');
  const endpoint = await listen(answer);
  suite.add(() => {
    for (const r of held) r.destroy();
    return endpoint.close();
  });
  gw = await startAuthGateway(
    suite,
    world,
    `
realms:
  - name: idp
    modules:
      - type: http
        name: directory
        options:
          url: ${endpoint.url}/check
          timeoutMs: ${TIMEOUT_MS}
          headers: { x-endpoint-key: "${endpointKey}" }
  - name: idp-patient
    modules:
      - type: http
        name: directory
        options:
          url: ${endpoint.url}/check
          timeoutMs: 10000
          headers: { x-endpoint-key: "${endpointKey}" }
loginRateLimit: { maxFailuresPerAddress: 1000, maxFailuresPerUser: 1000 }
tls:
  certificates:
    - { cert: gw.crt, key: gw.key }
services:
  - name: desk
    type: echo
    accept: [ws://127.0.0.1:0/desk, wss://127.0.0.2:0/desk]
    auth: { realm: idp, schemes: [basic, bearer], authorization: { anyOf: [trader] } }
  - name: single
    type: echo
    accept: ws://127.0.0.1:0/single
    limits: { maxConnections: 1 }
    auth: { realm: idp-patient, schemes: [basic] }
`,
  );
});
afterEach(async () => {
  await res.closeAll();
  expect(leakedSecrets(world, gw.log)).toEqual([]);
});
afterAll(async () => {
  await suite.closeAll();
  world.cleanup();
});

/** Error counters of the service gained while `run` ran. */
async function errorsDuring(run: () => Promise<void>): Promise<Record<string, number>> {
  const before = gw.errors('desk');
  await run();
  const after = gw.errors('desk');
  const delta: Record<string, number> = {};
  for (const [code, n] of Object.entries(after)) if (n !== (before[code] ?? 0)) delta[code] = n - (before[code] ?? 0);
  return delta;
}

async function echo(ws: WebSocket): Promise<void> {
  const back = nextMessage(ws);
  ws.send('desk');
  expect((await back).data.toString()).toBe('desk');
}

describe('the connection limit and a login in progress', () => {
  it('counts the sessions opened while a login ran: the late one gets 503 naming the limit', async () => {
    const late = refusedUpgrade(gw.ws('/single'), undefined, { headers: { Authorization: basicFor(world, QUEUED_USER, world.secret('queued-users-password')) } });
    await waitFor(() => queued.length === 1, 5000, "the endpoint's request for the queued user");
    // The one place goes to a client whose login ends first.
    const first = await openClient(res, gw.ws('/single'), undefined, { headers: { Authorization: basicFor(world, 'alice', ALICE_PW) } });
    await echo(first);
    const before = gw.errors('single')['GW_ERR_TOO_MANY_CONNECTIONS'] ?? 0;
    queued.splice(0).forEach((send) => send());
    const r = await late;
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(oneLine(r.body)).toBe('service single is at its limit of 1 connections');
    expect(gw.errors('single')['GW_ERR_TOO_MANY_CONNECTIONS']).toBe(before + 1);
    expect(gw.log.events('session.open').filter((l) => l.service === 'single').map((l) => l.user)).toEqual(['alice']);
  });
});

describe.each(TRANSPORTS)('the http login module over %s', (transport) => {
  const desk = (): string => (transport === 'ws' ? gw.ws('/desk') : gw.wss('/desk'));
  const opts = (headers: Record<string, string> = {}): ClientOptions => (transport === 'ws' ? { headers } : { headers, ...tlsOptions(world) });

  it('opens the session as the user and roles the endpoint answers, having POSTed the credentials and its key', async () => {
    seen.length = 0;
    const ws = await openClient(res, desk(), undefined, opts({ Authorization: basicFor(world, 'alice', ALICE_PW) }));
    await echo(ws);
    expect(gw.log.events('session.open').at(-1)).toMatchObject({ service: 'desk', user: 'alice' });
    const id = gw.log.events('session.open').at(-1)?.session;
    const session = [...gw.gateway.sessions()].find((s) => s.id === id);
    expect([...(session?.subject?.roles ?? [])]).toEqual(['trader']);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.key).toBe(endpointKey);
    expect(seen[0]?.body).toEqual({ realm: 'idp', service: 'desk', scheme: 'basic', username: 'alice', password: ALICE_PW, remoteAddress: expect.stringMatching(/127\.0\.0\.1$/) as unknown });
  });

  it('refuses what the endpoint refuses with 401, the challenges and a one-line body; a user without the roles with 403', async () => {
    const errors = await errorsDuring(async () => {
      const wrong = await refusedUpgrade(desk(), undefined, opts({ Authorization: basicFor(world, 'alice', world.secret('not-alices-idp-password')) }));
      expect(wrong.status).toBe(401);
      expect(wrong.headers['www-authenticate']).toBe(CHALLENGE);
      expect(oneLine(wrong.body)).toBe('authentication failed for user alice');
      const token = world.secret(`unknown-token-${transport}-7c2e`);
      const bearer = await refusedUpgrade(desk(), undefined, opts({ Authorization: `Bearer ${token}` }));
      expect(bearer.status).toBe(401);
      expect(bearer.headers['www-authenticate']).toBe('Basic realm="idp", charset="UTF-8", Bearer realm="idp", error="invalid_token"');
      const viewer = await refusedUpgrade(desk(), undefined, opts({ Authorization: basicFor(world, 'viewer', VIEWER_PW) }));
      expect(viewer.status).toBe(403);
      expect(oneLine(viewer.body)).toBe('user viewer lacks the roles service desk requires');
    });
    expect(errors).toEqual({ GW_ERR_AUTH_FAILED: 2, GW_ERR_FORBIDDEN: 1 });
  });

  it(`answers 401 when the endpoint does not answer within timeoutMs (${TIMEOUT_MS} ms), and logs why`, async () => {
    const before = gw.log.events('login.module.error').length;
    const errors = await errorsDuring(async () => {
      const started = Date.now();
      const r = await refusedUpgrade(desk(), undefined, opts({ Authorization: basicFor(world, SLOW_USER, world.secret('slow-users-password')) }));
      expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe(CHALLENGE);
      expect(oneLine(r.body)).toBe(`authentication failed for user ${SLOW_USER}`);
    });
    expect(errors).toEqual({ GW_ERR_AUTH_FAILED: 1 });
    const logged = gw.log.events('login.module.error').slice(before);
    expect(logged).toEqual([expect.objectContaining({ realm: 'idp', module: 'directory', err: `login endpoint did not answer within ${TIMEOUT_MS} ms` })]);
  });

  it("closes the session with 1008 \"authorization expired\" at the endpoint's expiresAt", async () => {
    const token = world.secret(`opaque-token-${transport}-19af`);
    const exp = nowSeconds() + 2;
    tokens.set(token, { user: `bot-${transport}`, expiresAt: exp });
    const ws = await openClient(res, desk(), undefined, opts({ Authorization: `Bearer ${token}` }));
    await echo(ws);
    const close = await closed(ws);
    const at = Date.now();
    expect(close).toEqual({ code: 1008, reason: 'authorization expired' });
    expect(at).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(at).toBeLessThanOrEqual(exp * 1000 + LATE_MS);
    await waitFor(() => gw.log.events('session.close').some((l) => l.user === `bot-${transport}`), 2000, 'the session.close line');
    expect(gw.log.events('session.close').find((l) => l.user === `bot-${transport}`)).toMatchObject({ closeCode: 1008, error: 'GW_ERR_AUTH_EXPIRED' });
  });
});
