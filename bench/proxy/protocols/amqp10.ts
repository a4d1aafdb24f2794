import { WebSocket } from 'ws';
import { create_container, type Connection, type ConnectionDetails, type ConnectionOptions, type EventContext, type Sender } from 'rhea';
import { Failure, unique, within, type Pair, type Path, type Receive, type Suite } from './pair';

/**
 * AMQP 1.0 with rhea. Direct: rhea's TCP connect (Nagle off). Through Gangway: rhea's own
 * WebSocket transport with `ws`. The publisher sends pre-settled (at most once, like a 0-9-1
 * publish without confirms) to `/topic/KEY`; the subscriber's link from `/topic/KEY` accepts
 * automatically and keeps 1000 credits.
 */

/** RabbitMQ's AMQP 1.0 port, login and the Gangway URLs that reach it. */
export interface Amqp10Target {
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly proxyUrl: string;
  readonly protocolUrl: string;
}

type Dial = () => Connection;

function opened(connection: Connection): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => resolve());
      connection.once('connection_error', (context: EventContext) => reject(context.connection.error ?? new Error('connection_error')));
      connection.once('disconnected', (context: EventContext) => reject(context.error ?? new Error('disconnected before open')));
    }),
    5000,
    'AMQP 1.0 open',
  );
}

function closed(connection: Connection): Promise<void> {
  if (!connection.is_open()) return Promise.resolve();
  const done = new Promise<void>((resolve) => connection.once('connection_close', () => resolve()));
  connection.close();
  return within(done, 5000, 'AMQP 1.0 close');
}

async function openPair(dial: Dial, receive: Receive): Promise<Pair> {
  const subscriber = dial();
  const publisher = dial();
  await Promise.all([opened(subscriber), opened(publisher)]);
  const failure = new Failure();
  for (const connection of [subscriber, publisher]) {
    connection.on('connection_error', (context: EventContext) => failure.record(context.connection.error ?? new Error('AMQP 1.0 connection error')));
    connection.on('disconnected', (context: EventContext) => failure.record(context.error ?? new Error('AMQP 1.0 connection lost')));
  }
  const address = `/topic/${unique('gangway.bench')}`;
  const receiver = subscriber.open_receiver({ source: { address }, credit_window: 1000, autoaccept: true });
  receiver.on('message', (context: EventContext) => receive(String(context.message?.body)));
  await within(new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())), 5000, 'receiver attach');
  const sender: Sender = publisher.open_sender({ target: { address }, snd_settle_mode: 1 });
  await within(new Promise<void>((resolve) => sender.once('sendable', () => resolve())), 5000, 'sender credit');
  // Messages wait here while the broker gives the sender no credit.
  const waiting: string[] = [];
  sender.on('sendable', () => {
    while (waiting.length > 0 && sender.sendable()) sender.send({ body: waiting.shift() as string });
  });
  return {
    send: (text) => {
      failure.check();
      if (waiting.length === 0 && sender.sendable()) sender.send({ body: text });
      else waiting.push(text);
    },
    close: () => failure.end(() => [closed(publisher), closed(subscriber)]),
  };
}

export function amqp10Suite(target: Amqp10Target): Suite {
  const container = create_container({ id: unique('gangway-bench') });
  const credentials = { username: target.username, password: target.password, reconnect: false } as const;
  const direct: Dial = () => {
    const options: ConnectionOptions & { tcp_no_delay: boolean } = { host: '127.0.0.1', port: target.port, tcp_no_delay: true, ...credentials };
    return container.connect(options);
  };
  const overWebSocket = (url: string): Dial => () => {
    const transport = container.websocket_connect(WebSocket);
    const details = transport(url, ['amqp'], {}) as unknown as (counter: number) => ConnectionDetails;
    // host and port are taken from connection_details; given for the option types only.
    return container.connect({ host: '127.0.0.1', port: 0, connection_details: details, ...credentials });
  };
  const paths: Path[] = [
    { kind: 'direct', label: 'rhea → TCP', open: (receive) => openPair(direct, receive) },
    { kind: 'proxy', label: 'rhea → ws → Gangway proxy → TCP', open: (receive) => openPair(overWebSocket(target.proxyUrl), receive) },
    { kind: 'protocol', label: 'rhea → ws → Gangway amqp.proxy → TCP', open: (receive) => openPair(overWebSocket(target.protocolUrl), receive) },
  ];
  return { name: 'AMQP 1.0 — RabbitMQ', key: 'amqp10', window: 1000, server: (comm) => comm === 'beam.smp', paths };
}
