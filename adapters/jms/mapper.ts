/**
 * STOMP frame headers ⇄ the JMS model. Used both by the `stomp.jms` service (frames from and to
 * WebSocket clients) and by the STOMP broker binding (frames from and to ActiveMQ).
 *
 * STOMP 1.2 section "SEND" and "MESSAGE"; the JMS header names follow ActiveMQ's STOMP mapping
 * (https://activemq.apache.org/components/classic/documentation/stomp): `correlation-id`,
 * `reply-to`, `type`, `priority`, `expires` (absolute ms), `persistent`, `timestamp`,
 * `redelivered`, `content-type`; every other header is a custom property.
 */
import type { DestinationKind, JmsDestination, JmsMessage } from './model';

/** A STOMP header as the codec gives it. */
export type HeaderPair = readonly [name: string, value: string];

/** Headers STOMP itself uses on SEND/MESSAGE frames; they never become custom properties. */
export const FRAME_HEADERS: ReadonlySet<string> = new Set([
  'destination',
  'message-id',
  'subscription',
  'ack',
  'receipt',
  'transaction',
  'content-length',
  'content-type',
  'correlation-id',
  'reply-to',
  'type',
  'priority',
  'expires',
  'persistent',
  'timestamp',
  'redelivered',
]);

/**
 * Broker-specific headers that must not travel from a client to a broker as properties (they
 * steer ActiveMQ or RabbitMQ behaviour the service decides on).
 */
const BROKER_CONTROL_HEADERS = /^(activemq\.|x-queue-|x-message-ttl$|x-dead-letter|auto-delete$|durable$|exclusive$)/;

const DESTINATION = /^\/(queue|topic|temp-queue|temp-topic)\/(.+)$/;

/** Parses `/queue/NAME`, `/topic/NAME`, `/temp-queue/NAME` or `/temp-topic/NAME`; `null` otherwise. */
export function parseDestination(text: string): JmsDestination | null {
  const m = DESTINATION.exec(text);
  if (!m) return null;
  return { kind: m[1] as DestinationKind, name: m[2] as string };
}

/** Why a header could not be mapped. */
export class MappingError extends Error {
  override readonly name = 'MappingError';
  constructor(
    readonly header: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a destination header; the caller decides how temporary names are scoped. */
export type DestinationReader = (text: string, header: string) => JmsDestination;
/** Writes a destination for a header. */
export type DestinationWriter = (d: JmsDestination, header: string) => string;

function intHeader(name: string, value: string, min: number, max: number): number {
  if (!/^-?[0-9]+$/.test(value)) throw new MappingError(name, `${name}: expected an integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new MappingError(name, `${name}: expected ${min}–${max}, got ${value}`);
  return n;
}

/**
 * Builds a message from SEND (client) or MESSAGE (broker) headers and a body.
 * @throws MappingError naming the header that is not valid
 */
export function messageFromHeaders(headers: readonly HeaderPair[], body: Buffer, readDestination: DestinationReader, options: { keepControlHeaders?: boolean } = {}): JmsMessage {
  let destination: JmsDestination | undefined;
  const seen = new Set<string>();
  const properties = new Map<string, string>();
  const m: {
    messageId?: string;
    correlationId?: string;
    replyTo?: JmsDestination;
    type?: string;
    priority?: number;
    expires?: number;
    persistent?: boolean;
    timestamp?: number;
    redelivered?: boolean;
    contentType?: string;
  } = {};
  for (const [name, value] of headers) {
    // STOMP: the first of repeated headers counts.
    if (seen.has(name)) continue;
    seen.add(name);
    switch (name) {
      case 'destination':
        destination = readDestination(value, name);
        break;
      case 'message-id':
        m.messageId = value;
        break;
      case 'correlation-id':
        m.correlationId = value;
        break;
      case 'reply-to':
        m.replyTo = readDestination(value, name);
        break;
      case 'type':
        m.type = value;
        break;
      case 'priority':
        m.priority = intHeader(name, value, 0, 9);
        break;
      case 'expires':
        m.expires = intHeader(name, value, 0, Number.MAX_SAFE_INTEGER);
        break;
      case 'persistent':
        m.persistent = value === 'true';
        break;
      case 'timestamp':
        m.timestamp = intHeader(name, value, 0, Number.MAX_SAFE_INTEGER);
        break;
      case 'redelivered':
        m.redelivered = value === 'true';
        break;
      case 'content-type':
        m.contentType = value;
        break;
      default:
        if (FRAME_HEADERS.has(name)) break;
        if (!options.keepControlHeaders && BROKER_CONTROL_HEADERS.test(name)) break;
        properties.set(name, value);
    }
  }
  if (!destination) throw new MappingError('destination', 'destination: required');
  return { destination, ...m, properties, body };
}

/**
 * The headers of a message in STOMP order: `destination`, `message-id`, the JMS fields that are
 * set, `content-type`, `content-length`, then custom properties. `subscription` and `ack` are
 * not included (they differ per subscriber and go last).
 */
export function headersFromMessage(msg: JmsMessage, writeDestination: DestinationWriter, messageId: string): HeaderPair[] {
  const h: HeaderPair[] = [
    ['destination', writeDestination(msg.destination, 'destination')],
    ['message-id', messageId],
  ];
  if (msg.correlationId !== undefined) h.push(['correlation-id', msg.correlationId]);
  if (msg.replyTo !== undefined) h.push(['reply-to', writeDestination(msg.replyTo, 'reply-to')]);
  if (msg.type !== undefined) h.push(['type', msg.type]);
  if (msg.priority !== undefined) h.push(['priority', String(msg.priority)]);
  if (msg.expires !== undefined) h.push(['expires', String(msg.expires)]);
  if (msg.persistent !== undefined) h.push(['persistent', String(msg.persistent)]);
  if (msg.timestamp !== undefined) h.push(['timestamp', String(msg.timestamp)]);
  if (msg.redelivered) h.push(['redelivered', 'true']);
  if (msg.contentType !== undefined) h.push(['content-type', msg.contentType]);
  h.push(['content-length', String(msg.body.length)]);
  for (const [k, v] of msg.properties) h.push([k, v]);
  return h;
}

/** The SEND headers a STOMP broker needs for `msg` (no `content-length`: the STOMP client adds it). */
export function sendHeaders(msg: JmsMessage, writeDestination: DestinationWriter): Record<string, string> {
  const out: Record<string, string> = { destination: writeDestination(msg.destination, 'destination') };
  if (msg.correlationId !== undefined) out['correlation-id'] = msg.correlationId;
  if (msg.replyTo !== undefined) out['reply-to'] = writeDestination(msg.replyTo, 'reply-to');
  if (msg.type !== undefined) out.type = msg.type;
  if (msg.priority !== undefined) out.priority = String(msg.priority);
  if (msg.expires !== undefined) out.expires = String(msg.expires);
  if (msg.persistent !== undefined) out.persistent = String(msg.persistent);
  if (msg.contentType !== undefined) out['content-type'] = msg.contentType;
  for (const [k, v] of msg.properties) if (!(k in out)) out[k] = v;
  return out;
}
