/**
 * irc.proxy's own login with an injected credential, against a scripted IRC server on a local
 * TCP port: IRCv3 capability negotiation and SASL PLAIN (or PASS) before the client's first
 * line, the client's own CAP negotiation after it, and the refusals the client sees.
 */
import { WebSocket } from 'ws';
import { AUTHENTICATE_CHUNK, authenticateLines, ircInjectSchema } from '../../../src/services/inject/irc-sasl';
import { Resources, service, startGateway, tcpServer, waitFor } from '../../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

const ACCOUNT = 'alice';
const PASSWORD = 'alice-sasl-pw';

interface ServerScript {
  /** The server's `CAP LS` answer: one line per entry (all but the last sent with `*`), or `null` for 421. */
  readonly caps?: readonly string[] | null;
  /** Answer `CAP REQ :sasl` with NAK. */
  readonly nak?: boolean;
  /** The account and password the server accepts. */
  readonly account?: string;
  readonly password?: string;
}

interface ScriptedServer {
  /** Every line the server received, without line ends. */
  readonly lines: string[];
  readonly port: number;
}

/**
 * A scripted IRC server that keeps registration on hold while capability negotiation is open
 * (CAP LS or CAP REQ before registration opens it, CAP END closes it) and registers the client
 * (001) once it has NICK and USER and no negotiation is open; SASL PLAIN checks the credential.
 */
async function scriptedServer(script: ServerScript = {}): Promise<ScriptedServer> {
  const lines: string[] = [];
  const caps = script.caps === undefined ? ['multi-prefix sasl=PLAIN,EXTERNAL'] : script.caps;
  const server = await tcpServer(res, (socket) => {
    let pending = '';
    let capOpen = false;
    let nick: string | null = null;
    let user = false;
    let registered = false;
    let response = '';
    const reply = (line: string): void => {
      socket.write(`${line}\r\n`);
    };
    const register = (): void => {
      if (registered || capOpen || nick === null || !user) return;
      registered = true;
      reply(`:scripted 001 ${nick} :Welcome ${nick}`);
    };
    const handle = (line: string): void => {
      lines.push(line);
      const [command, ...args] = line.split(' ');
      switch (command) {
        case 'CAP':
          if (caps === null) {
            reply(':scripted 421 * CAP :Unknown command');
            return;
          }
          if (args[0] === 'LS') {
            if (!registered) capOpen = true;
            caps.forEach((list, i) => reply(`:scripted CAP * LS ${i < caps.length - 1 ? '* ' : ''}:${list}`));
          } else if (args[0] === 'REQ') {
            if (!registered) capOpen = true;
            const wanted = line.slice(line.indexOf(':') + 1);
            reply(`:scripted CAP * ${wanted === 'sasl' && script.nak === true ? 'NAK' : 'ACK'} :${wanted}`);
          } else if (args[0] === 'END') {
            capOpen = false;
            register();
          }
          return;
        case 'AUTHENTICATE':
          if (args[0] === 'PLAIN') {
            reply('AUTHENTICATE +');
            return;
          }
          if (args[0] !== '+') response += args[0];
          if (args[0] !== '+' && (args[0] as string).length === AUTHENTICATE_CHUNK) return;
          if (Buffer.from(response, 'base64').toString('utf8') === `\0${script.account ?? ACCOUNT}\0${script.password ?? PASSWORD}`) {
            reply(`:scripted 900 * *!u@127.0.0.1 ${script.account ?? ACCOUNT} :You are now logged in as ${script.account ?? ACCOUNT}`);
            reply(':scripted 903 * :SASL authentication successful');
          } else reply(':scripted 904 * :SASL authentication failed');
          response = '';
          return;
        case 'NICK':
          nick = args[0] as string;
          register();
          return;
        case 'USER':
          user = true;
          register();
          return;
        case 'QUIT':
          socket.end();
          return;
        default:
          return;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let end: number;
      while ((end = pending.indexOf('\r\n')) >= 0) {
        handle(pending.slice(0, end));
        pending = pending.slice(end + 2);
      }
    });
  });
  return { lines, port: server.port };
}

/** irc.proxy in front of the scripted server, injecting ACCOUNT/PASSWORD (plaintext link allowed unless told). */
async function gatewayFor(server: ScriptedServer, inject: Record<string, unknown> = {}): Promise<string> {
  const gw = await startGateway(res, {
    services: [
      service('irc', 'irc.proxy', '/irc', {
        connect: `tcp://127.0.0.1:${server.port}`,
        properties: { inject: { source: 'service', username: ACCOUNT, password: PASSWORD, allowPlaintextCredentials: true, ...inject } },
      }),
    ],
  });
  return gw.ws('/irc');
}

interface Client {
  readonly ws: WebSocket;
  /** Every message the client received. */
  readonly got: string[];
  /** The close code, once closed. */
  readonly closed: Promise<number>;
}

/**
 * A WebSocket IRC client, listening from the start (a refusal can come before the open event has
 * been handled); `react` answers server lines (a client that negotiates capabilities).
 */
async function client(url: string, react: (line: string, send: (l: string) => void) => void = () => undefined): Promise<Client> {
  const ws = new WebSocket(url, 'text.ircv3.net');
  res.add(() => ws.terminate());
  const got: string[] = [];
  ws.on('message', (data: Buffer) => {
    const line = data.toString('utf8');
    got.push(line);
    react(line, (l) => ws.send(l));
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, got, closed };
}

/** irc-framework's order: CAP LS 302, NICK, USER; CAP REQ after the LS answer, CAP END after ACK. */
function negotiating(line: string, send: (l: string) => void): void {
  if (/^:\S+ CAP \S+ LS :/.test(line)) send('CAP REQ :multi-prefix');
  else if (/^:\S+ CAP \S+ ACK :multi-prefix/.test(line)) send('CAP END');
}

const PLAIN_RESPONSE = Buffer.from(`\0${ACCOUNT}\0${PASSWORD}`).toString('base64');
const GANGWAY_SASL = ['CAP LS 302', 'CAP REQ :sasl', 'AUTHENTICATE PLAIN', `AUTHENTICATE ${PLAIN_RESPONSE}`, 'CAP END'];

describe('irc.proxy SASL PLAIN login by Gangway', () => {
  it('logs in before a client that negotiates capabilities itself; the client sees only its own replies', async () => {
    const server = await scriptedServer();
    const c = await client(await gatewayFor(server), negotiating);
    c.ws.send('CAP LS 302');
    c.ws.send('NICK nick1');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual([...GANGWAY_SASL, 'CAP LS 302', 'NICK nick1', 'USER u 0 * :User', 'CAP REQ :multi-prefix', 'CAP END']);
    expect(c.got).toEqual([':scripted CAP * LS :multi-prefix sasl=PLAIN,EXTERNAL', ':scripted CAP * ACK :multi-prefix', ':scripted 001 nick1 :Welcome nick1']);
  });

  it('logs in before a client that sends no CAP; registration follows NICK and USER', async () => {
    const server = await scriptedServer();
    const c = await client(await gatewayFor(server, { login: 'sasl' }));
    c.ws.send('NICK nick2');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual([...GANGWAY_SASL, 'NICK nick2', 'USER u 0 * :User']);
    expect(c.got).toEqual([':scripted 001 nick2 :Welcome nick2']);
  });

  it('reads a multi-line CAP LS 302 answer to its end before asking for sasl', async () => {
    const server = await scriptedServer({ caps: ['away-notify batch', 'chghost sasl', 'server-time'] });
    const c = await client(await gatewayFor(server));
    c.ws.send('NICK nick3');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual([...GANGWAY_SASL, 'NICK nick3', 'USER u 0 * :User']);
    expect(c.got).toEqual([':scripted 001 nick3 :Welcome nick3']);
  });

  it('splits a response longer than 400 bytes into AUTHENTICATE pieces, with + after a full last piece', async () => {
    // 2 NULs + 5 + 593 = 600 bytes: 800 base64 characters, two full pieces.
    const password = 'p'.repeat(593);
    const server = await scriptedServer({ password });
    const c = await client(await gatewayFor(server, { password }));
    c.ws.send('NICK nick4');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    const auth = server.lines.filter((l) => l.startsWith('AUTHENTICATE '));
    expect(auth.map((l) => l.length - 'AUTHENTICATE '.length)).toEqual([5, 400, 400, 1]);
    expect(auth[3]).toBe('AUTHENTICATE +');
  });

  it('a refused login: ERROR with the server numeric, close 1008, QUIT to the server, no client line sent', async () => {
    const server = await scriptedServer({ password: 'the-right-one' });
    const c = await client(await gatewayFor(server));
    c.ws.send('NICK nick5');
    c.ws.send('USER u 0 * :User');
    expect(await c.closed).toBe(1008);
    expect(c.got).toEqual(['ERROR :the IRC server refused the SASL PLAIN login: 904 SASL authentication failed']);
    await waitFor(() => server.lines.includes('QUIT :Gangway refused the client input'), 5000, 'QUIT at the server');
    expect(server.lines.some((l) => l.startsWith('NICK'))).toBe(false);
  });

  it('a NAK of sasl: ERROR naming the refusal, close 1008', async () => {
    const server = await scriptedServer({ nak: true });
    const c = await client(await gatewayFor(server));
    c.ws.send('NICK nick6');
    expect((await c.closed)).toBe(1008);
    expect(c.got).toEqual(['ERROR :the IRC server refused the sasl capability']);
    expect(server.lines).not.toContain('NICK nick6');
  });

  it('never starts the login over a plaintext link without allowPlaintextCredentials', async () => {
    const server = await scriptedServer();
    const c = await client(await gatewayFor(server, { allowPlaintextCredentials: false }));
    c.ws.send('NICK nick7');
    expect((await c.closed)).toBe(1008);
    expect(c.got).toHaveLength(1);
    expect(c.got[0]).toMatch(/^ERROR :refusing to send the back-end credential over an unencrypted link/);
    expect(server.lines.filter((l) => !l.startsWith('QUIT'))).toEqual([]);
  });
});

describe('irc.proxy login choice (inject.login)', () => {
  it('auto without sasl listed: CAP END, then PASS before the client lines', async () => {
    const server = await scriptedServer({ caps: ['multi-prefix away-notify'] });
    const c = await client(await gatewayFor(server), negotiating);
    c.ws.send('CAP LS 302');
    c.ws.send('NICK nick8');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual(['CAP LS 302', 'CAP END', `PASS :${PASSWORD}`, 'CAP LS 302', 'NICK nick8', 'USER u 0 * :User', 'CAP REQ :multi-prefix', 'CAP END']);
    expect(c.got).toEqual([':scripted CAP * LS :multi-prefix away-notify', ':scripted CAP * ACK :multi-prefix', ':scripted 001 nick8 :Welcome nick8']);
  });

  it('auto with sasl but without PLAIN among its mechanisms: PASS', async () => {
    const server = await scriptedServer({ caps: ['sasl=EXTERNAL,SCRAM-SHA-256'] });
    const c = await client(await gatewayFor(server));
    c.ws.send('NICK nick9');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual(['CAP LS 302', 'CAP END', `PASS :${PASSWORD}`, 'NICK nick9', 'USER u 0 * :User']);
  });

  it('auto with a server that does not know CAP (421): PASS, no CAP END; the 421 stays with Gangway', async () => {
    const server = await scriptedServer({ caps: null });
    const c = await client(await gatewayFor(server));
    c.ws.send('NICK nick10');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual(['CAP LS 302', `PASS :${PASSWORD}`, 'NICK nick10', 'USER u 0 * :User']);
    expect(c.got).toEqual([':scripted 001 nick10 :Welcome nick10']);
  });

  it('sasl without sasl listed: ERROR (unsupported login), close 1008, nothing of the client sent', async () => {
    const server = await scriptedServer({ caps: ['multi-prefix'] });
    const c = await client(await gatewayFor(server, { login: 'sasl' }));
    c.ws.send('NICK nick11');
    expect((await c.closed)).toBe(1008);
    expect(c.got).toEqual(['ERROR :the IRC server does not offer SASL; this service logs in with SASL PLAIN']);
    expect(server.lines).not.toContain(`PASS :${PASSWORD}`);
    expect(server.lines).not.toContain('NICK nick11');
  });

  it('pass: PASS first, no capability negotiation', async () => {
    const server = await scriptedServer();
    const c = await client(await gatewayFor(server, { login: 'pass' }));
    c.ws.send('NICK nick12');
    c.ws.send('USER u 0 * :User');
    await waitFor(() => c.got.some((l) => / 001 /.test(l)), 5000, '001 at the client');
    expect(server.lines).toEqual([`PASS :${PASSWORD}`, 'NICK nick12', 'USER u 0 * :User']);
  });
});

describe('ircInjectSchema and authenticateLines', () => {
  it('defaults login to auto and refuses other values, naming the key', () => {
    expect(ircInjectSchema.parse({ source: 'keyring' }).login).toBe('auto');
    const bad = ircInjectSchema.safeParse({ source: 'keyring', login: 'nickserv' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['login']);
    expect(ircInjectSchema.safeParse({ source: 'service', username: 'u' }).success).toBe(false);
  });

  it('cuts base64 at 400 characters and ends a full last piece with +', () => {
    const short = authenticateLines({ username: 'u', password: 'p' });
    expect(short).toEqual([`AUTHENTICATE ${Buffer.from('\0u\0p').toString('base64')}`]);
    // 3 + 297 = 300 bytes: exactly 400 base64 characters.
    const full = authenticateLines({ username: 'u', password: 'x'.repeat(297) });
    expect(full.map((l) => l.length)).toEqual([13 + 400, 14]);
    expect(full[1]).toBe('AUTHENTICATE +');
    // 301 bytes: 404 characters, a short second piece and no +.
    const over = authenticateLines({ username: 'u', password: 'x'.repeat(298) });
    expect(over.map((l) => l.length)).toEqual([13 + 400, 13 + 4]);
    expect(Buffer.from(over.map((l) => l.slice(13)).join(''), 'base64').toString()).toBe(`\0u\0${'x'.repeat(298)}`);
  });
});
