/**
 * `irc.proxy` with real clients and ngIRCd (compose/up: ngircd): irc-framework over its
 * WebSocket transport through Gangway, WEBIRC passing the forwarded client address, and raw
 * `ws` clients sending malformed messages while a TCP tap records what reached the server.
 */
import { WebSocket } from 'ws';
import { Client, type ClientOptions, type JoinEvent, type MessageEvent } from 'irc-framework';
import { Resources, service, startGateway, type StartedGateway } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { ERRORS } from '../../../validators/irc';
import { envValue, errorCount, rawClient, startTap } from './support';

jest.setTimeout(30_000);

const SERVICE = 'irc';
/** A documentation address (RFC 5737) that no local client has. */
const FORWARDED_FOR = '198.51.100.7';

const res = new Resources();
afterEach(() => res.closeAll());

let facts: Backends;
beforeAll(async () => {
  facts = await requireBackend('ngircd');
});

function gateway(port: number, properties: Record<string, unknown> = {}, gangway: Record<string, unknown> = {}): Promise<StartedGateway> {
  return startGateway(res, { gangway, services: [service(SERVICE, 'irc.proxy', '/irc', { connect: `tcp://${facts.host}:${port}`, properties })] });
}

/**
 * irc-framework's WebSocket transport uses the global `WebSocket` (browsers have one; Node 20
 * does not): `ws`, sending `headers` on every upgrade. Restored after the test.
 */
function installWebSocket(headers: Record<string, string>): void {
  const previous: unknown = Reflect.get(globalThis, 'WebSocket');
  class HeaderWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  Reflect.set(globalThis, 'WebSocket', HeaderWebSocket);
  res.add(() => {
    if (previous === undefined) Reflect.deleteProperty(globalThis, 'WebSocket');
    else Reflect.set(globalThis, 'WebSocket', previous);
  });
}

/** Options irc-framework reads for its WebSocket transport (not in the shared type declarations). */
interface WebSocketTransportOptions extends ClientOptions {
  transport: unknown;
  path: string;
  websocket_protocol: string;
}

const wsTransport: unknown = require('irc-framework/src/transports/websocket');

/** Registers through Gangway; resolves once the server sent 001. Quits in teardown. */
async function register(gw: StartedGateway, nick: string): Promise<{ irc: Client; lines: string[] }> {
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
    irc.once('close', () => reject(new Error(`IRC connection of ${nick} closed before registration`)));
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
  await within(registered, 5000, `IRC registration of ${nick} through Gangway`);
  return { irc, lines };
}

function joined(irc: Client, nick: string, channel: string): Promise<JoinEvent> {
  return within(
    new Promise<JoinEvent>((resolve) => {
      irc.on('join', (event) => {
        if (event.nick === nick && event.channel === channel) resolve(event);
      });
    }),
    5000,
    `${nick} joining ${channel}`,
  );
}

/** Sends WHOIS and resolves with the host of the 311 reply once the list ends (318). */
async function whoisHost(irc: Client, lines: string[], nick: string): Promise<string | undefined> {
  const from = lines.length;
  irc.raw('WHOIS', nick);
  await within(
    new Promise<void>((resolve) => {
      irc.on('raw', (event) => {
        if (event.from_server && / 318 /.test(event.line)) resolve();
      });
    }),
    5000,
    'WHOIS reply',
  );
  const reply = lines.slice(from).find((l) => new RegExp(` 311 \\S+ ${nick} `).test(l));
  return reply?.split(' ')[5];
}

describe('irc.proxy with irc-framework', () => {
  it('registers two clients, joins a channel and carries PRIVMSG between them', async () => {
    installWebSocket({});
    const gw = await gateway(facts.irc.port);
    const nickA = unique('a').slice(0, 20);
    const nickB = unique('b').slice(0, 20);
    const channel = `#${unique('gw')}`;
    const { irc: a } = await register(gw, nickA);
    const { irc: b, lines: bLines } = await register(gw, nickB);

    const aJoined = joined(a, nickA, channel);
    a.join(channel);
    await aJoined;
    const bSeenByA = joined(a, nickB, channel);
    b.join(channel);
    await bSeenByA;

    const body = unique('hello through Gangway');
    const received = within(
      new Promise<MessageEvent>((resolve) => {
        b.on('privmsg', (event) => {
          if (event.message === body) resolve(event);
        });
      }),
      5000,
      `message in ${channel}`,
    );
    a.say(channel, body);
    const message = await received;
    expect(message.nick).toBe(nickA);
    expect(message.target).toBe(channel);
    expect(message.hostname).toBe(facts.host);
    // One IRC message per WebSocket message, without its line end, exactly as the server sent it.
    const line = bLines.find((l) => l.endsWith(body));
    expect(line).toMatch(new RegExp(`^:${nickA}!~?gangway@${facts.host.replace(/\./g, '\\.')} PRIVMSG ${channel} :`));

    const frames = gw.gateway.metrics.service(SERVICE).frames;
    expect(frames.get('toServer PRIVMSG')).toBe(1);
    expect(frames.get('toClient PRIVMSG')).toBe(1);
    expect(frames.get('toServer JOIN')).toBe(2);
    expect(frames.get('toClient 001')).toBe(2);
  });

  it('passes the forwarded client address to ngIRCd with WEBIRC', async () => {
    installWebSocket({ 'X-Forwarded-For': FORWARDED_FOR });
    const gw = await gateway(facts.irc.port, { webirc: { password: envValue('IRC_WEBIRC_PASSWORD') } }, { trustedProxies: ['127.0.0.1'] });
    const nick = unique('w').slice(0, 20);
    const { irc, lines } = await register(gw, nick);
    expect([...gw.gateway.sessions()][0]?.remoteAddress).toBe(FORWARDED_FOR);

    // The server's own view: WHOIS reports the host (311) WEBIRC gave it.
    expect(await whoisHost(irc, lines, nick)).toBe(FORWARDED_FOR);
    expect(lines.some((l) => / 464 /.test(l))).toBe(false);

    const channel = `#${unique('webirc')}`;
    const own = joined(irc, nick, channel);
    irc.join(channel);
    expect((await own).hostname).toBe(FORWARDED_FOR);
  });

  it('shows Gangway\'s own address when ngIRCd refuses the WEBIRC password', async () => {
    installWebSocket({ 'X-Forwarded-For': FORWARDED_FOR });
    const gw = await gateway(facts.irc.port, { webirc: { password: 'not-the-password' } }, { trustedProxies: ['127.0.0.1'] });
    const nick = unique('v').slice(0, 20);
    const { irc, lines } = await register(gw, nick);
    // ngIRCd answers 464 and registers the connection under the address it sees: Gangway's.
    expect(lines.some((l) => / 464 /.test(l))).toBe(true);
    expect(await whoisHost(irc, lines, nick)).toBe(facts.host);
  });
});

describe('irc.proxy: malformed input', () => {
  interface Case {
    readonly what: string;
    readonly message: (mark: string) => string | Buffer;
    readonly code: string;
    readonly close: number;
  }
  const CASES: readonly Case[] = [
    { what: 'a prefix from the client', message: (m) => `:${m} PRIVMSG #x :hi`, code: 'GW_ERR_IRC_CLIENT_PREFIX', close: 1008 },
    { what: 'a numeric from the client', message: (m) => `001 ${m} :welcome`, code: 'GW_ERR_IRC_COMMAND_NOT_ALLOWED', close: 1008 },
    { what: 'a line end inside a message', message: (m) => `PRIVMSG #x :${m}\r\nQUIT :bye`, code: 'GW_ERR_IRC_FORBIDDEN_CHAR', close: 1008 },
    { what: 'a message above 510 bytes', message: (m) => `PRIVMSG #x :${m}${'y'.repeat(520)}`, code: 'GW_ERR_IRC_LINE_TOO_LONG', close: 1009 },
    { what: 'an empty tag key', message: (m) => `@;a=b PRIVMSG #x :${m}`, code: 'GW_ERR_IRC_BAD_TAG', close: 1002 },
    { what: 'a command of letters and digits', message: (m) => `PR1VMSG #x :${m}`, code: 'GW_ERR_IRC_BAD_COMMAND', close: 1002 },
    { what: 'bytes that are not UTF-8', message: (m) => Buffer.concat([Buffer.from(`PRIVMSG #x :${m}`), Buffer.from([0xc3, 0x28])]), code: 'GW_ERR_IRC_BAD_UTF8', close: 1007 },
  ];

  it.each(CASES)('refuses $what with ERROR and close $close; nothing of it reaches ngIRCd', async ({ message, code, close }) => {
    const tap = await startTap(res, { host: facts.host, port: facts.irc.port });
    const gw = await gateway(tap.port);
    const client = await rawClient(res, gw.ws('/irc'), 'text.ircv3.net');
    const nick = unique('m').slice(0, 20);
    const valid = [`NICK ${nick}`, 'USER gangway 0 * :Gangway test'];
    for (const line of valid) client.ws.send(line);
    await client.until((ms) => ms.some((m) => / 001 /.test(m.data.toString())), '001 from ngIRCd');

    const mark = unique('MARK');
    const bad = message(mark);
    client.ws.send(bad, { binary: Buffer.isBuffer(bad) });

    const { code: closeCode } = await within(client.closed, 5000, 'the close');
    expect(closeCode).toBe(close);
    // The documented reply (validators/irc/README.md): `ERROR :<catalogue summary> (<code>)`, one text message.
    const last = client.messages[client.messages.length - 1];
    expect(last?.isBinary).toBe(false);
    expect(last?.data.toString()).toBe(`ERROR :${Object.values(ERRORS).find((e) => e.code === code)?.summary ?? ''} (${code})`);
    expect(gw.log.records().filter((r) => r.msg === 'input refused')).toEqual([expect.objectContaining({ level: 'info', service: SERVICE, code, direction: 'toServer' })]);

    const conn = await tap.first();
    await within(conn.gangwayClosed, 5000, 'Gangway to close the server connection');
    // The client's valid lines, byte for byte, then at most Gangway's own QUIT ending the session.
    const clientLines = valid.map((l) => `${l}\r\n`).join('');
    const sent = conn.sent().toString();
    expect(sent.slice(0, clientLines.length)).toBe(clientLines);
    expect(sent.slice(clientLines.length)).toMatch(/^(QUIT :[^\r\n]*\r\n)?$/);
    expect(conn.sent().includes(mark)).toBe(false);
    expect(await errorCount(gw.gateway, SERVICE, code)).toBe(1);
  });
});
