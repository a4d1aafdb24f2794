/**
 * AMQP 1.0 binding (rhea → RabbitMQ's AMQP 1.0 plugin, or any AMQP 1.0 broker that uses the
 * same address forms).
 *
 * - Addresses: `/queue/NAME` for queues (and Gangway's temporary queues), `/topic/NAME` for
 *   topics (RabbitMQ: `amq.topic` routing key). Queues are attached with a durable terminus
 *   (RabbitMQ declares them durable, as its STOMP plugin and the amqp091 binding do); temporary
 *   queues with none (not durable). `reply-to` travels as such an address, so any AMQP 1.0 client
 *   can answer to it; `/queue/gangway.temp.…` and `/topic/gangway.temp.…` read back as temporary
 *   destinations, and RabbitMQ's `/amq/queue/NAME`, `/exchange/amq.topic/KEY` and bare `NAME`
 *   as queue and topic.
 * - Sessions: every subscription and every sender address has an AMQP session of its own.
 *   RabbitMQ refuses an attach (an invalid name, a queue declared with other properties) by
 *   ending the session: only that link fails, the connection and every other link stay up.
 *   A session ended for a failure of the broker (`amqp:internal-error`, as RabbitMQ ends them all
 *   when it shuts down) fails the connection. Ending a subscription ends its session, which gives
 *   its unsettled deliveries back.
 * - Receipts: the broker's settlement of the transfer (`accepted`; `rejected`/`released` fail
 *   the SEND). Acks: `accept` the delivery; NACK: `released` (RabbitMQ requeues it and the next
 *   delivery carries `redelivered`; RabbitMQ 3.x refuses the `modified` outcome).
 * - Not supported (the service answers with ERROR): selectors (RabbitMQ has no selector filter)
 *   and durable subscriptions (RabbitMQ 3.x gives a durable `/topic/` source a server-named
 *   queue that no later attach can name again).
 * - Transactions: RabbitMQ has no AMQP 1.0 transaction coordinator; the frames of a transaction
 *   are held and, at COMMIT, sent in order, each awaiting settlement (not atomic).
 * - JMS header fields map to AMQP properties and header: message-id, correlation-id, reply-to,
 *   type (`subject`), priority, absolute-expiry-time, durable, creation-time, content-type;
 *   custom properties to application-properties, each as its own AMQP type (`properties.ts`).
 *   RabbitMQ assigns no message-id: Gangway mints one per message (kept when a message is sent
 *   again after a lost settlement).
 */
import {
  create_container,
  message as amqpMessage,
  type Connection,
  type Delivery as AmqpDelivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
  type Session,
  type TerminusOptions,
} from 'rhea';
import {
  TEMP_PREFIX,
  parseDestination,
  messageIdFor,
  type Binding,
  type BindingCapabilities,
  type BindingFactory,
  type BindingOptions,
  type BrokerSubscription,
  type BrokerTransaction,
  type Delivery,
  type JmsDestination,
  type JmsMessage,
  type LossInfo,
  type SubscribeSpec,
} from '../jms';
import { applicationProperties, propertiesOf } from './properties';

export const AMQP10_CAPABILITIES: BindingCapabilities = {
  selectors: false,
  durable: false,
  durableScope: 'broker',
  atomicTransactions: false,
  why: {
    selectors: "RabbitMQ's AMQP 1.0 plugin has no selector filter",
    durable: "RabbitMQ's AMQP 1.0 plugin (3.x) gives a durable topic subscription a server-named queue that no later attach can find again; the amqp091 binding (amqp://) has durable subscriptions",
  },
};

/** Sender links (one session each) a binding keeps open; the least recently used idle one closes beyond this. */
export const AMQP10_MAX_SENDERS = 64;

/**
 * Error conditions of a session ended by the broker that report a failure of the broker, not a
 * refusal of the link: the connection is given up and opened again (subscriptions re-created,
 * unconfirmed sends sent again).
 */
const BROKER_FAILURES: ReadonlySet<string> = new Set(['amqp:internal-error', 'amqp:connection:forced']);

/** How long closing a link's session may take before it is left to the connection. */
const END_TIMEOUT_MS = 2000;

/** How a JMS destination is addressed. */
export function amqp10Address(d: JmsDestination): string {
  return d.kind === 'topic' || d.kind === 'temp-topic' ? `/topic/${d.name}` : `/queue/${d.name}`;
}

/** The terminus for `d`: queues durable (temporary ones, also named as queues, not), topics as they are. */
export function amqp10Terminus(d: JmsDestination): TerminusOptions {
  return d.kind === 'queue' && !d.name.startsWith(TEMP_PREFIX) ? { address: amqp10Address(d), durable: 1 } : { address: amqp10Address(d) };
}

const ADDRESS = /^\/(queue|topic|amq\/queue|exchange\/amq\.topic)\/(.+)$/;

/**
 * Reads an AMQP 1.0 address (a `reply-to`): RabbitMQ's `/queue/NAME`, `/amq/queue/NAME`,
 * `/topic/KEY` and `/exchange/amq.topic/KEY`, a bare queue name, or STOMP destination text.
 * Names under Gangway's temporary prefix are temporary destinations.
 */
export function amqp10Destination(address: string): JmsDestination {
  const m = ADDRESS.exec(address);
  if (!m) return parseDestination(address) ?? { kind: 'queue', name: address };
  const name = m[2] as string;
  const temp = name.startsWith(TEMP_PREFIX);
  if (m[1] === 'queue' || m[1] === 'amq/queue') return { kind: temp ? 'temp-queue' : 'queue', name };
  return { kind: temp ? 'temp-topic' : 'topic', name };
}

/** An AMQP error (`description (condition)`), an `Error`, or `fallback`. */
function errorText(err: unknown, fallback: string): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null) {
    const { condition, description } = err as { condition?: unknown; description?: unknown };
    if (typeof description === 'string') return typeof condition === 'string' ? `${description} (${condition})` : description;
    if (typeof condition === 'string') return condition;
  }
  return fallback;
}

/** A body section as bytes (data sections as they are; strings as UTF-8; anything else as JSON). */
function bodyOf(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (typeof body === 'object' && 'typecode' in body && 'content' in body) {
    const content: unknown = (body as { content: unknown }).content;
    if (Buffer.isBuffer(content)) return content;
    if (Array.isArray(content)) return Buffer.concat(content.filter((c): c is Buffer => Buffer.isBuffer(c)));
  }
  return Buffer.from(JSON.stringify(body), 'utf8');
}

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function toAmqp(m: JmsMessage): Message {
  const props = applicationProperties(m.properties);
  const out: Message = { body: amqpMessage.data_section(m.body), application_properties: props };
  out.message_id = messageIdFor(m);
  if (m.correlationId !== undefined) out.correlation_id = m.correlationId;
  if (m.replyTo !== undefined) out.reply_to = amqp10Address(m.replyTo);
  if (m.type !== undefined) out.subject = m.type;
  if (m.priority !== undefined) out.priority = m.priority;
  if (m.expires !== undefined && m.expires > 0) out.absolute_expiry_time = new Date(m.expires);
  if (m.persistent !== undefined) out.durable = m.persistent;
  out.creation_time = new Date(m.timestamp ?? Date.now());
  if (m.contentType !== undefined) out.content_type = m.contentType;
  return out;
}

function fromAmqp(msg: Message, destination: JmsDestination): JmsMessage {
  const properties = propertiesOf(msg.application_properties);
  const m: { -readonly [K in keyof JmsMessage]?: JmsMessage[K] } = { destination, properties, body: bodyOf(msg.body) };
  const id = text(msg.message_id);
  if (id !== undefined) m.messageId = id;
  const corr = text(msg.correlation_id);
  if (corr !== undefined) m.correlationId = corr;
  const replyTo = text(msg.reply_to);
  if (replyTo !== undefined) m.replyTo = amqp10Destination(replyTo);
  const subject = text(msg.subject);
  if (subject !== undefined) m.type = subject;
  if (typeof msg.priority === 'number') m.priority = msg.priority;
  if (msg.absolute_expiry_time instanceof Date) m.expires = msg.absolute_expiry_time.getTime();
  if (typeof msg.durable === 'boolean') m.persistent = msg.durable;
  if (msg.creation_time instanceof Date) m.timestamp = msg.creation_time.getTime();
  const ct = text(msg.content_type);
  if (ct !== undefined) m.contentType = ct;
  if ((typeof msg.delivery_count === 'number' && msg.delivery_count > 0) || msg.first_acquirer === false) m.redelivered = true;
  return m as JmsMessage;
}

/** An AMQP session that carries one link. */
interface LinkSession {
  readonly session: Session;
  /** Ends the session; resolves when the broker has answered (or after {@link END_TIMEOUT_MS}). */
  end(): Promise<void>;
}

/** A sender link in a session of its own, with the transfers it waits to see settled. */
interface SenderEntry {
  readonly link: LinkSession;
  readonly sender: Sender;
  readonly open: Promise<void>;
  readonly settlements: Map<AmqpDelivery, { resolve: () => void; reject: (e: Error) => void }>;
  /** Fails what waits on it (the connection was lost). */
  readonly gone: (error: Error) => void;
  /** SENDs under way on it (waiting for the link or for settlement): it is not closed meanwhile. */
  busy: number;
}

class Amqp10Binding implements Binding {
  readonly kind = 'amqp10';
  readonly capabilities = AMQP10_CAPABILITIES;
  private connection: Connection | null = null;
  /** Senders by address, least recently used first. */
  private readonly senders = new Map<string, SenderEntry>();
  /** What waits on the connection (a link's attach, a settlement): failed when it is lost. */
  private readonly waiting = new Set<(error: Error) => void>();
  private closing = false;
  private lost = false;
  private readonly lostListeners: ((info: LossInfo) => void)[] = [];

  constructor(private readonly options: BindingOptions) {}

  connect(): Promise<void> {
    const o = this.options;
    const container = create_container();
    return new Promise<void>((resolve, reject) => {
      let up = false;
      const timer = setTimeout(() => {
        reject(new Error(`no AMQP 1.0 open from ${o.url.host} within ${o.connectTimeoutMs} ms`));
        conn.close();
      }, o.connectTimeoutMs);
      const conn = container.connect({
        host: o.url.hostname,
        port: Number(o.url.port),
        reconnect: false,
        ...(o.username === undefined ? {} : { username: o.username }),
        ...(o.password === undefined ? {} : { password: o.password }),
        ...(o.virtualHost === undefined ? {} : { hostname: `vhost:${o.virtualHost}` }),
        ...(o.clientId === undefined ? {} : { container_id: o.clientId }),
        idle_time_out: o.heartbeatMs,
      });
      this.connection = conn;
      conn.on('connection_open', () => {
        clearTimeout(timer);
        up = true;
        resolve();
      });
      const down = (ctx: EventContext, what: string): void => {
        const err: unknown = ctx.connection?.error ?? ctx.error;
        const e = err instanceof Error ? err : new Error(`${what}${err ? `: ${errorText(err, JSON.stringify(err))}` : ''}`);
        if (!up) {
          clearTimeout(timer);
          reject(e);
          return;
        }
        this.fail(e);
      };
      conn.on('connection_error', (ctx: EventContext) => down(ctx, 'connection error'));
      conn.on('connection_close', (ctx: EventContext) => down(ctx, 'the broker closed the connection'));
      conn.on('disconnected', (ctx: EventContext) => down(ctx, 'disconnected from the broker'));
      // rhea emits `error`, and `protocol_error` for a frame that breaks the protocol (a second
      // close, which RabbitMQ can send while it shuts down), with the error itself (not a
      // context); without a listener it writes the latter to the console.
      const failed = (err: unknown): void => {
        const e = err instanceof Error ? err : new Error(`connection error: ${errorText(err, JSON.stringify(err))}`);
        if (up) this.fail(e);
        else {
          clearTimeout(timer);
          reject(e);
        }
      };
      conn.on('error', failed);
      conn.on('protocol_error', failed);
    });
  }

  private fail(error: Error): void {
    for (const w of [...this.waiting]) w(error);
    this.waiting.clear();
    this.senders.clear();
    if (this.closing || this.lost) return;
    this.lost = true;
    for (const l of this.lostListeners) l({ error, brokerMessage: error.message });
  }

  private live(): Connection {
    if (!this.connection || this.lost || this.closing) throw new Error('not connected to the broker');
    return this.connection;
  }

  /**
   * A session of its own for one link. `refused` is called once with the broker's reason when
   * the session ends without {@link LinkSession.end} (RabbitMQ ends it to refuse an attach). A
   * session the broker ends for a failure of its own ({@link BROKER_FAILURES}: RabbitMQ ends
   * every session this way when it shuts down, before it closes the connection) fails the connection.
   */
  private openSession(refused: (error: Error) => void): LinkSession {
    const conn = this.live();
    const session = conn.create_session();
    let ending = false;
    let closed: () => void = () => undefined;
    const gone = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const onEnd = (ctx: EventContext): void => {
      closed();
      if (ending) return;
      ending = true;
      const error: unknown = ctx.session?.error;
      const condition = typeof error === 'object' && error !== null ? (error as { condition?: unknown }).condition : undefined;
      if (typeof condition === 'string' && BROKER_FAILURES.has(condition)) {
        this.fail(new Error(`the broker ended a session: ${errorText(error, condition)}`));
        conn.close();
        return;
      }
      refused(new Error(errorText(error, 'the broker ended the session')));
    };
    session.on('session_error', onEnd);
    session.on('session_close', onEnd);
    session.begin();
    const end = async (): Promise<void> => {
      if (ending) return;
      ending = true;
      if (this.lost || this.closing) return;
      session.close();
      let t: NodeJS.Timeout | undefined;
      await Promise.race([gone, new Promise<void>((resolve) => (t = setTimeout(resolve, END_TIMEOUT_MS)))]);
      clearTimeout(t);
    };
    return { session, end };
  }

  /** The sender for `destination`, marked busy: the caller decrements {@link SenderEntry.busy} when done. */
  private senderFor(destination: JmsDestination): SenderEntry {
    const address = amqp10Address(destination);
    let entry = this.senders.get(address);
    if (entry) {
      // Most recently used last.
      this.senders.delete(address);
      this.senders.set(address, entry);
      entry.busy++;
      return entry;
    }
    const settlements: SenderEntry['settlements'] = new Map();
    let refuse: (e: Error) => void = () => undefined;
    const gone = (e: Error): void => {
      this.waiting.delete(gone);
      if (this.senders.get(address) === entry) this.senders.delete(address);
      for (const s of settlements.values()) s.reject(e);
      settlements.clear();
      refuse(e);
    };
    this.waiting.add(gone);
    const link = this.openSession((e) => gone(new Error(`the broker refused ${address}: ${e.message}`)));
    const sender = link.session.open_sender({ target: amqp10Terminus(destination), autosettle: true });
    const open = new Promise<void>((resolve, reject) => {
      refuse = reject;
      sender.once('sendable', () => resolve());
    });
    open.catch(() => undefined);
    sender.on('sender_error', (ctx: EventContext) => gone(new Error(`the broker refused ${address}: ${errorText(ctx.sender?.error, 'link detached')}`)));
    const settle = (ok: boolean, why: string) => (ctx: EventContext): void => {
      const d = ctx.delivery;
      const s = d === undefined ? undefined : settlements.get(d);
      if (!d || !s) return;
      settlements.delete(d);
      if (ok) s.resolve();
      else s.reject(new Error(`the broker ${why} the message to ${address}`));
    };
    sender.on('accepted', settle(true, 'accepted'));
    sender.on('rejected', settle(false, 'rejected'));
    sender.on('released', settle(false, 'released'));
    sender.on('modified', settle(false, 'did not take'));
    entry = { link, sender, open, settlements, gone, busy: 1 };
    this.senders.set(address, entry);
    this.trimSenders();
    return entry;
  }

  /** Closes the least recently used idle senders beyond {@link AMQP10_MAX_SENDERS}. */
  private trimSenders(): void {
    let excess = this.senders.size - AMQP10_MAX_SENDERS;
    for (const [address, entry] of this.senders) {
      if (excess <= 0) return;
      if (entry.busy > 0) continue;
      this.senders.delete(address);
      this.waiting.delete(entry.gone);
      excess--;
      void entry.link.end();
    }
  }

  async subscribe(spec: SubscribeSpec, onDelivery: (delivery: Delivery) => void, onEnded?: (error: Error) => void): Promise<BrokerSubscription> {
    if (spec.selector !== undefined) throw new Error('selectors are not supported by the AMQP 1.0 binding');
    if (spec.durableName !== undefined) throw new Error('durable subscriptions are not supported by the AMQP 1.0 binding');
    const auto = spec.ack === 'auto';
    const d = spec.destination;
    const address = amqp10Address(d);
    let open = false;
    let closed = false;
    let refuse: (e: Error) => void = () => undefined;
    const ended = (e: Error): void => {
      if (!open) refuse(e);
      else if (!closed) {
        closed = true;
        onEnded?.(e);
      }
    };
    const link = this.openSession((e) => ended(new Error(`the broker refused ${address}: ${e.message}`)));
    const receiver: Receiver = link.session.open_receiver({ source: amqp10Terminus(d), autoaccept: auto, credit_window: spec.prefetch });
    receiver.on('receiver_error', (ctx: EventContext) => ended(new Error(`the broker refused ${address}: ${errorText(ctx.receiver?.error, 'link detached')}`)));
    await new Promise<void>((resolve, reject) => {
      // A connection lost during the attach fails it; once open, the pool handles a loss.
      refuse = (e) => {
        this.waiting.delete(refuse);
        reject(e);
      };
      this.waiting.add(refuse);
      receiver.once('receiver_open', () => {
        this.waiting.delete(refuse);
        open = true;
        resolve();
      });
    });
    /** Deliveries not settled yet (the session's end gives them back to the broker). */
    const unsettled = new Set<AmqpDelivery>();
    receiver.on('message', (ctx: EventContext) => {
      const msg = ctx.message;
      const delivery = ctx.delivery;
      if (!msg || !delivery || closed) return;
      if (!auto) unsettled.add(delivery);
      onDelivery({
        message: fromAmqp(msg, d),
        ack: async () => {
          if (auto || closed || this.lost || !unsettled.delete(delivery)) return;
          delivery.accept();
        },
        nack: async () => {
          if (auto || closed || this.lost || !unsettled.delete(delivery)) return;
          delivery.release();
        },
      });
    });
    const end = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      unsettled.clear();
      // RabbitMQ requeues what the session leaves unsettled (`redelivered` on the next delivery).
      await link.end();
    };
    return { close: end, remove: end };
  }

  async send(message: JmsMessage): Promise<void> {
    const entry = this.senderFor(message.destination);
    try {
      await entry.open;
      await new Promise<void>((resolve, reject) => {
        const delivery = entry.sender.send(toAmqp(message));
        entry.settlements.set(delivery, { resolve, reject });
      });
    } finally {
      entry.busy--;
    }
  }

  async begin(): Promise<BrokerTransaction> {
    const sends: JmsMessage[] = [];
    const acks: Delivery[] = [];
    return {
      send: (m: JmsMessage): void => {
        sends.push(m);
      },
      ack: (d: Delivery): void => {
        acks.push(d);
      },
      commit: async (): Promise<void> => {
        for (const m of sends) await this.send(m);
        for (const d of acks) await d.ack();
      },
      abort: async (): Promise<void> => {
        sends.length = 0;
        acks.length = 0;
      },
    };
  }

  async declareTemporary(): Promise<void> {
    // RabbitMQ declares `/queue/NAME` on first attach.
  }

  async deleteTemporary(): Promise<void> {
    // AMQP 1.0 has no delete; RabbitMQ keeps the (empty) queue. Use a policy with `expires` on
    // `gangway.temp.*` queues (adapters/README.md).
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const conn = this.connection;
    if (!conn || this.lost || !conn.is_open()) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, END_TIMEOUT_MS);
      conn.once('connection_close', () => {
        clearTimeout(t);
        resolve();
      });
      conn.close();
    });
  }

  onLost(listener: (info: LossInfo) => void): void {
    this.lostListeners.push(listener);
  }
}

/** `amqp10://host:port`: one rhea connection. */
export const amqp10Binding: BindingFactory = (options) => new Amqp10Binding(options);
