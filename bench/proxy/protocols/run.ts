import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { WebSocket } from 'ws';
import { findEnvFile, loadBackends, type Backends } from '../../../test/support/backends';
import { killAll, stop } from '../processes';
import { cpuBetween, cpuByProcess, schedBetween, schedStat, type SchedStat } from '../procfs';
import { summarize } from '../report';
import { amqp091Suite } from './amqp091';
import { amqp10Suite } from './amqp10';
import { startGangway, type Gangway, type Route } from './gangway';
import { ircSuite } from './irc';
import { latency, throughput, type Marks, type Sink, type ThroughputRound } from './measure';
import type { Pair, Path, Suite } from './pair';
import { render, type PathResult, type Report, type SchedFigure, type SuiteResult, type ThroughputFigure } from './report';
import { stompSuite } from './stomp';
import { xmppSuite } from './xmpp';

/**
 * `npm run build && npm run bench:proxy:protocols`: for STOMP (RabbitMQ, ActiveMQ), AMQP
 * 0-9-1, AMQP 1.0 (RabbitMQ), XMPP (Prosody) and IRC (ngIRCd), the standard client library of
 * each protocol publishes to a subscriber directly, through Gangway's byte `proxy`, through
 * Gangway's protocol proxy and (STOMP, XMPP) through the server's own WebSocket endpoint.
 * Prints throughput and latency per path and the targets (added p99, throughput against the byte proxy), then exits.
 */

const ROOT = resolve(__dirname, '..', '..', '..', '..');
/** Pause before each latency round, so the previous path's traffic and garbage are gone. */
const SETTLE_MS = 100;
/** Pause between the throughput phase and the latency phase, so the servers are done with the burst. */
const LATENCY_SETTLE_MS = 1000;
/** Pause before connecting a path again after it failed to connect. */
const RETRY_MS = 3000;
/** The whole run is stopped after this, whatever it is doing. */
const HARD_STOP_MS = 15 * 60_000;

const program = new Command()
  .name('bench:protocols')
  .description('standard protocol clients direct, through Gangway proxy and through Gangway protocol proxies; prints tables')
  .option('-r, --rounds <n>', 'rounds; each measures every path of a protocol once, in turn', (v) => Number.parseInt(v, 10), 3)
  .option('-d, --duration <s>', 'measured throughput seconds per path and round', (v) => Number(v), 1.5)
  .option('--warmup <s>', 'unmeasured throughput seconds before each measured window', (v) => Number(v), 0.5)
  .option('--latency-seconds <s>', 'seconds of fixed-rate sending per path, over all latency rounds', (v) => Number(v), 12)
  .option('--latency-rounds <n>', 'latency rounds; each sends on every path of a protocol once, in turn', (v) => Number.parseInt(v, 10), 60)
  .option('--rate <n>', 'messages per second of the latency phase', (v) => Number.parseInt(v, 10), 1000)
  .option('-s, --size <bytes>', 'message body size', (v) => Number.parseInt(v, 10), 64)
  .option('--only <suite...>', 'run only some protocols: stomp-rabbitmq, stomp-activemq, amqp091, amqp10, xmpp, irc')
  .option('--gangway-cli <file>', "Gangway's cli.js to run instead of this checkout's dist/src/cli.js")
  .parse();
const opts = program.opts<{ rounds: number; duration: number; warmup: number; latencySeconds: number; latencyRounds: number; rate: number; size: number; only?: string[]; gangwayCli?: string }>();
const GANGWAY_CLI = resolve(opts.gangwayCli ?? join(ROOT, 'dist', 'src', 'cli.js'));

function progress(text: string): void {
  process.stderr.write(`  .. ${text}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** compose/.env above the build output, or above the working directory. */
function envFile(): string {
  try {
    return findEnvFile();
  } catch {
    return findEnvFile(process.cwd());
  }
}

function packageVersion(name: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8' }).trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The back ends Gangway fronts: a byte `proxy` and a protocol proxy for each. */
const routesOf = (facts: Backends): Route[] => [
  { name: 'stomp-rabbitmq', port: facts.rabbitmq.stompPort, type: 'stomp.proxy', byteSubprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'], byteMessageType: 'mirror' },
  { name: 'stomp-activemq', port: facts.activemq.stompPort, type: 'stomp.proxy', byteSubprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'], byteMessageType: 'mirror' },
  { name: 'amqp', port: facts.rabbitmq.amqpPort, type: 'amqp.proxy', byteSubprotocols: ['amqp', 'amqp091'], byteMessageType: 'binary' },
  { name: 'xmpp', port: facts.xmpp.c2sPort, type: 'xmpp.proxy', byteSubprotocols: ['binary'], byteMessageType: 'binary' },
  { name: 'irc', port: facts.irc.port, type: 'irc.proxy', byteSubprotocols: ['binary'], byteMessageType: 'binary' },
];

/** Every suite and the Gangway route (see {@link routesOf}) its proxy paths go through. */
function suites(facts: Backends, gw: Gangway): { suite: Suite; route: string }[] {
  const rabbit = facts.rabbitmq;
  const [sender, receiver] = facts.xmpp.users;
  if (!sender || !receiver) throw new Error('compose/.env lists fewer than two XMPP users');
  return [
    {
      route: 'stomp-rabbitmq',
      suite: stompSuite({
        broker: 'RabbitMQ',
        port: rabbit.stompPort,
        headers: { login: rabbit.guest.username, passcode: rabbit.guest.password, host: rabbit.vhost },
        server: (comm) => comm === 'beam.smp',
        proxyUrl: gw.proxyUrl('stomp-rabbitmq'),
        protocolUrl: gw.protocolUrl('stomp-rabbitmq'),
        nativeUrl: `ws://${facts.host}:${rabbit.webStompPort}/ws`,
      }),
    },
    {
      route: 'stomp-activemq',
      suite: stompSuite({
        broker: 'ActiveMQ',
        port: facts.activemq.stompPort,
        headers: { login: facts.activemq.user.username, passcode: facts.activemq.user.password },
        server: (comm, cmdline) => comm === 'java' && cmdline.includes('activemq'),
        proxyUrl: gw.proxyUrl('stomp-activemq'),
        protocolUrl: gw.protocolUrl('stomp-activemq'),
        nativeUrl: null,
      }),
    },
    {
      route: 'amqp',
      suite: amqp091Suite({ port: rabbit.amqpPort, username: rabbit.guest.username, password: rabbit.guest.password, vhost: rabbit.vhost, proxyUrl: gw.proxyUrl('amqp'), protocolUrl: gw.protocolUrl('amqp') }),
    },
    {
      route: 'amqp',
      suite: amqp10Suite({ port: rabbit.amqpPort, username: rabbit.guest.username, password: rabbit.guest.password, proxyUrl: gw.proxyUrl('amqp'), protocolUrl: gw.protocolUrl('amqp') }),
    },
    {
      route: 'xmpp',
      suite: xmppSuite({
        domain: facts.xmpp.domain,
        sender,
        receiver,
        c2sPort: facts.xmpp.c2sPort,
        proxyUrl: gw.proxyUrl('xmpp'),
        protocolUrl: gw.protocolUrl('xmpp'),
        nativeUrl: `ws://${facts.host}:${facts.xmpp.httpPort}/xmpp-websocket`,
      }),
    },
    {
      route: 'irc',
      suite: ircSuite({ port: facts.irc.port, proxyUrl: gw.proxyUrl('irc'), protocolPort: gw.port, protocolPath: gw.protocolPath('irc') }),
    },
  ];
}

/** The first process whose /proc `comm` and command line `match` accepts (the server of a suite), or null. */
function findServer(match: Suite['server']): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (match(comm, cmdline)) return Number(entry);
    } catch (err) {
      // A process that exited while the list was read.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return null;
}

/** Gangway's count of WebSocket messages sent to the clients of `service` (`gangway_messages_total`, direction out). */
async function messagesOut(metricsUrl: string, service: string): Promise<number> {
  const response = await fetch(metricsUrl);
  if (!response.ok) throw new Error(`${metricsUrl}: HTTP ${response.status}`);
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith('gangway_messages_total{') && l.includes(`service="${service}"`) && l.includes('direction="out"'));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** CPU of Gangway, of the server and of this process over one measured window, in % of one core. */
class Meter implements Marks {
  private gangway0 = new Map<number, number>();
  private server0 = new Map<number, number>();
  private client0 = process.cpuUsage();
  private t0 = 0;
  gangwayPercent = Number.NaN;
  serverPercent = Number.NaN;
  clientPercent = Number.NaN;

  constructor(
    private readonly gangwayPid: number,
    private readonly serverPid: number | null,
  ) {}

  start(): void {
    this.gangway0 = cpuByProcess(this.gangwayPid, false);
    if (this.serverPid !== null) this.server0 = cpuByProcess(this.serverPid, false);
    this.client0 = process.cpuUsage();
    this.t0 = performance.now();
  }

  end(): void {
    const seconds = (performance.now() - this.t0) / 1000;
    const client = process.cpuUsage(this.client0);
    this.gangwayPercent = (cpuBetween(this.gangway0, cpuByProcess(this.gangwayPid, false)) / seconds) * 100;
    if (this.serverPid !== null) this.serverPercent = (cpuBetween(this.server0, cpuByProcess(this.serverPid, false)) / seconds) * 100;
    this.clientPercent = ((client.user + client.system) / 1e6 / seconds) * 100;
  }
}

/** What the scheduler counted for Gangway, the server and this process over a path's latency rounds, summed. */
class SchedMeter {
  private seconds = 0;
  private readonly sums = { gangway: zeroSched(), server: zeroSched(), client: zeroSched() };

  constructor(
    private readonly gangwayPid: number,
    private readonly serverPid: number | null,
  ) {}

  /** Runs `span` and adds what the scheduler counted while it ran. */
  async over(span: () => Promise<void>): Promise<void> {
    const before = this.sample();
    const t0 = performance.now();
    await span();
    this.seconds += (performance.now() - t0) / 1000;
    const after = this.sample();
    for (const who of ['gangway', 'server', 'client'] as const) this.sums[who] = addSched(this.sums[who], schedBetween(before[who], after[who]));
  }

  figures(): { gangway: SchedFigure; server: SchedFigure | null; client: SchedFigure } | null {
    if (this.seconds === 0) return null;
    return { gangway: schedFigure(this.sums.gangway, this.seconds), server: this.serverPid === null ? null : schedFigure(this.sums.server, this.seconds), client: schedFigure(this.sums.client, this.seconds) };
  }

  private sample(): { gangway: SchedStat; server: SchedStat; client: SchedStat } {
    return { gangway: schedStat(this.gangwayPid), server: this.serverPid === null ? zeroSched() : schedStat(this.serverPid), client: schedStat(process.pid) };
  }
}

function zeroSched(): SchedStat {
  return { cpuNs: 0, waitNs: 0, runs: 0 };
}

function addSched(a: SchedStat, b: SchedStat): SchedStat {
  return { cpuNs: a.cpuNs + b.cpuNs, waitNs: a.waitNs + b.waitNs, runs: a.runs + b.runs };
}

function schedFigure(s: SchedStat, seconds: number): SchedFigure {
  return { cpuPercent: s.cpuNs / 1e7 / seconds, waitPerRunUs: s.runs === 0 ? Number.NaN : s.waitNs / 1000 / s.runs };
}

interface Live {
  pair: Pair | null;
  readonly sink: Sink;
  error: string | null;
  readonly rounds: { round: ThroughputRound; meter: Meter; messagesToClients: number }[];
  readonly samples: number[];
  lost: number;
  readonly sched: SchedMeter;
}

function figure(live: Live): ThroughputFigure | null {
  if (live.rounds.length === 0) return null;
  const sorted = [...live.rounds].sort((a, b) => a.round.messagesPerSecond - b.round.messagesPerSecond);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as (typeof sorted)[number];
  return {
    messagesPerSecond: mid.round.messagesPerSecond,
    min: (sorted[0] as (typeof sorted)[number]).round.messagesPerSecond,
    max: (sorted[sorted.length - 1] as (typeof sorted)[number]).round.messagesPerSecond,
    gangwayCpuPercent: mid.meter.gangwayPercent,
    serverCpuPercent: mid.meter.serverPercent,
    clientCpuPercent: mid.meter.clientPercent,
    webSocketMessagesPerMessage: mid.messagesToClients / mid.round.received,
    lost: live.rounds.reduce((sum, r) => sum + r.round.lost, 0),
  };
}

/**
 * Every order of `items`, arranged so that consecutive orders start with different items: the
 * first `items.length` are the rotations (as many rounds as paths give every path the first
 * turn once), then the other orders, rotation by rotation.
 */
function permutations(items: readonly number[]): number[][] {
  if (items.length <= 1) return [[...items]];
  const all: number[][] = [];
  const [head, ...rest] = items as [number, ...number[]];
  for (const tail of permutations(rest)) {
    const order = [head, ...tail];
    for (let k = 0; k < order.length; k++) all.push([...order.slice(k), ...order.slice(0, k)]);
  }
  return all;
}

async function runSuite(suite: Suite, route: string, gw: Gangway, gangwayPid: number): Promise<SuiteResult> {
  const serverPid = findServer(suite.server);
  if (serverPid === null) progress(`${suite.name}: the server's process was not found; its CPU shows n/a`);
  const live: Live[] = suite.paths.map(() => ({ pair: null, sink: { receive: () => undefined }, error: null, rounds: [], samples: [], lost: 0, sched: new SchedMeter(gangwayPid, serverPid) }));
  for (const [i, path] of suite.paths.entries()) {
    const l = live[i] as Live;
    progress(`${suite.name}: connecting ${path.kind} (${path.label})`);
    // A second try, after a pause, rides out a broker restart (other jobs on the machine may restart the brokers).
    for (let attempt = 1; attempt <= 2 && l.pair === null; attempt++) {
      try {
        l.pair = await path.open((text) => l.sink.receive(text));
        l.error = null;
      } catch (err) {
        l.error = message(err);
        progress(`${suite.name}: ${path.kind} failed to connect (attempt ${attempt} of 2): ${l.error}`);
        if (attempt === 1) await sleep(RETRY_MS);
      }
    }
  }
  /** Orders of the paths, one per round in turn: over each cycle of orders every path follows every other equally often. */
  const orders = permutations(suite.paths.map((_, i) => i));
  /** Runs `step` on every live path, in round `r`'s order (see {@link orders}). */
  const each = async (what: string, r: number, step: (l: Live, pair: Pair, path: Path) => Promise<void>): Promise<void> => {
    for (const i of orders[(r - 1) % orders.length] as number[]) {
      const path = suite.paths[i] as Path;
      const l = live[i] as Live;
      if (l.pair === null || l.error !== null) continue;
      try {
        await step(l, l.pair, path);
      } catch (err) {
        l.error = `${what}: ${message(err)}`;
        progress(`${suite.name}: ${path.kind} failed: ${l.error}`);
      }
    }
  };
  const serviceOf = (path: Path): string | null => (path.kind === 'proxy' ? `${route}-bytes` : path.kind === 'protocol' ? route : null);
  for (let r = 1; r <= opts.rounds; r++) {
    progress(`${suite.name}: throughput round ${r}/${opts.rounds}`);
    await each('throughput', r, async (l, pair, path) => {
      const meter = new Meter(gangwayPid, serverPid);
      // Read before the round and after its drain, so the count covers exactly the round's messages.
      const service = serviceOf(path);
      const out0 = service === null ? 0 : await messagesOut(gw.metricsUrl, service);
      const round = await throughput(pair, l.sink, { window: suite.window, warmupMs: opts.warmup * 1000, durationMs: opts.duration * 1000, size: opts.size }, meter);
      const messagesToClients = service === null ? Number.NaN : (await messagesOut(gw.metricsUrl, service)) - out0;
      l.rounds.push({ round, meter, messagesToClients });
    });
  }
  await sleep(LATENCY_SETTLE_MS);
  // Many short latency rounds: a slow spell of the machine then falls on every path alike.
  for (let r = 1; r <= opts.latencyRounds; r++) {
    progress(`${suite.name}: latency round ${r}/${opts.latencyRounds}`);
    await each('latency', r, async (l, pair) => {
      await sleep(SETTLE_MS);
      await l.sched.over(async () => {
        const round = await latency(pair, l.sink, { rate: opts.rate, durationMs: (opts.latencySeconds * 1000) / opts.latencyRounds, size: opts.size });
        l.samples.push(...round.samples);
        l.lost += round.lost;
      });
    });
  }
  for (const l of live) {
    if (l.pair === null) continue;
    try {
      await l.pair.close();
    } catch (err) {
      l.error ??= `close: ${message(err)}`;
    }
  }
  const paths: PathResult[] = suite.paths.map((path, i) => {
    const l = live[i] as Live;
    return {
      kind: path.kind,
      label: path.label,
      throughput: figure(l),
      latency: l.samples.length > 0 || l.lost > 0 ? summarize(l.samples, l.lost) : null,
      sched: l.sched.figures(),
      error: l.error,
    };
  });
  return { name: suite.name, window: suite.window, note: suite.note, paths };
}

async function main(): Promise<void> {
  if (!existsSync(GANGWAY_CLI)) throw new Error(`${GANGWAY_CLI} not found: run npm run build first`);
  // @xmpp/client's and irc-framework's WebSocket transports use the global WebSocket, which Node 20 lacks.
  Reflect.set(globalThis, 'WebSocket', WebSocket);
  const facts = loadBackends(envFile());
  const tmp = mkdtempSync(join(os.tmpdir(), 'gangway-bench-protocols-'));
  const report: Report = {
    started: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    servers: [
      `RabbitMQ ${packageVersion('rabbitmq-server')}`,
      `ActiveMQ ${packageVersion('activemq')}`,
      `Prosody ${packageVersion('prosody')}`,
      `ngIRCd ${packageVersion('ngircd')}`,
      'all on 127.0.0.1 (compose/up)',
    ],
    size: opts.size,
    rounds: opts.rounds,
    warmupSeconds: opts.warmup,
    durationSeconds: opts.duration,
    rate: opts.rate,
    latencySeconds: opts.latencySeconds,
    latencyRounds: opts.latencyRounds,
    loadBefore: os.loadavg(),
    loadAfter: [],
    suites: [],
  };
  progress(`starting Gangway (${GANGWAY_CLI}); its log is in ${tmp}`);
  const gw = await startGangway(GANGWAY_CLI, tmp, routesOf(facts));
  try {
    const pid = gw.proc.pid;
    if (pid === undefined) throw new Error('Gangway has no process id');
    for (const { suite, route } of suites(facts, gw)) {
      if (opts.only && !opts.only.includes(suite.key)) continue;
      report.suites.push(await runSuite(suite, route, gw, pid));
    }
  } finally {
    await stop(gw.proc);
  }
  report.loadAfter = os.loadavg();
  process.stdout.write(render(report));
}

const deadline = setTimeout(() => {
  process.stderr.write(`bench:protocols: still running after ${HARD_STOP_MS / 60_000} minutes; stopping\n`);
  killAll();
  process.exit(1);
}, HARD_STOP_MS);
deadline.unref();
// Whatever ends this process, Gangway ends with it.
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:protocols failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
