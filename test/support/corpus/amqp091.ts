/**
 * Realistic AMQP 0-9-1 streams, one per direction, each valid on its own: an amqplib-style client
 * session against a RabbitMQ-style server (PLAIN login, tuning, a channel, a queue, publish with
 * content, consume, delivery, ack, close).
 */
import { amqp091 as e } from '../amqp-encode';

const serverProperties = {
  capabilities: {
    publisher_confirms: true,
    exchange_exchange_bindings: true,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': true,
    consumer_priorities: true,
    authentication_failure_close: true,
    per_consumer_qos: true,
    direct_reply_to: true,
  },
  cluster_name: 'rabbit@broker',
  copyright: 'Copyright (c) 2007-2024 Broadcom Inc and/or its subsidiaries',
  information: 'Licensed under the MPL 2.0. Website: https://rabbitmq.com',
  platform: 'Erlang/OTP 26.2.1',
  product: 'RabbitMQ',
  version: '3.13.7',
};

const clientProperties = {
  product: 'amqplib',
  version: '0.10.4',
  platform: 'Node.JS v20.11.1',
  information: 'https://amqp-node.github.io/amqplib/',
  capabilities: {
    publisher_confirms: true,
    exchange_exchange_bindings: true,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': true,
    authentication_failure_close: true,
  },
};

/** Client → server: the frames of one session, one Buffer per frame. */
export const toServerFrames: Buffer[] = [
  e.protocolHeader(),
  e.method(0, 'connection.start-ok', {
    clientProperties,
    mechanism: 'PLAIN',
    response: Buffer.from('\u0000guest\u0000guest'),
    locale: 'en_US',
  }),
  e.method(0, 'connection.tune-ok', { channelMax: 2047, frameMax: 131072, heartbeat: 60 }),
  e.method(0, 'connection.open', { virtualHost: '/', capabilities: '', insist: false }),
  e.method(1, 'channel.open'),
  e.method(1, 'queue.declare', { queue: 'tasks', durable: true, arguments: { 'x-queue-type': 'classic', 'x-max-length': 10000 } }),
  e.method(1, 'basic.qos', { prefetchSize: 0, prefetchCount: 10, global: false }),
  e.method(1, 'basic.publish', { exchange: '', routingKey: 'tasks', mandatory: true }),
  e.contentHeader(1, 11, { contentType: 'text/plain', deliveryMode: 2, headers: { 'x-trace': 'abc', retries: 0 }, timestamp: new Date(1700000000000), messageId: 'm-1' }),
  e.body(1, 'hello world'),
  e.method(1, 'basic.consume', { queue: 'tasks', consumerTag: '', noAck: false, arguments: {} }),
  e.heartbeat(),
  e.method(1, 'basic.ack', { deliveryTag: 1n, multiple: false }),
  e.method(1, 'channel.close', { replyCode: 200, replyText: 'Goodbye', classId: 0, methodId: 0 }),
  e.method(0, 'connection.close', { replyCode: 200, replyText: 'Goodbye', classId: 0, methodId: 0 }),
];

/** Server → client: the frames of the same session. */
export const toClientFrames: Buffer[] = [
  e.method(0, 'connection.start', {
    versionMajor: 0,
    versionMinor: 9,
    serverProperties,
    mechanisms: 'AMQPLAIN PLAIN',
    locales: 'en_US',
  }),
  e.method(0, 'connection.tune', { channelMax: 2047, frameMax: 131072, heartbeat: 60 }),
  e.method(0, 'connection.open-ok', { knownHosts: '' }),
  e.method(1, 'channel.open-ok', { channelId: '' }),
  e.method(1, 'queue.declare-ok', { queue: 'tasks', messageCount: 0, consumerCount: 0 }),
  e.method(1, 'basic.qos-ok'),
  e.method(1, 'basic.consume-ok', { consumerTag: 'amq.ctag-Xo6xYqJ3bI1m1Nq9iK2Q0w' }),
  e.method(1, 'basic.deliver', { consumerTag: 'amq.ctag-Xo6xYqJ3bI1m1Nq9iK2Q0w', deliveryTag: 1n, redelivered: false, exchange: '', routingKey: 'tasks' }),
  e.contentHeader(1, 11, { contentType: 'text/plain', deliveryMode: 2, headers: { 'x-trace': 'abc', retries: 0 }, timestamp: new Date(1700000000000), messageId: 'm-1' }),
  e.body(1, 'hello'),
  e.body(1, ' world'),
  e.heartbeat(),
  e.method(1, 'channel.close-ok'),
  e.method(0, 'connection.close-ok'),
];

const props = { contentType: 'application/json', correlationId: 'r-1', replyTo: 'amq.rabbitmq.reply-to', expiration: '60000', priority: 4 };

/** Client → server: confirms, transactions, exchange and queue management, get, reject, nack. */
export const toServerFrames2: Buffer[] = [
  e.protocolHeader(),
  e.method(0, 'connection.start-ok', { clientProperties: { product: 'amqplib', capabilities: { 'basic.nack': true } }, mechanism: 'AMQPLAIN', response: e.table({ LOGIN: 'guest', PASSWORD: 'guest' }).subarray(4), locale: 'en_US' }),
  e.method(0, 'connection.tune-ok', { channelMax: 0, frameMax: 4096, heartbeat: 0 }),
  e.method(0, 'connection.open', { virtualHost: 'orders' }),
  e.method(1, 'channel.open'),
  e.method(1, 'confirm.select'),
  e.method(1, 'exchange.declare', { exchange: 'events', type: 'topic', durable: true, arguments: { 'alternate-exchange': 'unrouted' } }),
  e.method(1, 'queue.declare', { queue: '', exclusive: true, autoDelete: true, arguments: { 'x-message-ttl': 60000, 'x-dead-letter-exchange': 'dlx' } }),
  e.method(1, 'queue.bind', { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg', exchange: 'events', routingKey: 'order.*', arguments: {} }),
  e.method(1, 'basic.publish', { exchange: 'events', routingKey: 'order.created', mandatory: true }),
  e.contentHeader(1, 39, props),
  e.body(1, '{"id":42,"total":'),
  e.body(1, '99.5,"currency":"EUR"}'),
  e.method(1, 'basic.get', { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg', noAck: false }),
  e.method(1, 'basic.reject', { deliveryTag: 1n, requeue: false }),
  e.method(1, 'basic.nack', { deliveryTag: 2n, multiple: true, requeue: true }),
  e.method(2, 'channel.open'),
  e.method(2, 'tx.select'),
  e.method(2, 'basic.publish', { exchange: 'events', routingKey: 'order.paid' }),
  e.contentHeader(2, 0, { deliveryMode: 1 }),
  e.method(2, 'tx.commit'),
  e.method(2, 'tx.rollback'),
  e.method(2, 'basic.recover', { requeue: true }),
  e.method(1, 'channel.flow', { active: false }),
  e.method(1, 'queue.unbind', { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg', exchange: 'events', routingKey: 'order.*' }),
  e.method(1, 'queue.purge', { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg' }),
  e.method(1, 'queue.delete', { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg', ifUnused: true }),
  e.method(1, 'exchange.delete', { exchange: 'events' }),
  e.method(1, 'channel.close', { replyCode: 200, replyText: 'Goodbye' }),
  e.method(0, 'connection.close-ok'),
];

/** Server → client: the answers, a publisher confirm, a return, a get-ok, then a server-initiated close. */
export const toClientFrames2: Buffer[] = [
  e.method(0, 'connection.start', { versionMajor: 0, versionMinor: 9, serverProperties: { product: 'RabbitMQ', version: '3.13.7' }, mechanisms: 'AMQPLAIN PLAIN', locales: 'en_US' }),
  e.method(0, 'connection.tune', { channelMax: 2047, frameMax: 4096, heartbeat: 0 }),
  e.method(0, 'connection.open-ok'),
  e.method(1, 'channel.open-ok'),
  e.method(1, 'confirm.select-ok'),
  e.method(1, 'exchange.declare-ok'),
  e.method(1, 'queue.declare-ok', { queue: 'amq.gen-JzTY20BRgKO-HjmUJj0wLg', messageCount: 0, consumerCount: 0 }),
  e.method(1, 'queue.bind-ok'),
  e.method(1, 'basic.return', { replyCode: 312, replyText: 'NO_ROUTE', exchange: 'events', routingKey: 'order.created' }),
  e.contentHeader(1, 40, props),
  e.body(1, '{"id":42,"total":99.5,"currency":"EUR"}'.padEnd(40, ' ')),
  e.method(1, 'basic.ack', { deliveryTag: 1n }),
  e.method(1, 'basic.get-ok', { deliveryTag: 1n, redelivered: true, exchange: 'events', routingKey: 'order.created', messageCount: 3 }),
  e.contentHeader(1, 5, { headers: { 'x-death': [{ count: 1n, reason: 'expired', queue: 'q', time: new Date(1700000000000), exchange: 'dlx', 'routing-keys': ['order.created'] }] } }),
  e.body(1, 'hello'),
  e.method(1, 'basic.get-empty'),
  e.method(2, 'channel.open-ok'),
  e.method(2, 'tx.select-ok'),
  e.method(2, 'tx.commit-ok'),
  e.method(2, 'tx.rollback-ok'),
  e.method(2, 'basic.recover-ok'),
  e.method(1, 'channel.flow-ok', { active: false }),
  e.method(1, 'queue.unbind-ok'),
  e.method(1, 'queue.purge-ok', { messageCount: 0 }),
  e.method(1, 'queue.delete-ok', { messageCount: 0 }),
  e.method(1, 'exchange.delete-ok'),
  e.method(1, 'channel.close-ok'),
  e.method(0, 'connection.close', { replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'" }),
];

export const corpus: { toServer: Buffer[]; toClient: Buffer[] } = {
  toServer: [Buffer.concat(toServerFrames), Buffer.concat(toServerFrames2)],
  toClient: [Buffer.concat(toClientFrames), Buffer.concat(toClientFrames2)],
};
