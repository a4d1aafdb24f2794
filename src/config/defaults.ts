/**
 * Every default Gangway applies, in one place. The README's configuration reference lists the
 * same values; `test/config/defaults.test.ts` keeps the two in step.
 */

/** Limits that apply to each session of a service; any of them can be set per service under `limits:`. */
export interface SessionLimits {
  /** Largest WebSocket message accepted from a client; larger closes with 1009. @default 1048576 (1 MiB) */
  maxMessageBytes: number;
  /**
   * Bytes Gangway holds for one session that the receiving side has not taken yet. Reading from
   * the sending side stops before this is reached and resumes as the receiver drains.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes: number;
  /** A session whose reading stayed paused this long, because its receiver does not drain, closes with 1008 "slow consumer". @default 30000 */
  slowConsumerMs: number;
  /** Concurrent sessions of the service; the next upgrade gets 503. @default 10000 */
  maxConnections: number;
  /** New connections per second from one client address (token bucket, burst of the same size); over it an upgrade gets 429. @default 50 */
  connectionsPerSecondPerIp: number;
  /** A session with no message in either direction for this long closes with 1001 "idle timeout"; 0 disables. @default 300000 */
  idleTimeoutMs: number;
  /** Interval of WebSocket pings; a client that has not answered the previous ping by the next one is dropped; 0 disables. @default 30000 */
  pingIntervalMs: number;
  /** Time allowed to reach the back end; past it the session closes with 1014. @default 10000 */
  connectTimeoutMs: number;
}

/** Gateway-wide limits. */
export interface GatewayLimits {
  /** Concurrent sessions over all services; the next upgrade gets 503. @default 50000 */
  maxConnections: number;
  /** On SIGTERM/SIGINT, how long sessions get to close after the 1001 before they are cut. @default 10000 */
  shutdownDrainMs: number;
  /** A client's TLS handshake on a `wss://`, `https://` or `tls://` listener must finish within this; then the connection is closed. @default 10000 */
  tlsHandshakeTimeoutMs: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxBufferedBytes: 1024 * 1024,
  slowConsumerMs: 30_000,
  maxConnections: 10_000,
  connectionsPerSecondPerIp: 50,
  idleTimeoutMs: 300_000,
  pingIntervalMs: 30_000,
  connectTimeoutMs: 10_000,
});

export const DEFAULT_GATEWAY_LIMITS: Readonly<GatewayLimits> = Object.freeze({
  maxConnections: 50_000,
  shutdownDrainMs: 10_000,
  tlsHandshakeTimeoutMs: 10_000,
});

/** Port of the built-in configuration (overridden by `--port` or `GANGWAY_PORT`). @default 8000 */
export const DEFAULT_PORT = 8000;

/** Host the built-in configuration listens on (overridden by `--host` or `GANGWAY_HOST`). @default "127.0.0.1" */
export const DEFAULT_HOST = '127.0.0.1';

/** Log level when the configuration names none (overridden by `GANGWAY_LOG_LEVEL`). @default "info" */
export const DEFAULT_LOG_LEVEL = 'info';

/**
 * Smallest `maxBufferedBytes` accepted: one socket read (64 KiB) must fit below the bound for the
 * pause-before-overflow rule to hold.
 */
export const SOCKET_READ_BYTES = 64 * 1024;
