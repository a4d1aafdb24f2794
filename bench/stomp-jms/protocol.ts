/** Messages between the `bench:stomp-jms` orchestrator and its child processes (IPC). */

/** Orchestrator → subscriber process. */
export type SubscriberCommand =
  | { readonly type: 'open'; readonly url: string; readonly count: number; readonly destination: string; readonly login?: string; readonly passcode?: string; readonly host?: string }
  | { readonly type: 'reset' }
  | { readonly type: 'progress' }
  | { readonly type: 'report' }
  | { readonly type: 'close' };

/** What the subscribers saw since the last reset. */
export interface SubscriberReport {
  readonly type: 'report';
  readonly delivered: number;
  /** Latency percentiles and maximum in microseconds (`null` without deliveries). */
  readonly p50Us: number | null;
  readonly p99Us: number | null;
  readonly maxUs: number | null;
  readonly errors: number;
  /** Subscribers whose WebSocket the server closed after they had subscribed. */
  readonly dropped: number;
  /** Subscribers that received nothing since the last reset. */
  readonly silent: number;
}

/** Subscriber process → orchestrator. */
export type SubscriberReply =
  | { readonly type: 'opened'; readonly count: number; readonly ms: number }
  | { readonly type: 'reset' }
  | { readonly type: 'progress'; readonly delivered: number; readonly dropped: number }
  | SubscriberReport
  | { readonly type: 'closed' }
  | { readonly type: 'failed'; readonly error: string };

/** Gateway process → orchestrator. */
export type GatewayReply = { readonly type: 'listening'; readonly port: number } | { readonly type: 'failed'; readonly error: string };

/**
 * The publisher's clock at send time, first in every body: microseconds of
 * `process.hrtime.bigint()` (CLOCK_MONOTONIC, shared by processes on Linux), then `:`.
 */
export function stampNow(): string {
  return String(process.hrtime.bigint() / 1000n);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
