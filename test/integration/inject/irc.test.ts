/**
 * STARTTLS by Gangway and credential injection in `irc.proxy` with InspIRCd and Atheme (compose/up:
 * inspircd atheme): irc-framework over WebSocket holds no password; Gangway sends STARTTLS,
 * upgrades the link after 670, logs in (PASS with the stored server password, or SASL PLAIN to
 * the stored account, which Atheme checks), then sends the client's own lines. A TCP tap records
 * every byte Gangway sent.
 */
import { WebSocket } from 'ws';
import { Client, type ClientOptions } from 'irc-framework';
import { Resources, service, startGateway, tcpServer, type StartedGateway } from '../../support/gateway';
import { loadBackends, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { envValue, rawClient, startTap, type Tap } from '../proxies/support';
import { expectUpgradedLink, plainBlobs } from './upgrade';

jest.setTimeout(30_000);

const res = new Resources();
afterEach(() => res.closeAll());

let facts: Backends;
let port: number;
let password: string;
let saslUser: string;
let saslPassword: string;
beforeAll(async () => {
  facts = loadBackends();
  port = Number(envValue('INSPIRCD_PORT'));
  password = envValue('INSPIRCD_PASSWORD');
  saslUser = envValue('INSPIRCD_SASL_USER');
  saslPassword = envValue('INSPIRCD_SASL_PASSWORD');
  await requireInspircd();
});

interface WebSocketTransportOptions extends ClientOptions {
  transport: unknown;
  path: string;
  websocket_protocol: string;
}

const wsTransport: unknown = require('irc-framework/src/transports/websocket');

function installWebSocket(): void {
  const previous: unknown = Reflect.get(globalThis, 'WebSocket');
  Reflect.set(globalThis, 'WebSocket', WebSocket);
  res.add(() => {
    if (previous === undefined) Reflect.deleteProperty(globalThis, 'WebSocket');
    else Reflect.set(globalThis, 'WebSocket', previous);
  });
}

async function gateway(properties: Record<string, unknown>, target = port): Promise<{ gw: StartedGateway; tap: Tap }> {
  const tap = await startTap(res, { host: facts.host, port: target });
  const gw = await startGateway(res, { services: [service('irc-inject', 'irc.proxy', '/irc', { connect: `tcp://127.0.0.1:${tap.port}`, properties })] }, { level: 'debug' });
  return { gw, tap };
}

/** The server password as PASS (InspIRCd lists sasl too while Atheme is linked: `login: pass` says which). */
function injecting(pass: string): Record<string, unknown> {
  return { starttls: true, tls: { caFile: facts.caFile, serverName: 'localhost' }, inject: { source: 'service', username: 'irc', password: pass, login: 'pass' } };
}

/** The Atheme account's credential, with SASL PLAIN (`auto` chooses it when InspIRCd lists sasl). */
function saslInjecting(user: string, pass: string, login: 'auto' | 'sasl'): Record<string, unknown> {
  return { starttls: true, tls: { caFile: facts.caFile, serverName: 'localhost' }, inject: { source: 'service', username: user, password: pass, login } };
}

/** irc-framework through Gangway; resolves with the client and every line it read, or rejects on close. */
async function register(gw: StartedGateway, nick: string): Promise<{ irc: Client; lines: string[] }> {
  installWebSocket();
  const irc = new Client();
  const lines: string[] = [];
  irc.on('raw', (event) => {
    if (event.from_server) lines.push(event.line);
  });
  res.add(async () => {
    if (!irc.connected) return;
    const closed = new Promise<void>((resolve) => irc.once('close', () => resolve()));
    irc.quit('test done');
    await within(closed, 5000, 'IRC close');
  });
  const registered = new Promise<Client>((resolve, reject) => {
    irc.once('registered', () => resolve(irc));
    irc.once('close', () => reject(new Error(`closed before registration; read ${JSON.stringify(lines)}`)));
  });
  const options: WebSocketTransportOptions = {
    transport: wsTransport,
    host: '127.0.0.1',
    port: gw.port,
    path: '/irc',
    websocket_protocol: 'text.ircv3.net',
    nick,
    username: 'gangway',
    gecos: 'Gangway test',
    auto_reconnect: false,
    ping_interval: 0,
  };
  irc.connect(options);
  await within(registered, 8000, `IRC registration of ${nick} through Gangway`);
  return { irc, lines };
}

describe('irc.proxy: STARTTLS by Gangway and PASS injection with InspIRCd', () => {
  test('a client without the server password registers; TLS after 670; no plaintext PASS', async () => {
    const { gw, tap } = await gateway(injecting(password));
    const nick = unique('g').slice(0, 12).replace(/-/g, '');
    const { irc, lines } = await register(gw, nick);
    expect(lines.some((l) => / 670 /.test(l) || / 691 /.test(l))).toBe(false);

    // A message to a channel and back through the same session.
    const channel = `#${unique('inj').replace(/-/g, '').slice(0, 20)}`;
    irc.join(channel);
    await within(new Promise<void>((resolve) => irc.on('join', (e) => e.nick === nick && resolve())), 5000, 'join');

    const link = await tap.first();
    const sent = link.sent();
    expect(sent.subarray(0, 10).toString('latin1')).toBe('STARTTLS\r\n');
    expectUpgradedLink(link, { request: 'STARTTLS\r\n', agreement: /:\S+ 670 [^\r\n]*\r\n/, secrets: [password, ...plainBlobs('irc', password)] });
    expect(link.received().toString('latin1')).not.toMatch(/ 001 /);
    expect(sent.includes(Buffer.from('PASS'))).toBe(false);
    expect(sent.includes(Buffer.from(password))).toBe(false);
    expect(sent.includes(Buffer.from('NICK'))).toBe(false);
    expect(gw.log.text()).not.toContain(password);
    expect(gw.log.text()).toContain('back end link upgraded to TLS');
  });

  test('a wrong stored password: the server refuses the registration and the client is told', async () => {
    const { gw } = await gateway(injecting('not-the-password'));
    await expect(register(gw, 'wrongpass')).rejects.toThrow(/ERROR :Closing link: .*Access denied/);
  });

  test('the client PASS is dropped: with a wrong client password the stored one still works', async () => {
    const { gw } = await gateway(injecting(password));
    installWebSocket();
    const client = await rawClient(res, gw.ws('/irc'), 'text.ircv3.net');
    client.ws.send('PASS :client-wrong');
    client.ws.send('NICK rawinject');
    client.ws.send('USER raw 0 * :raw');
    await client.until((m) => m.some((x) => / 001 /.test(x.data.toString())), '001');
    client.ws.send('QUIT :done');
  });

  test('without STARTTLS, PASS over a plaintext link is refused with ERROR and nothing is sent', async () => {
    const { gw, tap } = await gateway({ inject: { source: 'service', username: 'irc', password, login: 'pass' } });
    // Gangway refuses as soon as the session starts: listen before the upgrade completes.
    const received: string[] = [];
    const ws = new WebSocket(gw.ws('/irc'), 'text.ircv3.net');
    res.add(() => ws.terminate());
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    const close = await within(new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))), 5000, 'the close');
    expect(close).toBe(1008);
    expect(received.join('\n')).toMatch(/^ERROR :.*unencrypted link/);
    const sent = (await tap.first()).sent();
    expect(sent.includes(Buffer.from(password))).toBe(false);
    expect(sent.includes(Buffer.from('NICK'))).toBe(false);
  });

  test('a server without STARTTLS (421): refused with ERROR, no password sent', async () => {
    const fake = await tcpServer(res, (socket) => {
      socket.on('data', (d: Buffer) => {
        if (d.toString().startsWith('STARTTLS')) socket.write(':fake 421 * STARTTLS :Unknown command\r\n');
      });
    });
    const { gw, tap } = await gateway(injecting(password), fake.port);
    const received: string[] = [];
    const ws = new WebSocket(gw.ws('/irc'), 'text.ircv3.net');
    res.add(() => ws.terminate());
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    ws.on('open', () => ws.send('NICK nostarttls'));
    const close = await within(new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))), 5000, 'the close');
    expect(close).toBe(1008);
    expect(received.join('\n')).toMatch(/^ERROR :the IRC server answered STARTTLS with 421/);
    const sent = (await tap.first()).sent().toString();
    expect(sent.startsWith('STARTTLS\r\n')).toBe(true);
    expect(sent).not.toContain('PASS');
    expect(sent).not.toContain(password);
    expect(sent).not.toContain('NICK');
  });
});

describe('irc.proxy: SASL PLAIN by Gangway with InspIRCd and Atheme', () => {
  test('a client without any password is logged in to the account; WHOIS shows it; no plaintext AUTHENTICATE', async () => {
    const { gw, tap } = await gateway(saslInjecting(saslUser, saslPassword, 'auto'));
    const nick = unique('s').slice(0, 12).replace(/-/g, '');
    const { irc, lines } = await register(gw, nick);
    // Gangway's negotiation stays with Gangway: the client saw only the answers to its own CAP lines.
    expect(lines.some((l) => /^AUTHENTICATE /.test(l) || / 90[0-8] /.test(l) || / CAP \S+ ACK :sasl/.test(l))).toBe(false);

    // RPL_WHOISACCOUNT: `330 <me> <nick> <account> :is logged in as`.
    const account = new Promise<string>((resolve) =>
      irc.on('raw', (event) => {
        const m = new RegExp(`^:\\S+ 330 ${nick} ${nick} (\\S+) `).exec(event.line);
        if (m) resolve(m[1] as string);
      }),
    );
    irc.raw('WHOIS', nick);
    expect(await within(account, 5000, 'the WHOIS account line')).toBe(saslUser);

    const sent = (await tap.first()).sent();
    expect(sent.subarray(0, 10).toString('latin1')).toBe('STARTTLS\r\n');
    expect(sent[10]).toBe(0x16);
    for (const text of ['AUTHENTICATE', 'CAP', saslPassword, Buffer.from(`\0${saslUser}\0${saslPassword}`).toString('base64')]) {
      expect(sent.includes(Buffer.from(text))).toBe(false);
    }
    expect(gw.log.text()).not.toContain(saslPassword);
    expect(gw.log.text()).toContain('logged in to the IRC server with SASL PLAIN');
  });

  test('a wrong account password: ERROR with the 904 in the client\'s protocol, close 1008', async () => {
    const { gw } = await gateway(saslInjecting(saslUser, 'not-the-account-password', 'sasl'));
    const received: string[] = [];
    const ws = new WebSocket(gw.ws('/irc'), 'text.ircv3.net');
    res.add(() => ws.terminate());
    ws.on('message', (data: Buffer) => received.push(data.toString()));
    ws.on('open', () => {
      ws.send('CAP LS 302');
      ws.send('NICK wrongsasl');
      ws.send('USER u 0 * :u');
    });
    const close = await within(new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code))), 8000, 'the close');
    expect(close).toBe(1008);
    expect(received).toEqual(['ERROR :the IRC server refused the SASL PLAIN login: 904 SASL authentication failed']);
    expect(gw.log.text()).toContain('GW_ERR_INJECT_LOGIN_REFUSED');
  });

  test('a client that does no CAP negotiation of its own registers, logged in', async () => {
    const { gw } = await gateway(saslInjecting(saslUser, saslPassword, 'sasl'));
    const nick = unique('r').slice(0, 12).replace(/-/g, '');
    const client = await rawClient(res, gw.ws('/irc'), 'text.ircv3.net');
    client.ws.send(`NICK ${nick}`);
    client.ws.send('USER raw 0 * :raw');
    await client.until((m) => m.some((x) => / 001 /.test(x.data.toString())), '001');
    client.ws.send(`WHOIS ${nick}`);
    await client.until((m) => m.some((x) => x.data.toString().startsWith(`:irc.localhost 330 ${nick} ${nick} ${saslUser} `)), 'the WHOIS account line');
    expect(client.messages.some((x) => /^(AUTHENTICATE|:\S+ (CAP|90\d) )/.test(x.data.toString()))).toBe(false);
    client.ws.send('QUIT :done');
  });
});

/** InspIRCd is not in test/support/backends.ts: a clear failure naming compose/up when it is down. */
async function requireInspircd(): Promise<void> {
  const net = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const s = net.connect({ host: facts.host, port }, () => {
      s.destroy();
      resolve();
    });
    s.once('error', (err) => reject(new Error(`InspIRCd is not answering on ${facts.host}:${port} (${err.message}); start it with compose/up inspircd`)));
  });
}
