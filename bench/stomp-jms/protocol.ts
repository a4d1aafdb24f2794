/** Messages between the `bench:stomp-jms` orchestrator and its child processes (IPC). */

/** Orchestrator → subscriber process. */
export type SubscriberCommand =
  | { readonly type: 'open'; readonly url: string; readonly count: number; readonly destination: string; readonly login?: string; readonly passcode?: string; readonly host?: string }
  | { readonly type: 'reset' }
  | { readonly type: 'report' }
  | { readonly type: 'close' };

/** Subscriber process → orchestrator. */
export type SubscriberReply =
  | { readonly type: 'opened'; readonly count: number; readonly ms: number }
  | {
      readonly type: 'report';
      readonly delivered: number;
      readonly latenciesUs: readonly number[];
      readonly errors: number;
      /** Subscribers whose WebSocket the server closed after they had subscribed. */
      readonly dropped: number;
      /** Subscribers that received nothing since the last reset. */
      readonly silent: number;
    }
  | { readonly type: 'closed' }
  | { readonly type: 'failed'; readonly error: string };

/** Gateway process → orchestrator. */
export type GatewayReply = { readonly type: 'listening'; readonly port: number } | { readonly type: 'failed'; readonly error: string };

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
