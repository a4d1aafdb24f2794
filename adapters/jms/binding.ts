/**
 * The back-side seam of JMS-style messaging: one `Binding` is one connection to one broker
 * through one client library. A new broker is a new binding (a folder under `adapters/` and a
 * line in `adapters/index.ts`).
 */
import type { JmsDestination, JmsMessage } from './model';

/** What a broker can do through this binding; the service refuses what is missing with a clear ERROR. */
export interface BindingCapabilities {
  /** JMS message selectors on subscriptions. */
  readonly selectors: boolean;
  /** Durable topic subscriptions. */
  readonly durable: boolean;
  /**
   * `connection`: a durable subscription is identified by the connection's client id and needs a
   * connection of its own (ActiveMQ); `broker`: any connection can open it (a named queue).
   */
  readonly durableScope: 'connection' | 'broker';
  /** Whether transactions are atomic on the broker (otherwise applied in order at commit). */
  readonly atomicTransactions: boolean;
  /** Why a missing capability is missing, when the broker is the reason (shown in the ERROR). */
  readonly why?: { readonly selectors?: string; readonly durable?: string };
}

/** How to reach a broker. */
export interface BindingOptions {
  /** The broker URI (`stomp://host:port`, `amqp://host:port/vhost`, `amqp10://host:port`). */
  readonly url: URL;
  readonly username?: string;
  readonly password?: string;
  /** STOMP `host` header or AMQP virtual host. */
  readonly virtualHost?: string;
  /** JMS client id (durable subscriptions on brokers whose durable scope is the connection). */
  readonly clientId?: string;
  /** Heart-beat / keep-alive toward the broker in ms; 0 disables. */
  readonly heartbeatMs: number;
  /** Time allowed for the connection handshake. */
  readonly connectTimeoutMs: number;
}

/** What to subscribe to. */
export interface SubscribeSpec {
  readonly destination: JmsDestination;
  /** A JMS selector; only when {@link BindingCapabilities.selectors}. */
  readonly selector?: string;
  /**
   * `auto`: the broker considers a message delivered when it is sent; `individual`: each delivery
   * is settled with {@link Delivery.ack} or {@link Delivery.nack}.
   */
  readonly ack: 'auto' | 'individual';
  /** A durable topic subscription by name (the binding's client id scopes it where needed). */
  readonly durableName?: string;
  /** Unsettled deliveries the broker may have outstanding on this subscription. */
  readonly prefetch: number;
}

/** One message delivered on a subscription. */
export interface Delivery {
  readonly message: JmsMessage;
  /** Settles the delivery as consumed (no-op for `auto` subscriptions). */
  ack(): Promise<void>;
  /** Returns the delivery to the broker (RabbitMQ: requeued; ActiveMQ: redelivery policy / DLQ). */
  nack(): Promise<void>;
}

/** A subscription open on the broker. */
export interface BrokerSubscription {
  /** Ends the subscription; unsettled deliveries go back to the broker. */
  close(): Promise<void>;
  /** Ends a durable subscription for good (removes it on the broker). */
  remove(): Promise<void>;
}

/** A broker transaction: sends and acks take effect together at commit. */
export interface BrokerTransaction {
  send(message: JmsMessage): void;
  ack(delivery: Delivery): void;
  /** Resolves when the broker confirmed the commit. */
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Why a binding's connection ended. */
export interface LossInfo {
  readonly error: Error;
  /** The broker refused something this binding asked for (an ERROR / channel close), with its text. */
  readonly brokerMessage?: string;
}

/** One connection to one broker. */
export interface Binding {
  /** The binding's name (`stomp`, `amqp091`, `amqp10`). */
  readonly kind: string;
  readonly capabilities: BindingCapabilities;
  /** Opens the connection; rejects when the broker refuses or does not answer in time. */
  connect(): Promise<void>;
  /**
   * Opens a subscription; rejects with the broker's reason. `onEnded` is called when the broker
   * ends the subscription on its own while the connection stays up (queue deleted, consumer
   * cancelled, channel error).
   */
  subscribe(spec: SubscribeSpec, onDelivery: (delivery: Delivery) => void, onEnded?: (error: Error) => void): Promise<BrokerSubscription>;
  /** Resolves when the broker confirmed the message (receipt, publisher confirm, settlement). */
  send(message: JmsMessage): Promise<void>;
  /** Starts a transaction. */
  begin(): Promise<BrokerTransaction>;
  /** Makes sure a temporary destination exists on the broker before it is used. */
  declareTemporary(destination: JmsDestination): Promise<void>;
  /** Removes a temporary destination whose owner has gone (where the broker allows it). */
  deleteTemporary(destination: JmsDestination): Promise<void>;
  /** Closes the connection; no `lost` event follows. */
  close(): Promise<void>;
  /** Called once when the connection ends without {@link Binding.close}. */
  onLost(listener: (info: LossInfo) => void): void;
}

/** Creates bindings for one URI scheme. */
export type BindingFactory = (options: BindingOptions) => Binding;

/** Prefix of broker names Gangway gives temporary destinations. */
export const TEMP_PREFIX = 'gangway.temp.';
