/**
 * The AMQP 0-9-1 method table (amqp0-9-1.xml, with RabbitMQ's extensions: Connection.Blocked,
 * Unblocked, Update-Secret, Basic.Nack, Confirm, server-sent Basic.Cancel and Basic.Ack).
 */

/** Wire type of one method argument (amqp0-9-1.pdf §4.2.5). `bin` is a longstr kept as bytes. */
export type ArgType = 'octet' | 'short' | 'long' | 'longlong' | 'shortstr' | 'longstr' | 'bin' | 'bit' | 'table';

/** Who may send a method: the client, the server, or both. */
export type Sender = 'client' | 'server' | 'both';

/** One method: ids, name, sender, whether content follows, arguments in wire order. */
export interface MethodSpec {
  readonly classId: number;
  readonly methodId: number;
  /** `class.method`, e.g. `basic.publish`. */
  readonly name: string;
  /** The class part of the name, e.g. `basic`. */
  readonly className: string;
  /** The method part of the name, e.g. `publish`. */
  readonly methodName: string;
  readonly sender: Sender;
  /** A content header and body frames follow the method. */
  readonly content: boolean;
  readonly args: readonly (readonly [name: string, type: ArgType])[];
}

/** Class ids by name. */
export const CLASS_IDS = {
  connection: 10,
  channel: 20,
  exchange: 40,
  queue: 50,
  basic: 60,
  confirm: 85,
  tx: 90,
} as const;

function m(classId: number, methodId: number, name: string, sender: Sender, args = '', content = false): MethodSpec {
  const list = args === '' ? [] : args.split(' ').map((a) => {
    const [n, t] = a.split(':') as [string, ArgType];
    return [n, t] as const;
  });
  const dot = name.indexOf('.');
  return Object.freeze({
    classId,
    methodId,
    name,
    className: name.slice(0, dot),
    methodName: name.slice(dot + 1),
    sender,
    content,
    args: Object.freeze(list),
  });
}

const BIND = 'reserved1:short destination:shortstr source:shortstr routingKey:shortstr nowait:bit arguments:table';
const CLOSE = 'replyCode:short replyText:shortstr classId:short methodId:short';

/** Every method the validator knows. */
export const METHODS: readonly MethodSpec[] = [
  m(10, 10, 'connection.start', 'server', 'versionMajor:octet versionMinor:octet serverProperties:table mechanisms:longstr locales:longstr'),
  m(10, 11, 'connection.start-ok', 'client', 'clientProperties:table mechanism:shortstr response:bin locale:shortstr'),
  m(10, 20, 'connection.secure', 'server', 'challenge:bin'),
  m(10, 21, 'connection.secure-ok', 'client', 'response:bin'),
  m(10, 30, 'connection.tune', 'server', 'channelMax:short frameMax:long heartbeat:short'),
  m(10, 31, 'connection.tune-ok', 'client', 'channelMax:short frameMax:long heartbeat:short'),
  m(10, 40, 'connection.open', 'client', 'virtualHost:shortstr capabilities:shortstr insist:bit'),
  m(10, 41, 'connection.open-ok', 'server', 'knownHosts:shortstr'),
  m(10, 50, 'connection.close', 'both', CLOSE),
  m(10, 51, 'connection.close-ok', 'both'),
  m(10, 60, 'connection.blocked', 'server', 'reason:shortstr'),
  m(10, 61, 'connection.unblocked', 'server'),
  m(10, 70, 'connection.update-secret', 'client', 'newSecret:bin reason:shortstr'),
  m(10, 71, 'connection.update-secret-ok', 'server'),
  m(20, 10, 'channel.open', 'client', 'outOfBand:shortstr'),
  m(20, 11, 'channel.open-ok', 'server', 'channelId:longstr'),
  m(20, 20, 'channel.flow', 'both', 'active:bit'),
  m(20, 21, 'channel.flow-ok', 'both', 'active:bit'),
  m(20, 40, 'channel.close', 'both', CLOSE),
  m(20, 41, 'channel.close-ok', 'both'),
  m(40, 10, 'exchange.declare', 'client', 'reserved1:short exchange:shortstr type:shortstr passive:bit durable:bit autoDelete:bit internal:bit nowait:bit arguments:table'),
  m(40, 11, 'exchange.declare-ok', 'server'),
  m(40, 20, 'exchange.delete', 'client', 'reserved1:short exchange:shortstr ifUnused:bit nowait:bit'),
  m(40, 21, 'exchange.delete-ok', 'server'),
  m(40, 30, 'exchange.bind', 'client', BIND),
  m(40, 31, 'exchange.bind-ok', 'server'),
  m(40, 40, 'exchange.unbind', 'client', BIND),
  m(40, 51, 'exchange.unbind-ok', 'server'),
  m(50, 10, 'queue.declare', 'client', 'reserved1:short queue:shortstr passive:bit durable:bit exclusive:bit autoDelete:bit nowait:bit arguments:table'),
  m(50, 11, 'queue.declare-ok', 'server', 'queue:shortstr messageCount:long consumerCount:long'),
  m(50, 20, 'queue.bind', 'client', 'reserved1:short queue:shortstr exchange:shortstr routingKey:shortstr nowait:bit arguments:table'),
  m(50, 21, 'queue.bind-ok', 'server'),
  m(50, 30, 'queue.purge', 'client', 'reserved1:short queue:shortstr nowait:bit'),
  m(50, 31, 'queue.purge-ok', 'server', 'messageCount:long'),
  m(50, 40, 'queue.delete', 'client', 'reserved1:short queue:shortstr ifUnused:bit ifEmpty:bit nowait:bit'),
  m(50, 41, 'queue.delete-ok', 'server', 'messageCount:long'),
  m(50, 50, 'queue.unbind', 'client', 'reserved1:short queue:shortstr exchange:shortstr routingKey:shortstr arguments:table'),
  m(50, 51, 'queue.unbind-ok', 'server'),
  m(60, 10, 'basic.qos', 'client', 'prefetchSize:long prefetchCount:short global:bit'),
  m(60, 11, 'basic.qos-ok', 'server'),
  m(60, 20, 'basic.consume', 'client', 'reserved1:short queue:shortstr consumerTag:shortstr noLocal:bit noAck:bit exclusive:bit nowait:bit arguments:table'),
  m(60, 21, 'basic.consume-ok', 'server', 'consumerTag:shortstr'),
  m(60, 30, 'basic.cancel', 'both', 'consumerTag:shortstr nowait:bit'),
  m(60, 31, 'basic.cancel-ok', 'both', 'consumerTag:shortstr'),
  m(60, 40, 'basic.publish', 'client', 'reserved1:short exchange:shortstr routingKey:shortstr mandatory:bit immediate:bit', true),
  m(60, 50, 'basic.return', 'server', 'replyCode:short replyText:shortstr exchange:shortstr routingKey:shortstr', true),
  m(60, 60, 'basic.deliver', 'server', 'consumerTag:shortstr deliveryTag:longlong redelivered:bit exchange:shortstr routingKey:shortstr', true),
  m(60, 70, 'basic.get', 'client', 'reserved1:short queue:shortstr noAck:bit'),
  m(60, 71, 'basic.get-ok', 'server', 'deliveryTag:longlong redelivered:bit exchange:shortstr routingKey:shortstr messageCount:long', true),
  m(60, 72, 'basic.get-empty', 'server', 'clusterId:shortstr'),
  m(60, 80, 'basic.ack', 'both', 'deliveryTag:longlong multiple:bit'),
  m(60, 90, 'basic.reject', 'client', 'deliveryTag:longlong requeue:bit'),
  m(60, 100, 'basic.recover-async', 'client', 'requeue:bit'),
  m(60, 110, 'basic.recover', 'client', 'requeue:bit'),
  m(60, 111, 'basic.recover-ok', 'server'),
  m(60, 120, 'basic.nack', 'both', 'deliveryTag:longlong multiple:bit requeue:bit'),
  m(85, 10, 'confirm.select', 'client', 'nowait:bit'),
  m(85, 11, 'confirm.select-ok', 'server'),
  m(90, 10, 'tx.select', 'client'),
  m(90, 11, 'tx.select-ok', 'server'),
  m(90, 20, 'tx.commit', 'client'),
  m(90, 21, 'tx.commit-ok', 'server'),
  m(90, 30, 'tx.rollback', 'client'),
  m(90, 31, 'tx.rollback-ok', 'server'),
];

/** Methods by `classId << 16 | methodId`. */
export const METHOD_BY_ID: ReadonlyMap<number, MethodSpec> = new Map(
  METHODS.map((s) => [(s.classId << 16) | s.methodId, s] as const),
);

/** Methods by name. */
export const METHOD_BY_NAME: ReadonlyMap<string, MethodSpec> = new Map(METHODS.map((s) => [s.name, s] as const));

/**
 * Basic content properties in flag order, most significant bit first (amqp0-9-1.xml, class basic).
 * Flag bit 15 is the first property; bit 0 is the continuation flag.
 */
export const BASIC_PROPERTIES: readonly (readonly [name: string, type: 'shortstr' | 'table' | 'octet' | 'timestamp'])[] = [
  ['contentType', 'shortstr'],
  ['contentEncoding', 'shortstr'],
  ['headers', 'table'],
  ['deliveryMode', 'octet'],
  ['priority', 'octet'],
  ['correlationId', 'shortstr'],
  ['replyTo', 'shortstr'],
  ['expiration', 'shortstr'],
  ['messageId', 'shortstr'],
  ['timestamp', 'timestamp'],
  ['type', 'shortstr'],
  ['userId', 'shortstr'],
  ['appId', 'shortstr'],
  ['clusterId', 'shortstr'],
];
