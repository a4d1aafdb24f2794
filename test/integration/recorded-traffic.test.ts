/**
 * Real client libraries talk to the real servers through a TCP tap that feeds every byte, both
 * directions, to Gangway's validators: the traffic of stompit, amqplib, rhea, irc-framework and
 * @xmpp/client with ActiveMQ, RabbitMQ, ngIRCd and Prosody must validate without a single error
 * (no false positives), and the validated frames must cover every byte that was readable.
 */
import net from 'node:net';
import { connect as amqpConnect } from 'amqplib';
import { create_container, type EventContext } from 'rhea';
import { Client as IrcClient } from 'irc-framework';
import { client as xmppClient, xml } from '@xmpp/client';
import { PROTOCOLS } from '../../validators';
import type { CodecPair, Direction, ProtocolName } from '../../validators/types';
import { requireBackend, type Backends } from '../support/backends';
import { unique, within } from './backends/async';
import { stompConnect, stompDisconnect, stompSend, stompSubscribe } from './backends/stomp';

/** A TCP forwarder that validates both directions of every connection it carries. */
class ValidatingTap {
  readonly kinds: Record<Direction, string[]> = { toServer: [], toClient: [] };
  readonly errors: string[] = [];
  readonly bytes: Record<Direction, number> = { toServer: 0, toClient: 0 };
  readonly validated: Record<Direction, number> = { toServer: 0, toClient: 0 };
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  /** `until`: a frame after which the stream is no longer plain (XMPP `proceed`: TLS follows). */
  constructor(name: ProtocolName, target: number, until: (kind: string) => boolean = () => false) {
    const module = PROTOCOLS.get(name);
    if (!module) throw new Error(`no validator for ${name}`);
    this.server = net.createServer((client) => {
      const pair: CodecPair = module.createPair();
      let validating = true;
      const upstream = net.connect(target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      const feed = (direction: Direction, chunk: Buffer): void => {
        if (!validating) return;
        this.bytes[direction] += chunk.length;
        try {
          for (const frame of pair[direction].push(chunk)) {
            this.kinds[direction].push(frame.kind);
            this.validated[direction] += frame.raw.length;
            if (until(frame.kind)) validating = false;
          }
        } catch (err) {
          this.errors.push(`${direction}: ${err instanceof Error ? err.message : String(err)}`);
          validating = false;
        }
      };
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

  /** No error, the expected kinds seen, and every readable byte inside a validated frame. */
  async expectClean(kinds: Record<Direction, readonly string[]>): Promise<void> {
    await within(settled(() => this.validated.toClient === this.bytes.toClient && this.validated.toServer === this.bytes.toServer), 5000, 'validated frames covering the traffic');
    expect(this.errors).toEqual([]);
    for (const direction of ['toServer', 'toClient'] as const) expect(this.kinds[direction]).toEqual(expect.arrayContaining([...kinds[direction]]));
    expect(this.bytes.toServer).toBeGreaterThan(0);
    expect(this.bytes.toClient).toBeGreaterThan(0);
  }
}

/** Resolves when `check` holds (polled every 10 ms). */
function settled(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const poll = (): void => (check() ? resolve() : void setTimeout(poll, 10));
    poll();
  });
}

describe('real traffic validates in both directions', () => {
  let facts: Backends;
  let tap: ValidatingTap | undefined;

  beforeAll(async () => {
    facts = await requireBackend('activemq');
    await requireBackend('rabbitmq');
    await requireBackend('prosody');
    await requireBackend('ngircd');
  });

  afterEach(async () => {
    await tap?.close();
    tap = undefined;
  });

  async function tapTo(name: ProtocolName, port: number, until?: (kind: string) => boolean): Promise<{ t: ValidatingTap; port: number }> {
    const t = new ValidatingTap(name, port, until);
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

  it('@xmpp/client ⇄ Prosody (XMPP, up to STARTTLS)', async () => {
    const { t, port } = await tapTo('xmpp', facts.xmpp.c2sPort, (kind) => kind === 'proceed');
    const account = facts.xmpp.users[0];
    if (!account) throw new Error('compose/.env lists no XMPP user');
    const xmpp = xmppClient({
      service: `xmpp://127.0.0.1:${port}`,
      domain: facts.xmpp.domain,
      resource: unique('recorded'),
      credentials: (authenticate) => authenticate({ username: account.username, password: account.password }, 'PLAIN'),
    });
    const errors: Error[] = [];
    xmpp.on('error', (error) => errors.push(error));
    await within(xmpp.start(), 10000, 'login');
    await xmpp.send(xml('presence', {}));
    xmpp.reconnect.stop();
    await within(xmpp.stop(), 5000, 'stop');
    expect(errors).toEqual([]);
    await t.expectClean({ toServer: ['stream:stream', 'starttls'], toClient: ['stream:stream', 'features', 'proceed'] });
  });
});
