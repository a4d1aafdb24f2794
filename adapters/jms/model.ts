/**
 * The JMS-like message model every broker binding speaks: a destination (queue, topic, temporary
 * queue or topic, and a name), the JMS header fields and custom properties, and an opaque body.
 *
 * JMS 2.0 section 3.4 (message header fields) and 3.5 (properties) are the reference for the
 * field set; STOMP carries them as frame headers (see `mapper.ts`).
 */
import { randomBytes } from 'node:crypto';

/** What a destination is. Temporary destinations belong to one client connection. */
export type DestinationKind = 'queue' | 'topic' | 'temp-queue' | 'temp-topic';

/** A destination on the broker. */
export interface JmsDestination {
  readonly kind: DestinationKind;
  /** The broker-side name: a queue name, a topic name (RabbitMQ: the `amq.topic` routing key). */
  readonly name: string;
}

/**
 * A custom property value with its JMS type (JMS 2.0 section 3.5.4: the primitive types and
 * String). `long` is a `bigint` so that every 64-bit value survives; `float` holds the value as
 * given (brokers store it in 32 bits).
 */
export type JmsProperty =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'byte' | 'short' | 'int' | 'float' | 'double'; readonly value: number }
  | { readonly type: 'long'; readonly value: bigint };

/** The JMS type of a custom property. */
export type JmsPropertyType = JmsProperty['type'];

/** Every {@link JmsPropertyType}, in JMS order. */
export const JMS_PROPERTY_TYPES: readonly JmsPropertyType[] = ['boolean', 'byte', 'short', 'int', 'long', 'float', 'double', 'string'];

/** A string property (what every untyped STOMP header is). */
export function stringProperty(value: string): JmsProperty {
  return { type: 'string', value };
}

const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;
/** 2^63: integers at or beyond it are no `long`. */
const LONG_LIMIT = 2 ** 63;

/**
 * A property from a value a broker client library decoded, or `undefined` for values JMS
 * properties cannot hold (null, lists, maps, timestamps). amqplib and rhea hand every AMQP
 * integer and floating-point type over as a JavaScript number without its width: an integer
 * becomes `int` when it fits 32 bits, `long` when it fits 64, anything else `double`. Bytes are
 * read as UTF-8 text.
 */
export function propertyOf(value: unknown): JmsProperty | undefined {
  switch (typeof value) {
    case 'string':
      return { type: 'string', value };
    case 'boolean':
      return { type: 'boolean', value };
    case 'number':
      if (Number.isInteger(value) && value >= INT_MIN && value <= INT_MAX) return { type: 'int', value };
      if (Number.isInteger(value) && value >= -LONG_LIMIT && value < LONG_LIMIT) return { type: 'long', value: BigInt(value) };
      return { type: 'double', value };
    default:
      return Buffer.isBuffer(value) ? { type: 'string', value: value.toString('utf8') } : undefined;
  }
}

/** One message, as a binding sends it or hands it over on delivery. */
export interface JmsMessage {
  readonly destination: JmsDestination;
  /** JMSMessageID: assigned by the broker (or by the binding when the broker assigns none). */
  readonly messageId?: string;
  /** JMSCorrelationID. */
  readonly correlationId?: string;
  /** JMSReplyTo. */
  readonly replyTo?: JmsDestination;
  /** JMSType. */
  readonly type?: string;
  /** JMSPriority, 0–9. */
  readonly priority?: number;
  /** JMSExpiration: absolute time in ms since the epoch; absent or 0: never. */
  readonly expires?: number;
  /** JMSDeliveryMode: `true` for PERSISTENT. */
  readonly persistent?: boolean;
  /** JMSTimestamp: ms since the epoch. */
  readonly timestamp?: number;
  /** JMSRedelivered: set on delivery when the broker delivers the message again. */
  readonly redelivered?: boolean;
  /** MIME type of the body. */
  readonly contentType?: string;
  /** Application properties with their JMS types, in the order they were given. */
  readonly properties: ReadonlyMap<string, JmsProperty>;
  readonly body: Buffer;
}

/** How a subscriber acknowledges: per STOMP `ack` header. */
export type AckMode = 'auto' | 'client' | 'client-individual';

/** Names a destination the way STOMP does (`/queue/NAME`, `/topic/NAME`, `/temp-queue/NAME`...). */
export function destinationText(d: JmsDestination): string {
  return `/${d.kind}/${d.name}`;
}

/** Two destinations are the same broker destination. */
export function sameDestination(a: JmsDestination, b: JmsDestination): boolean {
  return a.kind === b.kind && a.name === b.name;
}

const minted = new WeakMap<JmsMessage, string>();
const mintPrefix = `ID:gangway-${randomBytes(6).toString('hex')}-`;
let mintCount = 0;

/**
 * The JMSMessageID a binding sends `m` with when its broker assigns none: the message's own, or
 * one minted once per message object, so a message sent again (its confirmation was lost with a
 * broker connection) keeps its id and a consumer can tell the copy.
 */
export function messageIdFor(m: JmsMessage): string {
  if (m.messageId !== undefined) return m.messageId;
  let id = minted.get(m);
  if (id === undefined) {
    id = `${mintPrefix}${++mintCount}`;
    minted.set(m, id);
  }
  return id;
}
