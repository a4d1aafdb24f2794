import pino, { type Logger, type DestinationStream } from 'pino';

/**
 * Keys whose values never reach a log line, wherever they sit in a logged object. pino redacts on
 * a copy, so the objects the gateway works with are untouched.
 */
export const REDACTED_KEYS = ['password', 'passcode', 'passphrase', 'secret', 'token', 'authorization', 'cookie', 'ticket', 'key'];

const redactPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** Creates the gateway's logger: JSON lines on stdout (or `destination`, for tests). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      name: 'gangway',
      level,
      base: undefined,
      redact: { paths: redactPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A URI as it may be logged: user info replaced by `***`, query and fragment dropped (they may carry tokens). */
export function redactUri(uri: URL | string): string {
  const url = typeof uri === 'string' ? new URL(uri) : uri;
  const auth = url.username || url.password ? '***@' : '';
  return `${url.protocol}//${auth}${url.host}${url.pathname}`;
}
