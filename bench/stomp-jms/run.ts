import { execFile, fork, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Command } from 'commander';
import { connect as amqpConnect } from 'amqplib';
import { findEnvFile, loadBackends } from '../../test/support/backends';
import { isObject, type GatewayReply, type SubscriberCommand, type SubscriberReply } from './protocol';

/**
 * `bench:stomp-jms`: one publisher → many WebSocket STOMP subscribers of one topic, through
 * Gangway's `stomp.jms` service (one broker subscription, fan-out in Gangway) and through
 * RabbitMQ's Web-STOMP plugin (one broker queue per subscriber). The publisher writes to
 * RabbitMQ's `amq.topic` over AMQP 0-9-1 at a fixed rate, the same for both paths; the
 * subscribers run in a process of their own, Gangway in another. Prints one table and exits.
 */

const program = new Command()
  .name('bench:stomp-jms')
  .description('one publisher to many WebSocket subscribers of one topic: Gangway stomp.jms vs RabbitMQ Web-STOMP')
  .option('-n, --subscribers <n>', 'WebSocket subscribers of the topic', (v) => Number.parseInt(v, 10), 2000)
  .option('-r, --rate <n>', 'messages per second published', (v) => Number.parseInt(v, 10), 100)
  .option('-d, --seconds <s>', 'measured seconds per path', (v) => Number(v), 10)
  .option('-s, --size <bytes>', 'message body size', (v) => Number.parseInt(v, 10), 128)
  .option('--only <path...>', 'run only some paths: gangway, web-stomp')
  .parse();
const opts = program.opts<{ subscribers: number; rate: number; seconds: number; size: number; only?: string[] }>();

/** compose/.env above the build output, or above the working directory. */
function envFile(): string {
  try {
    return findEnvFile();
  } catch {
    return findEnvFile(process.cwd());
  }
}

const facts = loadBackends(envFile());

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for the next IPC message of `child` that `accept` takes. */
function nextMessage<T>(child: ChildProcess, accept: (m: unknown) => m is T, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      if (!accept(m)) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
  });
}

const isSubscriberReply = (m: unknown): m is SubscriberReply => isObject(m) && typeof m.type === 'string';
const isGatewayReply = (m: unknown): m is GatewayReply => isObject(m) && (m.type === 'listening' || m.type === 'failed');

async function ask(child: ChildProcess, cmd: SubscriberCommand, want: SubscriberReply['type'], timeoutMs: number): Promise<SubscriberReply> {
  child.send(cmd);
  const r = await nextMessage(child, (m): m is SubscriberReply => isSubscriberReply(m) && (m.type === want || m.type === 'failed'), timeoutMs, cmd.type);
  if (r.type === 'failed') throw new Error(r.error);
  return r;
}

/** Publishes `rate` messages/s for `seconds` to `amq.topic` with routing key `key`. */
async function publish(key: string, rate: number, seconds: number, size: number): Promise<number> {
  const conn = await amqpConnect({ hostname: facts.host, port: facts.rabbitmq.amqpPort, username: facts.rabbitmq.gangway.username, password: facts.rabbitmq.gangway.password });
  try {
    const ch = await conn.createChannel();
    const pad = 'x'.repeat(Math.max(0, size - 21));
    const tickMs = 10;
    const start = Date.now();
    let sent = 0;
    while (Date.now() - start < seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / 1000) * rate);
      while (sent < due) {
        ch.publish('amq.topic', key, Buffer.from(`${process.hrtime.bigint()}:${pad}`));
        sent++;
      }
      await sleep(tickMs);
    }
    await ch.close();
    return sent;
  } finally {
    await conn.close();
  }
}

interface Row {
  readonly path: string;
  readonly subscribers: number;
  readonly openMs: number;
  readonly published: number;
  readonly expected: number;
  readonly delivered: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly errors: number;
  readonly dropped: number;
  readonly silent: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function measure(path: string, url: string, extra: Partial<Extract<SubscriberCommand, { type: 'open' }>>): Promise<Row> {
  const key = `bench.${Date.now().toString(36)}`;
  const subs = fork(join(__dirname, 'subscribers.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const opened = await ask(subs, { type: 'open', url, count: opts.subscribers, destination: `/topic/${key}`, ...extra }, 'opened', 300_000);
    const openMs = opened.type === 'opened' ? opened.ms : 0;
    await publish(key, opts.rate, 1, opts.size);
    await sleep(1000);
    await ask(subs, { type: 'reset' }, 'report', 100).catch(() => undefined);
    const published = await publish(key, opts.rate, opts.seconds, opts.size);
    await sleep(3000);
    const r = await ask(subs, { type: 'report' }, 'report', 60_000);
    if (r.type !== 'report') throw new Error('no report');
    const sorted = [...r.latenciesUs].sort((a, b) => a - b);
    await ask(subs, { type: 'close' }, 'closed', 60_000);
    return {
      path,
      subscribers: opts.subscribers,
      openMs,
      published,
      expected: published * opts.subscribers,
      delivered: r.delivered,
      perSecond: r.delivered / opts.seconds,
      p50: percentile(sorted, 50) / 1000,
      p99: percentile(sorted, 99) / 1000,
      max: (sorted[sorted.length - 1] ?? Number.NaN) / 1000,
      errors: r.errors,
      dropped: r.dropped,
      silent: r.silent,
    };
  } finally {
    subs.kill();
  }
}

async function withGangway<T>(run: (url: string) => Promise<T>): Promise<T> {
  const { username, password } = facts.rabbitmq.gangway;
  const gw = fork(join(__dirname, 'gateway.js'), [`amqp://${facts.host}:${facts.rabbitmq.amqpPort}`, username, password], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  gw.on('exit', (code, signal) => {
    if (code !== 0) process.stderr.write(`bench:stomp-jms: the Gangway process exited (${signal ?? `code ${code ?? '?'}`})\n`);
  });
  try {
    const r = await nextMessage(gw, isGatewayReply, 30_000, 'Gangway start');
    if (r.type === 'failed') throw new Error(`Gangway: ${r.error}`);
    return await run(`ws://127.0.0.1:${r.port}/stomp`);
  } finally {
    gw.disconnect();
    await sleep(500);
    gw.kill();
  }
}

function printTable(rows: readonly Row[]): void {
  const head = ['path', 'subscribers', 'open (s)', 'published', 'delivered', 'of expected', 'delivered msg/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'dropped', 'silent'];
  const lines = rows.map((r) => [
    r.path,
    String(r.subscribers),
    (r.openMs / 1000).toFixed(1),
    String(r.published),
    String(r.delivered),
    `${((r.delivered / r.expected) * 100).toFixed(1)} %`,
    Math.round(r.perSecond).toLocaleString('en-US'),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.max.toFixed(1),
    String(r.errors),
    String(r.dropped),
    String(r.silent),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const fmt = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  process.stdout.write(
    [
      `bench:stomp-jms — 1 AMQP publisher → ${opts.subscribers} WebSocket STOMP subscribers of one topic, ${opts.rate} msg/s for ${opts.seconds} s, ${opts.size}-byte bodies`,
      fmt(head),
      `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
      ...lines.map(fmt),
      'dropped: subscribers the server disconnected after they subscribed; silent: subscribers that received nothing while measured',
      '',
    ].join('\n'),
  );
}

/** Sockets RabbitMQ can still open (its file descriptor limit), or `null` when `rabbitmqctl` cannot tell. */
async function rabbitSocketsFree(): Promise<number | null> {
  try {
    const { stdout } = await promisify(execFile)('rabbitmqctl', ['status', '--formatter', 'json'], { timeout: 30_000 });
    const status: unknown = JSON.parse(stdout);
    const fds: unknown = isObject(status) ? status.file_descriptors : undefined;
    if (!isObject(fds) || typeof fds.sockets_limit !== 'number' || typeof fds.sockets_used !== 'number') return null;
    return fds.sockets_limit - fds.sockets_used;
  } catch (err) {
    process.stderr.write(`bench:stomp-jms: could not read RabbitMQ's socket limit (${err instanceof Error ? err.message : String(err)})\n`);
    return null;
  }
}

/**
 * Web-STOMP holds one broker socket per subscriber. Past RabbitMQ's socket limit it closes
 * connections, and at its file descriptor limit the broker itself fails (emfile): a row measured
 * so would show the limit, not Web-STOMP. Refuse to run it instead.
 */
async function checkWebStompCapacity(subscribers: number): Promise<void> {
  const free = await rabbitSocketsFree();
  const margin = 50;
  if (free !== null && subscribers + margin > free) {
    throw new Error(
      `RabbitMQ can open ${free} more sockets (its file descriptor limit): ${subscribers} Web-STOMP subscribers need ${subscribers + margin}. ` +
        'Start RabbitMQ with a higher limit (ulimit -n 65536 before rabbitmq-server) or pass fewer --subscribers.',
    );
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const only = new Set(opts.only ?? ['gangway', 'web-stomp']);
  if (only.has('gangway')) rows.push(await withGangway((url) => measure('Gangway stomp.jms → RabbitMQ (AMQP 0-9-1)', url, {})));
  if (only.has('web-stomp')) {
    await checkWebStompCapacity(opts.subscribers);
    const { username, password } = facts.rabbitmq.guest;
    rows.push(await measure('RabbitMQ Web-STOMP', `ws://${facts.host}:${facts.rabbitmq.webStompPort}/ws`, { login: username, passcode: password, host: facts.rabbitmq.vhost }));
  }
  printTable(rows);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:stomp-jms: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
