/** Small functions shared by the back-end integration tests. */
import { randomBytes } from 'node:crypto';

/**
 * Resolves or rejects like `promise`, or rejects after `ms` with an error naming `what`.
 * The timer is cleared either way, so no handle outlives the test.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A name unique to this run, e.g. for queues, rooms, channels and message bodies. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
