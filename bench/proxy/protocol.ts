/**
 * Messages between the benchmark's orchestrator (`run.ts`) and the processes it forks: the TCP
 * echo server, the bare `ws` echo server and the load client. Each runs in its own process so
 * that the server under test never shares an event loop (or a core's time slice) with the load.
 */

/** Where the load client connects: a plain TCP socket or a WebSocket URL with its offered subprotocols. */
export type Target =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'ws'; readonly url: string; readonly protocols: readonly string[] };

/**
 * Pipelined round trips: each connection keeps `window` messages of `size` bytes in flight. With
 * `cork`, the messages a connection may send at once go out in one socket write.
 */
export interface ThroughputJob {
  readonly type: 'throughput';
  readonly target: Target;
  readonly size: number;
  readonly connections: number;
  readonly window: number;
  readonly cork: boolean;
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** Round trips at a fixed rate on one connection; each message carries its sequence number. */
export interface LatencyJob {
  readonly type: 'latency';
  readonly target: Target;
  readonly size: number;
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** Opens `count` idle WebSocket sessions, `batch` at a time, and keeps them open. */
export interface OpenJob {
  readonly type: 'open';
  readonly target: Target & { readonly kind: 'ws' };
  readonly count: number;
  readonly batch: number;
}

/** Closes every session opened by `open` jobs. */
export interface CloseJob {
  readonly type: 'close';
}

export type Job = ThroughputJob | LatencyJob | OpenJob | CloseJob;

export interface ThroughputResult {
  readonly type: 'throughput';
  /** Payload bytes echoed back during the measured window. */
  readonly bytes: number;
  readonly seconds: number;
}

export interface LatencyResult {
  readonly type: 'latency';
  /** Round-trip times of the measured window in ms, in sending order (the warm-up is not counted). */
  readonly rttMs: number[];
  /** Messages sent in the measured window that never came back. */
  readonly lost: number;
}

export interface OpenResult {
  readonly type: 'open';
  readonly opened: number;
  readonly failed: number;
  readonly firstError: string | null;
  readonly ms: number;
}

export interface ClosedResult {
  readonly type: 'closed';
}

/** Sent by the client when a throughput window starts and ends, so the orchestrator can sample CPU. */
export interface MarkMessage {
  readonly type: 'mark';
  readonly phase: 'start' | 'end';
}

export interface ErrorMessage {
  readonly type: 'error';
  readonly message: string;
}

/** Sent once by a server child when it listens. */
export interface ListeningMessage {
  readonly type: 'listening';
  readonly port: number;
}

export type ChildMessage = ThroughputResult | LatencyResult | OpenResult | ClosedResult | MarkMessage | ErrorMessage | ListeningMessage;

const CHILD_TYPES = new Set(['throughput', 'latency', 'open', 'closed', 'mark', 'error', 'listening']);
const JOB_TYPES = new Set(['throughput', 'latency', 'open', 'close']);

function typed(value: unknown, types: Set<string>): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const t = (value as { type?: unknown }).type;
  return typeof t === 'string' && types.has(t);
}

/** Narrows an IPC message from a child; both ends are this folder's code, so the tag is enough. */
export function isChildMessage(value: unknown): value is ChildMessage {
  return typed(value, CHILD_TYPES);
}

/** Narrows an IPC message to the load client. */
export function isJob(value: unknown): value is Job {
  return typed(value, JOB_TYPES);
}
