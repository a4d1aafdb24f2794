/**
 * AMQP 1.0 binding (rhea → RabbitMQ's AMQP 1.0 plugin, or any AMQP 1.0 broker that uses the
 * same address forms).
 *
 * - Addresses: `/queue/NAME` for queues (and Gangway's temporary queues), `/topic/NAME` for
 *   topics (RabbitMQ: `amq.topic` routing key).
 * - Receipts: the broker's settlement of the transfer (`accepted`; `rejected`/`released` fail
 *   the SEND). Acks: `accept` the delivery; NACK: `released` (RabbitMQ requeues it and the next
 *   delivery carries `redelivered`; RabbitMQ 3.x refuses the `modified` outcome).
 * - Not supported (the service answers with ERROR): selectors, durable subscriptions.
 * - Transactions: RabbitMQ has no AMQP 1.0 transaction coordinator; the frames of a transaction
 *   are held and, at COMMIT, sent in order, each awaiting settlement (not atomic).
 * - JMS header fields map to AMQP properties and header: message-id, correlation-id, reply-to,
 *   type (`subject`), priority, absolute-expiry-time, durable, creation-time, content-type;
 *   custom properties to application-properties, each as its own AMQP type (`properties.ts`).
 *   RabbitMQ assigns no message-id: Gangway mints one per message (kept when a message is sent
 *   again after a lost settlement).
 */
import { create_container, message as amqpMessage, type Connection, type Delivery as AmqpDelivery, type EventContext, type Message, type Receiver, type Sender } from 'rhea';
import {
  parseDestination,
  destinationText,
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

export const AMQP10_CAPABILITIES: BindingCapabilities = { selectors: false, durable: false, durableScope: 'broker', atomicTransactions: false };

/** How a JMS destination is addressed. */
export function amqp10Address(d: JmsDestination): string {
  return d.kind === 'topic' || d.kind === 'temp-topic' ? `/topic/${d.name}` : `/queue/${d.name}`;
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
  if (m.replyTo !== undefined) out.reply_to = destinationText(m.replyTo);
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
  if (replyTo !== undefined) m.replyTo = parseDestination(replyTo) ?? { kind: 'queue', name: replyTo };
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

interface SenderEntry {
  readonly sender: Sender;
  readonly open: Promise<void>;
}

class Amqp10Binding implements Binding {
  readonly kind = 'amqp10';
  readonly capabilities = AMQP10_CAPABILITIES;
  private connection: Connection | null = null;
  private readonly senders = new Map<string, SenderEntry>();
  private readonly settlements = new Map<AmqpDelivery, { resolve: () => void; reject: (e: Error) => void }>();
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
        const e = err instanceof Error ? err : new Error(`${what}${err ? `: ${JSON.stringify(err)}` : ''}`);
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
      // rhea emits `error` with the error itself (not a context) for protocol errors.
      conn.on('error', (err: unknown) => {
        const e = err instanceof Error ? err : new Error(`connection error: ${JSON.stringify(err)}`);
        if (up) this.fail(e);
        else {
          clearTimeout(timer);
          reject(e);
        }
      });
    });
  }

  private fail(error: Error): void {
    for (const s of this.settlements.values()) s.reject(error);
    this.settlements.clear();
    if (this.closing || this.lost) return;
    this.lost = true;
    for (const l of this.lostListeners) l({ error, brokerMessage: error.message });
  }

  private live(): Connection {
    if (!this.connection || this.lost || this.closing) throw new Error('not connected to the broker');
    return this.connection;
  }

  private senderFor(address: string): SenderEntry {
    let entry = this.senders.get(address);
    if (entry) return entry;
    const sender = this.live().open_sender({ target: { address }, autosettle: true });
    const open = new Promise<void>((resolve, reject) => {
      sender.once('sendable', () => resolve());
      sender.once('sender_error', (ctx: EventContext) => reject(new Error(text(ctx.sender?.error) ?? `sender to ${address} refused`)));
    });
    open.catch(() => this.senders.delete(address));
    const settle = (ok: boolean, why: string) => (ctx: EventContext): void => {
      const d = ctx.delivery;
      if (!d) return;
      const s = this.settlements.get(d);
      if (!s) return;
      this.settlements.delete(d);
      if (ok) s.resolve();
      else s.reject(new Error(`the broker ${why} the message to ${address}`));
    };
    sender.on('accepted', settle(true, 'accepted'));
    sender.on('rejected', settle(false, 'rejected'));
    sender.on('released', settle(false, 'released'));
    sender.on('modified', settle(false, 'did not take'));
    sender.on('sender_close', () => this.senders.delete(address));
    entry = { sender, open };
    this.senders.set(address, entry);
    return entry;
  }

  async subscribe(spec: SubscribeSpec, onDelivery: (delivery: Delivery) => void, onEnded?: (error: Error) => void): Promise<BrokerSubscription> {
    if (spec.selector !== undefined) throw new Error('selectors are not supported by the AMQP 1.0 binding');
    if (spec.durableName !== undefined) throw new Error('durable subscriptions are not supported by the AMQP 1.0 binding');
    const auto = spec.ack === 'auto';
    const d = spec.destination;
    const receiver: Receiver = this.live().open_receiver({ source: { address: amqp10Address(d) }, autoaccept: auto, credit_window: spec.prefetch });
    let open = false;
    let closed = false;
    await new Promise<void>((resolve, reject) => {
      receiver.once('receiver_open', () => {
        open = true;
        resolve();
      });
      receiver.on('receiver_error', (ctx: EventContext) => {
        const e = new Error(text(ctx.receiver?.error ? JSON.stringify(ctx.receiver.error) : undefined) ?? `the broker refused ${amqp10Address(d)}`);
        if (!open) reject(e);
        else if (!closed) onEnded?.(e);
      });
    });
    /** Deliveries not settled yet: given back to the broker when the subscription ends. */
    const unsettled = new Set<AmqpDelivery>();
    receiver.on('message', (ctx: EventContext) => {
      const msg = ctx.message;
      const delivery = ctx.delivery;
      if (!msg || !delivery) return;
      if (closed) {
        if (!auto) delivery.release();
        return;
      }
      if (!auto) unsettled.add(delivery);
      const destination: JmsDestination = d.kind === 'topic' ? { kind: 'topic', name: text(msg.subject) ?? d.name } : d;
      const jms = fromAmqp(msg, d.kind === 'topic' ? { kind: 'topic', name: d.name } : destination);
      onDelivery({
        message: jms,
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
      if (this.lost || this.closing) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        receiver.once('receiver_close', () => {
          clearTimeout(t);
          resolve();
        });
        receiver.close();
      });
      // RabbitMQ keeps unsettled deliveries of a detached link on the session: hand them back
      // once the link is gone, so they cannot come back to it (`released`; RabbitMQ 3.x refuses
      // the `modified` outcome and closes the connection).
      for (const u of unsettled) u.release();
      unsettled.clear();
    };
    return { close: end, remove: end };
  }

  async send(message: JmsMessage): Promise<void> {
    const entry = this.senderFor(amqp10Address(message.destination));
    await entry.open;
    await new Promise<void>((resolve, reject) => {
      const delivery = entry.sender.send(toAmqp(message));
      this.settlements.set(delivery, { resolve, reject });
    });
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
      const t = setTimeout(resolve, 2000);
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
