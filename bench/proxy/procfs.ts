import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** What the benchmark reads from Linux's /proc about the processes it started. */

let clockTicks = 0;

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of /proc CPU times. */
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields of /proc/PID/stat after the command name, which may itself hold spaces and parentheses. */
function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Processes whose parent is `pid`, and theirs, found by scanning /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields) parentOf.set(Number(entry), Number(fields[1]));
  }
  const found: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, p] of parentOf) {
      if (p === parent) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return found;
}

/** CPU seconds (user + system) used so far by `pid` and, when asked, each of its live descendants. */
export function cpuByProcess(pid: number, withDescendants: boolean): Map<number, number> {
  const pids = withDescendants ? [pid, ...descendants(pid)] : [pid];
  const seconds = new Map<number, number>();
  for (const p of pids) {
    const fields = statFields(p);
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    if (fields) seconds.set(p, (Number(fields[11]) + Number(fields[12])) / ticksPerSecond());
  }
  return seconds;
}

/**
 * CPU seconds used between two `cpuByProcess` samples. A process that exited in between is left
 * out (its last seconds are lost, never subtracted); one that started in between counts from zero.
 */
export function cpuBetween(start: ReadonlyMap<number, number>, end: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, s] of end) total += s - (start.get(pid) ?? 0);
  return total;
}

/** Resident set size of `pid` in KiB (VmRSS of /proc/PID/status). */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** Soft and hard limits on open files of this process (/proc/self/limits). */
export function openFileLimits(): { soft: number; hard: number } {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const parse = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  return { soft: parse(match?.[1]), hard: parse(match?.[2]) };
}

/** What the scheduler counted for a process, summed over its threads (/proc/PID/task/TID/schedstat). */
export interface SchedStat {
  /** Nanoseconds on a CPU. */
  readonly cpuNs: number;
  /** Nanoseconds runnable but waiting in a run queue for a CPU. */
  readonly waitNs: number;
  /** Times a thread was put on a CPU. */
  readonly runs: number;
}

/**
 * The scheduler's counts for `pid`, all threads summed. A thread that exited since an earlier
 * sample takes its counts with it, so take differences over short spans only.
 */
export function schedStat(pid: number): SchedStat {
  let cpuNs = 0;
  let waitNs = 0;
  let runs = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { cpuNs, waitNs, runs };
  }
  for (const tid of tasks) {
    try {
      const [cpu, wait, count] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ');
      cpuNs += Number(cpu);
      waitNs += Number(wait);
      runs += Number(count);
    } catch {
      // A thread that exited while the list was read.
    }
  }
  return { cpuNs, waitNs, runs };
}

/** `end − start`, each count at least zero (a thread that exited in between lowers the sum). */
export function schedBetween(start: SchedStat, end: SchedStat): SchedStat {
  return {
    cpuNs: Math.max(0, end.cpuNs - start.cpuNs),
    waitNs: Math.max(0, end.waitNs - start.waitNs),
    runs: Math.max(0, end.runs - start.runs),
  };
}
