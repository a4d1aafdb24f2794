/**
 * STOMP broker binding (stompit → ActiveMQ Classic and other STOMP 1.2 brokers).
 *
 * - Destinations: queue `/queue/NAME`, topic `/topic/NAME`; Gangway's temporary destinations are
 *   ordinary `/queue/gangway.temp.…` / `/topic/gangway.temp.…` names; other clients' temporary
 *   destinations arrive as `/remote-temp-queue/ID:…` and are sent back under the same name.
 * - Receipts: every frame the binding sends carries `receipt` (the binding, not stompit, keeps
 *   them); the promise resolves on the broker's RECEIPT. An ERROR naming a receipt fails that
 *   operation only: ActiveMQ keeps the connection after such an ERROR (bad selector, unknown
 *   transaction, refused ACK), and it is shared by many clients. stompit's own ERROR handler
 *   would end the connection; an ERROR naming no pending receipt still does (the loss is reported).
 * - Acks: `client-individual` on the broker for every acknowledged subscription.
 * - Selectors: the `selector` header. Durable topic subscriptions: the connection's `client-id`
 *   and `activemq.subscriptionName` (ActiveMQ's STOMP mapping); removed by UNSUBSCRIBE with it.
 * - Transactions: BEGIN/COMMIT/ABORT on the broker (atomic).
 * - Custom properties: ActiveMQ keeps every STOMP header as a JMS String property (its STOMP
 *   transport has no typed headers). Typed properties go as text with the `jms-property-types`
 *   header, which ActiveMQ keeps as one more String property: deliveries to Gangway clients are
 *   typed again; JMS consumers on the broker see strings.
 */
import { connect, type Client } from 'stompit';
import type { IncomingFrame } from 'stompit/lib/IncomingFrameStream';
import type { Writable } from 'node:stream';
import {
  TEMP_PREFIX,
  messageFromHeaders,
  sendHeaders,
  type Binding,
  type BindingCapabilities,
  type BindingFactory,
  type BindingOptions,
  type BrokerSubscription,
  type BrokerTransaction,
  type Delivery,
  type HeaderPair,
  type JmsDestination,
  type JmsMessage,
  type LossInfo,
  type SubscribeSpec,
} from '../jms';

/** Headers as stompit takes them (it writes `String(value)`). */
type Headers = Record<string, string | number>;

/** The headers stompit parsed on an incoming frame (present at run time; not in @types/stompit). */
function frameHeaders(frame: object): HeaderPair[] {
  const raw: unknown = Reflect.get(frame, 'headers');
  if (typeof raw !== 'object' || raw === null) return [];
  return Object.entries(raw).map(([k, v]) => [k, String(v)] as const);
}

/** One header stompit parsed on an incoming frame. */
function frameHeader(frame: object, name: string): string | undefined {
  const raw: unknown = Reflect.get(frame, 'headers');
  if (typeof raw !== 'object' || raw === null) return undefined;
  const v: unknown = Reflect.get(raw, name);
  return v === undefined ? undefined : String(v);
}

/** stompit hands command handlers its incoming frame (typed as a `Writable` in @types/stompit). */
function incoming(frame: Writable): IncomingFrame {
  const f: object = frame;
  if (typeof Reflect.get(f, 'readEmptyBody') !== 'function') throw new TypeError('stompit passed a command handler something that is not an incoming frame');
  return f as IncomingFrame;
}

/** The broker refused one operation with an ERROR frame; the connection stays up. */
export class StompBrokerError extends Error {
  override readonly name = 'StompBrokerError';
}

/** How a JMS destination is named on a STOMP broker. */
export function stompDestination(d: JmsDestination): string {
  switch (d.kind) {
    case 'queue':
      return `/queue/${d.name}`;
    case 'topic':
      return `/topic/${d.name}`;
    case 'temp-queue':
      return d.name.startsWith(TEMP_PREFIX) ? `/queue/${d.name}` : `/remote-temp-queue/${d.name}`;
    case 'temp-topic':
      return d.name.startsWith(TEMP_PREFIX) ? `/topic/${d.name}` : `/remote-temp-topic/${d.name}`;
  }
}

/** Reads a destination a STOMP broker wrote. */
export function readStompDestination(text: string): JmsDestination {
  const m = /^\/(queue|topic|temp-queue|temp-topic|remote-temp-queue|remote-temp-topic)\/(.*)$/.exec(text);
  if (!m) return { kind: 'queue', name: text };
  const [, prefix, name] = m as unknown as [string, string, string];
  const temp = name.startsWith(TEMP_PREFIX) || prefix.includes('temp');
  if (prefix.endsWith('queue')) return { kind: temp ? 'temp-queue' : 'queue', name };
  return { kind: temp ? 'temp-topic' : 'topic', name };
}

export const STOMP_CAPABILITIES: BindingCapabilities = { selectors: true, durable: true, durableScope: 'connection', atomicTransactions: true };

let nextTx = 0;

class StompBinding implements Binding {
  readonly kind = 'stomp';
  readonly capabilities = STOMP_CAPABILITIES;
  private client: Client | null = null;
  private closing = false;
  private lost = false;
  private readonly lostListeners: ((info: LossInfo) => void)[] = [];
  /** Operations waiting for a RECEIPT, by receipt id. */
  private readonly inflight = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  private nextReceipt = 0;
  private nextSub = 0;

  constructor(private readonly options: BindingOptions) {}

  connect(): Promise<void> {
    const o = this.options;
    const hb = o.heartbeatMs;
    return new Promise<void>((resolve, reject) => {
      let up = false;
      const headers: Headers = {
        host: o.virtualHost ?? o.url.hostname,
        'accept-version': '1.2',
        'heart-beat': `${hb},${hb}`,
      };
      if (o.username !== undefined) headers.login = o.username;
      if (o.password !== undefined) headers.passcode = o.password;
      if (o.clientId !== undefined) headers['client-id'] = o.clientId;
      const client = connect(
        { host: o.url.hostname, port: Number(o.url.port), timeout: o.connectTimeoutMs, connectHeaders: headers },
        (err: Error | null) => {
          if (err) {
            reject(err);
            return;
          }
          up = true;
          // Receipts and ERRORs are the binding's: stompit's handlers would end the connection
          // on any ERROR, and stompit connects these two after CONNECTED, just before this call.
          client.setCommandHandler('RECEIPT', (frame) => this.onReceipt(client, incoming(frame)));
          client.setCommandHandler('ERROR', (frame) => this.onError(client, incoming(frame)));
          resolve();
        },
      );
      this.client = client;
      client.on('error', (err: Error) => {
        if (up) this.fail(err);
      });
      client.on('end', () => {
        if (up) this.fail(new Error('the broker closed the connection'));
      });
    });
  }

  private onReceipt(client: Client, frame: IncomingFrame): void {
    const id = frameHeader(frame, 'receipt-id') ?? '';
    const op = this.inflight.get(id);
    frame.resume();
    if (!op) {
      client.destroy(client.createProtocolError(`RECEIPT for ${JSON.stringify(id)}, which was not asked for`));
      return;
    }
    this.inflight.delete(id);
    op.resolve();
  }

  private onError(client: Client, frame: IncomingFrame): void {
    const id = frameHeader(frame, 'receipt-id');
    const message = frameHeader(frame, 'message') ?? 'the broker sent ERROR';
    // The body is ActiveMQ's stack trace: read past it.
    frame.resume();
    const op = id === undefined ? undefined : this.inflight.get(id);
    if (!op) {
      client.destroy(client.createApplicationError(message));
      return;
    }
    this.inflight.delete(id as string);
    op.reject(new StompBrokerError(message));
  }

  private fail(error: Error): void {
    for (const op of this.inflight.values()) op.reject(error);
    this.inflight.clear();
    if (this.closing || this.lost) return;
    this.lost = true;
    const info: LossInfo = { error, brokerMessage: error.message };
    for (const l of this.lostListeners) l(info);
  }

  private live(): Client {
    if (!this.client || this.lost || this.closing) throw new Error('not connected to the broker');
    return this.client;
  }

  /** Sends one frame with a `receipt` and resolves on the RECEIPT (rejects on its ERROR). */
  private async withReceipt(command: string, headers: Headers, body?: Buffer): Promise<void> {
    const client = this.live();
    await new Promise<void>((resolve, reject) => {
      const id = `gw-${++this.nextReceipt}`;
      this.inflight.set(id, { resolve, reject });
      const frame: Writable = client.sendFrame(command, { ...headers, receipt: id });
      frame.end(body);
    });
  }

  async subscribe(spec: SubscribeSpec, onDelivery: (delivery: Delivery) => void): Promise<BrokerSubscription> {
    const client = this.live();
    const id = ++this.nextSub;
    const ackMode = spec.ack === 'auto' ? 'auto' : 'client-individual';
    const headers: Headers = { destination: stompDestination(spec.destination), id, ack: ackMode, 'activemq.prefetchSize': spec.prefetch };
    if (spec.selector !== undefined) headers.selector = spec.selector;
    if (spec.durableName !== undefined) headers['activemq.subscriptionName'] = spec.durableName;
    let open = true;
    client.setImplicitSubscription(id, ackMode, (err: Error | null, message: Client.Message) => {
      if (err) return;
      if (!open) {
        // stompit reads frames in order: a body left unread would stall the whole connection.
        message.resume();
        return;
      }
      const chunks: Buffer[] = [];
      message.on('data', (c: Buffer) => chunks.push(c));
      message.on('end', () => {
        if (!open) return;
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
        const jms = messageFromHeaders(frameHeaders(message), body, readStompDestination, { keepControlHeaders: true, lenientTypes: true });
        const settle = async (nack: boolean): Promise<void> => {
          // After a loss the broker redelivers the message: nothing is left to settle.
          if (ackMode === 'auto' || this.lost || this.closing) return;
          try {
            await this.withReceipt(nack ? 'NACK' : 'ACK', { id: frameHeader(message, 'ack') ?? '' });
          } catch (err) {
            if (!(err instanceof StompBrokerError)) return;
            throw err;
          }
        };
        onDelivery(new StompDelivery(this, jms, message, settle));
      });
    });
    try {
      await this.withReceipt('SUBSCRIBE', headers);
    } catch (err) {
      open = false;
      this.forget(id);
      throw err;
    }
    const end = async (remove: boolean): Promise<void> => {
      if (!open) return;
      open = false;
      if (this.lost || this.closing) return;
      await this.withReceipt('UNSUBSCRIBE', { id });
      this.forget(id);
      // ActiveMQ removes a durable subscription only once its consumer is gone.
      if (remove && spec.durableName !== undefined) await this.withReceipt('UNSUBSCRIBE', { id, 'activemq.subscriptionName': spec.durableName });
    };
    return { close: () => end(false), remove: () => end(true) };
  }

  /** Drops stompit's record of an ended subscription (it keeps one per id otherwise). */
  private forget(id: number): void {
    const subs: unknown = this.client ? Reflect.get(this.client, '_subscriptions') : undefined;
    if (typeof subs === 'object' && subs !== null) Reflect.deleteProperty(subs, String(id));
  }

  send(message: JmsMessage): Promise<void> {
    return this.withReceipt('SEND', { ...sendHeaders(message, stompDestination), 'content-length': message.body.length }, message.body);
  }

  async begin(): Promise<BrokerTransaction> {
    const id = `gw-tx-${++nextTx}`;
    await this.withReceipt('BEGIN', { transaction: id });
    /** The frames of the transaction: each carries a receipt, so an ERROR names the one refused. */
    const frames: Promise<void>[] = [];
    /** Deliveries of another connection (a durable subscription's own one): acked there after COMMIT. */
    const foreign: Delivery[] = [];
    const add = (frame: Promise<void>): void => {
      frame.catch(() => undefined);
      frames.push(frame);
    };
    return {
      send: (message: JmsMessage): void => {
        add(this.withReceipt('SEND', { ...sendHeaders(message, stompDestination), 'content-length': message.body.length, transaction: id }, message.body));
      },
      ack: (delivery: Delivery): void => {
        if (!(delivery instanceof StompDelivery) || delivery.binding !== this) {
          foreign.push(delivery);
          return;
        }
        if (this.lost) return;
        add(this.withReceipt('ACK', { id: frameHeader(delivery.raw, 'ack') ?? '', transaction: id }));
      },
      commit: async () => {
        // The broker answers every frame before the COMMIT: if it refused one, nothing is committed.
        const refused = (await Promise.allSettled(frames)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (refused) {
          await this.withReceipt('ABORT', { transaction: id });
          throw refused.reason instanceof Error ? refused.reason : new Error(String(refused.reason));
        }
        await this.withReceipt('COMMIT', { transaction: id });
        for (const d of foreign) await d.ack();
      },
      abort: async () => {
        await Promise.allSettled(frames);
        await this.withReceipt('ABORT', { transaction: id });
      },
    };
  }

  async declareTemporary(): Promise<void> {
    // ActiveMQ creates destinations on first use.
  }

  async deleteTemporary(): Promise<void> {
    // STOMP has no command to delete a destination: configure ActiveMQ to collect inactive
    // `gangway.temp.>` destinations (adapters/README.md).
  }

  async close(): Promise<void> {
    const client = this.client;
    if (this.closing || !client) return;
    if (this.lost) {
      this.closing = true;
      return;
    }
    const bye = this.withReceipt('DISCONNECT', {});
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
    });
    // The broker closes the connection after its RECEIPT; a broker that does not answer is cut.
    await Promise.race([bye.catch(() => undefined), late]);
    clearTimeout(timer);
    client.destroy(client.createTransportError('disconnected'));
  }

  onLost(listener: (info: LossInfo) => void): void {
    this.lostListeners.push(listener);
  }
}

/** A delivery that keeps stompit's message, for acks inside a transaction. */
class StompDelivery implements Delivery {
  constructor(
    readonly binding: StompBinding,
    readonly message: JmsMessage,
    readonly raw: Client.Message,
    private readonly settle: (nack: boolean) => Promise<void>,
  ) {}

  ack(): Promise<void> {
    return this.settle(false);
  }

  nack(): Promise<void> {
    return this.settle(true);
  }
}

/** `stomp://host:port`: one stompit connection. */
export const stompBinding: BindingFactory = (options) => new StompBinding(options);
