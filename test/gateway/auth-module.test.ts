/**
 * The example custom login module (examples/login-module/api-key-module.ts), loaded by path in a
 * realm of the real Gateway, as the `sufficient` first module before the users file, over ws://
 * and wss:// (a test CA): a known API key opens the session, an unknown one is refused, and
 * everyone else falls through to Basic.
 */
import { Resources, nextMessage, openClient, refusedUpgrade } from '../support/gateway';
import { EXAMPLE_MODULE, basicFor, createWorld, leakedSecrets, oneLine, sha256, startAuthGateway, tlsOptions, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';
import type { ClientOptions, WebSocket } from 'ws';

const API_KEY = 'feed-bot-key-3b9c1d7e5f';

const suite = new Resources();
const res = new Resources();
let world: AuthWorld;
let gw: AuthGateway;

beforeAll(async () => {
  world = await createWorld();
  world.secret(API_KEY);
  gw = await startAuthGateway(
    suite,
    world,
    `
realms:
  - name: machines
    modules:
      - type: custom
        name: api-key
        module: ${JSON.stringify(EXAMPLE_MODULE)}
        flag: sufficient
        options:
          header: X-Api-Key
          keys:
            "${sha256(API_KEY)}": { user: feed-bot, roles: [publisher] }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
tls:
  certificates:
    - { cert: gw.crt, key: gw.key }
services:
  - name: feed
    type: echo
    accept: [ws://127.0.0.1:0/feed, wss://127.0.0.2:0/feed]
    auth: { realm: machines, schemes: [basic], authorization: { anyOf: [publisher, trader] } }
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

const CHALLENGE = 'Basic realm="machines", charset="UTF-8"';

type Transport = 'ws' | 'wss';
const TRANSPORTS: Transport[] = ['ws', 'wss'];

async function echo(ws: WebSocket): Promise<void> {
  const back = nextMessage(ws);
  ws.send('feed');
  expect((await back).data.toString()).toBe('feed');
}

describe.each(TRANSPORTS)('the example API key login module in a gateway realm over %s', (transport) => {
  const feed = (): string => (transport === 'ws' ? gw.ws('/feed') : gw.wss('/feed'));
  const opts = (headers: Record<string, string> = {}): ClientOptions => (transport === 'ws' ? { headers } : { headers, ...tlsOptions(world) });

  it('opens the session for a known key, as the key\'s user with its roles', async () => {
    const ws = await openClient(res, feed(), undefined, opts({ 'X-Api-Key': API_KEY }));
    await echo(ws);
    const id = gw.log.events('session.open').at(-1)?.session;
    const session = [...gw.gateway.sessions()].find((s) => s.id === id);
    expect(session?.subject?.user).toBe('feed-bot');
    expect([...(session?.subject?.roles ?? [])]).toEqual(['publisher']);
    expect(session?.subject?.claims.authenticatedBy).toBe('api-key');
    expect(gw.log.events('session.open').at(-1)).toMatchObject({ service: 'feed', user: 'feed-bot' });
  });

  it('refuses an unknown key with 401 GW_ERR_AUTH_FAILED, and no credentials at all with GW_ERR_AUTH_REQUIRED', async () => {
    const before = gw.errors('feed');
    const wrong = await refusedUpgrade(feed(), undefined, opts({ 'X-Api-Key': world.secret('not-a-known-key-1234') }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe(CHALLENGE);
    expect(oneLine(wrong.body)).toBe('authentication failed');
    const none = await refusedUpgrade(feed(), undefined, opts());
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe(CHALLENGE);
    expect(oneLine(none.body)).toBe('authentication required for service feed');
    const after = gw.errors('feed');
    expect((after.GW_ERR_AUTH_FAILED ?? 0) - (before.GW_ERR_AUTH_FAILED ?? 0)).toBe(1);
    expect((after.GW_ERR_AUTH_REQUIRED ?? 0) - (before.GW_ERR_AUTH_REQUIRED ?? 0)).toBe(1);
  });

  it('lets other clients through the users file: a failed sufficient module does not doom the chain', async () => {
    const alice = await openClient(res, feed(), undefined, opts({ Authorization: basicFor(world, 'alice') }));
    await echo(alice);
    const both = await openClient(res, feed(), undefined, opts({ Authorization: basicFor(world, 'bob'), 'X-Api-Key': world.secret('another-unknown-key-99') }));
    await echo(both);
    expect(gw.log.events('session.open').slice(-2).map((l) => l.user)).toEqual(['alice', 'bob']);
    // Authenticated by the users file but without publisher or trader.
    const viewer = await refusedUpgrade(feed(), undefined, opts({ Authorization: basicFor(world, 'viewer') }));
    expect(viewer.status).toBe(403);
    expect(oneLine(viewer.body)).toBe('user viewer lacks the roles service feed requires');
  });
});
