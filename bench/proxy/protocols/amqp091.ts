import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connect as amqpConnect, credentials, type Channel, type ChannelModel } from 'amqplib';
import { Failure, unique, webSocketStream, type Pair, type Path, type Receive, type Suite } from './pair';

/**
 * AMQP 0-9-1 with amqplib. Direct: amqplib's own `connect` (TCP, Nagle off). Through Gangway:
 * amqplib's connection engine over a binary WebSocket stream, the same engine `connect` uses
 * (its public `connect` dials only TCP or TLS). The subscriber consumes (no acks) from an
 * exclusive queue bound to `amq.topic`; the publisher publishes there without confirms.
 */

/** The part of amqplib's internal `Connection` used here (lib/connection.js). */
interface EngineConnection {
  open(fields: Record<string, unknown>, done: (err: Error | null) => void): void;
}

type EngineClass = new (stream: Duplex) => EngineConnection;
type ModelClass = new (connection: EngineConnection) => ChannelModel;

/** amqplib's connection class and channel model, from files outside the package's `exports`. */
function engine(): { Connection: EngineClass; ChannelModel: ModelClass } {
  const dir = dirname(require.resolve('amqplib'));
  const load = (file: string, name: string): unknown => {
    const mod: unknown = require(join(dir, 'lib', file));
    const value: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, name) : undefined;
    if (typeof value !== 'function') throw new Error(`amqplib lib/${file} has no ${name}`);
    return value;
  };
  return { Connection: load('connection.js', 'Connection') as EngineClass, ChannelModel: load('channel_model.js', 'ChannelModel') as ModelClass };
}

/** RabbitMQ's address, login and the Gangway URLs that reach its AMQP port. */
export interface Amqp091Target {
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly vhost: string;
  readonly proxyUrl: string;
  readonly protocolUrl: string;
}

/** The AMQP 0-9-1 handshake over `stream`, as amqplib's `connect` does it over a socket. */
async function overStream(stream: Duplex, target: Amqp091Target): Promise<ChannelModel> {
  const { Connection, ChannelModel } = engine();
  const connection = new Connection(stream);
  const auth = credentials.plain(target.username, target.password);
  await new Promise<void>((resolve, reject) =>
    connection.open(
      {
        clientProperties: { product: 'gangway-bench' },
        mechanism: auth.mechanism,
        response: auth.response(),
        locale: 'en_US',
        channelMax: 0,
        frameMax: 131072,
        heartbeat: 0,
        virtualHost: target.vhost,
        capabilities: '',
        insist: 0,
      },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
  return new ChannelModel(connection);
}

async function openPair(dial: () => Promise<ChannelModel>, receive: Receive): Promise<Pair> {
  const failure = new Failure();
  const subscriber = await dial();
  subscriber.on('error', (err: Error) => failure.record(err));
  const publisher = await dial();
  publisher.on('error', (err: Error) => failure.record(err));
  const key = unique('gangway.bench');
  const subChannel = await subscriber.createChannel();
  subChannel.on('error', (err: Error) => failure.record(err));
  const { queue } = await subChannel.assertQueue('', { exclusive: true, autoDelete: true });
  await subChannel.bindQueue(queue, 'amq.topic', key);
  await subChannel.consume(queue, (message) => {
    if (message) receive(message.content.toString('latin1'));
  }, { noAck: true });
  const pubChannel: Channel = await publisher.createChannel();
  pubChannel.on('error', (err: Error) => failure.record(err));
  return {
    send: (text) => {
      failure.check();
      pubChannel.publish('amq.topic', key, Buffer.from(text, 'latin1'));
    },
    close: () => failure.end(() => [publisher.close(), subscriber.close()]),
  };
}

export function amqp091Suite(target: Amqp091Target): Suite {
  const direct = (): Promise<ChannelModel> =>
    amqpConnect({ protocol: 'amqp', hostname: '127.0.0.1', port: target.port, username: target.username, password: target.password, vhost: target.vhost, heartbeat: 0 }, { noDelay: true });
  const paths: Path[] = [
    { kind: 'direct', label: 'amqplib → TCP', open: (receive) => openPair(direct, receive) },
    { kind: 'proxy', label: 'amqplib → ws → Gangway proxy → TCP', open: (receive) => openPair(async () => overStream(await webSocketStream(target.proxyUrl, ['amqp091']), target), receive) },
    { kind: 'protocol', label: 'amqplib → ws → Gangway amqp.proxy → TCP', open: (receive) => openPair(async () => overStream(await webSocketStream(target.protocolUrl, ['amqp091']), target), receive) },
  ];
  return { name: 'AMQP 0-9-1 — RabbitMQ', key: 'amqp091', window: 1000, server: (comm) => comm === 'beam.smp', paths };
}
