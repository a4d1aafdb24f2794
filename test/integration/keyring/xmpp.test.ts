/**
 * Keyring injection in `xmpp.proxy` with the real Prosody (compose/up: prosody) on its host that
 * requires encryption (XMPP_SECURE_DOMAIN): @xmpp/client authenticates to Gangway with HTTP Basic
 * on the upgrade and answers SASL with an empty password; Gangway upgrades its link to Prosody
 * with STARTTLS and logs in with SASL (SCRAM-SHA-1, the strongest Prosody offers) and the user's
 * keyring entry, stored through the keyring's HTTP API. A TCP tap records every byte both ways.
 */
import type { WebSocket } from 'ws';
import { client, xml, type Client, type Element } from '@xmpp/client';
import { Resources } from '../../support/gateway';
import { requireBackend, type Backends, type Credentials } from '../../support/backends';
import { unique, within } from '../backends/async';
import { envValue, startTap, type Tap, type TapConnection } from '../proxies/support';
import { expectUpgradedLink, plainBlobs } from '../inject/upgrade';
import { authenticatedWebSocket, closeOf, createKeyringWorld, installGlobalWebSocket, nextConnection, store, type KeyringGateway, type KeyringWorld, type User } from './support';

const STARTTLS = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

jest.setTimeout(30_000);

let facts: Backends;
let domain: string;
let xmppAlice: Credentials;
let xmppBob: Credentials;
let world: KeyringWorld;
let gw: KeyringGateway;
let tap: Tap;

const suite = new Resources();
const res = new Resources();
const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(
    clients.splice(0).map(async (xmpp) => {
      xmpp.reconnect.stop();
      if (xmpp.status !== 'offline') await within(xmpp.stop(), 5000, 'XMPP stop');
    }),
  );
  await res.closeAll();
});
afterAll(async () => {
  await suite.closeAll();
  world.cleanup();
});

beforeAll(async () => {
  facts = await requireBackend('prosody');
  domain = envValue('XMPP_SECURE_DOMAIN');
  const [first, second] = facts.xmpp.users;
  if (!first || !second) throw new Error('compose/.env lists fewer than two XMPP users');
  xmppAlice = first;
  xmppBob = second;
  world = await createKeyringWorld();
  tap = await startTap(suite, { host: facts.host, port: facts.xmpp.c2sPort });
  gw = await world.start(suite, [
    {
      name: 'xmpp',
      type: 'xmpp.proxy',
      path: '/xmpp',
      connect: `tcp://127.0.0.1:${tap.port}`,
      properties: { starttls: true, tls: { caFile: facts.caFile, serverName: 'localhost' } },
    },
  ]);
});

/**
 * @xmpp/client as a Gangway user, started: it names itself `user` and answers Gangway's PLAIN
 * offer with an empty password. Resolves with the client and what its start gave.
 */
async function start(user: User): Promise<{ xmpp: Client; error: unknown; socket: WebSocket | undefined }> {
  const made: WebSocket[] = [];
  installGlobalWebSocket(res, authenticatedWebSocket(res, gw.authorization(user), made));
  const xmpp = client({
    service: gw.ws('/xmpp'),
    domain,
    resource: unique('keyring'),
    credentials: async (authenticate) => {
      await authenticate({ username: user, password: '' }, 'PLAIN');
    },
  });
  clients.push(xmpp);
  xmpp.on('error', () => undefined);
  const error = await within(
    xmpp.start().then(
      () => null,
      (err: unknown) => err,
    ),
    10000,
    `XMPP login of ${user} through Gangway`,
  );
  return { xmpp, error, socket: made[0] };
}

async function login(user: User): Promise<Client> {
  const { xmpp, error } = await start(user);
  if (error !== null) throw error;
  return xmpp;
}

/** The login's rejection, and the close code of its WebSocket once the stream is closed. */
async function refusedLogin(user: User): Promise<{ error: Error & { condition?: string }; close: () => Promise<number> }> {
  const { error, socket } = await start(user);
  if (!(error instanceof Error)) throw new Error(`the XMPP login of ${user} was accepted`);
  return { error, close: async () => (await within(closeOf(socket), 5000, 'the WebSocket close')).code };
}

/** A chat message to itself and back through the same session. */
async function roundTrip(xmpp: Client): Promise<void> {
  const body = unique('self');
  const echoed = within(
    new Promise<Element>((done) =>
      xmpp.on('stanza', (s: Element) => {
        if (s.is('message') && s.getChildText('body') === body) done(s);
      }),
    ),
    5000,
    'the message back',
  );
  await xmpp.send(xml('message', { to: xmpp.jid?.toString(), type: 'chat' }, xml('body', {}, body)));
  await echoed;
}

/**
 * The link as the tap saw it: STARTTLS, Prosody's `<proceed/>` in plaintext, then only TLS records
 * both ways; no `<auth/>` in plaintext and none of `secrets` anywhere.
 */
function expectTlsAfterStarttls(link: TapConnection, secrets: readonly string[] = []): void {
  expect(link.sent().indexOf(STARTTLS)).toBeGreaterThan(0);
  expectUpgradedLink(link, { request: STARTTLS, agreement: /<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/, secrets });
  expect(link.sent().includes(Buffer.from('<auth'))).toBe(false);
}

describe('keyring injection into XMPP SASL after STARTTLS by Gangway (Prosody, encryption required)', () => {
  test('alice logs in with her stored credential and round-trips; TLS after STARTTLS; no plaintext password on the wire or in the log', async () => {
    await store(gw, 'alice', 'xmpp', xmppAlice);
    const link = nextConnection(tap);
    const xmpp = await login('alice');
    expect(xmpp.jid?.bare().toString()).toBe(`${xmppAlice.username}@${domain}`);
    await roundTrip(xmpp);
    expectTlsAfterStarttls(await link(), [xmppAlice.password, ...plainBlobs(xmppAlice.username, xmppAlice.password)]);
    expect(gw.log.text()).toContain('back end link upgraded to TLS');
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('bob, with no entry: stream error not-authorized naming the missing credential, close 1008, no <auth/> sent', async () => {
    const link = nextConnection(tap);
    const { error, close } = await refusedLogin('bob');
    expect(error.name).toBe('StreamError');
    expect(error.condition).toBe('not-authorized');
    expect(error.message).toMatch(/no back-end credential for user bob on service xmpp/);
    expect(await close()).toBe(1008);
    expectTlsAfterStarttls(await link());
  });

  test('carol, with a wrong stored password: Prosody\'s SASL <failure><not-authorized/> reaches her', async () => {
    await store(gw, 'carol', 'xmpp', { username: xmppAlice.username, password: 'carol-wrong-xmpp-pw' });
    const { error } = await refusedLogin('carol');
    expect(error.name).toBe('SASLError');
    expect(error.condition).toBe('not-authorized');
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('dave: his entry (XMPP user bob) works, then after DELETE through the API the next session gets the no-credential stream error', async () => {
    await store(gw, 'dave', 'xmpp', xmppBob);
    const xmpp = await login('dave');
    expect(xmpp.jid?.bare().toString()).toBe(`${xmppBob.username}@${domain}`);
    expect((await gw.remove('dave', 'xmpp')).status).toBe(204);
    const { error, close } = await refusedLogin('dave');
    expect(error.condition).toBe('not-authorized');
    expect(error.message).toMatch(/no back-end credential for user dave on service xmpp/);
    expect(await close()).toBe(1008);
    expect(gw.leakedSecrets()).toEqual([]);
  });
});
