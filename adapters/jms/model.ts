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
  /** Application properties, in the order they were given. */
  readonly properties: ReadonlyMap<string, string>;
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
