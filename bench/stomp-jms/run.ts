import { execFile, fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { connect as amqpConnect, type Channel } from 'amqplib';
import { findEnvFile, loadBackends } from '../../test/support/backends';
import { cpuByProcess } from '../proxy/procfs';
import { percentiles, type Percentiles } from './histogram';
import { isObject, stampNow, type GatewayReply, type SubscriberCommand, type SubscriberReply } from './protocol';

/**
 * `bench:stomp-jms`: one publisher → many WebSocket STOMP subscribers of one topic, through
 * Gangway's `stomp.jms` service (one broker subscription, fan-out in Gangway) and through
 * RabbitMQ's Web-STOMP plugin (one broker queue per subscriber). The publisher writes to
 * RabbitMQ's `amq.topic` over AMQP 0-9-1; the subscribers run in processes of their own (several,
 * so that reading thousands of sockets is not serialized on one core), Gangway in another. Per
 * path: latency at a fixed delivery rate, then the highest delivery rate the path sustains (a
 * ladder of rates). Prints one table with the targets and exits. See README.md beside it.
 */

const program = new Command()
  .name('bench:stomp-jms')
  .description('one publisher to many WebSocket subscribers of one topic: Gangway stomp.jms vs RabbitMQ Web-STOMP')
  .option('-n, --subscribers <n>', 'WebSocket subscribers of the topic', (v) => Number.parseInt(v, 10), 2000)
  .option('-k, --processes <k>', 'subscriber processes the subscribers are spread over', (v) => Number.parseInt(v, 10), 2)
  .option('--read-round-ms <ms>', 'subscriber processes take their socket reads in rounds this far apart (0: as each socket becomes readable)', (v) => Number(v), 1)
  .option('--distinct-ids', 'each subscriber subscribes with an id of its own (sub-N) instead of sub-0, as @stomp/stompjs names every client\'s first subscription')
  .option('-l, --latency-deliveries <n>', 'deliveries/s of the latency measurement (messages/s × subscribers)', (v) => Number(v), 4000)
  .option('-d, --seconds <s>', 'seconds of the latency measurement', (v) => Number(v), 10)
  .option('--warmup-seconds <s>', 'unmeasured seconds at the latency rate before it is measured', (v) => Number(v), 3)
  .option('--step-seconds <s>', 'seconds of each throughput step', (v) => Number(v), 4)
  .option('--factor <x>', 'delivery rate of each throughput step over the one before', (v) => Number(v), 1.5)
  .option('--max-deliveries <n>', 'the throughput ladder stops here', (v) => Number(v), 400_000)
  .option('--min-deliveries <n>', 'when the first step is not sustained, rates are halved down to this', (v) => Number(v), 250)
  .option('--max-lag-ms <ms>', 'a step is sustained when 99 % arrive within this long after publishing ends, and p99 latency is no more', (v) => Number(v), 1000)
  .option('-s, --size <bytes>', 'message body size', (v) => Number.parseInt(v, 10), 128)
  .option('--only <path...>', 'run only some paths: gangway, web-stomp, compare')
  .option('--compare-gateway <file>', "another build's dist/bench/stomp-jms/gateway.js, measured as a third path")
  .option('--cpu-prof <dir>', 'write a V8 CPU profile of each Gangway and subscriber process into this folder')
  .option('--hard-stop <s>', 'abort the whole run after this many seconds', (v) => Number(v), 600)
  .parse();
const opts = program.opts<{
  subscribers: number;
  processes: number;
  distinctIds?: boolean;
  readRoundMs: number;
  latencyDeliveries: number;
  seconds: number;
  warmupSeconds: number;
  stepSeconds: number;
  factor: number;
  maxDeliveries: number;
  minDeliveries: number;
  maxLagMs: number;
  size: number;
  only?: string[];
  compareGateway?: string;
  cpuProf?: string;
  hardStop: number;
}>();

/** The p99 latency target at the latency rate, and the throughput ratio target over Web-STOMP. */
const TARGET_P99_MS = 25;
const TARGET_RATIO = 10;

/** Row names of the paths. */
const PATHS = { gangway: 'Gangway stomp.jms', compare: 'Gangway (compare)', webStomp: 'RabbitMQ Web-STOMP' } as const;

/** compose/.env above the build output, or above the working directory. */
function envFile(): string {
  try {
    return findEnvFile();
  } catch {
    return findEnvFile(process.cwd());
  }
}

const facts = loadBackends(envFile());
const children = new Set<ChildProcess>();

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function progress(line: string): void {
  process.stderr.write(`bench:stomp-jms: ${line}\n`);
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

const isGatewayReply = (m: unknown): m is GatewayReply => isObject(m) && (m.type === 'listening' || m.type === 'failed');

async function ask<K extends SubscriberReply['type']>(child: ChildProcess, cmd: SubscriberCommand, want: K, timeoutMs: number): Promise<Extract<SubscriberReply, { type: K }>> {
  child.send(cmd);
  const r = await nextMessage(child, (m): m is SubscriberReply => isObject(m) && (m.type === want || m.type === 'failed'), timeoutMs, cmd.type);
  if (r.type === 'failed') throw new Error(r.error);
  return r as Extract<SubscriberReply, { type: K }>;
}

/** The Erlang VM of the local RabbitMQ, found by name in /proc; `null` when not found. */
function rabbitPid(): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'beam.smp') return Number(entry);
    } catch {
      // The process ended while /proc was read.
      continue;
    }
  }
  return null;
}

/** The processes whose CPU a step reports, by role. */
interface Watched {
  readonly gangway: number | null;
  readonly subscribers: readonly number[];
  readonly rabbit: number | null;
}

/** CPU seconds so far per role (the subscriber processes together). */
function cpuNow(w: Watched): [number, number, number] {
  const of = (pid: number | null): number => (pid === null ? Number.NaN : (cpuByProcess(pid, false).get(pid) ?? Number.NaN));
  return [of(w.gangway), w.subscribers.reduce((sum, pid) => sum + of(pid), 0), of(w.rabbit)];
}

/** What all subscriber processes saw in one step. */
interface Report extends Percentiles {
  readonly delivered: number;
  readonly errors: number;
  readonly dropped: number;
  readonly silent: number;
}

/** Subscriber processes, asked together. */
class Subscribers {
  constructor(readonly children: readonly ChildProcess[]) {}

  all<K extends SubscriberReply['type']>(cmd: SubscriberCommand, want: K, timeoutMs: number): Promise<Extract<SubscriberReply, { type: K }>[]> {
    return Promise.all(this.children.map((c) => ask(c, cmd, want, timeoutMs)));
  }

  async progress(): Promise<{ delivered: number; dropped: number }> {
    const ps = await this.all({ type: 'progress' }, 'progress', 10_000);
    return { delivered: ps.reduce((n, p) => n + p.delivered, 0), dropped: ps.reduce((n, p) => n + p.dropped, 0) };
  }

  async report(): Promise<Report> {
    const rs = await this.all({ type: 'report' }, 'report', 60_000);
    const sum = (f: (r: (typeof rs)[number]) => number): number => rs.reduce((n, r) => n + f(r), 0);
    return { delivered: sum((r) => r.delivered), errors: sum((r) => r.errors), dropped: sum((r) => r.dropped), silent: sum((r) => r.silent), ...percentiles(rs.map((r) => r.latency)) };
  }
}

/** One AMQP 0-9-1 publisher to `amq.topic`, for the whole run. */
class Publisher {
  private constructor(
    private readonly close: () => Promise<void>,
    private readonly ch: Channel,
    private readonly pad: string,
  ) {}

  static async open(size: number): Promise<Publisher> {
    const conn = await amqpConnect({ hostname: facts.host, port: facts.rabbitmq.amqpPort, username: facts.rabbitmq.gangway.username, password: facts.rabbitmq.gangway.password });
    const ch = await conn.createChannel();
    return new Publisher(() => conn.close(), ch, 'x'.repeat(Math.max(0, size - 17)));
  }

  /**
   * Publishes `rate` messages/s (fractions allowed) for `seconds` with routing key `key`: one
   * message at the start of each 1/`rate` s, `rate` × `seconds` of them. Returns how many.
   */
  async run(key: string, rate: number, seconds: number): Promise<number> {
    const tickMs = 10;
    const total = Math.max(1, Math.round(rate * seconds));
    const start = Date.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * rate) + 1);
      while (sent < due) {
        sent++;
        if (!this.ch.publish('amq.topic', key, Buffer.from(`${stampNow()}:${this.pad}`))) await new Promise((r) => this.ch.once('drain', r));
      }
      if (sent < total) await sleep(tickMs);
    }
    return sent;
  }

  async end(): Promise<void> {
    await this.close();
  }
}

/** One measured stretch of publishing at one rate. */
interface Step {
  /** Offered deliveries/s: messages/s × subscribers. */
  readonly offered: number;
  readonly published: number;
  readonly expected: number;
  readonly report: Report;
  /** Deliveries/s over the publishing time. */
  readonly perSecond: number;
  /** CPU of Gangway, the subscriber process and RabbitMQ, in % of one core. */
  readonly cpu: readonly [number, number, number];
  readonly sustained: boolean;
}

interface PathResult {
  readonly path: string;
  readonly openMs: number;
  readonly latency: Step;
  readonly ladder: readonly Step[];
  /** The highest sustained step, and whether the ladder ended without a failure (a floor, then). */
  readonly best: Step | null;
  readonly capped: boolean;
}

class Bench {
  constructor(
    private readonly subs: Subscribers,
    private readonly publisher: Publisher,
    private readonly key: string,
    private readonly watched: Watched,
  ) {}

  /** Publishes at `offered` deliveries/s for `seconds`, waits up to the lag bound for the rest, and reports. */
  async step(offered: number, seconds: number): Promise<Step> {
    await this.subs.all({ type: 'reset' }, 'reset', 10_000);
    const cpu0 = cpuNow(this.watched);
    const t0 = Date.now();
    const published = await this.publisher.run(this.key, offered / opts.subscribers, seconds);
    const expected = published * opts.subscribers;
    const until = Date.now() + opts.maxLagMs;
    while (Date.now() < until) {
      const p = await this.subs.progress();
      if (p.delivered >= expected) break;
      await sleep(50);
    }
    const wall = (Date.now() - t0) / 1000;
    const cpu1 = cpuNow(this.watched);
    const report = await this.subs.report();
    const sustained = report.delivered >= 0.99 * expected && report.dropped === 0 && report.errors === 0 && report.silent === 0 && report.p99Us !== null && report.p99Us <= opts.maxLagMs * 1000;
    const cpu = cpu1.map((c, i) => ((c - (cpu0[i] as number)) / wall) * 100) as [number, number, number];
    return { offered, published, expected, report, perSecond: report.delivered / seconds, cpu, sustained };
  }

  /** Waits until deliveries stop coming (a backlog after an unsustained step); false if they never did. */
  async settle(limitMs: number): Promise<boolean> {
    const end = Date.now() + limitMs;
    let last = -1;
    while (Date.now() < end) {
      const p = await this.subs.progress();
      if (p.delivered === last) return true;
      last = p.delivered;
      await sleep(1000);
    }
    return false;
  }
}

function describeStep(path: string, what: string, s: Step): string {
  const p99 = s.report.p99Us === null ? 'n/a' : `${(s.report.p99Us / 1000).toFixed(1)} ms`;
  return `${path}: ${what} ${Math.round(s.offered)}/s offered → ${Math.round(s.perSecond)}/s delivered (${((s.report.delivered / s.expected) * 100).toFixed(1)} %), p99 ${p99}, dropped ${s.report.dropped}, errors ${s.report.errors}, silent ${s.report.silent}${s.sustained ? '' : ' — not sustained'}`;
}

async function measure(path: string, url: string, gangway: number | null, publisher: Publisher, extra: Partial<Extract<SubscriberCommand, { type: 'open' }>>): Promise<PathResult> {
  const key = `bench.${Date.now().toString(36)}`;
  const k = Math.max(1, Math.min(opts.processes, opts.subscribers));
  const forked = Array.from({ length: k }, () => fork(join(__dirname, 'subscribers.js'), [], { execArgv: profiling(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  for (const c of forked) children.add(c);
  const subs = new Subscribers(forked);
  try {
    // Subscribers 0..n-1 dealt out in k contiguous runs, the first ones one larger.
    const t0 = Date.now();
    const opened = await Promise.all(
      forked.map((c, i) => {
        const first = i * Math.floor(opts.subscribers / k) + Math.min(i, opts.subscribers % k);
        const count = Math.floor(opts.subscribers / k) + (i < opts.subscribers % k ? 1 : 0);
        return ask(c, { type: 'open', url, first, count, destination: `/topic/${key}`, distinctIds: opts.distinctIds === true, readRoundMs: opts.readRoundMs, ...extra }, 'opened', 300_000);
      }),
    );
    const openMs = Date.now() - t0;
    progress(`${path}: ${opened.reduce((n, o) => n + o.count, 0)} subscribers open in ${(openMs / 1000).toFixed(1)} s (${k} processes)`);
    const bench = new Bench(subs, publisher, key, { gangway, subscribers: forked.map((c) => c.pid as number), rabbit: rabbitPid() });
    // Unmeasured: the code on the delivery path of every process gets compiled first.
    await bench.step(opts.latencyDeliveries, opts.warmupSeconds);
    const latency = await bench.step(opts.latencyDeliveries, opts.seconds);
    progress(describeStep(path, 'latency', latency));
    const ladder: Step[] = [];
    let best: Step | null = null;
    let failed: Step | null = null;
    for (let offered = opts.latencyDeliveries * opts.factor; offered <= opts.maxDeliveries; offered *= opts.factor) {
      const s = await bench.step(offered, opts.stepSeconds);
      ladder.push(s);
      progress(describeStep(path, 'step', s));
      if (!s.sustained) {
        failed = s;
        break;
      }
      best = s;
    }
    // The first step was not sustained: halve the rate until one is, or the floor is reached.
    for (let offered = opts.latencyDeliveries / 2; best === null && offered >= opts.minDeliveries; offered /= 2) {
      if (!(await bench.settle(30_000))) break;
      const s = await bench.step(offered, opts.stepSeconds);
      ladder.push(s);
      progress(describeStep(path, 'below', s));
      if (s.sustained) best = s;
      else failed = s;
    }
    // Two more steps between the last sustained rate and the first that was not.
    for (let i = 0; i < 2 && failed !== null && failed.report.dropped === 0; i++) {
      if (!(await bench.settle(30_000))) break;
      const low = best?.offered ?? opts.latencyDeliveries;
      const s = await bench.step(Math.sqrt(low * failed.offered), opts.stepSeconds);
      ladder.push(s);
      progress(describeStep(path, 'between', s));
      if (s.sustained) best = s;
      else failed = s;
    }
    await subs.all({ type: 'close' }, 'closed', 60_000);
    return { path, openMs, latency, ladder: [...ladder].sort((a, b) => a.offered - b.offered), best, capped: failed === null };
  } finally {
    await Promise.all(forked.map((c) => stop(c)));
  }
}

/** Disconnects a child so it exits by itself (writing its CPU profile), and kills it if it does not. */
async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.exitCode === null && child.signalCode === null) {
    if (child.connected) child.disconnect();
    await Promise.race([exited, sleep(10_000)]);
  }
  child.kill();
  children.delete(child);
}

/** Node options of a child process: a CPU profile with `--cpu-prof`. */
function profiling(): string[] {
  return opts.cpuProf === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(opts.cpuProf)}`];
}

async function withGangway<T>(script: string, run: (url: string, pid: number) => Promise<T>): Promise<T> {
  const { username, password } = facts.rabbitmq.gangway;
  const gw = fork(script, [`amqp://${facts.host}:${facts.rabbitmq.amqpPort}`, username, password], { execArgv: profiling(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(gw);
  gw.on('exit', (code, signal) => {
    if (code !== 0) progress(`the Gangway process exited (${signal ?? `code ${code ?? '?'}`})`);
  });
  try {
    const r = await nextMessage(gw, isGatewayReply, 30_000, 'Gangway start');
    if (r.type === 'failed') throw new Error(`Gangway: ${r.error}`);
    return await run(`ws://127.0.0.1:${r.port}/stomp`, gw.pid as number);
  } finally {
    await stop(gw);
  }
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
    progress(`could not read RabbitMQ's socket limit (${err instanceof Error ? err.message : String(err)})`);
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
        'Start RabbitMQ with a higher limit (compose/up sets it; ulimit -n 65536 before rabbitmq-server) or pass fewer --subscribers.',
    );
  }
}

// --- the table ------------------------------------------------------------------------------------

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (us: number | null): string => (us === null ? 'n/a' : (us / 1000).toFixed(1));
const pct = (n: number): string => (Number.isNaN(n) ? 'n/a' : Math.round(n).toString());

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((l) => (l[i] as string).length)));
  const fmt = (cells: readonly string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [fmt(head), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(fmt)];
}

function stepCells(s: Step): string[] {
  return [
    int(s.offered),
    int(s.perSecond),
    `${((s.report.delivered / s.expected) * 100).toFixed(1)} %`,
    ms(s.report.p50Us),
    ms(s.report.p99Us),
    ms(s.report.maxUs),
    `${s.report.dropped} / ${s.report.errors} / ${s.report.silent}`,
    `${pct(s.cpu[0])} / ${pct(s.cpu[1])} / ${pct(s.cpu[2])}`,
  ];
}

/** The lowest rate a path was offered: when even that was not sustained, its rate is below it. */
function lowestOffered(r: PathResult): number {
  return Math.min(r.latency.offered, ...r.ladder.map((s) => s.offered));
}

function sustainedText(r: PathResult): string {
  if (r.best === null) return `< ${int(lowestOffered(r))}`;
  return `${r.capped ? '≥ ' : ''}${int(r.best.perSecond)}`;
}

function print(results: readonly PathResult[], loadBefore: number): void {
  const n = opts.subscribers;
  const cpuHead = 'CPU % gw / subs / rabbit';
  const out: string[] = [
    `bench:stomp-jms — 1 AMQP 0-9-1 publisher → ${n} WebSocket STOMP 1.2 subscribers of one topic (ack:auto, ${opts.distinctIds === true ? 'ids sub-N' : 'id sub-0'}), ${opts.size}-byte bodies`,
    `subscribers spread over ${Math.max(1, Math.min(opts.processes, n))} processes (raw RFC 6455 client, see bench/stomp-jms/README.md); CPU of subs is theirs together`,
    `node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown'}); load average ${loadBefore.toFixed(2)} at start, ${(os.loadavg()[0] ?? 0).toFixed(2)} at end`,
    '',
    `1. Latency at ${int(opts.latencyDeliveries)} deliveries/s (${(opts.latencyDeliveries / n).toFixed(2)} msg/s × ${n}) for ${opts.seconds} s; publisher stamp → subscriber process.`,
    ...table(
      ['path', 'open s', 'offered/s', 'delivered/s', 'of expected', 'p50 ms', 'p99 ms', 'max ms', 'dropped / err / silent', cpuHead],
      results.map((r) => [r.path, (r.openMs / 1000).toFixed(1), ...stepCells(r.latency)]),
    ),
    '',
    `2. Throughput: steps of ${opts.stepSeconds} s, each ${opts.factor}× the last, then two between the last sustained and the first not;`,
    `   sustained = ≥ 99 % delivered within ${opts.maxLagMs} ms after publishing ends, p99 ≤ ${opts.maxLagMs} ms,`,
    '   no subscriber dropped, none got an ERROR or broke the WebSocket rules, none received nothing.',
    ...table(
      ['path', 'offered/s', 'delivered/s', 'of expected', 'p50 ms', 'p99 ms', 'max ms', 'dropped / err / silent', cpuHead, 'sustained'],
      results.flatMap((r) => r.ladder.map((s) => [r.path, ...stepCells(s), s.sustained ? 'yes' : 'no'])),
    ),
    '',
    '3. Targets',
  ];
  const gangway = results.find((r) => r.path === PATHS.gangway);
  const web = results.find((r) => r.path === PATHS.webStomp);
  const rows: string[][] = [];
  if (gangway && web) {
    const g = gangway.best?.perSecond ?? 0;
    // Web-STOMP sustaining no rate at all is below the lowest it was offered: the ratio is then a floor.
    const w = web.best?.perSecond ?? lowestOffered(web);
    const ratio = g / w;
    const floor = gangway.capped || web.best === null;
    rows.push([`sustained deliveries/s ≥ ${TARGET_RATIO}× Web-STOMP`, sustainedText(gangway), sustainedText(web), `${floor ? '> ' : ''}${ratio.toFixed(1)}×`, ratio >= TARGET_RATIO ? 'met' : 'MISS']);
  }
  if (gangway) {
    const gp = gangway.latency.report.p99Us;
    const wp = web?.latency.report.p99Us ?? null;
    rows.push([
      `p99 ≤ ${TARGET_P99_MS} ms at ${int(opts.latencyDeliveries)} deliveries/s`,
      ms(gp),
      ms(wp),
      gp !== null && wp !== null ? `${(wp / gp).toFixed(1)}× lower` : 'n/a',
      gp !== null && gp <= TARGET_P99_MS * 1000 && gangway.latency.sustained ? 'met' : 'MISS',
    ]);
  }
  out.push(...table(['target', 'Gangway', 'Web-STOMP', 'ratio', 'verdict'], rows), '');
  process.stdout.write(out.join('\n') + '\n');
}

async function main(): Promise<void> {
  const hardStop = setTimeout(() => {
    progress(`hard stop after ${opts.hardStop} s`);
    for (const c of children) c.kill('SIGKILL');
    process.exit(2);
  }, opts.hardStop * 1000);
  hardStop.unref();
  const loadBefore = os.loadavg()[0] ?? 0;
  const only = new Set(opts.only ?? ['gangway', 'web-stomp', ...(opts.compareGateway === undefined ? [] : ['compare'])]);
  if (only.has('web-stomp')) await checkWebStompCapacity(opts.subscribers);
  if (only.has('compare') && opts.compareGateway === undefined) throw new Error('--only compare needs --compare-gateway');
  const publisher = await Publisher.open(opts.size);
  const results: PathResult[] = [];
  try {
    if (only.has('gangway')) results.push(await withGangway(join(__dirname, 'gateway.js'), (url, pid) => measure(PATHS.gangway, url, pid, publisher, {})));
    if (only.has('compare') && opts.compareGateway !== undefined) {
      results.push(await withGangway(resolve(opts.compareGateway), (url, pid) => measure(PATHS.compare, url, pid, publisher, {})));
    }
    if (only.has('web-stomp')) {
      const { username, password } = facts.rabbitmq.guest;
      results.push(await measure(PATHS.webStomp, `ws://${facts.host}:${facts.rabbitmq.webStompPort}/ws`, null, publisher, { login: username, passcode: password, host: facts.rabbitmq.vhost }));
    }
  } finally {
    await publisher.end();
  }
  print(results, loadBefore);
  clearTimeout(hardStop);
}

main().catch((err: unknown) => {
  progress(err instanceof Error ? err.message : String(err));
  for (const c of children) c.kill();
  process.exit(1);
});
