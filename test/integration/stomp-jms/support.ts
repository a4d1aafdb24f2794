/**
 * Helpers for the `stomp.jms` integration tests: a Gangway with the service on port 0, promise
 * wrappers over @stomp/stompjs clients (over `ws`), and the brokers' own view of consumers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, type IFrame, type IMessage, type StompHeaders, type StompSubscription } from '@stomp/stompjs';
import WebSocket from 'ws';
import { buildConfig } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import { SERVICE_TYPES } from '../../../src/services';
import type { ServiceType } from '../../../src/services/types';
import { stompJmsType, type StompJmsService } from '../../../src/services/stomp-jms';
import type { Backends } from '../../support/backends';

const run = promisify(execFile);

/** The registry with `stomp.jms` added. */
export const TYPES: ReadonlyMap<string, ServiceType> = new Map<string, ServiceType>([...SERVICE_TYPES, ['stomp.jms', stompJmsType as ServiceType]]);

/** A name unique to this run. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rejects after `ms` naming `what`; clears its timer either way. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it resolves true. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Which broker a suite runs against. */
export interface BrokerTarget {
  readonly name: 'activemq' | 'rabbitmq';
  readonly connect: string;
  readonly credentials: { username: string; password: string };
}

export function brokerTargets(facts: Backends): Record<'activemq' | 'rabbitmq' | 'rabbitmq10', BrokerTarget> {
  return {
    activemq: { name: 'activemq', connect: `stomp://${facts.host}:${facts.activemq.stompPort}`, credentials: facts.activemq.user },
    rabbitmq: { name: 'rabbitmq', connect: `amqp://${facts.host}:${facts.rabbitmq.amqpPort}`, credentials: facts.rabbitmq.gangway },
    rabbitmq10: { name: 'rabbitmq', connect: `amqp10://${facts.host}:${facts.rabbitmq.amqpPort}`, credentials: facts.rabbitmq.gangway },
  };
}

/** A running Gangway with one `stomp.jms` service at `/stomp`. */
export interface JmsGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly service: StompJmsService;
  stop(): Promise<void>;
}

export async function startJmsGateway(target: BrokerTarget, properties: Record<string, unknown> = {}, limits: Record<string, unknown> = {}): Promise<JmsGateway> {
  const config = buildConfig(
    {
      services: [
        {
          name: 'jms',
          type: 'stomp.jms',
          accept: 'ws://127.0.0.1:0/stomp',
          connect: target.connect,
          properties: { credentials: target.credentials, reconnect: { initialMs: 200, maxMs: 2000 }, ...properties },
          limits: { connectionsPerSecondPerIp: 100000, connectTimeoutMs: 15000, ...limits },
        },
      ],
    },
    { source: 'test', types: TYPES, env: {} },
  );
  const gateway = new Gateway(config, createLogger(process.env.GANGWAY_TEST_LOG_LEVEL ?? 'silent'), TYPES);
  await gateway.start();
  const service = [...gateway.services()][0] as StompJmsService;
  return { gateway, service, url: `ws://127.0.0.1:${gateway.port()}/stomp`, stop: () => gateway.stop() };
}

/** A received message. */
export interface Received {
  readonly headers: StompHeaders;
  readonly body: string;
  readonly message: IMessage;
}

/** Messages of one subscription, in order. */
export class Inbox {
  readonly messages: Received[] = [];
  private readonly waiters: (() => void)[] = [];
  subscription: StompSubscription | null = null;

  push(m: IMessage): void {
    this.messages.push({ headers: m.headers, body: m.body, message: m });
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `n` messages have arrived. */
  async count(n: number, ms = 5000): Promise<Received[]> {
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (this.messages.length >= n) resolve();
          else this.waiters.push(check);
        };
        check();
      }),
      ms,
      `${n} messages (have ${this.messages.length})`,
    );
    return this.messages.slice(0, n);
  }

  bodies(): string[] {
    return this.messages.map((m) => m.body);
  }
}

/** A @stomp/stompjs client connected through Gangway. */
export class JmsClient {
  readonly errors: IFrame[] = [];
  closeCode: number | null = null;
  private closedWaiters: (() => void)[] = [];

  private constructor(readonly client: Client) {}

  static async open(url: string, connectHeaders: StompHeaders = {}, protocol = 'v12.stomp'): Promise<JmsClient> {
    let self: JmsClient | null = null;
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, [protocol]),
      connectHeaders,
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      debug: () => undefined,
    });
    self = new JmsClient(client);
    const me = self;
    client.onStompError = (frame: IFrame) => {
      me.errors.push(frame);
    };
    client.onWebSocketClose = (evt: { code: number }) => {
      me.closeCode = evt.code;
      for (const w of me.closedWaiters.splice(0)) w();
    };
    await within(
      new Promise<void>((resolve, reject) => {
        client.onConnect = () => resolve();
        client.onWebSocketError = () => reject(new Error(`WebSocket error on ${url}`));
        client.activate();
      }),
      15000,
      'STOMP CONNECT through Gangway',
    );
    return me;
  }

  /** Resolves when the WebSocket has closed. */
  closed(ms = 5000): Promise<number> {
    if (this.closeCode !== null) return Promise.resolve(this.closeCode);
    return within(new Promise<number>((resolve) => this.closedWaiters.push(() => resolve(this.closeCode as number))), ms, 'WebSocket close');
  }

  /** Subscribes; resolves on the RECEIPT (the broker subscription is open). */
  async subscribe(destination: string, headers: StompHeaders = {}): Promise<Inbox> {
    const inbox = new Inbox();
    await this.withReceipt((receipt) => {
      inbox.subscription = this.client.subscribe(destination, (m) => inbox.push(m), { ...headers, receipt });
    });
    return inbox;
  }

  /** SEND with a receipt; resolves when Gangway reports the broker's confirmation. */
  send(destination: string, body: string, headers: StompHeaders = {}): Promise<void> {
    return this.withReceipt((receipt) => this.client.publish({ destination, body, headers: { ...headers, receipt } }));
  }

  /** Runs `frame(receiptId)` and waits for that RECEIPT (or fails on ERROR). */
  async withReceipt(frame: (receipt: string) => void, ms = 10000): Promise<void> {
    const receipt = unique('r');
    const errorsBefore = this.errors.length;
    let poll: NodeJS.Timeout | undefined;
    try {
      await within(
        new Promise<void>((resolve, reject) => {
          this.client.watchForReceipt(receipt, () => resolve());
          frame(receipt);
          poll = setInterval(() => {
            const error = this.errors[errorsBefore];
            if (error) reject(new Error(`ERROR: ${error.headers.message ?? ''} ${error.body}`));
          }, 20);
        }),
        ms,
        `RECEIPT ${receipt}`,
      );
    } finally {
      clearInterval(poll);
    }
  }

  /** DISCONNECT and wait for the close. */
  async close(): Promise<void> {
    if (this.closeCode !== null) return;
    await this.client.deactivate();
  }

  /** Drops the WebSocket without DISCONNECT. */
  async drop(): Promise<void> {
    const ws = this.client.webSocket as unknown as WebSocket | undefined;
    ws?.terminate();
    await this.closed();
    await this.client.deactivate();
  }
}

/** `rabbitmqctl` as the tests' user (root). */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 60000 });
  return stdout;
}

/** RabbitMQ's own count of consumers on queues bound to `amq.topic` with routing key `key`. */
export async function rabbitTopicConsumers(key: string): Promise<number> {
  const bindings = await rabbitmqctl('list_bindings', 'source_name', 'destination_name', 'routing_key', '--no-table-headers');
  const queues = new Set(
    bindings
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f[0] === 'amq.topic' && f[2] === key)
      .map((f) => f[1] as string),
  );
  const consumers = await rabbitmqctl('list_consumers', 'queue_name', '--no-table-headers');
  return consumers
    .split('\n')
    .map((l) => l.split('\t')[0] ?? '')
    .filter((q) => queues.has(q)).length;
}

/**
 * Deletes the unused queues bound to `amq.topic` with one of `keys`: RabbitMQ 3.x's AMQP 1.0
 * plugin leaves the queue of a `/topic/` subscription behind when the subscription ends.
 */
export async function rabbitDropTopicQueues(keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const wanted = new Set(keys);
  const bindings = await rabbitmqctl('list_bindings', 'source_name', 'destination_name', 'routing_key', '--no-table-headers');
  const queues = new Set(
    bindings
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f[0] === 'amq.topic' && wanted.has(f[2] ?? ''))
      .map((f) => f[1] as string),
  );
  for (const q of queues) await rabbitmqctl('delete_queue', q, '--if-unused');
}

/** RabbitMQ's own count of consumers on queue `name`. */
export async function rabbitQueueConsumers(name: string): Promise<number> {
  const consumers = await rabbitmqctl('list_consumers', 'queue_name', '--no-table-headers');
  return consumers.split('\n').filter((l) => l.split('\t')[0] === name).length;
}

/**
 * ActiveMQ's own count of consumers on a destination, read over OpenWire by
 * `java/ConsumerCount.java` from the broker's consumer advisory topic (ActiveMQ's STOMP
 * transport does not deliver advisories without a JSON/XML transformation this build lacks).
 */
export async function activemqConsumers(host: string, openwirePort: number, kind: 'topic' | 'queue', name: string): Promise<number> {
  const source = join(__dirname, 'java', 'ConsumerCount.java');
  const { stdout } = await run('java', ['-cp', '/usr/share/activemq/lib/*', source, `tcp://${host}:${openwirePort}`, kind, name], { timeout: 60000 });
  const n = Number(stdout.trim().split('\n').pop());
  if (!Number.isInteger(n)) throw new Error(`ConsumerCount printed ${JSON.stringify(stdout)}`);
  return n;
}

/**
 * Ack mode client-individual: a client acknowledges the second of two messages and leaves; a new
 * session gets the first again, marked redelivered, under its first message-id, and nothing else.
 */
export async function expectIndividualRedelivery(url: string, open: () => Promise<JmsClient>, queue: string): Promise<void> {
  const producer = await open();
  await producer.send(queue, 'one');
  await producer.send(queue, 'two');
  const first = await JmsClient.open(url);
  const inbox = await first.subscribe(queue, { ack: 'client-individual' });
  const [one, two] = await inbox.count(2);
  expect(one?.headers['message-id']).toMatch(/^ID:/);
  await first.withReceipt((receipt) => two?.message.ack({ receipt }));
  await first.drop();
  const second = await open();
  const again = await second.subscribe(queue, { ack: 'client-individual' });
  const [m] = await again.count(1, 10000);
  expect(m?.body).toBe('one');
  expect(m?.headers.redelivered).toBe('true');
  expect(m?.headers['message-id']).toBe(one?.headers['message-id']);
  m?.message.ack();
  await sleep(300);
  expect(again.bodies()).toEqual(['one']);
}

/**
 * A refused broker operation fails only its own client: through a gateway of one pooled
 * connection that closes its sessions if that connection is lost, a bystander with a
 * client-individual subscription gets a message sent before `refuse` and one sent after, acks
 * both, and neither it nor the producer is closed; the broker connection is still the one.
 * `refuse` gets the gateway's URL and opens (and returns) the clients it makes fail.
 */
export async function expectRefusalIsolated(target: BrokerTarget, refuse: (url: string) => Promise<JmsClient[]>): Promise<void> {
  const local = await startJmsGateway(target, { poolSize: 1, brokerFailure: 'close' });
  const mine: JmsClient[] = [];
  try {
    const bystander = await JmsClient.open(local.url);
    const producer = await JmsClient.open(local.url);
    mine.push(bystander, producer);
    const queue = `/queue/${unique('gw.iso')}`;
    const inbox = await bystander.subscribe(queue, { ack: 'client-individual' });
    await producer.send(queue, 'before');
    const [before] = await inbox.count(1);
    mine.push(...(await refuse(local.url)));
    await producer.send(queue, 'after');
    const [, after] = await inbox.count(2);
    expect(after?.body).toBe('after');
    expect(after?.headers.redelivered).toBeUndefined();
    await bystander.withReceipt((receipt) => before?.message.ack({ receipt }));
    await bystander.withReceipt((receipt) => after?.message.ack({ receipt }));
    expect(local.service.brokerConnectionsUp()).toBe(1);
    expect(bystander.closeCode).toBeNull();
    expect(producer.closeCode).toBeNull();
    expect(bystander.errors).toEqual([]);
  } finally {
    await Promise.all(mine.map((c) => c.close()));
    await local.stop();
  }
}
