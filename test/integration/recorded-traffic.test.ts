/**
 * Real client libraries talk to the real servers through a TCP tap that feeds every byte, both
 * directions, to Gangway's validators: the traffic of stompit, amqplib, rhea, irc-framework and
 * @xmpp/client with ActiveMQ, RabbitMQ, ngIRCd and Prosody must validate without a single error
 * (no false positives), and the validated frames must cover every byte that was readable. The
 * WebSocket payloads of @stomp/stompjs with RabbitMQ's Web-STOMP go through a WebSocket relay that
 * validates them the same way, each direction as one STOMP stream.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as amqpConnect } from 'amqplib';
import { create_container, type EventContext } from 'rhea';
import { Client as IrcClient } from 'irc-framework';
import { Client as StompJsClient, type IMessage } from '@stomp/stompjs';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { client as xmppClient, xml, type Client as XmppClient, type Element } from '@xmpp/client';
import { PROTOCOLS } from '../../validators';
import type { CodecPair, Direction, ProtocolModule, ProtocolName } from '../../validators/types';
import { requireBackend, type Backends, type Credentials } from '../support/backends';
import { unique, within } from './backends/async';
import { stompConnect, stompDisconnect, stompSend, stompSubscribe } from './backends/stomp';

// SCRAM logins from @xmpp/client take about a second each (Prosody's 10,000 PBKDF2 iterations),
// and more on a server that has just started.
jest.setTimeout(30000);

/** What a tap saw: the frames validated in each direction, the errors, and the bytes read. */
abstract class ValidatingTap {
  readonly kinds: Record<Direction, string[]> = { toServer: [], toClient: [] };
  /** Every validated frame as UTF-8 text, for assertions on what a frame carried. */
  readonly texts: Record<Direction, string[]> = { toServer: [], toClient: [] };
  readonly errors: string[] = [];
  readonly bytes: Record<Direction, number> = { toServer: 0, toClient: 0 };
  readonly validated: Record<Direction, number> = { toServer: 0, toClient: 0 };
  private readonly module: ProtocolModule;

  constructor(name: ProtocolName) {
    const module = PROTOCOLS.get(name);
    if (!module) throw new Error(`no validator for ${name}`);
    this.module = module;
  }

  /** Resolves with the port the tap listens on (127.0.0.1, chosen by the system). */
  abstract listen(): Promise<number>;

  abstract close(): Promise<void>;

  /** Validation for one connection: both directions through one codec pair, until the first error. */
  protected connection(): (direction: Direction, chunk: Buffer) => void {
    const pair: CodecPair = this.module.createPair();
    let validating = true;
    return (direction, chunk) => {
      if (!validating) return;
      this.bytes[direction] += chunk.length;
      try {
        for (const frame of pair[direction].push(chunk)) {
          this.kinds[direction].push(frame.kind);
          this.texts[direction].push(frame.raw.toString('utf8'));
          this.validated[direction] += frame.raw.length;
        }
      } catch (err) {
        this.errors.push(`${direction}: ${err instanceof Error ? err.message : String(err)}`);
        validating = false;
      }
    };
  }

  /** No error, the expected kinds seen, and every readable byte inside a validated frame. */
  async expectClean(kinds: Record<Direction, readonly string[]>): Promise<void> {
    await within(settled(() => this.validated.toClient === this.bytes.toClient && this.validated.toServer === this.bytes.toServer), 5000, 'validated frames covering the traffic');
    expect(this.errors).toEqual([]);
    for (const direction of ['toServer', 'toClient'] as const) expect(this.kinds[direction]).toEqual(expect.arrayContaining([...kinds[direction]]));
    expect(this.bytes.toServer).toBeGreaterThan(0);
    expect(this.bytes.toClient).toBeGreaterThan(0);
  }
}

/** A TCP forwarder that validates both directions of every connection it carries. */
class TcpTap extends ValidatingTap {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(name: ProtocolName, target: number) {
    super(name);
    this.server = net.createServer((client) => {
      const feed = this.connection();
      const upstream = net.connect(target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      client.on('data', (chunk: Buffer) => {
        feed('toServer', chunk);
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        feed('toClient', chunk);
        client.write(chunk);
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A WebSocket relay that validates the payloads of every connection it carries, each direction as
 * one stream of the protocol. The relay opens the upstream WebSocket with the subprotocols the
 * client offered and answers the client with the one the server chose.
 */
class WebSocketTap extends ValidatingTap {
  private readonly server = http.createServer();
  private readonly chosen = new WeakMap<http.IncomingMessage, string>();
  private readonly webSockets = new WebSocketServer({ noServer: true, handleProtocols: (_offered, request) => this.chosen.get(request) ?? false });
  private readonly sockets = new Set<WebSocket>();

  constructor(name: ProtocolName, target: string) {
    super(name);
    this.server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '');
      const upstream = new WebSocket(target, offered);
      this.sockets.add(upstream);
      upstream.once('error', () => socket.destroy());
      upstream.once('open', () => {
        this.chosen.set(request, upstream.protocol);
        this.webSockets.handleUpgrade(request, socket, head, (client) => this.relay(client, upstream));
      });
    });
  }

  private relay(client: WebSocket, upstream: WebSocket): void {
    this.sockets.add(client);
    const feed = this.connection();
    client.on('message', (data: RawData, isBinary: boolean) => {
      const payload = payloadOf(data);
      feed('toServer', payload);
      upstream.send(payload, { binary: isBinary });
    });
    upstream.on('message', (data: RawData, isBinary: boolean) => {
      const payload = payloadOf(data);
      feed('toClient', payload);
      client.send(payload, { binary: isBinary });
    });
    const end = (): void => {
      client.close();
      upstream.close();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A WebSocket message's payload as one buffer (`ws` delivers a Buffer with the default binary type). */
function payloadOf(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Resolves when `check` holds (polled every 10 ms). */
function settled(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => (check() ? resolve() : void setTimeout(poll, 10));
    poll();
  });
}

/**
 * The socket of @xmpp/client's `xmpp://` TCP transport, over a plain TCP connection. @xmpp/client
 * starts TLS whenever the server offers STARTTLS and the socket is a `net.Socket` (@xmpp/starttls
 * `canUpgrade`); this one wraps a `net.Socket` without being one, so the stream stays plain (as on
 * Gangway's link from `xmpp.proxy` to Prosody) and the tap reads the whole session.
 */
class PlainXmppSocket extends EventEmitter {
  /** Read by @xmpp/connection's `isSecure()`. */
  readonly secure = false;
  private socket: net.Socket | null = null;

  connect(params: { port: number; host: string }): void {
    const socket = net.connect(params.port, params.host);
    this.socket = socket;
    socket.on('connect', () => this.emit('connect'));
    socket.on('data', (chunk: Buffer) => this.emit('data', chunk));
    socket.on('error', (err: Error) => this.emit('error', err));
    socket.on('close', (hadError: boolean) => this.emit('close', hadError));
  }

  write(data: string, done: (err?: Error | null) => void): void {
    if (this.socket === null) done(new Error('not connected'));
    else this.socket.write(data, done);
  }

  end(): void {
    this.socket?.end();
  }
}

/** What @xmpp/client-core reads of a transport: members of its prototype. */
interface XmppTransport {
  readonly prototype: object;
}

/** Puts @xmpp/client's own TCP transport, with {@link PlainXmppSocket} as its socket, first among the client's transports. */
function usePlainTcp(xmpp: XmppClient): void {
  const transports: unknown = Reflect.get(xmpp, 'transports');
  if (!Array.isArray(transports)) throw new Error('@xmpp/client: no transports list (has its layout changed?)');
  const tcp = (transports as XmppTransport[]).find((transport) => {
    const socketParameters = Reflect.get(transport.prototype, 'socketParameters') as (service: string) => unknown;
    return Reflect.apply(socketParameters, transport.prototype, ['xmpp://127.0.0.1:5222']) !== undefined;
  });
  if (!tcp) throw new Error('@xmpp/client: no TCP transport');
  transports.unshift({ prototype: Object.create(tcp.prototype, { Socket: { value: PlainXmppSocket } }) });
}

/** An @xmpp/client that logged in through the tap, the mechanisms Prosody offered, and the client's errors. */
interface XmppSession {
  readonly xmpp: XmppClient;
  readonly mechanisms: readonly string[];
  readonly errors: Error[];
}

/** Logs in over plain TCP with SCRAM-SHA-1, binds a resource and sends initial presence. */
async function xmppLogin(port: number, domain: string, account: Credentials, sessions: XmppSession[]): Promise<XmppSession> {
  const mechanisms: string[] = [];
  const xmpp = xmppClient({
    service: `xmpp://127.0.0.1:${port}`,
    domain,
    resource: unique('recorded'),
    timeout: 10000,
    credentials: async (authenticate, offered) => {
      mechanisms.push(...offered);
      await authenticate({ username: account.username, password: account.password }, 'SCRAM-SHA-1');
    },
  });
  usePlainTcp(xmpp);
  const session: XmppSession = { xmpp, mechanisms, errors: [] };
  sessions.push(session);
  xmpp.on('error', (error) => session.errors.push(error));
  await within(xmpp.start(), 15000, `XMPP login of ${account.username}`);
  await xmpp.send(xml('presence', {}));
  return session;
}

/** Resolves with the first stanza accepted by `match`. */
function nextStanza(xmpp: XmppClient, what: string, match: (stanza: Element) => boolean): Promise<Element> {
  return within(
    new Promise<Element>((resolve) => {
      const listener = (stanza: Element): void => {
        if (!match(stanza)) return;
        xmpp.off('stanza', listener);
        resolve(stanza);
      };
      xmpp.on('stanza', listener);
    }),
    5000,
    what,
  );
}

/** Joins a MUC room and waits for the self-presence (status code 110, XEP-0045 §7.2.3). */
async function joinRoom(xmpp: XmppClient, room: string, nick: string): Promise<void> {
  const joined = nextStanza(xmpp, `join ${room} as ${nick}`, (s) =>
    s.is('presence') && s.attrs.from === `${room}/${nick}` &&
    (s.getChild('x', 'http://jabber.org/protocol/muc#user')?.getChildren('status').some((status) => status.attrs.code === '110') ?? false));
  await xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: 'http://jabber.org/protocol/muc' })));
  await joined;
}

describe('real traffic validates in both directions', () => {
  let facts: Backends;
  let tap: ValidatingTap | undefined;
  const xmppSessions: XmppSession[] = [];

  beforeAll(async () => {
    facts = await requireBackend('activemq');
    await requireBackend('rabbitmq');
    await requireBackend('prosody');
    await requireBackend('ngircd');
  });

  afterEach(async () => {
    await Promise.all(
      xmppSessions.splice(0).map(async ({ xmpp }) => {
        xmpp.reconnect.stop();
        if (xmpp.status !== 'offline') await within(xmpp.stop(), 5000, 'XMPP stop');
      }),
    );
    await tap?.close();
    tap = undefined;
  });

  async function tapTo(name: ProtocolName, port: number): Promise<{ t: ValidatingTap; port: number }> {
    const t = new TcpTap(name, port);
    tap = t;
    return { t, port: await t.listen() };
  }

  async function webSocketTapTo(name: ProtocolName, url: string): Promise<{ t: ValidatingTap; port: number }> {
    const t = new WebSocketTap(name, url);
    tap = t;
    return { t, port: await t.listen() };
  }

  it.each(['activemq', 'rabbitmq'] as const)('stompit ⇄ %s (STOMP)', async (broker) => {
    const amq = broker === 'activemq';
    const { t, port } = await tapTo('stomp', amq ? facts.activemq.stompPort : facts.rabbitmq.stompPort);
    const creds = amq ? facts.activemq.user : facts.rabbitmq.guest;
    const client = await stompConnect({ host: '127.0.0.1', port, login: creds.username, passcode: creds.password, virtualHost: amq ? 'localhost' : facts.rabbitmq.vhost });
    const destination = `/queue/${unique('recorded')}`;
    const subscription = stompSubscribe(client, destination);
    await stompSend(client, destination, 'hello, recorded STOMP', { 'content-type': 'text/plain', 'x-custom': 'a:b\\c' });
    expect((await subscription.next()).body).toBe('hello, recorded STOMP');
    await stompDisconnect(client);
    await t.expectClean({ toServer: ['CONNECT', 'SUBSCRIBE', 'SEND', 'DISCONNECT'], toClient: ['CONNECTED', 'MESSAGE'] });
  });

  it('@stomp/stompjs ⇄ RabbitMQ Web-STOMP (STOMP over WebSocket)', async () => {
    const { t, port } = await webSocketTapTo('stomp', `ws://127.0.0.1:${facts.rabbitmq.webStompPort}/ws`);
    const { username, password } = facts.rabbitmq.guest;
    const client = new StompJsClient({
      webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${port}/ws`, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      connectHeaders: { login: username, passcode: password, host: facts.rabbitmq.vhost },
      // One second, RabbitMQ's smallest: both directions carry heart-beats during the test.
      heartbeatIncoming: 1000,
      heartbeatOutgoing: 1000,
      reconnectDelay: 0,
      debug: () => undefined,
    });
    const connected = new Promise<void>((resolve, reject) => {
      client.onConnect = () => resolve();
      client.onStompError = (frame) => reject(new Error(`STOMP ERROR: ${frame.headers.message ?? ''}`));
    });
    client.activate();
    try {
      await within(connected, 5000, 'Web-STOMP CONNECTED');
      const destination = `/queue/${unique('recorded')}`;
      const message = new Promise<IMessage>((resolve) => {
        client.subscribe(destination, (m) => {
          m.ack();
          resolve(m);
        }, { ack: 'client-individual' });
      });
      const receipt = unique('receipt');
      const sent = new Promise<void>((resolve) => client.watchForReceipt(receipt, () => resolve()));
      // Escapes on the wire (`\c`, `\\`, `\n`); no backslash before c, n or r: @stomp/stompjs 7 reads `\\c` back as `\:`.
      client.publish({ destination, body: 'hello, recorded Web-STOMP', headers: { 'content-type': 'text/plain', 'x-custom': 'a:b\\d\ne', receipt } });
      await within(sent, 5000, 'RECEIPT');
      const received = await within(message, 5000, 'delivery');
      expect(received.body).toBe('hello, recorded Web-STOMP');
      expect(received.headers['x-custom']).toBe('a:b\\d\ne');
      // Idle for longer than the heart-beat interval.
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      await client.deactivate();
    }
    await t.expectClean({
      toServer: ['CONNECT', 'SUBSCRIBE', 'SEND', 'ACK', 'DISCONNECT', 'HEARTBEAT'],
      toClient: ['CONNECTED', 'RECEIPT', 'MESSAGE', 'HEARTBEAT'],
    });
    const connectedFrame = t.texts.toClient.find((f) => f.startsWith('CONNECTED'));
    expect(connectedFrame).toMatch(/\nversion:1\.2\n/);
    expect(connectedFrame).toMatch(/\nheart-beat:1000,1000\n/);
    // Web-STOMP ends every frame with NUL LF; heart-beats are the EOLs beyond those.
    const frames = t.kinds.toClient.filter((kind) => kind !== 'HEARTBEAT').length;
    expect(t.kinds.toClient.filter((kind) => kind === 'HEARTBEAT').length).toBeGreaterThan(frames);
  });

  it('amqplib ⇄ RabbitMQ (AMQP 0-9-1)', async () => {
    const { t, port } = await tapTo('amqp091', facts.rabbitmq.amqpPort);
    const { username, password } = facts.rabbitmq.guest;
    const conn = await amqpConnect(`amqp://${username}:${password}@127.0.0.1:${port}`);
    const channel = await conn.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const received = new Promise<string>((resolve) => {
      void channel.consume(queue, (msg) => {
        if (!msg) return;
        channel.ack(msg);
        resolve(msg.content.toString());
      });
    });
    channel.sendToQueue(queue, Buffer.from('hello, recorded AMQP'), { headers: { n: 1, s: 'x', nested: { a: [1, 'b'] } }, messageId: 'm1', timestamp: Date.now() });
    await channel.waitForConfirms();
    expect(await within(received, 5000, 'delivery')).toBe('hello, recorded AMQP');
    await channel.close();
    await conn.close();
    await t.expectClean({
      toServer: ['protocol-header', 'connection.start-ok', 'confirm.select', 'basic.publish', 'header', 'body', 'basic.ack', 'connection.close'],
      toClient: ['connection.start', 'connection.tune', 'basic.deliver', 'basic.ack', 'connection.close-ok'],
    });
  });

  it('rhea ⇄ RabbitMQ (AMQP 1.0)', async () => {
    const { t, port } = await tapTo('amqp10', facts.rabbitmq.amqpPort);
    const { username, password } = facts.rabbitmq.guest;
    const container = create_container({ id: unique('recorded') });
    const connection = container.connect({ host: '127.0.0.1', port, username, password, reconnect: false });
    const address = `/queue/${unique('recorded')}`;
    const receiver = connection.open_receiver(address);
    const message = new Promise<unknown>((resolve) => receiver.once('message', (ctx: EventContext) => resolve(ctx.message?.body)));
    const sender = connection.open_sender(address);
    await within(new Promise<void>((resolve) => sender.once('sendable', () => resolve())), 5000, 'credit');
    const accepted = new Promise<void>((resolve) => sender.once('accepted', () => resolve()));
    sender.send({ body: 'hello, recorded AMQP 1.0', application_properties: { k: 1 } });
    await within(accepted, 5000, 'settlement');
    expect(await within(message, 5000, 'delivery')).toBe('hello, recorded AMQP 1.0');
    const closed = new Promise<void>((resolve) => connection.once('connection_close', () => resolve()));
    connection.close();
    await within(closed, 5000, 'close');
    await t.expectClean({
      toServer: ['protocol-header', 'sasl-init', 'open', 'begin', 'attach', 'transfer', 'close'],
      toClient: ['sasl-mechanisms', 'sasl-outcome', 'open', 'attach', 'flow', 'transfer', 'disposition', 'close'],
    });
  });

  it('irc-framework ⇄ ngIRCd (IRC)', async () => {
    const { t, port } = await tapTo('irc', facts.irc.port);
    const nick = unique('rec').replace(/[^A-Za-z0-9]/g, '').slice(0, 9);
    const irc = new IrcClient();
    const registered = new Promise<void>((resolve) => irc.once('registered', () => resolve()));
    irc.connect({ host: '127.0.0.1', port, nick, username: 'gangway', gecos: 'Gangway recorded', auto_reconnect: false, ping_interval: 0 });
    await within(registered, 5000, 'registration');
    const channel = `#${nick}`;
    const joined = new Promise<void>((resolve) => irc.on('join', (e) => e.nick === nick && resolve()));
    irc.join(channel);
    await within(joined, 5000, 'join');
    irc.say(channel, 'hello, recorded IRC');
    const closed = new Promise<void>((resolve) => irc.once('close', () => resolve()));
    irc.quit('done');
    await within(closed, 5000, 'quit');
    await t.expectClean({ toServer: ['NICK', 'USER', 'JOIN', 'PRIVMSG', 'QUIT'], toClient: ['001', '005', 'JOIN', '353', '366'] });
  });

  it('@xmpp/client ⇄ Prosody (XMPP: SCRAM-SHA-1, restart, bind, chat, presence, MUC, close)', async () => {
    const { t, port } = await tapTo('xmpp', facts.xmpp.c2sPort);
    const [aliceAccount, bobAccount] = facts.xmpp.users;
    if (!aliceAccount || !bobAccount) throw new Error('compose/.env lists fewer than two XMPP users');
    const alice = await xmppLogin(port, facts.xmpp.domain, aliceAccount, xmppSessions);
    const bob = await xmppLogin(port, facts.xmpp.domain, bobAccount, xmppSessions);
    expect(alice.mechanisms).toEqual(['SCRAM-SHA-1']);
    expect(alice.xmpp.isSecure()).toBe(false);

    const chat = unique('hello, recorded XMPP');
    const chatReceived = nextStanza(bob.xmpp, 'chat message', (s) => s.is('message') && s.getChildText('body') === chat);
    await alice.xmpp.send(xml('message', { to: bob.xmpp.jid?.toString(), type: 'chat' }, xml('body', {}, chat)));
    await chatReceived;

    const room = `${unique('recorded')}@${facts.xmpp.mucDomain}`;
    await joinRoom(alice.xmpp, room, 'alice');
    await joinRoom(bob.xmpp, room, 'bob');
    const groupchat = unique('hello, recorded room');
    const groupchatReceived = nextStanza(bob.xmpp, 'groupchat message', (s) => s.is('message') && s.attrs.type === 'groupchat' && s.getChildText('body') === groupchat);
    await alice.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, groupchat)));
    await groupchatReceived;

    for (const { xmpp, errors } of [alice, bob]) {
      xmpp.reconnect.stop();
      await within(xmpp.stop(), 5000, 'XMPP stop');
      expect(errors).toEqual([]);
    }
    await t.expectClean({
      toServer: ['stream:stream', 'auth', 'response', 'iq', 'presence', 'message', '/stream:stream'],
      toClient: ['stream:stream', 'features', 'challenge', 'success', 'iq', 'presence', 'message', '/stream:stream'],
    });
    // Each login opens a stream and restarts it after <success/>, in both directions; no STARTTLS.
    for (const direction of ['toServer', 'toClient'] as const) {
      expect(t.kinds[direction].filter((kind) => kind === 'stream:stream')).toHaveLength(4);
      expect(t.kinds[direction]).not.toContain('starttls');
      expect(t.kinds[direction]).not.toContain('proceed');
    }
    const sent = t.texts.toServer;
    const received = t.texts.toClient;
    expect(sent.filter((s) => s.startsWith('<auth') && /mechanism=["']SCRAM-SHA-1["']/.test(s))).toHaveLength(2);
    expect(received.filter((s) => s.startsWith('<success'))).toHaveLength(2);
    expect(sent.filter((s) => s.startsWith('<iq') && s.includes('urn:ietf:params:xml:ns:xmpp-bind'))).toHaveLength(2);
    expect(received.filter((s) => s.startsWith('<iq') && s.includes('urn:ietf:params:xml:ns:xmpp-bind') && s.includes('<jid>'))).toHaveLength(2);
    expect(sent.filter((s) => s.startsWith('<message') && s.includes(chat))).toHaveLength(1);
    expect(received.filter((s) => s.startsWith('<message') && s.includes(chat))).toHaveLength(1);
    expect(sent.filter((s) => s === '<presence/>')).toHaveLength(2);
    expect(sent.filter((s) => s.startsWith('<presence') && s.includes(room))).toHaveLength(2);
    // Self-presence and the other occupant's presence for each join.
    expect(received.filter((s) => s.startsWith('<presence') && s.includes(room)).length).toBeGreaterThanOrEqual(4);
    expect(sent.filter((s) => s.startsWith('<message') && s.includes(groupchat))).toHaveLength(1);
    // Prosody reflects the groupchat message to every occupant, sender included.
    expect(received.filter((s) => s.startsWith('<message') && s.includes(groupchat))).toHaveLength(2);
  });
});
