/**
 * STOMP frame headers ⇄ the JMS model. Used both by the `stomp.jms` service (frames from and to
 * WebSocket clients) and by the STOMP broker binding (frames from and to ActiveMQ).
 *
 * STOMP 1.2 section "SEND" and "MESSAGE"; the JMS header names follow ActiveMQ's STOMP mapping
 * (https://activemq.apache.org/components/classic/documentation/stomp): `correlation-id`,
 * `reply-to`, `type`, `priority`, `expires` (absolute ms), `persistent`, `timestamp`,
 * `redelivered`, `content-type`; every other header is a custom property.
 *
 * STOMP headers are text. A custom property has a JMS type other than string when the frame
 * lists it in the `jms-property-types` header: `NAME=TYPE` entries separated by commas, TYPE one
 * of `boolean`, `byte`, `short`, `int`, `long`, `float`, `double`, `string`
 * (`jms-property-types:qty=int,price=double,urgent=boolean`). Headers it does not list are
 * strings. Values are written the way Java's `toString` writes them: `true`/`false`, decimal
 * integers, decimal or exponent floating point, `NaN`, `Infinity`, `-Infinity`.
 */
import { JMS_PROPERTY_TYPES, stringProperty, type DestinationKind, type JmsDestination, type JmsMessage, type JmsProperty, type JmsPropertyType } from './model';

/** The header that gives custom properties their JMS types (see the file comment). */
export const PROPERTY_TYPES_HEADER = 'jms-property-types';

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

/** Integer ranges of the JMS integer types. */
const INTEGER_RANGES: Readonly<Record<'byte' | 'short' | 'int' | 'long', readonly [bigint, bigint]>> = {
  byte: [-(2n ** 7n), 2n ** 7n - 1n],
  short: [-(2n ** 15n), 2n ** 15n - 1n],
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
};
/** The largest finite 32-bit float. */
const FLOAT_MAX = 3.4028234663852886e38;
const INTEGER_TEXT = /^[+-]?[0-9]+$/;
const DECIMAL_TEXT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const SPECIAL_FLOATS: ReadonlyMap<string, number> = new Map([
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['+Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
]);

/** Reads the text of a property of type `type`; `null` when it is not one. */
function typedValue(type: JmsPropertyType, text: string): JmsProperty | null {
  switch (type) {
    case 'string':
      return stringProperty(text);
    case 'boolean':
      return text === 'true' || text === 'false' ? { type, value: text === 'true' } : null;
    case 'byte':
    case 'short':
    case 'int':
    case 'long': {
      if (!INTEGER_TEXT.test(text)) return null;
      const n = BigInt(text);
      const [min, max] = INTEGER_RANGES[type];
      if (n < min || n > max) return null;
      return type === 'long' ? { type, value: n } : { type, value: Number(n) };
    }
    case 'float':
    case 'double': {
      const special = SPECIAL_FLOATS.get(text);
      if (special !== undefined) return { type, value: special };
      if (!DECIMAL_TEXT.test(text)) return null;
      const n = Number(text);
      if (!Number.isFinite(n) || (type === 'float' && Math.abs(n) > FLOAT_MAX)) return null;
      return { type, value: n };
    }
  }
}

const TYPE_NAMES: ReadonlySet<string> = new Set<string>(JMS_PROPERTY_TYPES);

/** What a value of each type looks like, for error messages. */
const EXPECTED: Readonly<Record<JmsPropertyType, string>> = {
  string: 'text',
  boolean: 'true or false',
  byte: 'an integer -128–127',
  short: 'an integer -32768–32767',
  int: 'an integer -2147483648–2147483647',
  long: 'an integer -9223372036854775808–9223372036854775807',
  float: 'a number within ±3.4028235e38, NaN, Infinity or -Infinity',
  double: 'a finite number, NaN, Infinity or -Infinity',
};

/**
 * Gives the properties listed in a `jms-property-types` header their types. `lenient`: an entry
 * that does not parse, names no property or does not fit its value is ignored (the property stays
 * a string); otherwise it is a {@link MappingError}.
 */
function applyTypes(list: string, properties: Map<string, JmsProperty>, lenient: boolean): void {
  const done = new Set<string>();
  for (const raw of list.split(',')) {
    const entry = raw.trim();
    if (entry === '' && lenient) continue;
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim();
    const type = eq < 0 ? '' : entry.slice(eq + 1).trim();
    if (name === '' || !TYPE_NAMES.has(type)) {
      if (lenient) continue;
      throw new MappingError(PROPERTY_TYPES_HEADER, `${PROPERTY_TYPES_HEADER}: expected NAME=TYPE entries separated by commas, TYPE one of ${[...TYPE_NAMES].join(', ')}; got ${JSON.stringify(entry)}`);
    }
    if (done.has(name)) continue;
    done.add(name);
    const current = properties.get(name);
    if (current === undefined) {
      if (lenient) continue;
      throw new MappingError(PROPERTY_TYPES_HEADER, `${PROPERTY_TYPES_HEADER}: ${JSON.stringify(name)} is not a custom property header of the frame`);
    }
    const text = propertyText(current);
    const typed = typedValue(type as JmsPropertyType, text);
    if (typed) properties.set(name, typed);
    else if (!lenient) throw new MappingError(name, `${name}: expected ${EXPECTED[type as JmsPropertyType]} (${type} in ${PROPERTY_TYPES_HEADER}), got ${JSON.stringify(text)}`);
  }
}

/** The STOMP text of a property value. */
export function propertyText(p: JmsProperty): string {
  return p.type === 'string' ? p.value : String(p.value);
}

/** A name that can be listed in `jms-property-types`. */
function listable(name: string): boolean {
  return name !== '' && !/[,=]/.test(name) && name.trim() === name;
}

/**
 * The custom properties of `msg` as STOMP headers, in order, followed by `jms-property-types`
 * listing those that are not strings (a property whose name holds `,` or `=`, or that is named
 * `jms-property-types`, cannot be typed and goes as text, or not at all).
 */
function propertyHeaders(msg: JmsMessage, skip: (name: string) => boolean, push: (name: string, value: string) => void): void {
  let types = '';
  for (const [k, p] of msg.properties) {
    if (k === PROPERTY_TYPES_HEADER || skip(k)) continue;
    push(k, propertyText(p));
    if (p.type !== 'string' && listable(k)) types += `${types === '' ? '' : ','}${k}=${p.type}`;
  }
  if (types !== '') push(PROPERTY_TYPES_HEADER, types);
}

function intHeader(name: string, value: string, min: number, max: number): number {
  if (!/^-?[0-9]+$/.test(value)) throw new MappingError(name, `${name}: expected an integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new MappingError(name, `${name}: expected ${min}–${max}, got ${value}`);
  return n;
}

/** How {@link messageFromHeaders} treats headers. */
export interface HeaderReadOptions {
  /** Keep broker control headers (`activemq.*`, `x-queue-*`, ...) as properties (frames from a broker). */
  readonly keepControlHeaders?: boolean;
  /**
   * A `jms-property-types` entry that does not parse or fit leaves its property a string instead
   * of failing (frames from a broker, where any producer may have set the header).
   */
  readonly lenientTypes?: boolean;
}

/**
 * Builds a message from SEND (client) or MESSAGE (broker) headers and a body.
 * @throws MappingError naming the header that is not valid
 */
export function messageFromHeaders(headers: readonly HeaderPair[], body: Buffer, readDestination: DestinationReader, options: HeaderReadOptions = {}): JmsMessage {
  let destination: JmsDestination | undefined;
  const seen = new Set<string>();
  const properties = new Map<string, JmsProperty>();
  let types: string | undefined;
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
      case PROPERTY_TYPES_HEADER:
        types = value;
        break;
      default:
        if (FRAME_HEADERS.has(name)) break;
        if (!options.keepControlHeaders && BROKER_CONTROL_HEADERS.test(name)) break;
        properties.set(name, stringProperty(value));
    }
  }
  if (!destination) throw new MappingError('destination', 'destination: required');
  if (types !== undefined) applyTypes(types, properties, options.lenientTypes === true);
  return { destination, ...m, properties, body };
}

/**
 * The headers of a message in STOMP order: `destination`, `message-id`, the JMS fields that are
 * set, `content-type`, `content-length`, then custom properties and `jms-property-types`.
 * `subscription` and `ack` are not included (they differ per subscriber and go last).
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
  propertyHeaders(msg, () => false, (k, v) => h.push([k, v]));
  return h;
}

/**
 * The SEND headers a STOMP broker needs for `msg` (no `content-length`: the STOMP client adds it).
 * Typed properties go as text with `jms-property-types` (ActiveMQ keeps every STOMP header as a
 * String property; the list comes back on delivery and types them again).
 */
export function sendHeaders(msg: JmsMessage, writeDestination: DestinationWriter): Record<string, string> {
  const out: Record<string, string> = { destination: writeDestination(msg.destination, 'destination') };
  if (msg.correlationId !== undefined) out['correlation-id'] = msg.correlationId;
  if (msg.replyTo !== undefined) out['reply-to'] = writeDestination(msg.replyTo, 'reply-to');
  if (msg.type !== undefined) out.type = msg.type;
  if (msg.priority !== undefined) out.priority = String(msg.priority);
  if (msg.expires !== undefined) out.expires = String(msg.expires);
  if (msg.persistent !== undefined) out.persistent = String(msg.persistent);
  if (msg.contentType !== undefined) out['content-type'] = msg.contentType;
  propertyHeaders(
    msg,
    (k) => Object.hasOwn(out, k),
    (k, v) => {
      out[k] = v;
    },
  );
  return out;
}
