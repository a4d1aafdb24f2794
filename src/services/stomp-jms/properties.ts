import { z } from 'zod';

/** Defaults of the `stomp.jms` service: the one place they are defined (README lists the same). */
export const STOMP_JMS_DEFAULTS = Object.freeze({
  poolSize: 2,
  maxDedicatedConnections: 256,
  prefetch: 100,
  maxQueuedMessages: 1000,
  maxSubscriptions: 100,
  maxTransactions: 10,
  maxTransactionFrames: 1000,
  heartbeatSendMs: 10_000,
  heartbeatReceiveMs: 10_000,
  brokerHeartbeatMs: 10_000,
  brokerFailure: 'keep' as const,
  reconnectInitialMs: 500,
  reconnectMaxMs: 30_000,
  reconnectFactor: 2,
  reconnectJitter: 0.2,
});

const D = STOMP_JMS_DEFAULTS;
const ms = z.number().int().min(0);

export const stompJmsPropertiesSchema = z.strictObject({
  /**
   * The broker binding: `stomp` (stompit), `amqp091` (amqplib) or `amqp10` (rhea).
   * @default chosen by the connect URI scheme: `stomp://` → stomp, `amqp://` → amqp091, `amqp10://` → amqp10
   */
  binding: z.enum(['stomp', 'amqp091', 'amqp10']).optional(),
  /** The service credential Gangway presents to the broker (clients' login/passcode are not forwarded). */
  credentials: z.strictObject({ username: z.string(), password: z.string() }).optional(),
  /** STOMP `host` header or AMQP virtual host. @default the connect URI's host (STOMP), `/` (AMQP) */
  virtualHost: z.string().optional(),
  /** Broker connections shared by all sessions of the service. @default 2 */
  poolSize: z.number().int().min(1).max(64).default(D.poolSize),
  /**
   * Broker connections of their own for durable subscriptions, on brokers that scope them by the
   * connection's client id (ActiveMQ): one per client session that opens one. Past it, such a
   * SUBSCRIBE gets ERROR `GW_ERR_STOMP_JMS_LIMIT`. The service holds at most `poolSize` plus
   * this many broker connections. @default 256
   */
  maxDedicatedConnections: z.number().int().min(1).default(D.maxDedicatedConnections),
  /** Unsettled messages the broker may push per acknowledged subscription. @default 100 */
  prefetch: z.number().int().min(1).max(65535).default(D.prefetch),
  /**
   * Messages held for one session while its WebSocket does not drain. Past it, a message for a
   * conflatable destination drops the oldest held message of that destination; any other ends the
   * session with ERROR "slow consumer". @default 1000
   */
  maxQueuedMessages: z.number().int().min(1).default(D.maxQueuedMessages),
  /**
   * Destinations whose messages supersede earlier ones (prices, positions): `/topic/prices.*`
   * style patterns, `*` matching any run of characters. @default []
   */
  conflate: z.array(z.string().min(1)).default([]),
  /** Subscriptions per session. @default 100 */
  maxSubscriptions: z.number().int().min(1).default(D.maxSubscriptions),
  /** Open transactions per session. @default 10 */
  maxTransactions: z.number().int().min(1).default(D.maxTransactions),
  /** SEND and ACK frames held in one transaction. @default 1000 */
  maxTransactionFrames: z.number().int().min(1).default(D.maxTransactionFrames),
  /** Heart-beats Gangway offers in CONNECTED: `[send, receive]` in ms (0: none). @default [10000, 10000] */
  heartBeat: z.tuple([ms, ms]).default([D.heartbeatSendMs, D.heartbeatReceiveMs]),
  /** Heart-beat toward the broker in ms (0: none). @default 10000 */
  brokerHeartbeatMs: ms.default(D.brokerHeartbeatMs),
  /**
   * When a broker connection fails: `keep` sessions (subscriptions are re-created after the
   * reconnect; sends wait up to connectTimeoutMs), or `close` them with ERROR. @default "keep"
   */
  brokerFailure: z.enum(['keep', 'close']).default(D.brokerFailure),
  /**
   * Reconnect backoff: the n-th attempt in a row (from 0) waits `min(maxMs, initialMs × factor^n)`
   * ms, moved by up to ± `jitter` of itself. @default { initialMs: 500, maxMs: 30000, factor: 2, jitter: 0.2 }
   */
  reconnect: z
    .strictObject({
      initialMs: z.number().int().min(1).default(D.reconnectInitialMs),
      maxMs: z.number().int().min(1).default(D.reconnectMaxMs),
      factor: z.number().min(1).default(D.reconnectFactor),
      jitter: z.number().min(0).max(1).default(D.reconnectJitter),
    })
    .default({ initialMs: D.reconnectInitialMs, maxMs: D.reconnectMaxMs, factor: D.reconnectFactor, jitter: D.reconnectJitter }),
});

export type StompJmsProperties = z.infer<typeof stompJmsPropertiesSchema>;

/** Compiles `conflate` patterns into one test. */
export function conflationTest(patterns: readonly string[]): (destination: string) => boolean {
  if (patterns.length === 0) return () => false;
  const re = new RegExp(`^(?:${patterns.map((p) => p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')).join('|')})$`);
  return (d) => re.test(d);
}
