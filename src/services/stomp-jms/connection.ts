/**
 * One STOMP client connection of the `stomp.jms` service: Gangway is the STOMP server
 * (https://stomp.github.io/stomp-specification-1.2.html) and carries each frame out on a broker
 * binding. The client is connected over WebSocket or over a TCP or TLS byte stream; either way
 * its bytes go through the same streaming codec.
 */
import type { Logger } from 'pino';
import {
  MappingError,
  TEMP_PREFIX,
  headersFromMessage,
  messageFromHeaders,
  type AckMode,
  type Binding,
  type BindingCapabilities,
  type BrokerTransaction,
  type Delivery,
  type JmsDestination,
  type JmsMessage,
  type LossInfo,
  type SubscribeSpec,
} from '../../../adapters/jms';
import { StompCodecPair, encodeFrame, errorFrame, replyFor, type StompFrame, type StompHeader, type StompLimits, type StompVersion } from '../../../validators/stomp';
import { WireError } from '../../../validators/types';
import type { Credentials } from '../../../security/login-module';
import type { Session, Valve } from '../../session';
import { STOMP_JMS_ERRORS, type StompJmsErrorSpec } from './errors';
import { SplitMessage, subscriptionLine } from './frames';
import { Outbox } from './outbox';
import { ManagedSubscription, type Member } from './pool';
import type { SharedDelivery, SharedSubscriber, SubscriptionHub } from './hub';
import type { StompJmsProperties } from './properties';

/** What every connection of one service shares. */
export interface ServiceContext {
  readonly props: StompJmsProperties;
  readonly hub: SubscriptionHub;
  readonly capabilities: BindingCapabilities;
  readonly bindingName: string;
  /** Random per service instance: scopes temporary destination names. */
  readonly instance: string;
  readonly conflatable: (destination: string) => boolean;
  readonly log: Logger;
  readonly codecLimits: Partial<StompLimits>;
  /** The pool member for a new connection (round robin). */
  nextMember(): Member;
  /**
   * A member of its own for a client id (brokers whose durable subscriptions need one).
   * @throws StompJmsError `GW_ERR_STOMP_JMS_LIMIT` when `maxDedicatedConnections` are open
   */
  dedicatedMember(clientId: string): Member;
  /** Closes a member from {@link ServiceContext.dedicatedMember}. */
  releaseDedicated(member: Member): Promise<void>;
  /** Counts a connection in and out (for tests and metrics). */
  readonly connections: Set<StompJmsConnection>;
  /** The highest {@link StompJmsConnection.peaks} of connections that have ended. */
  readonly endedPeaks: Peaks;
}

/** What one session held for its client at most: bytes written and not yet taken, frames queued. */
export interface Peaks {
  bufferedBytes: number;
  heldFrames: number;
}

/** A failure that ends the connection with an ERROR frame: a `stomp.jms` error, or Gangway's own (an expired authorization). */
export class StompJmsError extends Error {
  constructor(
    readonly spec: { readonly code: string; readonly close: number },
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

const SERVER = 'Gangway/0.1.0';
/** How long a closing client gets to answer the WebSocket close (or end its TCP side) before it is cut. */
const CLOSE_GRACE_MS = 2000;
/** Close code logged when a CONNECT's credentials are refused (policy violation, as for an expired authorization). */
const LOGIN_REFUSED_CLOSE = 1008;
const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];
const ACK_MODES: ReadonlySet<string> = new Set<AckMode>(['auto', 'client', 'client-individual']);
const TEMP_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const CLIENT_DESTINATION = /^\/(queue|topic|temp-queue|temp-topic|remote-temp-queue|remote-temp-topic)\/(.+)$/;

interface Pending {
  readonly ackId: string;
  readonly messageId: string;
  readonly delivery: Delivery;
  readonly epoch: number;
}

interface Tx {
  /** The broker transaction, with every operation of this transaction chained on it in order. */
  chain: Promise<BrokerTransaction>;
  frames: number;
}

/** One client SUBSCRIBE. */
class LocalSubscription implements SharedSubscriber {
  managed: ManagedSubscription | null = null;
  /** Unacknowledged deliveries by ack id, in delivery order. */
  readonly pending = new Map<string, Pending>();
  readonly byMessageId = new Map<string, string>();
  /**
   * Message ids delivered and not acknowledged when the broker connection was lost: the next
   * delivery of each is marked `redelivered`, also by a broker that forgot it (ActiveMQ restarted).
   */
  readonly owed = new Set<string>();

  constructor(
    readonly conn: StompJmsConnection,
    readonly id: string,
    readonly clientDestination: string,
    readonly ack: AckMode,
    readonly spec: SubscribeSpec,
    readonly shared: boolean,
    readonly conflatable: boolean,
    /** The `subscription` header line of its MESSAGE frames. */
    readonly line: Buffer,
  ) {}

  deliverShared(delivery: SharedDelivery): void {
    this.conn.deliverShared(this, delivery);
  }

  sharedFailed(error: Error): void {
    this.conn.subscriptionFailed(this, error);
  }

  sharedDropped(): void {
    this.conn.subscriptionDropped(this);
  }
}

/** The highest supported version offered in `accept-version` that the subprotocol allows. */
function negotiate(acceptVersion: string | undefined, subprotocol: string): StompVersion | null {
  const offered = (acceptVersion ?? '1.0').split(',').map((v) => v.trim());
  const m = /^v1([0-2])\.stomp$/.exec(subprotocol);
  const ceiling = m ? `1.${m[1]}` : '1.2';
  for (let i = VERSIONS.length - 1; i >= 0; i--) {
    const v = VERSIONS[i] as StompVersion;
    if (v <= ceiling && offered.includes(v)) return v;
  }
  return null;
}

/**
 * The credentials of a CONNECT frame: `login` and `passcode` as a user name and password, a
 * `passcode` alone as a bearer token (a JWT), none when it has neither.
 */
function credentialsOf(f: StompFrame): Credentials {
  const login = f.header('login');
  const passcode = f.header('passcode');
  if (login !== undefined && login !== '') return { scheme: 'basic', username: login, password: passcode ?? '' };
  if (passcode !== undefined && passcode !== '') return { scheme: 'bearer', token: passcode };
  return { scheme: 'none' };
}

function heartBeat(header: string | undefined): [number, number] {
  const m = /^(\d+),(\d+)$/.exec(header ?? '0,0');
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

export class StompJmsConnection {
  private readonly codec: StompCodecPair;
  private readonly outbox: Outbox;
  private readonly toBroker: Valve;
  private readonly log: Logger;
  private version: StompVersion = '1.2';
  private state: 'new' | 'connecting' | 'open' | 'closed' = 'new';
  private held: [StompFrame, Buffer][] = [];
  private member: Member | null = null;
  private dedicated: Member | null = null;
  private clientId: string | undefined;
  private readonly subs = new Map<string, LocalSubscription>();
  private readonly acks = new Map<string, LocalSubscription>();
  private readonly txs = new Map<string, Tx>();
  /** Own temporary destinations by broker name, and their declaration on the broker. */
  private readonly temps = new Map<string, readonly [JmsDestination, Promise<void>]>();
  private readonly ownPrefix: string;
  private receipts: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private lastIn = Date.now();
  private nextAck = 0;
  private nextMessage = 0;
  private offDown: (() => void) | null = null;
  private readonly timeoutMs: number;

  constructor(
    readonly session: Session,
    private readonly ctx: ServiceContext,
  ) {
    this.codec = new StompCodecPair(ctx.codecLimits);
    this.outbox = new Outbox(session, ctx.props.maxQueuedMessages, (d) => this.fail(new StompJmsError(STOMP_JMS_ERRORS.SLOW_CONSUMER, 'slow consumer', `more than ${ctx.props.maxQueuedMessages} messages held for this connection (last for ${d})`)));
    session.setPeer(this.outbox);
    this.toBroker = session.valveFromClient();
    this.log = ctx.log.child({ session: session.id });
    this.ownPrefix = `${TEMP_PREFIX}${ctx.instance}.${session.id}.`;
    this.timeoutMs = session.limits.connectTimeoutMs;
    ctx.connections.add(this);
    session.onMessage((data) => this.onMessage(data));
    session.onClose(() => this.cleanup());
    // Gangway ends the session (an expired authorization): an ERROR frame, as for any failure.
    session.setFarewell((code, reason, error) => this.fail(new StompJmsError({ code: error.code, close: code }, reason)));
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** The most this session has held for its client. */
  get peaks(): Peaks {
    return { bufferedBytes: this.session.peakBuffered, heldFrames: this.outbox.peakHeld };
  }

  /** Subscriptions of this connection (for tests). */
  get subscriptionCount(): number {
    return this.subs.size;
  }

  private onMessage(buf: Buffer): void {
    this.session.received(buf.length);
    this.lastIn = Date.now();
    if (this.state === 'closed') return;
    let frames: StompFrame[];
    try {
      frames = this.codec.toServer.push(buf);
    } catch (err) {
      if (err instanceof WireError) {
        const reply = replyFor(err);
        if (reply) this.outbox.push(reply, null);
        this.end(err.closeCode, err.message, err.code);
        return;
      }
      throw err;
    }
    for (const f of frames) {
      if (this.isClosed()) return;
      if (f.command === null) continue;
      const body = f.command === 'SEND' ? Buffer.from(f.body) : f.body;
      if (this.state === 'connecting') this.held.push([f, body]);
      else this.dispatch(f, body);
    }
  }

  private dispatch(f: StompFrame, body: Buffer): void {
    try {
      switch (f.command) {
        case 'CONNECT':
        case 'STOMP':
          this.onConnect(f);
          break;
        case 'SEND':
          this.onSend(f, body);
          break;
        case 'SUBSCRIBE':
          this.onSubscribe(f);
          break;
        case 'UNSUBSCRIBE':
          this.onUnsubscribe(f);
          break;
        case 'ACK':
        case 'NACK':
          this.onAck(f, f.command === 'NACK');
          break;
        case 'BEGIN':
          this.onBegin(f);
          break;
        case 'COMMIT':
        case 'ABORT':
          this.onFinish(f, f.command === 'ABORT');
          break;
        case 'DISCONNECT':
          this.onDisconnect(f);
          break;
        default:
          break;
      }
    } catch (err) {
      if (err instanceof StompJmsError) this.fail(err, f.header('receipt'));
      else if (err instanceof MappingError) this.fail(new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, err.message), f.header('receipt'));
      else throw err;
    }
  }

  // --- CONNECT ---------------------------------------------------------------------------------

  private onConnect(f: StompFrame): void {
    const version = negotiate(f.header('accept-version'), this.session.protocol);
    if (version === null) {
      throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'Supported protocol versions are 1.0 1.1 1.2', `accept-version ${f.header('accept-version') ?? '(none: 1.0)'} with subprotocol ${this.session.protocol || '(none)'}`);
    }
    this.version = version;
    this.clientId = f.header('client-id');
    const [cx, cy] = heartBeat(f.header('heart-beat'));
    const [sx, sy] = this.ctx.props.heartBeat;
    const out = version === '1.0' || sx === 0 || cy === 0 ? 0 : Math.max(sx, cy);
    const inb = version === '1.0' || sy === 0 || cx === 0 ? 0 : Math.max(sy, cx);
    this.state = 'connecting';
    if (!this.session.loginRequired) {
      this.open(version, out, inb);
      return;
    }
    // A guarded service's client over TCP had no upgrade to authenticate: its CONNECT does.
    void this.session.login(credentialsOf(f)).then((result) => {
      if (this.isClosed()) return;
      if (result.ok) this.open(version, out, inb);
      else this.fail(new StompJmsError({ code: result.code, close: LOGIN_REFUSED_CLOSE }, result.message));
    });
  }

  /** Takes a broker connection of the pool and answers CONNECTED once it is up. */
  private open(version: StompVersion, out: number, inb: number): void {
    const member = this.ctx.nextMember();
    this.member = member;
    member.ready(this.timeoutMs).then(
      () => {
        if (this.isClosed()) return;
        const headers: StompHeader[] = [];
        if (version !== '1.0') headers.push(['version', version], ['heart-beat', `${out},${inb}`]);
        headers.push(['server', SERVER], ['session', this.session.id]);
        const frame = encodeFrame({ command: 'CONNECTED', headers }, version);
        this.codec.toClient.push(frame);
        this.outbox.push(frame, null);
        this.state = 'open';
        this.startHeartBeats(out, inb);
        if (this.ctx.props.brokerFailure === 'close') this.offDown = member.onDown((info) => this.brokerLost(info));
        const held = this.held;
        this.held = [];
        for (const [hf, body] of held) {
          if (this.state !== 'open') break;
          this.dispatch(hf, body);
        }
      },
      (err: Error) => this.fail(new StompJmsError(STOMP_JMS_ERRORS.BROKER_UNAVAILABLE, 'broker unavailable', err.message)),
    );
  }

  private startHeartBeats(out: number, inb: number): void {
    if (out > 0) {
      const beat = Buffer.from('\n');
      // Checked every half interval, so that no gap without data is longer than the interval
      // (a client such as stompit drops a connection silent for one interval and a small margin).
      const half = Math.max(1, Math.floor(out / 2));
      const t = setInterval(() => {
        if (Date.now() - this.outbox.lastSentAt >= half) this.outbox.push(beat, null);
      }, half);
      t.unref();
      this.timers.push(t);
    }
    if (inb > 0) {
      const t = setInterval(() => {
        if (Date.now() - this.lastIn > 2 * inb) this.fail(new StompJmsError(STOMP_JMS_ERRORS.HEARTBEAT_TIMEOUT, 'heart-beat timeout', `nothing received for ${Date.now() - this.lastIn} ms (interval ${inb} ms)`));
      }, inb);
      t.unref();
      this.timers.push(t);
    }
  }

  private brokerLost(info: LossInfo): void {
    this.fail(new StompJmsError(STOMP_JMS_ERRORS.BROKER_LOST, 'broker connection lost', info.error.message));
  }

  // --- destinations ----------------------------------------------------------------------------

  /** Client text → broker destination; own temporary names are scoped to this connection. */
  private readonly readDestination = (text: string, header: string): JmsDestination => {
    const m = CLIENT_DESTINATION.exec(text);
    if (!m) throw new MappingError(header, `${header}: expected /queue/NAME, /topic/NAME, /temp-queue/NAME, /temp-topic/NAME or /remote-temp-queue/NAME, got ${JSON.stringify(text)}`);
    const prefix = m[1] as string;
    const name = m[2] as string;
    if (prefix === 'queue' || prefix === 'topic') return { kind: prefix, name };
    if (prefix === 'remote-temp-queue') return { kind: 'temp-queue', name };
    if (prefix === 'remote-temp-topic') return { kind: 'temp-topic', name };
    if (!TEMP_NAME.test(name)) throw new MappingError(header, `${header}: temporary destination names are 1–128 letters, digits, "_", "." or "-", got ${JSON.stringify(name)}`);
    return { kind: prefix === 'temp-queue' ? 'temp-queue' : 'temp-topic', name: this.ownPrefix + name };
  };

  /** Broker destination → client text: own temporary destinations by their client name. */
  private readonly writeDestination = (d: JmsDestination): string => {
    if (d.kind === 'queue' || d.kind === 'topic') return `/${d.kind}/${d.name}`;
    if (d.name.startsWith(this.ownPrefix)) return `/${d.kind}/${d.name.slice(this.ownPrefix.length)}`;
    return `/remote-${d.kind}/${d.name}`;
  };

  private owns(d: JmsDestination | undefined): boolean {
    return d !== undefined && (d.kind === 'temp-queue' || d.kind === 'temp-topic') && d.name.startsWith(this.ownPrefix);
  }

  /** Declares own temporary destinations a message or subscription names, once each. */
  private declareTemps(binding: Binding, ...ds: (JmsDestination | undefined)[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const d of ds) {
      if (!d || !this.owns(d)) continue;
      let p = this.temps.get(d.name)?.[1];
      if (!p) {
        p = binding.declareTemporary(d);
        this.temps.set(d.name, [d, p]);
        p.catch(() => this.temps.delete(d.name));
      }
      waits.push(p);
    }
    return waits.length === 0 ? Promise.resolve() : Promise.all(waits).then(() => undefined);
  }

  private binding(): Promise<Binding> {
    const m = this.member as Member;
    const b = m.current();
    return b ? Promise.resolve(b) : m.ready(this.timeoutMs);
  }

  // --- SEND ------------------------------------------------------------------------------------

  private onSend(f: StompFrame, body: Buffer): void {
    const msg = messageFromHeaders(f.headers, body, this.readDestination);
    const txId = f.header('transaction');
    if (txId !== undefined) {
      const tx = this.tx(txId);
      this.countTxFrame(tx, txId);
      tx.chain = tx.chain.then(async (bt) => {
        await this.declareTemps(await this.binding(), msg.destination, msg.replyTo);
        bt.send(msg);
        return bt;
      });
      this.receipt(f, tx.chain, 'SEND');
      return;
    }
    const n = body.length;
    this.toBroker.add(n);
    const op = this.sendOnce(msg, this.ctx.props.brokerFailure === 'keep').finally(() => this.toBroker.release(n));
    this.receipt(f, op, `SEND to ${f.header('destination') ?? ''}`);
  }

  /**
   * Sends and waits for the broker's confirmation. With `retry`, a message whose confirmation was
   * lost with the broker connection is sent once more on the next connection (at least once).
   */
  private async sendOnce(msg: JmsMessage, retry: boolean): Promise<void> {
    const b = await this.binding();
    await this.declareTemps(b, msg.destination, msg.replyTo);
    try {
      await b.send(msg);
    } catch (err) {
      if (retry && (this.member as Member).current() !== b && this.state === 'open') return this.sendOnce(msg, false);
      throw err;
    }
  }

  // --- SUBSCRIBE / UNSUBSCRIBE -----------------------------------------------------------------

  private onSubscribe(f: StompFrame): void {
    const destText = f.header('destination') as string;
    const id = f.header('id') ?? destText;
    if (this.subs.has(id)) throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'duplicate subscription id', `subscription ${id} is already open`);
    if (this.subs.size >= this.ctx.props.maxSubscriptions) throw new StompJmsError(STOMP_JMS_ERRORS.LIMIT, 'too many subscriptions', `at most ${this.ctx.props.maxSubscriptions} per connection (maxSubscriptions)`);
    const destination = this.readDestination(destText, 'destination');
    const ack = f.header('ack') ?? 'auto';
    if (!ACK_MODES.has(ack)) throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'invalid ack mode', `ack: expected auto, client or client-individual, got ${JSON.stringify(ack)}`);
    const selector = f.header('selector');
    const caps = this.ctx.capabilities;
    if (selector !== undefined && !caps.selectors) {
      const why = caps.why?.selectors === undefined ? '' : ` (${caps.why.selectors})`;
      throw new StompJmsError(STOMP_JMS_ERRORS.UNSUPPORTED, 'selectors are not supported', `the ${this.ctx.bindingName} binding cannot filter messages with a selector${why}; subscribe without the selector header`);
    }
    const durable = f.header('durable-subscription-name') ?? f.header('activemq.subscriptionName');
    let durableName: string | undefined;
    if (durable !== undefined) {
      if (destination.kind !== 'topic') throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'durable subscriptions are for topics', `${destText} is not a /topic/ destination`);
      if (!caps.durable) throw new StompJmsError(STOMP_JMS_ERRORS.UNSUPPORTED, 'durable subscriptions are not supported', `the ${this.ctx.bindingName} binding has no durable subscriptions${caps.why?.durable === undefined ? '' : `: ${caps.why.durable}`}`);
      if (this.clientId === undefined) throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'durable subscriptions need client-id', 'send a client-id header on CONNECT to open a durable subscription');
      durableName = caps.durableScope === 'broker' ? `${this.clientId}.${durable}` : durable;
    }
    const topicLike = destination.kind === 'topic' || destination.kind === 'temp-topic';
    const shared = destination.kind === 'topic' && ack === 'auto' && durableName === undefined;
    const spec: SubscribeSpec = {
      destination,
      ack: ack === 'auto' && topicLike && durableName === undefined ? 'auto' : 'individual',
      prefetch: this.ctx.props.prefetch,
      ...(selector === undefined ? {} : { selector }),
      ...(durableName === undefined ? {} : { durableName }),
    };
    const sub = new LocalSubscription(this, id, destText, ack as AckMode, spec, shared, this.ctx.conflatable(destText), subscriptionLine(id, this.version));
    this.subs.set(id, sub);
    let op: Promise<void>;
    if (shared) {
      op = this.ctx.hub.join(spec, sub);
    } else {
      const member = durableName !== undefined && caps.durableScope === 'connection' ? this.dedicatedMember() : (this.member as Member);
      const managed = new ManagedSubscription(
        member,
        spec,
        (d, epoch) => this.deliverOwn(sub, d, epoch),
        (err) => this.subscriptionFailed(sub, err),
        () => this.subscriptionDropped(sub),
      );
      sub.managed = managed;
      op = (this.owns(destination) ? this.binding().then((b) => this.declareTemps(b, destination)) : Promise.resolve()).then(() => managed.open(this.timeoutMs));
    }
    this.receipt(f, op, `SUBSCRIBE to ${destText}`, STOMP_JMS_ERRORS.BROKER_REFUSED);
  }

  private dedicatedMember(): Member {
    this.dedicated ??= this.ctx.dedicatedMember(this.clientId as string);
    return this.dedicated;
  }

  private onUnsubscribe(f: StompFrame): void {
    const id = f.header('id') ?? f.header('destination') ?? '';
    const sub = this.subs.get(id);
    if (!sub) throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'unknown subscription', `no subscription ${JSON.stringify(id)} is open`);
    const remove = f.header('durable-subscription-name') !== undefined || f.header('activemq.subscriptionName') !== undefined;
    this.receipt(f, this.dropSubscription(sub, remove), 'UNSUBSCRIBE');
  }

  private dropSubscription(sub: LocalSubscription, remove = false): Promise<void> {
    this.subs.delete(sub.id);
    for (const ackId of sub.pending.keys()) this.acks.delete(ackId);
    sub.pending.clear();
    sub.byMessageId.clear();
    if (sub.shared) {
      this.ctx.hub.leave(sub.spec, sub);
      return Promise.resolve();
    }
    return sub.managed ? sub.managed.close(remove) : Promise.resolve();
  }

  // --- deliveries ------------------------------------------------------------------------------

  private encodeMessage(msg: JmsMessage, subId: string, ackId: string | undefined): Buffer {
    const headers = headersFromMessage(msg, this.writeDestination, msg.messageId ?? `${this.session.id}-${++this.nextMessage}`);
    headers.push(['subscription', subId]);
    if (ackId !== undefined && this.version === '1.2') headers.push(['ack', ackId]);
    return encodeFrame({ command: 'MESSAGE', headers, body: msg.body }, this.version);
  }

  /**
   * A delivery of a shared subscription: its headers are encoded once per view (the version, and
   * this session when it owns a temporary destination the message names), the frame once per
   * subscription id, and every subscriber with the same view and id is handed the same buffer.
   */
  deliverShared(sub: LocalSubscription, d: SharedDelivery): void {
    if (this.state !== 'open' || this.subs.get(sub.id) !== sub) return;
    const m = d.message;
    const view = this.owns(m.destination) || this.owns(m.replyTo) ? `${this.version}|${this.session.id}` : this.version;
    const frame = d.frame(view, sub.id, sub.line, () =>
      SplitMessage.encode(headersFromMessage(m, this.writeDestination, m.messageId ?? `${this.session.id}-${++this.nextMessage}`), m.body, this.version),
    );
    this.outbox.push(frame, sub.clientDestination, sub.conflatable);
  }

  private deliverOwn(sub: LocalSubscription, d: Delivery, epoch: number): void {
    if (this.state !== 'open' || this.subs.get(sub.id) !== sub) return;
    if (sub.ack === 'auto') {
      // Settled at the broker when the frame leaves Gangway for the client (broker-side flow control).
      this.outbox.push(this.encodeMessage(d.message, sub.id, undefined), sub.clientDestination, sub.conflatable, () => void d.ack().catch(() => undefined));
      return;
    }
    const ackId = `${this.session.id}.${++this.nextAck}`;
    const messageId = d.message.messageId ?? `${this.session.id}-${++this.nextMessage}`;
    let msg = d.message.messageId === undefined ? { ...d.message, messageId } : d.message;
    if (sub.owed.delete(messageId) && msg.redelivered !== true) msg = { ...msg, redelivered: true };
    sub.pending.set(ackId, { ackId, messageId, delivery: d, epoch });
    sub.byMessageId.set(messageId, ackId);
    this.acks.set(ackId, sub);
    this.outbox.push(this.encodeMessage(msg, sub.id, ackId), sub.clientDestination, false);
  }

  /** The broker ended a subscription or refused to re-create it after a reconnect. */
  subscriptionFailed(sub: LocalSubscription, error: Error): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.fail(new StompJmsError(STOMP_JMS_ERRORS.BROKER_REFUSED, `subscription ${sub.id} ended by the broker`, error.message));
  }

  /** The connection under a subscription was lost: its unacknowledged deliveries come again. */
  subscriptionDropped(sub: LocalSubscription): void {
    for (const p of sub.pending.values()) {
      this.acks.delete(p.ackId);
      sub.owed.add(p.messageId);
    }
    // At most one prefetch window: the oldest go first (ids the broker never delivers again).
    for (const id of sub.owed) {
      if (sub.owed.size <= sub.spec.prefetch) break;
      sub.owed.delete(id);
    }
    sub.pending.clear();
    sub.byMessageId.clear();
    if (this.ctx.props.brokerFailure === 'close') this.fail(new StompJmsError(STOMP_JMS_ERRORS.BROKER_LOST, 'broker connection lost', `the subscription ${sub.id} lost its broker connection`));
  }

  // --- ACK / NACK ------------------------------------------------------------------------------

  private findPending(f: StompFrame): [LocalSubscription, Pending] | null {
    if (this.version === '1.2') {
      const id = f.header('id') as string;
      const sub = this.acks.get(id);
      const p = sub?.pending.get(id);
      return sub && p ? [sub, p] : null;
    }
    const messageId = f.header('message-id') as string;
    const subId = f.header('subscription');
    const candidates = subId !== undefined ? [this.subs.get(subId)] : [...this.subs.values()];
    for (const sub of candidates) {
      const ackId = sub?.byMessageId.get(messageId);
      const p = ackId === undefined ? undefined : sub?.pending.get(ackId);
      if (sub && p) return [sub, p];
    }
    return null;
  }

  private onAck(f: StompFrame, nack: boolean): void {
    const found = this.findPending(f);
    const txId = f.header('transaction');
    const tx = txId === undefined ? undefined : this.tx(txId);
    if (!found) {
      // Unknown or already settled (also: delivered before a broker reconnect, and coming again).
      this.receipt(f, tx ? tx.chain : Promise.resolve(), nack ? 'NACK' : 'ACK');
      return;
    }
    const [sub, p] = found;
    const settled: Pending[] = [];
    if (sub.ack === 'client') {
      for (const q of sub.pending.values()) {
        settled.push(q);
        if (q === p) break;
      }
    } else {
      settled.push(p);
    }
    const epoch = sub.managed?.epoch;
    for (const q of settled) {
      sub.pending.delete(q.ackId);
      sub.byMessageId.delete(q.messageId);
      this.acks.delete(q.ackId);
    }
    const live = settled.filter((q) => q.epoch === epoch);
    if (tx && !nack && txId !== undefined) {
      this.countTxFrame(tx, txId);
      tx.chain = tx.chain.then((bt) => {
        for (const q of live) bt.ack(q.delivery);
        return bt;
      });
      this.receipt(f, tx.chain, 'ACK');
      return;
    }
    const op = Promise.all(live.map((q) => (nack ? q.delivery.nack() : q.delivery.ack()))).then(() => undefined);
    this.receipt(f, op, nack ? 'NACK' : 'ACK');
  }

  // --- transactions ----------------------------------------------------------------------------

  private tx(id: string): Tx {
    const tx = this.txs.get(id);
    if (!tx) throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'unknown transaction', `transaction ${JSON.stringify(id)} was not begun`);
    return tx;
  }

  private countTxFrame(tx: Tx, id: string): void {
    if (++tx.frames > this.ctx.props.maxTransactionFrames) {
      throw new StompJmsError(STOMP_JMS_ERRORS.LIMIT, 'transaction too large', `transaction ${id} holds more than ${this.ctx.props.maxTransactionFrames} frames (maxTransactionFrames)`);
    }
  }

  private onBegin(f: StompFrame): void {
    const id = f.header('transaction') as string;
    if (this.txs.has(id)) throw new StompJmsError(STOMP_JMS_ERRORS.BAD_FRAME, 'duplicate transaction', `transaction ${JSON.stringify(id)} is already open`);
    if (this.txs.size >= this.ctx.props.maxTransactions) throw new StompJmsError(STOMP_JMS_ERRORS.LIMIT, 'too many transactions', `at most ${this.ctx.props.maxTransactions} open per connection (maxTransactions)`);
    const chain = this.binding().then((b) => b.begin());
    chain.catch(() => undefined);
    this.txs.set(id, { chain, frames: 0 });
    this.receipt(f, chain, 'BEGIN');
  }

  private onFinish(f: StompFrame, abort: boolean): void {
    const id = f.header('transaction') as string;
    const tx = this.tx(id);
    this.txs.delete(id);
    const op = tx.chain.then((bt) => (abort ? bt.abort() : bt.commit()));
    this.receipt(f, op, abort ? 'ABORT' : 'COMMIT');
  }

  // --- DISCONNECT, receipts, errors, end -------------------------------------------------------

  private onDisconnect(f: StompFrame): void {
    const id = f.header('receipt');
    this.state = 'closed';
    // Waits for what the client sent before (their receipts), but not past connectTimeoutMs.
    const settled = new Promise<void>((resolve) => setTimeout(resolve, this.timeoutMs).unref());
    void Promise.race([this.receipts, settled]).then(() => {
      if (id !== undefined) this.outbox.push(encodeFrame({ command: 'RECEIPT', headers: [['receipt-id', id]] }, this.version), null);
      this.end(1000, 'DISCONNECT');
    });
  }

  /**
   * Sends RECEIPT (if the frame asked for one) once `op` and every earlier operation are done;
   * a failed `op` ends the connection with ERROR.
   */
  private receipt(f: StompFrame, op: Promise<unknown>, what: string, spec: StompJmsErrorSpec = STOMP_JMS_ERRORS.BROKER_REFUSED): void {
    const id = f.header('receipt');
    const prev = this.receipts;
    op.catch((err: unknown) => {
      const reason = err instanceof Error ? err.message : String(err);
      const unavailable = /not reachable|not connected/.test(reason);
      this.fail(new StompJmsError(unavailable ? STOMP_JMS_ERRORS.BROKER_UNAVAILABLE : spec, `${what} failed`, reason), id);
    });
    this.receipts = Promise.all([prev, op]).then(
      () => {
        if (id !== undefined && this.state === 'open') this.outbox.push(encodeFrame({ command: 'RECEIPT', headers: [['receipt-id', id]] }, this.version), null);
      },
      () => undefined,
    );
  }

  /** Sends ERROR and closes. */
  private fail(err: StompJmsError, receiptId?: string): void {
    if (this.state === 'closed') return;
    // A client that does not read gets no more of what it did not read: only the ERROR.
    if (err.spec === STOMP_JMS_ERRORS.SLOW_CONSUMER) this.outbox.clear();
    this.log.debug({ code: err.spec.code, err: err.message, detail: err.detail }, 'stomp.jms error');
    const text = `${err.spec.code}: ${err.detail ?? err.message}`;
    this.outbox.push(errorFrame({ message: err.message, code: err.spec.code, text, receiptId }, this.state === 'new' ? null : this.version), null);
    this.end(err.spec.close, err.message, err.spec.code);
  }

  private end(code: number, reason: string, errorCode?: string): void {
    this.state = 'closed';
    this.outbox.drain(true);
    this.session.close(code, reason.slice(0, 120), errorCode);
    // A client that does not read never answers the close handshake: cut it after a grace period.
    const cut = setTimeout(() => {
      if (!this.session.closed) this.session.transport.terminate();
    }, CLOSE_GRACE_MS);
    cut.unref();
  }

  private cleanup(): void {
    this.state = 'closed';
    this.ctx.connections.delete(this);
    const peaks = this.peaks;
    this.ctx.endedPeaks.bufferedBytes = Math.max(this.ctx.endedPeaks.bufferedBytes, peaks.bufferedBytes);
    this.ctx.endedPeaks.heldFrames = Math.max(this.ctx.endedPeaks.heldFrames, peaks.heldFrames);
    this.outbox.clear();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.offDown?.();
    for (const sub of [...this.subs.values()]) void this.dropSubscription(sub).catch(() => undefined);
    for (const tx of this.txs.values()) void tx.chain.then((bt) => bt.abort()).catch(() => undefined);
    this.txs.clear();
    const b = this.member?.current();
    if (b) for (const [d] of this.temps.values()) void b.deleteTemporary(d).catch(() => undefined);
    if (this.dedicated) void this.ctx.releaseDedicated(this.dedicated);
  }
}
