import net from 'node:net';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { isChildMessage, type ChildMessage, type Job } from './protocol';
import { descendants } from './procfs';

/** Starting, talking to and stopping the processes of one benchmark run. */

const started = new Set<ChildProcess>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A forked child of this folder (echo server, `ws` server, load client) that answers over IPC. */
export class Child {
  private readonly queue: ChildMessage[] = [];
  private waiter: ((m: ChildMessage) => void) | null = null;
  private exited: string | null = null;
  /** Called on the client's window marks, to sample CPU exactly over the measured window. */
  markHandler: (phase: 'start' | 'end') => void = () => undefined;

  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (m: unknown) => {
      if (!isChildMessage(m)) return;
      if (m.type === 'mark') {
        this.markHandler(m.phase);
        return;
      }
      if (this.waiter) this.waiter(m);
      else this.queue.push(m);
    });
    proc.on('exit', (code, signal) => {
      this.exited = `${name} exited (${signal ?? `code ${code ?? '?'}`})`;
    });
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  /** The next message, or an error after `timeoutMs` or if the child died. */
  next(timeoutMs: number): Promise<ChildMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        this.proc.off('exit', onExit);
        reject(new Error(`${this.name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = (): void => {
        clearTimeout(timer);
        this.waiter = null;
        reject(new Error(this.exited ?? `${this.name} exited`));
      };
      this.proc.once('exit', onExit);
      this.waiter = (m) => {
        clearTimeout(timer);
        this.waiter = null;
        this.proc.off('exit', onExit);
        resolve(m);
      };
    });
  }

  /** Sends a job and waits for its answer; an `error` answer becomes a rejection. */
  async run(job: Job, timeoutMs: number): Promise<ChildMessage> {
    this.proc.send(job);
    const answer = await this.next(timeoutMs);
    if (answer.type === 'error') throw new Error(`${this.name}: ${answer.message}`);
    return answer;
  }
}

/** Forks `script` with its own node flags and environment. */
export function forkChild(name: string, script: string, execArgv: string[] = [], env: NodeJS.ProcessEnv = process.env): Child {
  const proc = fork(script, [], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  started.add(proc);
  proc.on('exit', () => started.delete(proc));
  return new Child(name, proc);
}

/** Forks a server child and waits for the port it listens on. */
export async function forkServer(name: string, script: string, execArgv: string[] = [], env?: NodeJS.ProcessEnv): Promise<{ child: Child; port: number }> {
  const child = forkChild(name, script, execArgv, env);
  const m = await child.next(10_000);
  if (m.type !== 'listening') throw new Error(`${name}: expected to be told its port, got ${m.type}`);
  return { child, port: m.port };
}

/** Spawns a program whose output goes to `logFile` (kept for when something fails). */
export function spawnLogged(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const out = openSync(logFile, 'a');
  const proc = spawn(command, args, { env, stdio: ['ignore', out, out] });
  closeSync(out);
  started.add(proc);
  proc.on('exit', () => started.delete(proc));
  return proc;
}

/** A port free on 127.0.0.1 right now (for programs that must be told one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, proc: ChildProcess, what: string, logFile: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n  ') : '';
      throw new Error(`${what} exited before listening on ${port}${log ? `:\n  ${log}` : ''}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms (log: ${logFile})`);
    await sleep(50);
  }
}

/** SIGTERM to a process we started (and what it forked), SIGKILL if it has not exited in `graceMs`. */
export async function stop(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) return;
  const pid = proc.pid;
  const forked = descendants(pid);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  for (const p of forked) signal(p, 'SIGTERM');
  const timer = setTimeout(() => {
    proc.kill('SIGKILL');
    for (const p of forked) signal(p, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Last resort on the way out: every process this run started and has not seen exit. */
export function killAll(): void {
  for (const proc of started) {
    if (proc.pid === undefined) continue;
    for (const p of descendants(proc.pid)) signal(p, 'SIGKILL');
    proc.kill('SIGKILL');
  }
}

/** Asks a server preloaded with `gc-hook` for a full GC and its `process.memoryUsage()`. */
export async function collectGarbage(pid: number, memoryFile: string): Promise<NodeJS.MemoryUsage> {
  rmSync(memoryFile, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 10_000;
  while (!existsSync(memoryFile)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} did not answer SIGUSR2 (is it preloaded with gc-hook?)`);
    await sleep(20);
  }
  return JSON.parse(readFileSync(memoryFile, 'utf8')) as NodeJS.MemoryUsage;
}
