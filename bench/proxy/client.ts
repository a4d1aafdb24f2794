import net from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import WebSocket, { type RawData } from 'ws';
import {
  isJob,
  type ChildMessage,
  type Job,
  type LatencyJob,
  type LatencyResult,
  type OpenJob,
  type OpenResult,
  type Target,
  type ThroughputJob,
  type ThroughputResult,
} from './protocol';

/**
 * The load client, a process of its own driven by the orchestrator over IPC: one job at a time,
 * one result per job. Every measurement counts echoed payload bytes rather than messages, because
 * a byte pipe (direct TCP, Gangway's `proxy`, websockify) may hand back several echoed messages
 * in one read or one message in several.
 */

/** One connection to a target, whatever its kind. */
interface Conn {
  send(data: Buffer): void;
  /**
   * Gathers the sends made until `uncork()` into one socket write, as a pipelining client does.
   * Every path gets the same treatment: the TCP socket itself, or the WebSocket's socket.
   */
  cork(): void;
  uncork(): void;
  close(): Promise<void>;
}

/** One options object for every binary send, rather than one per message. */
const BINARY = { binary: true } as const;

const CLOSE_WAIT_MS = 2000;

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/** Opens a connection; `onData` gets every chunk (TCP) or message (WebSocket) that comes back. */
function connect(target: Target, onData: (data: RawData) => void): Promise<Conn> {
  return new Promise((resolve, reject) => {
    if (target.kind === 'tcp') {
      const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.on('error', () => socket.destroy());
        socket.on('data', onData);
        resolve({
          send: (data) => {
            socket.write(data);
          },
          cork: () => socket.cork(),
          uncork: () => socket.uncork(),
          close: () =>
            new Promise<void>((done) => {
              const timer = setTimeout(() => socket.destroy(), CLOSE_WAIT_MS);
              socket.once('close', () => {
                clearTimeout(timer);
                done();
              });
              socket.end();
            }),
        });
      });
      return;
    }
    const ws = new WebSocket(target.url, [...target.protocols], { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`${target.url}: HTTP ${res.statusCode ?? '?'} instead of an upgrade`)));
    // The upgrade response is read off the socket that then carries the WebSocket's frames.
    let socket: Duplex | null = null;
    ws.once('upgrade', (res) => {
      socket = res.socket;
    });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => ws.terminate());
      if (target.protocols.length > 0 && !target.protocols.includes(ws.protocol)) {
        ws.terminate();
        reject(new Error(`${target.url}: agreed to subprotocol "${ws.protocol}", offered ${target.protocols.join(', ')}`));
        return;
      }
      const upgraded = socket;
      if (upgraded === null) {
        ws.terminate();
        reject(new Error(`${target.url}: opened without an upgrade response`));
        return;
      }
      ws.on('message', onData);
      resolve({
        send: (data) => ws.send(data, BINARY),
        cork: () => upgraded.cork(),
        uncork: () => upgraded.uncork(),
        close: () =>
          new Promise<void>((done) => {
            if (ws.readyState === WebSocket.CLOSED) {
              done();
              return;
            }
            const timer = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS);
            ws.once('close', () => {
              clearTimeout(timer);
              done();
            });
            ws.close(1000);
          }),
      });
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function throughput(job: ThroughputJob): Promise<ThroughputResult> {
  const payload = Buffer.alloc(job.size, 0x61);
  const inFlightLimit = job.window * job.size;
  let receivedTotal = 0;
  let running = true;
  const lanes: { sent: number; received: number; conn: Conn | null }[] = [];
  for (let i = 0; i < job.connections; i++) {
    const lane = { sent: 0, received: 0, conn: null as Conn | null };
    const pump = (): void => {
      const conn = lane.conn;
      if (!conn) return;
      if (job.cork) conn.cork();
      while (running && lane.sent - lane.received + job.size <= inFlightLimit) {
        conn.send(payload);
        lane.sent += job.size;
      }
      if (job.cork) conn.uncork();
    };
    lane.conn = await connect(job.target, (data) => {
      const n = rawLength(data);
      lane.received += n;
      receivedTotal += n;
      pump();
    });
    lanes.push(lane);
    pump();
  }
  await sleep(job.warmupMs);
  const startBytes = receivedTotal;
  const start = performance.now();
  send({ type: 'mark', phase: 'start' });
  await sleep(job.durationMs);
  const bytes = receivedTotal - startBytes;
  const seconds = (performance.now() - start) / 1000;
  send({ type: 'mark', phase: 'end' });
  running = false;
  const drainUntil = performance.now() + CLOSE_WAIT_MS;
  while (lanes.some((l) => l.received < l.sent) && performance.now() < drainUntil) await sleep(10);
  await Promise.all(lanes.map((l) => l.conn?.close()));
  return { type: 'throughput', bytes, seconds };
}

async function latency(job: LatencyJob): Promise<LatencyResult> {
  const total = Math.ceil(((job.warmupMs + job.durationMs) / 1000) * job.rate);
  const warmupCount = Math.ceil((job.warmupMs / 1000) * job.rate);
  const sentAt = new Float64Array(total);
  const rtt = new Float64Array(total).fill(-1);
  let pending: Buffer = Buffer.alloc(0);
  const conn = await connect(job.target, (data) => {
    const now = performance.now();
    const chunk = asBuffer(data);
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= job.size) {
      const seq = pending.readUInt32BE(at);
      if (seq < total) rtt[seq] = now - (sentAt[seq] as number);
      at += job.size;
    }
    pending = at === pending.length ? Buffer.alloc(0) : pending.subarray(at);
  });
  let seq = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * job.rate) + 1);
      while (seq < due) {
        const message = Buffer.alloc(job.size, 0x62);
        message.writeUInt32BE(seq, 0);
        sentAt[seq] = performance.now();
        conn.send(message);
        seq++;
      }
      if (seq >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const waitUntil = performance.now() + CLOSE_WAIT_MS;
  while ((rtt[total - 1] as number) < 0 && performance.now() < waitUntil) await sleep(10);
  await conn.close();
  const measured = rtt.subarray(warmupCount);
  const got = Array.from(measured.filter((v) => v >= 0));
  return { type: 'latency', rttMs: got, lost: measured.length - got.length };
}

const held: WebSocket[] = [];

/** Opens idle sessions `batch` at a time; a failed open is counted, not retried. */
async function open(job: OpenJob): Promise<OpenResult> {
  const start = performance.now();
  let opened = 0;
  let failed = 0;
  let firstError: string | null = null;
  for (let done = 0; done < job.count; ) {
    const n = Math.min(job.batch, job.count - done);
    const batch: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      batch.push(
        new Promise<void>((resolve) => {
          const ws = new WebSocket(job.target.url, [...job.target.protocols], { perMessageDeflate: false });
          ws.once('open', () => {
            ws.on('error', () => ws.terminate());
            held.push(ws);
            opened++;
            resolve();
          });
          ws.once('error', (err: Error) => {
            failed++;
            firstError ??= err.message;
            resolve();
          });
        }),
      );
    }
    await Promise.all(batch);
    done += n;
  }
  return { type: 'open', opened, failed, firstError, ms: performance.now() - start };
}

async function closeAll(): Promise<void> {
  const all = held.splice(0);
  await Promise.all(
    all.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) {
            resolve();
            return;
          }
          const timer = setTimeout(() => ws.terminate(), CLOSE_WAIT_MS);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1000);
        }),
    ),
  );
}

async function run(job: Job): Promise<ChildMessage> {
  switch (job.type) {
    case 'throughput':
      return throughput(job);
    case 'latency':
      return latency(job);
    case 'open':
      return open(job);
    case 'close':
      await closeAll();
      return { type: 'closed' };
  }
}

process.on('message', (message: unknown) => {
  if (!isJob(message)) return;
  run(message).then(send, (err: Error) => send({ type: 'error', message: err.message }));
});
process.on('disconnect', () => process.exit(0));
