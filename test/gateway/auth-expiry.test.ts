/**
 * Protocol-aware sessions closed when their authorization ends, through the real Gateway with
 * local TCP servers playing the back ends: the client first gets its protocol's own error where
 * the protocol has one at that point of its stream (a STOMP ERROR frame, an AMQP 0-9-1
 * Connection.Close or AMQP 1.0 close, an XMPP stream error, an IRC ERROR line), then 1008
 * "authorization expired"; the back end gets its protocol's goodbye where there is one, then a
 * clean end of connection (FIN, no reset).
 */
import type net from 'node:net';
import type { WebSocket } from 'ws';
import { protocol as amqp091Protocol, type Amqp091Frame } from '../../validators/amqp091';
import { protocol as amqp10Protocol, type Amqp10Frame } from '../../validators/amqp10';
import { Resources, closed, openClient, tcpServer, toBuffer, waitFor, type TcpServer } from '../support/gateway';
import { amqp091, amqp10 } from '../support/amqp-encode';
import { basicFor, createWorld, leakedSecrets, nowSeconds, startAuthGateway, type AuthGateway, type AuthWorld } from '../fixtures/auth/world';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const STREAMS = 'http://etherx.jabber.org/streams';
const STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';

/** Each test waits for a token to expire: its handshake must be done well before. */
const TEST_MS = 15_000;
/** Slack for timers firing and the close handshake. */
const LATE_MS = 1200;

const suite = new Resources();
const res = new Resources();
let world: AuthWorld;
let gw: AuthGateway;
const backends: Record<'stomp' | 'amqp' | 'xmpp' | 'irc' | 'jms', TcpServer> = {} as Record<'stomp' | 'amqp' | 'xmpp' | 'irc' | 'jms', TcpServer>;

/**
 * A STOMP broker just good enough for stomp.jms's broker connections: CONNECTED for CONNECT,
 * RECEIPT for every frame that asks for one.
 */
function fakeBroker(socket: net.Socket): void {
  let pending = '';
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let end: number;
    while ((end = pending.indexOf('\0')) >= 0) {
      const frame = pending.slice(0, end).replace(/^[\r\n]+/, '');
      pending = pending.slice(end + 1);
      const command = frame.slice(0, frame.indexOf('\n'));
      if (command === 'CONNECT' || command === 'STOMP') socket.write('CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0');
      const receipt = /\nreceipt:([^\n]*)/.exec(frame)?.[1];
      if (receipt !== undefined) socket.write(`RECEIPT\nreceipt-id:${receipt}\n\n\0`);
    }
  });
}

beforeAll(async () => {
  world = await createWorld();
  backends.stomp = await tcpServer(suite);
  backends.amqp = await tcpServer(suite);
  backends.xmpp = await tcpServer(suite);
  backends.irc = await tcpServer(suite);
  backends.jms = await tcpServer(suite, fakeBroker);
  const at = (name: keyof typeof backends): string => `tcp://127.0.0.1:${backends[name].port}`;
  gw = await startAuthGateway(
    suite,
    world,
    `
realms:
  - name: corp
    modules:
      - { type: jwt, name: tokens, flag: sufficient, options: { secretFile: jwt.secret, clockSkewSeconds: 0 } }
      - { type: file, name: users, flag: required, options: { path: users.yaml } }
services:
  - { name: stomp, type: stomp.proxy, accept: ws://127.0.0.1:0/stomp, connect: "${at('stomp')}", auth: { realm: corp, schemes: [bearer] } }
  - { name: stomp-short, type: stomp.proxy, accept: ws://127.0.0.1:0/stomp-short, connect: "${at('stomp')}", auth: { realm: corp, schemes: [basic], maxSessionSeconds: 1 } }
  - { name: amqp, type: amqp.proxy, accept: ws://127.0.0.1:0/amqp, connect: "${at('amqp')}", auth: { realm: corp, schemes: [bearer] } }
  - { name: xmpp, type: xmpp.proxy, accept: ws://127.0.0.1:0/xmpp, connect: "${at('xmpp')}", auth: { realm: corp, schemes: [bearer] } }
  - { name: irc, type: irc.proxy, accept: ws://127.0.0.1:0/irc, connect: "${at('irc')}", auth: { realm: corp, schemes: [bearer] } }
  - { name: jms, type: stomp.jms, accept: ws://127.0.0.1:0/jms, connect: "stomp://127.0.0.1:${backends.jms.port}", auth: { realm: corp, schemes: [bearer] } }
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

/** A client holding a token that expires at `exp` (epoch seconds), with every message it gets. */
interface Client {
  readonly ws: WebSocket;
  readonly got: Buffer[];
  /** The messages as text. */
  text(): string[];
}

async function client(path: string, exp: number, protocol?: string): Promise<Client> {
  const token = await world.sign({ sub: 'erin', exp }, 'HS256');
  const ws = await openClient(res, gw.ws(path), protocol, { headers: { Authorization: `Bearer ${token}` } });
  const got: Buffer[] = [];
  ws.on('message', (m) => got.push(toBuffer(m as Buffer)));
  return { ws, got, text: () => got.map((m) => m.toString('utf8')) };
}

/** The back end's side of one session: what it received, and how its connection ended. */
interface Backend {
  readonly socket: net.Socket;
  received(): Buffer;
  /** Resolves once the gateway's side has ended (FIN) and the connection is closed; `reset` tells whether it was cut instead. */
  readonly ended: Promise<{ fin: boolean; reset: boolean }>;
}

async function backendOf(server: TcpServer): Promise<Backend> {
  const socket = await server.nextSocket();
  const chunks: Buffer[] = [];
  let fin = false;
  let reset = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => {
    fin = true;
  });
  socket.on('error', () => {
    reset = true;
  });
  const ended = new Promise<{ fin: boolean; reset: boolean }>((resolve) => socket.once('close', () => resolve({ fin, reset })));
  return { socket, received: () => Buffer.concat(chunks), ended };
}

/** A token expiry 2–3 s ahead: time for a handshake, short for a test. */
function soon(): number {
  return nowSeconds() + 3;
}

/** Waits for the client's close and checks it is 1008 "authorization expired", at the token's expiry. */
async function expiresAt(c: Client, exp: number): Promise<void> {
  const close = await closed(c.ws);
  const at = Date.now();
  expect(close).toEqual({ code: 1008, reason: 'authorization expired' });
  expect(at).toBeGreaterThanOrEqual(exp * 1000 - 50);
  expect(at).toBeLessThanOrEqual(exp * 1000 + LATE_MS);
}

/** An ERROR frame as Gangway writes one. */
function stompError(message: string, code: string): string {
  const body = `${code}: ${message}\n`;
  return `ERROR\nmessage:${message}\ncode:${code}\ncontent-type:text/plain;charset=utf-8\ncontent-length:${Buffer.byteLength(body)}\n\n${body}\0`;
}

describe('stomp.proxy', () => {
  const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\n\n\0';
  const CONNECTED = 'CONNECTED\nversion:1.2\n\n\0';

  it(
    'sends an ERROR frame (message "authorization expired", code GW_ERR_AUTH_EXPIRED), then closes with 1008; the broker gets a clean end',
    async () => {
      const exp = soon();
      const c = await client('/stomp', exp, 'v12.stomp');
      c.ws.send(CONNECT);
      const broker = await backendOf(backends.stomp);
      await waitFor(() => broker.received().toString() === CONNECT, 5000, 'CONNECT at the broker');
      broker.socket.write(CONNECTED);
      await waitFor(() => c.got.length === 1, 5000, 'CONNECTED');
      await expiresAt(c, exp);
      expect(c.text()).toEqual([CONNECTED, stompError('authorization expired', 'GW_ERR_AUTH_EXPIRED')]);
      expect(await broker.ended).toEqual({ fin: true, reset: false });
      expect(broker.received().toString()).toBe(CONNECT);
      await waitFor(() => gw.log.events('session.close').some((l) => l.service === 'stomp'), 2000, 'the session.close line');
      expect(gw.log.events('session.close').find((l) => l.service === 'stomp')).toMatchObject({ closeCode: 1008, reason: 'authorization expired', error: 'GW_ERR_AUTH_EXPIRED' });
      expect(gw.errors('stomp')).toEqual({ GW_ERR_AUTH_EXPIRED: 1 });
    },
    TEST_MS,
  );

  it(
    'says "session lifetime reached" (GW_ERR_SESSION_LIFETIME) the same way at maxSessionSeconds',
    async () => {
      const ws = await openClient(res, gw.ws('/stomp-short'), 'v12.stomp', { headers: { Authorization: basicFor(world, 'alice') } });
      const got: string[] = [];
      ws.on('message', (m) => got.push(toBuffer(m as Buffer).toString()));
      ws.send(CONNECT);
      const broker = await backendOf(backends.stomp);
      await waitFor(() => broker.received().length > 0, 5000, 'CONNECT at the broker');
      broker.socket.write(CONNECTED);
      expect(await closed(ws)).toEqual({ code: 1008, reason: 'session lifetime reached' });
      expect(got).toEqual([CONNECTED, stompError('session lifetime reached', 'GW_ERR_SESSION_LIFETIME')]);
      expect(await broker.ended).toEqual({ fin: true, reset: false });
      expect(gw.errors('stomp-short')).toEqual({ GW_ERR_SESSION_LIFETIME: 1 });
    },
    TEST_MS,
  );
});

describe('stomp.jms', () => {
  it(
    'sends an ERROR frame after CONNECTED, then closes with 1008',
    async () => {
      const exp = soon();
      const c = await client('/jms', exp, 'v12.stomp');
      c.ws.send('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
      await waitFor(() => c.got.length === 1, 5000, 'CONNECTED');
      expect(c.text()[0]).toMatch(/^CONNECTED\nversion:1\.2\n/);
      await expiresAt(c, exp);
      expect(c.text()[1]).toBe(stompError('authorization expired', 'GW_ERR_AUTH_EXPIRED'));
      expect(c.got).toHaveLength(2);
      expect(gw.errors('jms')).toEqual({ GW_ERR_AUTH_EXPIRED: 1 });
    },
    TEST_MS,
  );
});

describe('xmpp.proxy', () => {
  const OPEN = `<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`;
  const HEADER_TO_SERVER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
  const S_HEADER = "<?xml version='1.0'?><stream:stream id='s1' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client' version='1.0'>";
  const S_FEATURES = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>";
  const S_SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
  const C_OPEN = `<open xmlns="${FRAMING}" from="localhost" id="s1" version="1.0"/>`;
  const C_FEATURES = `<features xmlns="${STREAMS}"><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></features>`;
  const C_AUTH = '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">AGVyaW4AcHc=</auth>';
  const ERROR = `<error xmlns="${STREAMS}"><policy-violation xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">authorization expired</text></error>`;
  const CLOSE = `<close xmlns="${FRAMING}"/>`;

  it(
    'sends <policy-violation/> and <close/> on an open stream, opens the stream first when the client awaits it, and says nothing before the client opened one',
    async () => {
      const exp = soon();
      // Open: the server answered the client's <open/>.
      const open = await client('/xmpp', exp, 'xmpp');
      open.ws.send(OPEN);
      const openServer = await backendOf(backends.xmpp);
      await waitFor(() => openServer.received().toString() === HEADER_TO_SERVER, 5000, 'the stream header');
      openServer.socket.write(S_HEADER + S_FEATURES);
      await waitFor(() => open.got.length === 2, 5000, 'open and features');
      // Awaiting: the client sent <open/>, the server has not answered.
      const awaiting = await client('/xmpp', exp, 'xmpp');
      awaiting.ws.send(OPEN);
      const awaitingServer = await backendOf(backends.xmpp);
      await waitFor(() => awaitingServer.received().toString() === HEADER_TO_SERVER, 5000, 'the stream header');
      // None: the client has sent nothing.
      const none = await client('/xmpp', exp, 'xmpp');
      const noneServer = await backendOf(backends.xmpp);
      // Restarting: after SASL <success/> the client has no stream until it sends a new <open/>.
      const restarting = await client('/xmpp', exp, 'xmpp');
      restarting.ws.send(OPEN);
      const restartingServer = await backendOf(backends.xmpp);
      await waitFor(() => restartingServer.received().length > 0, 5000, 'the stream header');
      restartingServer.socket.write(S_HEADER + S_FEATURES);
      await waitFor(() => restarting.got.length === 2, 5000, 'open and features');
      restarting.ws.send(C_AUTH);
      await waitFor(() => restartingServer.received().toString().endsWith(C_AUTH), 5000, 'the auth');
      restartingServer.socket.write(S_SUCCESS);
      await waitFor(() => restarting.got.length === 3, 5000, 'the success');

      await Promise.all([open, awaiting, none, restarting].map((c) => expiresAt(c, exp)));
      expect(open.text()).toEqual([C_OPEN, C_FEATURES, ERROR, CLOSE]);
      expect(awaiting.text()).toEqual([`<open xmlns="${FRAMING}" version="1.0"/>`, ERROR, CLOSE]);
      expect(none.text()).toEqual([]);
      expect(restarting.text()).toEqual([C_OPEN, C_FEATURES, S_SUCCESS]);

      // The server's stream is closed before the connection ends.
      expect(await openServer.ended).toEqual({ fin: true, reset: false });
      expect(openServer.received().toString()).toBe(`${HEADER_TO_SERVER}</stream:stream>`);
      expect(await awaitingServer.ended).toEqual({ fin: true, reset: false });
      expect(awaitingServer.received().toString()).toBe(`${HEADER_TO_SERVER}</stream:stream>`);
      expect(await noneServer.ended).toEqual({ fin: true, reset: false });
      expect(noneServer.received().length).toBe(0);
      expect(await restartingServer.ended).toEqual({ fin: true, reset: false });
      expect(gw.errors('xmpp')).toEqual({ GW_ERR_AUTH_EXPIRED: 4 });
    },
    TEST_MS,
  );
});

describe('amqp.proxy', () => {
  const START = amqp091.method(0, 'connection.start', { versionMajor: 0, versionMinor: 9, serverProperties: {}, mechanisms: 'PLAIN', locales: 'en_US' });
  const SASL_MECHANISMS = amqp10.sasl(0x40, [amqp10.symbols(['PLAIN'])]);

  /** Everything the client sent and got, read back by the validator's codecs (so it is well-formed AMQP in order). */
  function read091(sent: Buffer, got: readonly Buffer[]): Amqp091Frame[] {
    const pair = amqp091Protocol.createPair();
    pair.toServer.push(sent);
    return pair.toClient.push(Buffer.concat(got));
  }

  function read10(sent: Buffer, got: readonly Buffer[]): Amqp10Frame[] {
    const pair = amqp10Protocol.createPair();
    pair.toServer.push(sent);
    return pair.toClient.push(Buffer.concat(got));
  }

  /** The error of an AMQP 1.0 close: described list 0x1d (part 2 §2.8.14) of condition and description. */
  function closeError(frame: Amqp10Frame | undefined): unknown {
    return frame !== undefined && 'fields' in frame ? frame.fields['error'] : undefined;
  }
  const EXPIRED_10 = { descriptor: 0x1dn, value: ['amqp:unauthorized-access', 'authorization expired'] };

  it(
    '0-9-1: Connection.Close 320 once the client has Connection.Start, nothing before; 1.0: close with amqp:unauthorized-access after the header and open it lacks, nothing during SASL',
    async () => {
      const exp = soon();
      const header091 = amqp091.protocolHeader();
      const started = await client('/amqp', exp, 'amqp091');
      started.ws.send(header091);
      const startedServer = await backendOf(backends.amqp);
      await waitFor(() => startedServer.received().length === 8, 5000, 'the header');
      startedServer.socket.write(START);
      await waitFor(() => started.got.length === 1, 5000, 'Connection.Start');

      const waiting = await client('/amqp', exp, 'amqp091');
      waiting.ws.send(header091);
      const waitingServer = await backendOf(backends.amqp);
      await waitFor(() => waitingServer.received().length === 8, 5000, 'the header');

      const open10 = Buffer.concat([amqp10.protocolHeader(0), amqp10.performative(0, 0x10, [amqp10.string('client')])]);
      const opened = await client('/amqp', exp, 'amqp');
      opened.ws.send(open10);
      const openedServer = await backendOf(backends.amqp);
      await waitFor(() => openedServer.received().length === open10.length, 5000, 'header and open');
      openedServer.socket.write(Buffer.concat([amqp10.protocolHeader(0), amqp10.performative(0, 0x10, [amqp10.string('broker')])]));
      await waitFor(() => opened.got.length === 1, 5000, "the broker's header and open");

      const unanswered = await client('/amqp', exp, 'amqp');
      unanswered.ws.send(open10);
      const unansweredServer = await backendOf(backends.amqp);
      await waitFor(() => unansweredServer.received().length === open10.length, 5000, 'header and open');

      const sasl = await client('/amqp', exp, 'amqp');
      sasl.ws.send(amqp10.protocolHeader(3));
      const saslServer = await backendOf(backends.amqp);
      await waitFor(() => saslServer.received().length === 8, 5000, 'the SASL header');
      saslServer.socket.write(Buffer.concat([amqp10.protocolHeader(3), SASL_MECHANISMS]));
      await waitFor(() => sasl.got.length === 1, 5000, 'sasl-mechanisms');

      await Promise.all([started, waiting, opened, unanswered, sasl].map((c) => expiresAt(c, exp)));

      const s = read091(header091, started.got);
      expect(s.map((f) => f.kind)).toEqual(['connection.start', 'connection.close']);
      expect(s[1]).toMatchObject({ args: { replyCode: 320, replyText: 'CONNECTION_FORCED - authorization expired', classId: 0, methodId: 0 } });
      expect(waiting.got).toEqual([]);

      const o = read10(open10, opened.got);
      expect(o.map((f) => f.kind)).toEqual(['protocol-header', 'open', 'close']);
      expect(o[1]).toMatchObject({ fields: { containerId: 'broker' } });
      expect(closeError(o[2])).toEqual(EXPIRED_10);
      const u = read10(open10, unanswered.got);
      expect(u.map((f) => f.kind)).toEqual(['protocol-header', 'open', 'close']);
      expect(closeError(u[2])).toEqual(EXPIRED_10);
      // The header and open Gangway sent in the broker's place.
      expect(u[1]).toMatchObject({ fields: { containerId: 'gangway' } });
      expect(read10(amqp10.protocolHeader(3), sasl.got).map((f) => f.kind)).toEqual(['protocol-header', 'sasl-mechanisms']);

      for (const [server, sent] of [
        [startedServer, header091],
        [waitingServer, header091],
        [openedServer, open10],
        [unansweredServer, open10],
        [saslServer, amqp10.protocolHeader(3)],
      ] as const) {
        expect(await server.ended).toEqual({ fin: true, reset: false });
        expect(server.received()).toEqual(sent);
      }
      expect(gw.errors('amqp')).toEqual({ GW_ERR_AUTH_EXPIRED: 5 });
    },
    TEST_MS,
  );
});

describe('irc.proxy', () => {
  it(
    'sends "ERROR :authorization expired", then closes with 1008; the server gets QUIT with the reason and a clean end',
    async () => {
      const exp = soon();
      const c = await client('/irc', exp, 'text.ircv3.net');
      c.ws.send('NICK erin');
      c.ws.send('USER erin 0 * :Erin');
      const server = await backendOf(backends.irc);
      await waitFor(() => server.received().toString() === 'NICK erin\r\nUSER erin 0 * :Erin\r\n', 5000, 'NICK and USER');
      server.socket.write(':irc.test 001 erin :Welcome\r\n');
      await waitFor(() => c.got.length === 1, 5000, 'the welcome');
      await expiresAt(c, exp);
      expect(c.text()).toEqual([':irc.test 001 erin :Welcome', 'ERROR :authorization expired']);
      expect(await server.ended).toEqual({ fin: true, reset: false });
      expect(server.received().toString()).toBe('NICK erin\r\nUSER erin 0 * :Erin\r\nQUIT :authorization expired\r\n');
      expect(gw.errors('irc')).toEqual({ GW_ERR_AUTH_EXPIRED: 1 });
    },
    TEST_MS,
  );
});
