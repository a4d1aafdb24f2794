import type { LatencySummary } from '../report';
import type { PathKind } from './pair';

/** The printed tables: per protocol, every path's throughput and latency; then the targets. */

export interface ThroughputFigure {
  /** The median round's messages/s, and the slowest and fastest round. */
  readonly messagesPerSecond: number;
  readonly min: number;
  readonly max: number;
  /** Gangway's CPU over the median round's measured window, % of one core. */
  readonly gangwayCpuPercent: number;
  /** The server's process (RabbitMQ's beam.smp, ActiveMQ's java, Prosody's lua, ngircd) over the same window. */
  readonly serverCpuPercent: number;
  /** This process's CPU (all clients) over the same window, % of one core. */
  readonly clientCpuPercent: number;
  /**
   * WebSocket messages Gangway sent to the path's clients per message delivered, over the median
   * round from before its warm-up to after its drain (NaN off Gangway). Below 1: the byte proxy
   * packs several server frames in one WebSocket message.
   */
  readonly webSocketMessagesPerMessage: number;
  /** Messages never delivered, over all rounds. */
  readonly lost: number;
}

/** A process over a path's latency rounds, from the scheduler's counts (/proc/PID/task/TID/schedstat). */
export interface SchedFigure {
  /** CPU time, % of one core. */
  readonly cpuPercent: number;
  /** Mean time a thread of the process waited in a run queue each time it was put on a CPU, µs. */
  readonly waitPerRunUs: number;
}

export interface PathResult {
  readonly kind: PathKind;
  readonly label: string;
  readonly throughput: ThroughputFigure | null;
  readonly latency: LatencySummary | null;
  /** Gangway, the server (null when its process was not found) and the clients over the latency rounds. */
  readonly sched: { readonly gangway: SchedFigure; readonly server: SchedFigure | null; readonly client: SchedFigure } | null;
  /** Why the path has no figures (it failed to connect, or failed while measured). */
  readonly error: string | null;
}

export interface SuiteResult {
  readonly name: string;
  readonly window: number;
  readonly note?: string;
  readonly paths: readonly PathResult[];
}

export interface Report {
  readonly started: string;
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly servers: readonly string[];
  readonly size: number;
  readonly rounds: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly rate: number;
  readonly latencySeconds: number;
  readonly latencyRounds: number;
  readonly loadBefore: readonly number[];
  loadAfter: readonly number[];
  readonly suites: SuiteResult[];
}

/** Targets of the protocol proxies: added p99 at 1,000 msg/s and protocol proxy throughput against the byte proxy. */
export const TARGET_ADDED_P99_MS = 1;
export const TARGET_THROUGHPUT_RATIO = 0.9;

function num(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function find(suite: SuiteResult, kind: PathKind): PathResult | undefined {
  return suite.paths.find((p) => p.kind === kind);
}

/**
 * Added p99 (protocol proxy minus direct) in ms, the byte proxy's beside it (what the extra hop
 * costs on this machine whatever is done with the bytes), and protocol proxy msg/s over byte proxy msg/s.
 */
export function targetsOf(suite: SuiteResult): { addedP99Ms: number; byteAddedP99Ms: number; throughputRatio: number } {
  const direct = find(suite, 'direct');
  const proxy = find(suite, 'proxy');
  const protocol = find(suite, 'protocol');
  return {
    addedP99Ms: (protocol?.latency?.p99Ms ?? Number.NaN) - (direct?.latency?.p99Ms ?? Number.NaN),
    byteAddedP99Ms: (proxy?.latency?.p99Ms ?? Number.NaN) - (direct?.latency?.p99Ms ?? Number.NaN),
    throughputRatio: (protocol?.throughput?.messagesPerSecond ?? Number.NaN) / (proxy?.throughput?.messagesPerSecond ?? Number.NaN),
  };
}

function verdict(ok: boolean, value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return ok ? 'met' : 'MISS';
}

function suiteTable(suite: SuiteResult, report: Report): string[] {
  const out: string[] = [];
  out.push(`## ${suite.name}`, '');
  if (suite.note) out.push(suite.note, '');
  out.push(`Throughput: ${suite.window} messages in flight. Latency: ${num(report.rate)} msg/s, ${num(report.rate * report.latencySeconds)} messages per path.`, '');
  const header = [pad('path', 9), pad('client → … → server', 58), pad('msg/s', 8, true), pad('range (rounds)', 16, true), pad('GW CPU', 7, true), pad('srv CPU', 8, true), pad('cli CPU', 8, true), pad('WS/msg', 7, true), pad('p50 ms', 7, true), pad('p99 ms', 7, true), pad('p99.9', 7, true), pad('max ms', 7, true), pad('lost', 5, true)];
  out.push(header.join(' '));
  out.push('-'.repeat(header.join(' ').length));
  for (const p of suite.paths) {
    if (p.error !== null && p.throughput === null && p.latency === null) {
      out.push(`${pad(p.kind, 9)} ${pad(p.label, 58)} failed: ${p.error}`);
      continue;
    }
    const t = p.throughput;
    const l = p.latency;
    out.push(
      [
        pad(p.kind, 9),
        pad(p.label, 58),
        pad(num(t?.messagesPerSecond), 8, true),
        pad(t ? `${num(t.min)}–${num(t.max)}` : 'n/a', 16, true),
        pad(t ? `${num(t.gangwayCpuPercent)}%` : 'n/a', 7, true),
        pad(t ? `${num(t.serverCpuPercent)}%` : 'n/a', 8, true),
        pad(t ? `${num(t.clientCpuPercent)}%` : 'n/a', 8, true),
        pad(t && Number.isFinite(t.webSocketMessagesPerMessage) ? num(t.webSocketMessagesPerMessage, 2) : '–', 7, true),
        pad(num(l?.p50Ms, 2), 7, true),
        pad(num(l?.p99Ms, 2), 7, true),
        pad(num(l?.p999Ms, 2), 7, true),
        pad(num(l?.maxMs, 2), 7, true),
        pad(num((t?.lost ?? 0) + (l?.lost ?? 0)), 5, true),
      ].join(' '),
    );
    if (p.error !== null) out.push(`${pad('', 9)} failed part way: ${p.error}`);
  }
  out.push('');
  const schedHeader = [pad('path', 9), pad('GW CPU', 7, true), pad('GW wait', 8, true), pad('srv CPU', 8, true), pad('srv wait', 9, true), pad('cli CPU', 8, true), pad('cli wait', 9, true)];
  out.push(`At ${num(report.rate)} msg/s (the latency rounds): CPU in % of one core, and the mean wait for a CPU each time a thread was run, in µs.`, '');
  out.push(schedHeader.join(' '), '-'.repeat(schedHeader.join(' ').length));
  for (const p of suite.paths) {
    const s = p.sched;
    if (s === null) continue;
    out.push(
      [
        pad(p.kind, 9),
        pad(`${num(s.gangway.cpuPercent, 1)}%`, 7, true),
        pad(num(s.gangway.waitPerRunUs), 8, true),
        pad(s.server ? `${num(s.server.cpuPercent, 1)}%` : 'n/a', 8, true),
        pad(num(s.server?.waitPerRunUs), 9, true),
        pad(`${num(s.client.cpuPercent, 1)}%`, 8, true),
        pad(num(s.client.waitPerRunUs), 9, true),
      ].join(' '),
    );
  }
  out.push('');
  const direct = find(suite, 'direct')?.throughput?.messagesPerSecond;
  const ratios = suite.paths.filter((p) => p.kind !== 'direct').map((p) => `${p.kind} ${num((p.throughput?.messagesPerSecond ?? Number.NaN) / (direct ?? Number.NaN), 2)}`);
  out.push(`msg/s against direct: ${ratios.join(', ')}`);
  const directP99 = find(suite, 'direct')?.latency?.p99Ms;
  const added = suite.paths.filter((p) => p.kind !== 'direct').map((p) => `${p.kind} ${num((p.latency?.p99Ms ?? Number.NaN) - (directP99 ?? Number.NaN), 2)} ms`);
  out.push(`p99 added to direct: ${added.join(', ')}`);
  const { addedP99Ms, throughputRatio } = targetsOf(suite);
  out.push(`target: added p99 (protocol proxy − direct) ≤ ${TARGET_ADDED_P99_MS} ms at ${num(report.rate)} msg/s: ${num(addedP99Ms, 2)} ms — ${verdict(addedP99Ms <= TARGET_ADDED_P99_MS, addedP99Ms)}`);
  out.push(`target: protocol proxy msg/s ≥ ${num(TARGET_THROUGHPUT_RATIO * 100)}% of byte proxy msg/s: ${num(throughputRatio * 100)}% — ${verdict(throughputRatio >= TARGET_THROUGHPUT_RATIO, throughputRatio)}`);
  out.push('');
  return out;
}

export function render(report: Report): string {
  const out: string[] = [];
  out.push('# bench/proxy/protocols: standard clients direct, through Gangway\'s byte proxy and through its protocol proxies', '');
  out.push(`started ${report.started}; node ${report.node}; ${report.platform}; ${report.cpus} × ${report.cpuModel}`);
  out.push(`servers: ${report.servers.join('; ')}`);
  out.push(`load average (1, 5, 15 min): before ${report.loadBefore.map((v) => v.toFixed(2)).join(', ')}; after ${report.loadAfter.map((v) => v.toFixed(2)).join(', ')}`);
  out.push(
    `bodies ${report.size} B; throughput: median of ${report.rounds} rounds × ${report.durationSeconds} s after ${report.warmupSeconds} s warm-up, paths taking turns; ` +
      `latency: ${report.latencyRounds} rounds × ${num(report.latencySeconds / report.latencyRounds, 1)} s per path at ${num(report.rate)} msg/s, percentiles over all samples`,
  );
  out.push('CPU over the median throughput round, % of one core: GW = Gangway; srv = the server; cli = the one process running every publisher and subscriber (near 100%: the clients set the pace).');
  out.push('WS/msg: WebSocket messages Gangway sent to the clients per message delivered, over the same round (its gangway_messages_total).', '');
  for (const suite of report.suites) out.push(...suiteTable(suite, report));
  out.push('## Targets', '', '"byte proxy": the byte proxy\'s p99 minus the direct path\'s, from the same run: the extra hop\'s own cost on this machine.', '');
  const header = `${pad('protocol', 26)} ${pad('added p99 ms', 13, true)} ${pad('≤ 1 ms', 7)} ${pad('byte proxy', 11, true)} ${pad('protocol/proxy msg/s', 21, true)} ${pad('≥ 90%', 6)}`;
  out.push(header, '-'.repeat(header.length));
  for (const suite of report.suites) {
    const { addedP99Ms, byteAddedP99Ms, throughputRatio } = targetsOf(suite);
    out.push(
      `${pad(suite.name, 26)} ${pad(num(addedP99Ms, 2), 13, true)} ${pad(verdict(addedP99Ms <= TARGET_ADDED_P99_MS, addedP99Ms), 7)} ${pad(num(byteAddedP99Ms, 2), 11, true)} ${pad(`${num(throughputRatio * 100)}%`, 21, true)} ${pad(verdict(throughputRatio >= TARGET_THROUGHPUT_RATIO, throughputRatio), 6)}`,
    );
  }
  out.push('');
  return out.join('\n');
}
