/**
 * STOMP broker binding (stompit → ActiveMQ Classic and other STOMP 1.2 brokers).
 *
 * - Destinations: queue `/queue/NAME`, topic `/topic/NAME`; Gangway's temporary destinations are
 *   ordinary `/queue/gangway.temp.…` / `/topic/gangway.temp.…` names; other clients' temporary
 *   destinations arrive as `/remote-temp-queue/ID:…` and are sent back under the same name.
 * - Receipts: every SEND, SUBSCRIBE, COMMIT and ABORT carries `receipt`; the promise resolves
 *   on the broker's RECEIPT. stompit ends the connection on any ERROR frame: the operations in
 *   flight are rejected with the broker's `message`, and the binding reports the loss.
 * - Acks: `client-individual` on the broker for every acknowledged subscription.
 * - Selectors: the `selector` header. Durable topic subscriptions: the connection's `client-id`
 *   and `activemq.subscriptionName` (ActiveMQ's STOMP mapping); removed by UNSUBSCRIBE with it.
 * - Transactions: BEGIN/COMMIT/ABORT on the broker (atomic).
 */
import { connect, type Client } from 'stompit';
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
  /** Rejecters of operations waiting for a RECEIPT. */
  private readonly pending = new Set<(err: Error) => void>();
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

  private fail(error: Error): void {
    for (const reject of this.pending) reject(error);
    this.pending.clear();
    if (this.closing || this.lost) return;
    this.lost = true;
    const info: LossInfo = { error, brokerMessage: error.message };
    for (const l of this.lostListeners) l(info);
  }

  private live(): Client {
    if (!this.client || this.lost || this.closing) throw new Error('not connected to the broker');
    return this.client;
  }

  /** Sends one frame with a `receipt` and resolves on the RECEIPT. */
  private withReceipt(command: string, headers: Headers, body?: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let client: Client;
      try {
        client = this.live();
      } catch (err) {
        reject(err);
        return;
      }
      const rejecter = (err: Error): void => reject(err);
      this.pending.add(rejecter);
      // Only `onReceipt`: stompit would add a client `error` listener per frame for `onError`;
      // a failed connection rejects every operation in flight through `pending` instead.
      const options: Pick<Client.SendOptions, 'onReceipt'> = {
        onReceipt: () => {
          this.pending.delete(rejecter);
          resolve();
        },
      };
      const frame: Writable = client.sendFrame(command, headers, options as Client.SendOptions);
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
        const jms = messageFromHeaders(frameHeaders(message), body, readStompDestination, { keepControlHeaders: true });
        const settle = (nack: boolean): Promise<void> => {
          // After a loss the broker redelivers the message: nothing is left to settle.
          if (ackMode === 'auto' || this.lost || this.closing) return Promise.resolve();
          return this.withReceipt(nack ? 'NACK' : 'ACK', { id: frameHeader(message, 'ack') ?? '' }).catch(() => undefined);
        };
        onDelivery(new StompDelivery(this, jms, message, settle));
      });
    });
    await this.withReceipt('SUBSCRIBE', headers);
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
    this.live()
      .sendFrame('BEGIN', { transaction: id })
      .end();
    return {
      send: (message: JmsMessage): void => {
        this.live()
          .sendFrame('SEND', { ...sendHeaders(message, stompDestination), 'content-length': message.body.length, transaction: id })
          .end(message.body);
      },
      ack: (delivery: Delivery): void => {
        if (!(delivery instanceof StompDelivery) || delivery.binding !== this) {
          // A delivery of another connection (a durable subscription's own one): settled there.
          void delivery.ack();
          return;
        }
        if (this.lost) return;
        this.live()
          .sendFrame('ACK', { id: frameHeader(delivery.raw, 'ack') ?? '', transaction: id })
          .end();
      },
      commit: () => this.withReceipt('COMMIT', { transaction: id }),
      abort: () => this.withReceipt('ABORT', { transaction: id }),
    };
  }

  async declareTemporary(): Promise<void> {
    // ActiveMQ creates destinations on first use.
  }

  async deleteTemporary(): Promise<void> {
    // STOMP has no command to delete a destination: configure ActiveMQ to collect inactive
    // `gangway.temp.>` destinations (adapters/README.md).
  }

  close(): Promise<void> {
    if (this.closing || !this.client) return Promise.resolve();
    this.closing = true;
    const client = this.client;
    if (this.lost) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.destroy(new Error('disconnect timed out'));
        resolve();
      }, 2000);
      client.disconnect(() => {
        clearTimeout(timer);
        resolve();
      });
    });
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
