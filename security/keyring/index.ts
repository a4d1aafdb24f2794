/**
 * The encrypted credential keyring: per-user back-end credentials under AES-256-GCM, in a file or
 * in Redis, with key rotation, a CLI and an HTTP API. See security/keyring/README.md.
 */
export * from './defaults';
export * from './errors';
export * from './crypto';
export * from './store';
export * from './file-store';
export * from './redis-store';
export * from './keyring';
export * from './schema';
export * from './http';
export * from './cli';
