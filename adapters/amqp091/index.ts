/**
 * AMQP 0-9-1 binding (amqplib → RabbitMQ).
 *
 * - Queues: the default exchange, routing key = queue name; the queue is declared durable on
 *   first use (as RabbitMQ's STOMP plugin does for `/queue/NAME`).
 * - Topics: the `amq.topic` exchange, routing key = topic name. A subscription is an exclusive,
 *   auto-delete, server-named queue bound with that key; a durable subscription is a durable
 *   queue `gangway.durable.NAME` bound the same way, kept until it is removed.
 * - Temporary destinations: non-durable queues `gangway.temp.…` with `x-expires` (RabbitMQ drops
 *   them when unused), deleted when their owner leaves; temporary topics are `amq.topic` keys.
 * - Receipts: publisher confirms. Acks: per-subscription channel with `prefetch`; NACK requeues
 *   (the next delivery carries `redelivered`).
 * - Selectors: not supported (the service answers with ERROR).
 * - Transactions: the frames of a transaction are held until COMMIT, then published on a channel
 *   in `tx.select` mode and committed with `tx.commit` (atomic for the publishes); acks of the
 *   transaction are applied after the commit (they belong to other channels).
 * - JMS fields without an AMQP property travel as headers: `expires` as `x-jms-expires`
 *   (absolute ms; also the AMQP `expiration` TTL), the JMS timestamp in ms as `x-jms-timestamp`.
 * - Custom properties are headers of their own field-table type (`t` boolean, `b` byte, `s`
 *   short, `I` int, `l` long, `f` float, `d` double, `S` string), written with amqplib's
 *   `{'!': type, value}` form. amqplib decodes every numeric type to a JavaScript number, so a
 *   delivery's numeric headers are read as `int`, `long` or `double` (`propertyOf`).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type Options } from 'amqplib';
import {
  TEMP_PREFIX,
  destinationText,
  messageIdFor,
  parseDestination,
  propertyOf,
  type Binding,
  type BindingCapabilities,
  type BindingFactory,
  type BindingOptions,
  type BrokerSubscription,
  type BrokerTransaction,
  type Delivery,
  type JmsDestination,
  type JmsMessage,
  type JmsProperty,
  type LossInfo,
  type SubscribeSpec,
} from '../jms';

/** AMQP 0-9-1 method ids of the `tx` class (class 90), which amqplib does not wrap. */
const TX_SELECT = (90 << 16) | 10;
const TX_SELECT_OK = (90 << 16) | 11;
const TX_COMMIT = (90 << 16) | 20;
const TX_COMMIT_OK = (90 << 16) | 21;

/** amqplib's channel RPC (present on every channel at run time; not in its type declarations). */
type Rpc = (method: number, fields: Record<string, never>, expect: number) => Promise<unknown>;

function rpcOf(ch: Channel): Rpc {
  const fn: unknown = Reflect.get(ch, 'rpc');
  if (typeof fn !== 'function') throw new Error('amqplib channel has no rpc(): tx.select is not available');
  return (method, fields, expect) => (fn as Rpc).call(ch, method, fields, expect);
}

/** How long an unused temporary queue survives on RabbitMQ (owner gone without a clean end). */
const TEMP_QUEUE_EXPIRES_MS = 60_000;
const TOPIC_EXCHANGE = 'amq.topic';
const DURABLE_PREFIX = 'gangway.durable.';

export const AMQP091_CAPABILITIES: BindingCapabilities = { selectors: false, durable: true, durableScope: 'broker', atomicTransactions: true };

const idPrefix = `ID:gangway-${randomBytes(6).toString('hex')}-`;
let nextId = 0;

/** Reads a `reply-to` AMQP string (Gangway writes STOMP destination text; anything else is a queue name). */
function readReplyTo(text: string): JmsDestination {
  return parseDestination(text) ?? { kind: 'queue', name: text };
}

function tempQueueOptions(): Options.AssertQueue {
  return { durable: false, autoDelete: false, exclusive: false, arguments: { 'x-expires': TEMP_QUEUE_EXPIRES_MS } };
}

function isTopic(d: JmsDestination): boolean {
  return d.kind === 'topic' || d.kind === 'temp-topic';
}

/** A field-table value of an explicit type, in amqplib's notation. */
interface TypedField {
  readonly '!': 'byte' | 'short' | 'int' | 'long' | 'float' | 'double';
  readonly value: number | bigint;
}

/** A custom property as an AMQP 0-9-1 header value of its own type. */
export function headerValue(p: JmsProperty): string | boolean | TypedField {
  return p.type === 'string' || p.type === 'boolean' ? p.value : { '!': p.type, value: p.value };
}

/** A JMS message as AMQP properties. */
function publishOptions(m: JmsMessage): Options.Publish {
  const headers: Record<string, string | number | boolean | TypedField> = {};
  for (const [k, v] of m.properties) headers[k] = headerValue(v);
  const o: Options.Publish = { headers, messageId: messageIdFor(m) };
  const now = Date.now();
  const ts = m.timestamp ?? now;
  headers['x-jms-timestamp'] = ts;
  o.timestamp = Math.floor(ts / 1000);
  if (m.correlationId !== undefined) o.correlationId = m.correlationId;
  if (m.replyTo !== undefined) o.replyTo = destinationText(m.replyTo);
  if (m.type !== undefined) o.type = m.type;
  if (m.priority !== undefined) o.priority = m.priority;
  if (m.persistent !== undefined) o.persistent = m.persistent;
  if (m.contentType !== undefined) o.contentType = m.contentType;
  if (m.expires !== undefined && m.expires > 0) {
    headers['x-jms-expires'] = m.expires;
    o.expiration = String(Math.max(1, m.expires - now));
  }
  return o;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/** An AMQP delivery as a JMS message. */
function messageOf(msg: ConsumeMessage, destination: JmsDestination): JmsMessage {
  const p = msg.properties;
  const properties = new Map<string, JmsProperty>();
  let expires: number | undefined;
  let timestamp: number | undefined;
  const headers: Record<string, unknown> = p.headers ?? {};
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'x-jms-expires') expires = Number(v);
    else if (k === 'x-jms-timestamp') timestamp = Number(v);
    else {
      const property = propertyOf(v);
      if (property) properties.set(k, property);
    }
  }
  if (timestamp === undefined && typeof p.timestamp === 'number') timestamp = p.timestamp * 1000;
  const m: {
    -readonly [K in keyof JmsMessage]?: JmsMessage[K];
  } = { destination, properties, body: msg.content, redelivered: msg.fields.redelivered };
  const messageId = str(p.messageId);
  m.messageId = messageId ?? `${idPrefix}d${msg.fields.deliveryTag}-${++nextId}`;
  const correlationId = str(p.correlationId);
  if (correlationId !== undefined) m.correlationId = correlationId;
  const replyTo = str(p.replyTo);
  if (replyTo !== undefined) m.replyTo = readReplyTo(replyTo);
  const type = str(p.type);
  if (type !== undefined) m.type = type;
  if (typeof p.priority === 'number') m.priority = p.priority;
  if (p.deliveryMode !== undefined) m.persistent = p.deliveryMode === 2;
  const contentType = str(p.contentType);
  if (contentType !== undefined) m.contentType = contentType;
  if (expires !== undefined) m.expires = expires;
  if (timestamp !== undefined) m.timestamp = timestamp;
  return m as JmsMessage;
}

/** A chain that runs tasks one after another. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

class Amqp091Binding implements Binding {
  readonly kind = 'amqp091';
  readonly capabilities = AMQP091_CAPABILITIES;
  private model: ChannelModel | null = null;
  private publisher: ConfirmChannel | null = null;
  private admin: Channel | null = null;
  private txChannel: Channel | null = null;
  private readonly txSerial = new Serial();
  private readonly adminSerial = new Serial();
  private readonly declared = new Set<string>();
  private closing = false;
  private lost = false;
  private readonly lostListeners: ((info: LossInfo) => void)[] = [];

  constructor(private readonly options: BindingOptions) {}

  async connect(): Promise<void> {
    const o = this.options;
    const vhost = o.virtualHost ?? (decodeURIComponent(o.url.pathname.slice(1)) || '/');
    const model = await connect(
      {
        protocol: 'amqp',
        hostname: o.url.hostname,
        port: Number(o.url.port),
        username: o.username ?? 'guest',
        password: o.password ?? 'guest',
        vhost,
        heartbeat: Math.ceil(o.heartbeatMs / 1000),
      },
      { timeout: o.connectTimeoutMs, noDelay: true },
    );
    this.model = model;
    model.on('error', (err: Error) => this.fail(err));
    model.on('close', (err?: Error) => this.fail(err ?? new Error('the broker closed the connection')));
    this.publisher = await model.createConfirmChannel();
    this.publisher.on('error', () => undefined);
    this.publisher.on('close', () => {
      this.publisher = null;
    });
  }

  private fail(error: Error): void {
    if (this.closing || this.lost) return;
    this.lost = true;
    const info: LossInfo = { error, brokerMessage: error.message };
    for (const l of this.lostListeners) l(info);
  }

  private live(): ChannelModel {
    if (!this.model || this.lost || this.closing) throw new Error('not connected to the broker');
    return this.model;
  }

  private async channel(kind: 'publisher'): Promise<ConfirmChannel>;
  private async channel(kind: 'admin' | 'tx'): Promise<Channel>;
  private async channel(kind: 'publisher' | 'admin' | 'tx'): Promise<Channel> {
    const model = this.live();
    if (kind === 'publisher') {
      if (!this.publisher) {
        const ch = await model.createConfirmChannel();
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.publisher === ch) this.publisher = null;
        });
        this.publisher = ch;
      }
      return this.publisher;
    }
    if (kind === 'admin') {
      if (!this.admin) {
        const ch = await model.createChannel();
        ch.on('error', () => undefined);
        ch.on('close', () => {
          if (this.admin === ch) this.admin = null;
        });
        this.admin = ch;
      }
      return this.admin;
    }
    if (!this.txChannel) {
      const ch = await model.createChannel();
      ch.on('error', () => undefined);
      ch.on('close', () => {
        if (this.txChannel === ch) this.txChannel = null;
      });
      await rpcOf(ch)(TX_SELECT, {}, TX_SELECT_OK);
      this.txChannel = ch;
    }
    return this.txChannel;
  }

  /** Declares the queue a send or subscription needs, once per connection. */
  private ensureQueue(d: JmsDestination): Promise<void> {
    if (isTopic(d) || this.declared.has(d.name)) return Promise.resolve();
    return this.adminSerial.run(async () => {
      if (this.declared.has(d.name)) return;
      const ch = await this.channel('admin');
      await ch.assertQueue(d.name, d.kind === 'temp-queue' ? tempQueueOptions() : { durable: true });
      this.declared.add(d.name);
    });
  }

  private route(d: JmsDestination): [exchange: string, key: string] {
    return isTopic(d) ? [TOPIC_EXCHANGE, d.name] : ['', d.name];
  }

  async subscribe(spec: SubscribeSpec, onDelivery: (delivery: Delivery) => void, onEnded?: (error: Error) => void): Promise<BrokerSubscription> {
    if (spec.selector !== undefined) throw new Error('selectors are not supported by RabbitMQ (AMQP 0-9-1)');
    const d = spec.destination;
    if (!isTopic(d)) await this.ensureQueue(d);
    const ch = await this.live().createChannel();
    let open = true;
    let ended = false;
    ch.on('error', (err: Error) => {
      if (open && !this.lost && !this.closing && !ended) {
        ended = true;
        onEnded?.(err);
      }
    });
    const noAck = spec.ack === 'auto';
    let queue = d.name;
    let durableQueue: string | null = null;
    if (!noAck) await ch.prefetch(spec.prefetch);
    if (isTopic(d)) {
      if (spec.durableName !== undefined) {
        durableQueue = `${DURABLE_PREFIX}${spec.durableName}`;
        await ch.assertQueue(durableQueue, { durable: true, exclusive: false, autoDelete: false });
        queue = durableQueue;
      } else {
        queue = (await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false })).queue;
      }
      await ch.bindQueue(queue, TOPIC_EXCHANGE, d.name);
    }
    const { consumerTag } = await ch.consume(
      queue,
      (msg: ConsumeMessage | null) => {
        if (msg === null) {
          if (open && !ended) {
            ended = true;
            onEnded?.(new Error(`the broker cancelled the subscription to ${destinationText(d)}`));
          }
          return;
        }
        if (!open) return;
        const destination: JmsDestination = isTopic(d) ? { kind: d.kind, name: msg.fields.routingKey } : d;
        const settle = (nack: boolean): Promise<void> => {
          if (noAck || !open || this.lost) return Promise.resolve();
          if (nack) ch.nack(msg, false, true);
          else ch.ack(msg);
          return Promise.resolve();
        };
        onDelivery({ message: messageOf(msg, destination), ack: () => settle(false), nack: () => settle(true) });
      },
      { noAck },
    );
    const end = async (remove: boolean): Promise<void> => {
      if (!open) return;
      open = false;
      if (this.lost || this.closing) return;
      try {
        await ch.cancel(consumerTag);
        if (remove && durableQueue !== null) await ch.deleteQueue(durableQueue);
      } finally {
        await ch.close().catch(() => undefined);
      }
    };
    return { close: () => end(false), remove: () => end(true) };
  }

  async send(message: JmsMessage): Promise<void> {
    await this.ensureQueue(message.destination);
    const ch = await this.channel('publisher');
    const [exchange, key] = this.route(message.destination);
    await new Promise<void>((resolve, reject) => {
      ch.publish(exchange, key, message.body, publishOptions(message), (err: unknown) => {
        if (err) reject(err instanceof Error ? err : new Error(`the broker refused the message to ${destinationText(message.destination)}`));
        else resolve();
      });
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
        for (const m of sends) await this.ensureQueue(m.destination);
        await this.txSerial.run(async () => {
          const ch = await this.channel('tx');
          for (const m of sends) {
            const [exchange, key] = this.route(m.destination);
            ch.publish(exchange, key, m.body, publishOptions(m));
          }
          await rpcOf(ch)(TX_COMMIT, {}, TX_COMMIT_OK);
        });
        for (const d of acks) await d.ack();
      },
      abort: async (): Promise<void> => {
        sends.length = 0;
        acks.length = 0;
      },
    };
  }

  async declareTemporary(d: JmsDestination): Promise<void> {
    if (!d.name.startsWith(TEMP_PREFIX)) return;
    await this.ensureQueue(d);
  }

  async deleteTemporary(d: JmsDestination): Promise<void> {
    if (isTopic(d) || this.lost || this.closing) return;
    await this.adminSerial.run(async () => {
      const ch = await this.channel('admin');
      await ch.deleteQueue(d.name);
      this.declared.delete(d.name);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.lost || !this.model) return;
    await this.model.close().catch(() => undefined);
  }

  onLost(listener: (info: LossInfo) => void): void {
    this.lostListeners.push(listener);
  }
}

/** `amqp://host:port[/vhost]`: one amqplib connection. */
export const amqp091Binding: BindingFactory = (options) => new Amqp091Binding(options);
