import type { HistogramData } from './histogram';

/** Messages between the `bench:stomp-jms` orchestrator and its child processes (IPC). */

/** Orchestrator → subscriber process. */
export type SubscriberCommand =
  | {
      readonly type: 'open';
      readonly url: string;
      /** Subscribers of this process: numbers `first` to `first + count - 1` of the run. */
      readonly first: number;
      readonly count: number;
      readonly destination: string;
      /** Every subscriber subscribes as `sub-0` (as @stomp/stompjs names a client's first subscription), or each as `sub-N`. */
      readonly distinctIds: boolean;
      /** Reads are taken in rounds this many milliseconds apart (0: as each socket becomes readable). */
      readonly readRoundMs: number;
      readonly login?: string;
      readonly passcode?: string;
      readonly host?: string;
    }
  | { readonly type: 'reset' }
  | { readonly type: 'progress' }
  | { readonly type: 'report' }
  | { readonly type: 'close' };

/** What the subscribers of one process saw since the last reset. */
export interface SubscriberReport {
  readonly type: 'report';
  readonly delivered: number;
  /** Latency from the publisher's stamp to the socket read that completed the MESSAGE. */
  readonly latency: HistogramData;
  /** ERROR frames, socket errors and breaches of the WebSocket framing rules. */
  readonly errors: number;
  /** Subscribers whose connection ended after they had subscribed (the server closed it or broke the protocol). */
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

/** The clock of {@link stampNow} as a number of microseconds. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
