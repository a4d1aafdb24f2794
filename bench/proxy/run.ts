import os from 'node:os';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type { Target } from './protocol';
import { collectGarbage, forkChild, forkServer, freePort, killAll, spawnLogged, stop, waitForPort, type Child } from './processes';
import { cpuBetween, cpuByProcess, openFileLimits, rssKiB } from './procfs';
import { printReport, summarize, type MemoryRow, type Report, type ThroughputCell } from './report';

/**
 * `npm run bench:proxy`: Gangway's `proxy` service against a direct TCP connection, a bare `ws`
 * echo server and websockify, all on 127.0.0.1, each server and the load client in a process of
 * its own. Prints one table (throughput, latency, memory per idle session, targets) and exits.
 */

const ROOT = resolve(__dirname, '..', '..', '..');
const HERE = __dirname;
const WANTED_OPEN_FILES = 65_536;
/** File descriptors a server keeps for itself (listeners, pipes, epoll, stdio) beyond its sessions. */
const FD_RESERVE = 64;
const REEXEC_ENV = 'GANGWAY_BENCH_RAISED_NOFILE';
/** Connections per throughput cell, and messages kept in flight on each: `--window` small ones, or 512 KiB worth of large ones (at least 8). */
const CONNECTIONS = 4;
const LATENCY_RATE = 1000;
/** Each round measures every path for an equal share of `--latency-seconds`. */
function latencyRoundMs(): number {
  return Math.max(1000, Math.round((opts.latencySeconds * 1000) / opts.rounds));
}
function windowFor(size: number): number {
  return size < 8192 ? opts.window : Math.max(8, Math.floor((512 * 1024) / size));
}

const program = new Command()
  .name('bench:proxy')
  .description("Gangway's proxy service vs direct TCP, bare ws and websockify; prints a table")
  .option('-r, --rounds <n>', 'rounds; each round measures every path once, in turn, and the median round is shown', (v) => Number.parseInt(v, 10), 3)
  .option('-d, --duration <s>', 'measured seconds per throughput cell and round', (v) => Number(v), 2)
  .option('--latency-seconds <s>', 'measured seconds of the latency run per path, over all rounds', (v) => Number(v), 10)
  .option('--size <bytes...>', 'message sizes for throughput', (v, prev: number[] | undefined) => [...(prev ?? []), Number.parseInt(v, 10)])
  .option('-w, --window <n>', 'messages in flight per connection for messages under 8 KiB', (v) => Number.parseInt(v, 10), 512)
  .option('--no-cork', 'throughput: write each message on its own instead of all a connection may send at once in one write')
  .option('--websockify <command>', 'websockify program to run', 'websockify')
  .option('--gangway-cli <file>', "Gangway's cli.js to run instead of this checkout's dist/src/cli.js")
  .option('--compare-cli <file>', "another build's cli.js, measured as one more path (\"Gangway (compare)\")")
  .option('-n, --sessions <n>', 'idle sessions for the memory figures', (v) => Number.parseInt(v, 10), 10_000)
  .option('--only <section...>', 'run only some sections: throughput, latency, memory')
  .option('--cpu-prof <dir>', "write a V8 CPU profile of Gangway's throughput/latency process to dir")
  .parse();
const opts = program.opts<{
  rounds: number;
  duration: number;
  latencySeconds: number;
  size?: number[];
  window: number;
  cork: boolean;
  gangwayCli?: string;
  compareCli?: string;
  websockify: string;
  sessions: number;
  only?: string[];
  cpuProf?: string;
}>();
const SIZES = opts.size ?? [64, 65536];
const GANGWAY_CLI = resolve(opts.gangwayCli ?? join(ROOT, 'dist', 'src', 'cli.js'));
const COMPARE_CLI = opts.compareCli ? resolve(opts.compareCli) : null;
const sections = new Set(opts.only ?? ['throughput', 'latency', 'memory']);

function progress(text: string): void {
  process.stderr.write(`  .. ${text}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Ten thousand proxied sessions are twenty thousand sockets in Gangway: raise the open-file limit
 * before anything is started, by running this script again under `ulimit -n` (children inherit
 * it). Where the hard limit cannot be raised, the highest allowed value is used and the memory
 * section opens as many sessions as fit.
 */
function ensureOpenFiles(): ChildProcess | null {
  const { soft } = openFileLimits();
  if (soft >= WANTED_OPEN_FILES || process.env[REEXEC_ENV]) return null;
  const script = `ulimit -n ${WANTED_OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  const child = spawn('/bin/sh', ['-c', script, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_ENV]: '1' },
  });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return child;
}

function websockifyVersion(): string | null {
  try {
    execFileSync(opts.websockify, ['--help'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
  }
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'websockify'], { encoding: 'utf8' }).trim() || 'installed';
  } catch {
    return 'installed';
  }
}

function gangwayConfig(port: number, echoPort: number): string {
  const limits = [
    '    limits:',
    '      connectionsPerSecondPerIp: 1000000',
    '      maxConnections: 100000',
    '      idleTimeoutMs: 0',
  ].join('\n');
  return [
    '# Written by bench/proxy/run.ts for one benchmark run.',
    'gangway:',
    '  log:',
    '    level: warn',
    '  limits:',
    '    maxConnections: 200000',
    '    shutdownDrainMs: 1000',
    'services:',
    '  - name: bench-proxy',
    '    type: proxy',
    `    accept: ws://127.0.0.1:${port}/`,
    `    connect: tcp://127.0.0.1:${echoPort}`,
    '    subprotocols: [binary]',
    '    properties:',
    '      messageType: binary',
    limits,
    '  - name: bench-echo',
    '    type: echo',
    `    accept: ws://127.0.0.1:${port}/echo`,
    '    subprotocols: [binary]',
    limits,
    '',
  ].join('\n');
}

interface Gangway {
  proc: ChildProcess;
  port: number;
}

async function startGangway(tmp: string, echoPort: number, nodeFlags: string[], env: NodeJS.ProcessEnv, tag: string, cli = GANGWAY_CLI): Promise<Gangway> {
  const port = await freePort();
  const file = join(tmp, `gangway-${tag}.yaml`);
  writeFileSync(file, gangwayConfig(port, echoPort));
  const log = join(tmp, `gangway-${tag}.log`);
  const proc = spawnLogged(process.execPath, [...nodeFlags, cli, 'start', '-c', file], log, env);
  await waitForPort(port, proc, 'Gangway', log);
  return { proc, port };
}

/** One throughput measurement of one path; CPU is sampled on the client's window marks. */
async function throughputCell(client: Child, target: Target, serverPid: number, tree: boolean, size: number): Promise<ThroughputCell> {
  const empty = new Map<number, number>();
  const at = { start: { server: empty, client: empty, t: 0 }, end: { server: empty, client: empty, t: 0 } };
  client.markHandler = (phase) => {
    at[phase] = { server: cpuByProcess(serverPid, tree), client: cpuByProcess(client.pid, false), t: performance.now() };
  };
  const job = { type: 'throughput', target, size, connections: CONNECTIONS, window: windowFor(size), cork: opts.cork, warmupMs: 1000, durationMs: opts.duration * 1000 } as const;
  const r = await client.run(job, job.warmupMs + job.durationMs + 30_000);
  client.markHandler = () => undefined;
  if (r.type !== 'throughput') throw new Error(`load client answered ${r.type} to a throughput job`);
  const wall = (at.end.t - at.start.t) / 1000;
  return {
    messagesPerSecond: r.bytes / size / r.seconds,
    megabytesPerSecond: r.bytes / 1e6 / r.seconds,
    cpuPercent: wall > 0 ? (cpuBetween(at.start.server, at.end.server) / wall) * 100 : Number.NaN,
    clientCpuPercent: wall > 0 ? (cpuBetween(at.start.client, at.end.client) / wall) * 100 : Number.NaN,
  };
}

/** The round with the median messages/s (the middle one of an odd count). */
function medianCell(cells: ThroughputCell[]): ThroughputCell {
  const sorted = [...cells].sort((a, b) => a.messagesPerSecond - b.messagesPerSecond);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as ThroughputCell;
  return { ...mid, minMessagesPerSecond: sorted[0]?.messagesPerSecond, maxMessagesPerSecond: sorted[sorted.length - 1]?.messagesPerSecond };
}

interface Measured {
  readonly pid: number;
  readonly memoryFile: string;
}

/**
 * Opens `count` idle sessions on `url` and reports the server's resident memory per session; when
 * `backEnd` is given (the TCP echo server behind a proxy), its memory per connection is reported
 * too, as the floor a plain Node TCP socket sets.
 */
async function memoryRows(name: string, client: Child, server: Measured, url: string, count: number, note: string, backEnd?: Measured): Promise<MemoryRow[]> {
  const target = { kind: 'ws', url, protocols: ['binary'] } as const;
  const warm = await client.run({ type: 'open', target, count: 200, batch: 200 }, 60_000);
  if (warm.type === 'open' && warm.opened === 0) throw new Error(`${name}: no session opened (${warm.firstError ?? 'no error'})`);
  await client.run({ type: 'close' }, 60_000);
  await sleep(1000);
  const measured = backEnd ? [server, backEnd] : [server];
  const snapshot = async (): Promise<{ rss: number; usage: NodeJS.MemoryUsage }[]> => {
    const usages = await Promise.all(measured.map((m) => collectGarbage(m.pid, m.memoryFile)));
    await sleep(500);
    return measured.map((m, i) => ({ rss: rssKiB(m.pid), usage: usages[i] as NodeJS.MemoryUsage }));
  };
  const before = await snapshot();
  const opened = await client.run({ type: 'open', target, count, batch: 500 }, 180_000);
  if (opened.type !== 'open') throw new Error(`load client answered ${opened.type} to an open job`);
  await sleep(3000);
  const settled = measured.map((m) => rssKiB(m.pid));
  const after = await snapshot();
  await client.run({ type: 'close' }, 120_000);
  const n = Math.max(1, opened.opened);
  return measured.map((_, i) => {
    const b = before[i] as { rss: number; usage: NodeJS.MemoryUsage };
    const a = after[i] as { rss: number; usage: NodeJS.MemoryUsage };
    return {
      name: i === 0 ? name : 'TCP echo (net.Socket)',
      note: i === 0 ? note : `the back end of ${name}, one plain socket per session`,
      sessions: opened.opened,
      failed: i === 0 ? opened.failed : 0,
      firstError: i === 0 ? opened.firstError : null,
      rssBeforeKiB: b.rss,
      rssAfterKiB: a.rss,
      perSessionKiB: (a.rss - b.rss) / n,
      perSessionNoGcKiB: ((settled[i] as number) - b.rss) / n,
      heapPerSessionKiB: (a.usage.heapUsed - b.usage.heapUsed) / 1024 / n,
      externalPerSessionKiB: (a.usage.external - b.usage.external) / 1024 / n,
    };
  });
}

async function main(): Promise<void> {
  if (!existsSync(GANGWAY_CLI)) throw new Error(`${GANGWAY_CLI} not found: run npm run build first`);
  if (COMPARE_CLI && !existsSync(COMPARE_CLI)) throw new Error(`${COMPARE_CLI} not found`);
  const tmp = mkdtempSync(join(os.tmpdir(), 'gangway-bench-'));
  const limits = openFileLimits();
  const wsfVersion = websockifyVersion();
  const report: Report = {
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    websockify: wsfVersion,
    openFiles: limits.soft,
    rounds: opts.rounds,
    connections: CONNECTIONS,
    windows: SIZES.map((size) => ({ size, window: windowFor(size) })),
    cork: opts.cork,
    durationSeconds: opts.duration,
    latencySeconds: (opts.rounds * latencyRoundMs()) / 1000,
    loadBefore: os.loadavg()[0] ?? 0,
    loadAfter: 0,
    throughput: null,
    latency: null,
    memory: null,
  };
  if (!wsfVersion) process.stdout.write(`websockify not found (${opts.websockify}): install it with \`apt-get install websockify\` (Debian); its column is skipped.\n`);

  const memoryFile = join(tmp, 'memory.json');
  const echoMemory = join(tmp, 'echo-memory.json');
  const hook = ['--expose-gc', '--require', join(HERE, 'gc-hook.js')];
  const echo = await forkServer('tcp echo server', join(HERE, 'echo-server.js'), hook, { ...process.env, GANGWAY_BENCH_MEMORY_FILE: echoMemory });
  const client = forkChild('load client', join(HERE, 'client.js'));
  try {
    if (sections.has('throughput') || sections.has('latency')) {
      progress('starting the bare ws server, Gangway and websockify');
      const wsRef = await forkServer('bare ws server', join(HERE, 'ws-echo-server.js'));
      const profFlags = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', resolve(opts.cpuProf)] : [];
      if (opts.cpuProf) mkdirSync(resolve(opts.cpuProf), { recursive: true });
      const gw = await startGangway(tmp, echo.port, profFlags, process.env, 'load');
      const cmp = COMPARE_CLI ? await startGangway(tmp, echo.port, [], process.env, 'compare', COMPARE_CLI) : null;
      let wsf: { proc: ChildProcess; port: number } | null = null;
      if (wsfVersion) {
        const port = await freePort();
        const log = join(tmp, 'websockify.log');
        const proc = spawnLogged(opts.websockify, [`127.0.0.1:${port}`, `127.0.0.1:${echo.port}`], log);
        await waitForPort(port, proc, 'websockify', log);
        wsf = { proc, port };
      }
      const paths: { key: string; target: Target; pid: number; tree: boolean }[] = [
        { key: 'direct', target: { kind: 'tcp', host: '127.0.0.1', port: echo.port }, pid: echo.child.pid, tree: false },
        { key: 'ws', target: { kind: 'ws', url: `ws://127.0.0.1:${wsRef.port}/`, protocols: ['binary'] }, pid: wsRef.child.pid, tree: false },
        { key: 'gangway', target: { kind: 'ws', url: `ws://127.0.0.1:${gw.port}/`, protocols: ['binary'] }, pid: gw.proc.pid as number, tree: false },
      ];
      if (cmp) paths.push({ key: 'compare', target: { kind: 'ws', url: `ws://127.0.0.1:${cmp.port}/`, protocols: ['binary'] }, pid: cmp.proc.pid as number, tree: true });
      if (wsf) paths.push({ key: 'websockify', target: { kind: 'ws', url: `ws://127.0.0.1:${wsf.port}/`, protocols: ['binary'] }, pid: wsf.proc.pid as number, tree: true });

      if (sections.has('throughput')) {
        const cells = new Map<string, ThroughputCell[]>();
        for (let round = 1; round <= opts.rounds; round++) {
          for (const size of SIZES) {
            for (const p of paths) {
              progress(`throughput round ${round}/${opts.rounds}, ${size} B, ${p.key}`);
              const cell = await throughputCell(client, p.target, p.pid, p.tree, size);
              const key = `${p.key}/${size}`;
              cells.set(key, [...(cells.get(key) ?? []), cell]);
            }
          }
        }
        report.throughput = {};
        for (const p of paths) for (const size of SIZES) (report.throughput[p.key] ??= {})[size] = medianCell(cells.get(`${p.key}/${size}`) ?? []);
      }
      if (sections.has('latency')) {
        const rtts = new Map<string, number[][]>();
        const lost = new Map<string, number>();
        const perRoundMs = latencyRoundMs();
        for (let round = 1; round <= opts.rounds; round++) {
          for (const p of paths) {
            progress(`latency round ${round}/${opts.rounds}, ${p.key}`);
            const job = { type: 'latency', target: p.target, size: 64, rate: LATENCY_RATE, warmupMs: 500, durationMs: perRoundMs } as const;
            const r = await client.run(job, job.warmupMs + job.durationMs + 30_000);
            if (r.type !== 'latency') throw new Error(`load client answered ${r.type} to a latency job`);
            rtts.set(p.key, [...(rtts.get(p.key) ?? []), r.rttMs]);
            lost.set(p.key, (lost.get(p.key) ?? 0) + r.lost);
          }
        }
        report.latency = {};
        for (const p of paths) report.latency[p.key] = summarize((rtts.get(p.key) ?? []).flat(), lost.get(p.key) ?? 0);
      }
      await stop(gw.proc);
      if (cmp) await stop(cmp.proc);
      if (wsf) await stop(wsf.proc);
      await stop(wsRef.child.proc);
      if (opts.cpuProf) progress(`CPU profile of Gangway written to ${resolve(opts.cpuProf)}`);
    }

    if (sections.has('memory')) {
      report.memory = [];
      const env = { ...process.env, GANGWAY_BENCH_MEMORY_FILE: memoryFile };
      const fit = (socketsPerSession: number): number => Math.min(opts.sessions, Math.floor((limits.soft - FD_RESERVE) / socketsPerSession));
      const cap = (n: number): string => (n < opts.sessions ? `capped by open-file limit ${limits.soft}` : '');

      progress(`memory: bare ws, ${fit(1)} sessions`);
      const wsRef = await forkServer('bare ws server', join(HERE, 'ws-echo-server.js'), hook, env);
      report.memory.push(...(await memoryRows('bare ws (reference)', client, { pid: wsRef.child.pid, memoryFile }, `ws://127.0.0.1:${wsRef.port}/`, fit(1), cap(fit(1)))));
      await stop(wsRef.child.proc);

      progress(`memory: Gangway echo, ${fit(1)} sessions`);
      const gwEcho = await startGangway(tmp, echo.port, hook, env, 'mem-echo');
      report.memory.push(...(await memoryRows('Gangway echo', client, { pid: gwEcho.proc.pid as number, memoryFile }, `ws://127.0.0.1:${gwEcho.port}/echo`, fit(1), cap(fit(1)))));
      await stop(gwEcho.proc);

      progress(`memory: Gangway proxy, ${fit(2)} sessions (two sockets each)`);
      const gwProxy = await startGangway(tmp, echo.port, hook, env, 'mem-proxy');
      report.memory.push(
        ...(await memoryRows('Gangway proxy', client, { pid: gwProxy.proc.pid as number, memoryFile }, `ws://127.0.0.1:${gwProxy.port}/`, fit(2), cap(fit(2)), {
          pid: echo.child.pid,
          memoryFile: echoMemory,
        })),
      );
      await stop(gwProxy.proc);

      if (COMPARE_CLI) {
        for (const [service, path, sockets] of [['echo', '/echo', 1], ['proxy', '/', 2]] as const) {
          progress(`memory: Gangway ${service} (compare), ${fit(sockets)} sessions`);
          const g = await startGangway(tmp, echo.port, hook, env, `mem-${service}-compare`, COMPARE_CLI);
          report.memory.push(...(await memoryRows(`Gangway ${service} (compare)`, client, { pid: g.proc.pid as number, memoryFile }, `ws://127.0.0.1:${g.port}${path}`, fit(sockets), cap(fit(sockets)))));
          await stop(g.proc);
        }
      }
    }
  } finally {
    await stop(client.proc);
    await stop(echo.child.proc);
  }
  report.loadAfter = os.loadavg()[0] ?? 0;
  printReport(report);
  rmSync(tmp, { recursive: true, force: true });
}

if (!ensureOpenFiles()) {
  const deadline = setTimeout(() => {
    process.stderr.write('bench:proxy: stopped after 10 minutes\n');
    killAll();
    process.exit(1);
  }, 10 * 60_000);
  deadline.unref();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      killAll();
      process.exit(1);
    });
  }
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`bench:proxy: ${err.message}\n`);
      killAll();
      process.exit(1);
    },
  );
}
