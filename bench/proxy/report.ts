
/** The printed table: figures, ratios and the project's targets with PASS/MISS. */

export interface ThroughputCell {
  readonly messagesPerSecond: number;
  /** Echoed payload, one direction counted, in 10^6 bytes per second. */
  readonly megabytesPerSecond: number;
  /** CPU used by the server process (websockify: with the processes it forks) in % of one core. */
  readonly cpuPercent: number;
  /** CPU used by the load client, % of one core: near 100 means the client, not the server, set the pace. */
  readonly clientCpuPercent: number;
  /** Slowest and fastest round, when there were several. */
  readonly minMessagesPerSecond?: number | undefined;
  readonly maxMessagesPerSecond?: number | undefined;
}

export interface LatencySummary {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly lost: number;
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** Percentiles of round-trip times (ms). */
export function summarize(rttMs: readonly number[], lost: number): LatencySummary {
  const sorted = [...rttMs].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    maxMs: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
    lost,
  };
}

export interface MemoryRow {
  readonly name: string;
  readonly note: string;
  readonly sessions: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly rssBeforeKiB: number;
  readonly rssAfterKiB: number;
  /** Resident memory added per session after a full GC. */
  readonly perSessionKiB: number;
  /** The same, 3 s after the last open and before the GC. */
  readonly perSessionNoGcKiB: number;
  readonly heapPerSessionKiB: number;
  readonly externalPerSessionKiB: number;
}

export interface Report {
  readonly node: string;
  readonly platform: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly websockify: string | null;
  readonly openFiles: number;
  readonly rounds: number;
  readonly connections: number;
  readonly windows: readonly { size: number; window: number }[];
  /** Whether the load client wrote all the messages it might send at once in one write (`--no-cork`: one write each). */
  readonly cork: boolean;
  readonly durationSeconds: number;
  readonly latencySeconds: number;
  /** One-minute load average when the run started and ended: other work on the machine skews every figure. */
  readonly loadBefore: number;
  loadAfter: number;
  /** Path key → message size → cell. */
  throughput: Record<string, Record<number, ThroughputCell>> | null;
  latency: Record<string, LatencySummary> | null;
  memory: MemoryRow[] | null;
}

/** Targets from the project's issue. */
export const TARGETS = {
  smallMessagesRatio: 2.5,
  largeBytesRatio: 1.5,
  idleSessionKiB: 8,
  bareWsSessionKiB: 6.2,
} as const;

const LABELS: Record<string, string> = {
  direct: 'direct TCP (baseline)',
  ws: 'bare ws (reference)',
  gangway: 'Gangway proxy',
  compare: 'Gangway (compare)',
  websockify: 'websockify',
};

const ORDER = ['direct', 'ws', 'gangway', 'compare', 'websockify'];

function sizeLabel(size: number): string {
  return size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`;
}

function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function num(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS';
}

export function printReport(r: Report): void {
  out();
  out(`Gangway proxy benchmark: node ${r.node}, ${r.platform}, ${r.cpus} CPUs (${r.cpuModel})`);
  out(`websockify ${r.websockify ?? 'not installed (apt-get install websockify): its column is skipped'}; open-file limit ${r.openFiles}`);
  out('All traffic on 127.0.0.1. TCP echo back end, each server and the load client in processes of their own.');

  out(`load average ${r.loadBefore.toFixed(2)} at start, ${r.loadAfter.toFixed(2)} at end (above ~0.5 other work shares the cores: figures are skewed).`);

  const t = r.throughput;
  const tp = (key: string, size: number): ThroughputCell | undefined => t?.[key]?.[size];
  if (t) {
    out();
    out(`1. Throughput: pipelined round trips through the TCP echo on ${r.connections} connections; median of ${r.rounds} rounds, each`);
    out(`   ${r.durationSeconds} s measured after 1 s of warm-up, paths taken in turn. MB/s = echoed payload, 10^6 bytes/s.`);
    out('   CPU = % of one core: the server process (websockify: with its forked children), and the load client.');
    out('   srv us/msg = server CPU microseconds per echoed message; its ratio row reads "times cheaper than the other".');
    out(
      r.cork
        ? '   The client writes all the messages a connection may send at once in one socket write (--no-cork: one write each).'
        : '   The client writes each message in a socket write of its own (--no-cork).',
    );
    const w = [24, 11, 9, 21, 8, 8, 10];
    const cost = (c: ThroughputCell | undefined): number | undefined => (c ? (c.cpuPercent / 100 / c.messagesPerSecond) * 1e6 : undefined);
    for (const { size, window } of r.windows) {
      out();
      out(`   ${sizeLabel(size)} messages, ${window} in flight per connection`);
      out(row(['path', 'msg/s', 'MB/s', 'msg/s range', 'srv CPU', 'cli CPU', 'srv us/msg'], w));
      for (const key of ORDER) {
        const c = tp(key, size);
        if (!c) continue;
        const range = c.minMessagesPerSecond === undefined ? '' : `${num(c.minMessagesPerSecond)}-${num(c.maxMessagesPerSecond)}`;
        out(row([LABELS[key] as string, num(c.messagesPerSecond), num(c.megabytesPerSecond, 1), range, num(c.cpuPercent), num(c.clientCpuPercent), num(cost(c), 2)], w));
      }
      const fmt = (x: number | undefined): string => (x === undefined ? '-' : `${x.toFixed(2)}x`);
      const g = tp('gangway', size);
      const vs = (key: string): string[] => [fmt(ratio(g?.messagesPerSecond, tp(key, size)?.messagesPerSecond)), '', '', '', '', fmt(ratio(cost(tp(key, size)), cost(g)))];
      out(row(['Gangway / websockify', ...vs('websockify')], w));
      out(row(['Gangway / bare ws', ...vs('ws')], w));
      const cmp = tp('compare', size);
      if (cmp) out(row(['compare / Gangway', fmt(ratio(cmp.messagesPerSecond, g?.messagesPerSecond)), '', '', '', '', fmt(ratio(cost(g), cost(cmp)))], w));
    }
  }

  const l = r.latency;
  if (l) {
    out();
    out(`2. Latency: 64 B round trips at 1,000 msg/s on one connection, ${num(r.latencySeconds, 0)} s measured per path over ${r.rounds} rounds, each after 0.5 s of warm-up (ms).`);
    const w = [24, 8, 8, 9, 8, 8, 5];
    out(row(['path', 'p50', 'p99', 'p99.9', 'max', 'samples', 'lost'], w));
    for (const key of ORDER) {
      const x = l[key];
      if (!x) continue;
      out(row([LABELS[key] as string, num(x.p50Ms, 3), num(x.p99Ms, 3), num(x.p999Ms, 3), num(x.maxMs, 3), num(x.samples), num(x.lost)], w));
    }
  }

  const m = r.memory;
  if (m) {
    out();
    out('3. Memory: idle WebSocket sessions held open; resident memory (VmRSS) of the server process before and after,');
    out('   each read after a full GC. "no GC" is the same figure 3 s after the last open, before the GC. KiB = 1024 bytes.');
    const w = [22, 8, 11, 11, 11, 8, 9, 9];
    out(row(['server', 'sessions', 'RSS before', 'RSS after', 'KiB/session', 'no GC', 'JS heap', 'buffers'], w));
    for (const x of m) {
      out(row([x.name, num(x.sessions), `${num(x.rssBeforeKiB / 1024, 1)} MiB`, `${num(x.rssAfterKiB / 1024, 1)} MiB`, num(x.perSessionKiB, 2), num(x.perSessionNoGcKiB, 2), num(x.heapPerSessionKiB, 2), num(x.externalPerSessionKiB, 2)], w));
      if (x.note) out(`   ${x.name}: ${x.note}`);
      if (x.failed) out(`   ${x.name}: ${x.failed} sessions failed to open (${x.firstError ?? 'no error'})`);
    }
  }

  out();
  out('Targets');
  const w = [58, 26, 7];
  out(row(['target', 'measured', ''], w));
  if (t) {
    const small = ratio(tp('gangway', 64)?.messagesPerSecond, tp('websockify', 64)?.messagesPerSecond);
    const large = ratio(tp('gangway', 65536)?.megabytesPerSecond, tp('websockify', 65536)?.megabytesPerSecond);
    out(row([`64 B msg/s: Gangway >= ${TARGETS.smallMessagesRatio}x websockify`, small === undefined ? '-' : `${small.toFixed(2)}x`, verdict(small === undefined ? undefined : small >= TARGETS.smallMessagesRatio)], w));
    const ceiling = ratio(tp('direct', 64)?.messagesPerSecond, tp('websockify', 64)?.messagesPerSecond);
    if (ceiling !== undefined && ceiling < TARGETS.smallMessagesRatio) {
      out(`  note: direct TCP, with no proxy at all, reaches ${ceiling.toFixed(2)}x websockify here: the load client and the shared cores bound`);
      out('  this figure below the target; the CPU cost per message (srv us/msg) compares the servers themselves.');
    }
    out(row([`64 KiB MB/s: Gangway >= ${TARGETS.largeBytesRatio}x websockify`, large === undefined ? '-' : `${large.toFixed(2)}x`, verdict(large === undefined ? undefined : large >= TARGETS.largeBytesRatio)], w));
  }
  if (l) {
    const g = l.gangway?.p99Ms;
    const s = l.websockify?.p99Ms;
    const known = g !== undefined && s !== undefined;
    out(row(['p99 at 1,000 msg/s (64 B): Gangway < websockify', known ? `${g.toFixed(3)} vs ${s.toFixed(3)} ms` : '-', verdict(known ? g < s : undefined)], w));
  }
  if (m) {
    const ref = m.find((x) => x.name.startsWith('bare ws'));
    for (const x of m) {
      if (!x.name.startsWith('Gangway') || x.name.includes('(compare)')) continue;
      const extra = ref ? ` (bare ws ${ref.perSessionKiB.toFixed(2)})` : '';
      out(row([`idle ${x.name.replace('Gangway ', '')} session <= ~${TARGETS.idleSessionKiB} KiB resident (bare ws ~${TARGETS.bareWsSessionKiB})`, `${x.perSessionKiB.toFixed(2)} KiB${extra}`, verdict(x.perSessionKiB <= TARGETS.idleSessionKiB)], w));
    }
  }
}
