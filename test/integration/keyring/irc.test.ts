/**
 * Keyring injection in `irc.proxy` with InspIRCd and Atheme (compose/up: inspircd atheme):
 * irc-framework authenticates to Gangway with HTTP Basic on the upgrade and sends no password;
 * Gangway sends STARTTLS, upgrades its link after 670, then logs in with the user's keyring entry
 * (stored through the keyring's HTTP API): PASS with the server password on `/irc`, SASL PLAIN to
 * the Atheme account on `/irc-sasl`. A TCP tap records every byte both ways.
 */
import net from 'node:net';
import type { WebSocket } from 'ws';
import { Client, type ClientOptions } from 'irc-framework';
import { Resources } from '../../support/gateway';
import { loadBackends, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { envValue, startTap, type Tap, type TapConnection } from '../proxies/support';
import { expectUpgradedLink, plainBlobs } from '../inject/upgrade';
import { authenticatedWebSocket, closeOf, createKeyringWorld, installGlobalWebSocket, nextConnection, store, type KeyringGateway, type KeyringWorld, type User } from './support';

jest.setTimeout(30_000);

let facts: Backends;
let serverPassword: string;
let saslUser: string;
let saslPassword: string;
let world: KeyringWorld;
let gw: KeyringGateway;
let tap: Tap;

const suite = new Resources();
const res = new Resources();
afterEach(() => res.closeAll());
afterAll(async () => {
  await suite.closeAll();
  world.cleanup();
});

beforeAll(async () => {
  facts = loadBackends();
  const port = Number(envValue('INSPIRCD_PORT'));
  serverPassword = envValue('INSPIRCD_PASSWORD');
  saslUser = envValue('INSPIRCD_SASL_USER');
  saslPassword = envValue('INSPIRCD_SASL_PASSWORD');
  await requireInspircd(facts.host, port);
  world = await createKeyringWorld();
  tap = await startTap(suite, { host: facts.host, port });
  gw = await world.start(suite, [
    {
      name: 'irc',
      type: 'irc.proxy',
      path: '/irc',
      connect: `tcp://127.0.0.1:${tap.port}`,
      properties: { starttls: true, tls: { caFile: facts.caFile, serverName: 'localhost' } },
      inject: { login: 'pass' },
    },
    {
      name: 'irc-sasl',
      type: 'irc.proxy',
      path: '/irc-sasl',
      connect: `tcp://127.0.0.1:${tap.port}`,
      properties: { starttls: true, tls: { caFile: facts.caFile, serverName: 'localhost' } },
      inject: { login: 'sasl' },
    },
  ]);
});

interface WebSocketTransportOptions extends ClientOptions {
  transport: unknown;
  path: string;
  websocket_protocol: string;
}

const wsTransport: unknown = require('irc-framework/src/transports/websocket');

/** The outcome of an IRC registration through Gangway, with every line the client read. */
type Registration = { irc: Client; lines: string[] } | { lines: string[]; close: number };

/** irc-framework as a Gangway user (no password of its own), through the service at `path`. */
async function register(user: User, path = '/irc'): Promise<Registration> {
  const made: WebSocket[] = [];
  installGlobalWebSocket(res, authenticatedWebSocket(res, gw.authorization(user), made));
  const irc = new Client();
  const lines: string[] = [];
  irc.on('raw', (event) => {
    if (event.from_server) lines.push(event.line);
  });
  res.add(async () => {
    if (!irc.connected) return;
    const closed = new Promise<void>((done) => irc.once('close', () => done()));
    irc.quit('test done');
    await within(closed, 5000, 'IRC close');
  });
  const outcome = new Promise<boolean>((done) => {
    irc.once('registered', () => done(true));
    irc.once('close', () => done(false));
  });
  const options: WebSocketTransportOptions = {
    transport: wsTransport,
    host: '127.0.0.1',
    port: gw.gateway.port(),
    path,
    websocket_protocol: 'text.ircv3.net',
    nick: unique(user.slice(0, 3)).replace(/-/g, '').slice(0, 12),
    username: user,
    gecos: 'Gangway keyring test',
    auto_reconnect: false,
    ping_interval: 0,
  };
  irc.connect(options);
  if (await within(outcome, 8000, `IRC registration of ${user} through Gangway`)) return { irc, lines };
  return { lines, close: (await within(closeOf(made[0]), 5000, 'the WebSocket close')).code };
}

function registered(result: Registration): Client {
  if (!('irc' in result)) throw new Error(`closed (${result.close}) before registration; read ${JSON.stringify(result.lines)}`);
  return result.irc;
}

function refused(result: Registration): { lines: string[]; close: number } {
  if ('irc' in result) throw new Error('the registration succeeded');
  return result;
}

/**
 * The link as the tap saw it: STARTTLS first, InspIRCd's 670 in plaintext, then only TLS records
 * both ways; no password, and no PASS or NICK in plaintext.
 */
function expectTlsAfterStarttls(link: TapConnection, secrets: readonly string[] = [serverPassword, ...plainBlobs('irc', serverPassword)]): void {
  const sent = link.sent();
  expect(sent.subarray(0, 10).toString('latin1')).toBe('STARTTLS\r\n');
  expectUpgradedLink(link, { request: 'STARTTLS\r\n', agreement: /:\S+ 670 [^\r\n]*\r\n/, secrets: [...secrets] });
  expect(sent.includes(Buffer.from('PASS'))).toBe(false);
  expect(sent.includes(Buffer.from('NICK'))).toBe(false);
}

describe('keyring injection into IRC PASS after STARTTLS by Gangway (InspIRCd)', () => {
  test('alice registers with her stored server password and round-trips in a channel; TLS after 670; no plaintext password', async () => {
    await store(gw, 'alice', 'irc', { username: 'irc', password: serverPassword });
    const link = nextConnection(tap);
    const result = await register('alice');
    const irc = registered(result);
    expect(result.lines.some((l) => / 670 /.test(l))).toBe(false);

    // A second client of the same user hears a channel message from the first.
    const listener = registered(await register('alice'));
    const channel = `#${unique('kr').replace(/-/g, '').slice(0, 20)}`;
    const joined = (c: Client): Promise<void> => within(new Promise<void>((done) => c.on('join', (e) => e.nick === c.user.nick && e.channel === channel && done())), 5000, 'join');
    const listening = joined(listener);
    listener.join(channel);
    await listening;
    const speaking = joined(irc);
    irc.join(channel);
    await speaking;
    const text = unique('hello');
    const heard = within(new Promise<string>((done) => listener.on('message', (e) => e.message === text && done(e.nick))), 5000, 'the channel message');
    irc.say(channel, text);
    expect(await heard).toBe(irc.user.nick);

    expectTlsAfterStarttls(await link());
    expect(gw.log.text()).toContain('back end link upgraded to TLS');
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('bob, with no entry: ERROR line naming the missing credential, close 1008, no PASS sent', async () => {
    const link = nextConnection(tap);
    const { lines, close } = refused(await register('bob'));
    expect(lines).toContain('ERROR :no back-end credential for user bob on service irc');
    expect(close).toBe(1008);
    expectTlsAfterStarttls(await link());
  });

  test('carol, with a wrong stored password: InspIRCd\'s ERROR "Access denied" reaches her', async () => {
    await store(gw, 'carol', 'irc', { username: 'irc', password: 'carol-wrong-irc-pw' });
    const { lines } = refused(await register('carol'));
    expect(lines.some((l) => /^ERROR :Closing link: .*Access denied/.test(l))).toBe(true);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('dave: after DELETE of his entry through the API, the next session gets the no-credential ERROR', async () => {
    await store(gw, 'dave', 'irc', { username: 'irc', password: serverPassword });
    registered(await register('dave'));
    expect((await gw.remove('dave', 'irc')).status).toBe(204);
    const { lines, close } = refused(await register('dave'));
    expect(lines).toContain('ERROR :no back-end credential for user dave on service irc');
    expect(close).toBe(1008);
    expect(gw.leakedSecrets()).toEqual([]);
  });
});

describe('keyring injection into IRC SASL PLAIN after STARTTLS by Gangway (InspIRCd, Atheme)', () => {
  test('alice is logged in to her stored account: the server names it in WHOIS; no plaintext login', async () => {
    await store(gw, 'alice', 'irc-sasl', { username: saslUser, password: saslPassword });
    const link = nextConnection(tap);
    const irc = registered(await register('alice', '/irc-sasl'));
    const nick = irc.user.nick;
    const account = new Promise<string>((done) =>
      irc.on('raw', (event) => {
        const m = new RegExp(`^:\\S+ 330 ${nick} ${nick} (\\S+) `).exec(event.line);
        if (m) done(m[1] as string);
      }),
    );
    irc.raw('WHOIS', nick);
    expect(await within(account, 5000, 'the WHOIS account line')).toBe(saslUser);

    const conn = await link();
    expectTlsAfterStarttls(conn, [saslPassword, ...plainBlobs(saslUser, saslPassword)]);
    expect(conn.sent().includes(Buffer.from('AUTHENTICATE'))).toBe(false);
    expect(gw.leakedSecrets()).toEqual([]);
  });

  test('carol, with a wrong stored account password: ERROR with the server\'s 904, close 1008', async () => {
    await store(gw, 'carol', 'irc-sasl', { username: saslUser, password: 'carol-wrong-sasl-pw' });
    const { lines, close } = refused(await register('carol', '/irc-sasl'));
    expect(lines).toContain('ERROR :the IRC server refused the SASL PLAIN login: 904 SASL authentication failed');
    expect(close).toBe(1008);
    expect(gw.leakedSecrets()).toEqual([]);
  });
});

/** InspIRCd is not in test/support/backends.ts: a clear failure naming compose/up when it is down. */
async function requireInspircd(host: string, port: number): Promise<void> {
  await new Promise<void>((done, fail) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      done();
    });
    s.once('error', (err) => fail(new Error(`InspIRCd is not answering on ${host}:${port} (${err.message}); start it with compose/up inspircd`)));
  });
}
