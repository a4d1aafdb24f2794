/** Configuration of the `keyring` service, and the factory that opens a keyring from it. */
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { KEYRING_DEFAULTS } from './defaults';
import { FileKeyringStore } from './file-store';
import { Keyring } from './keyring';
import { RedisKeyringStore } from './redis-store';
import type { KeyringStore } from './store';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' });
/**
 * Where a master key comes from: `{ file }` (32 raw bytes or their base64), `{ env }` (a variable
 * holding the base64), `{ passphraseFile }` or `{ passphraseEnv }` (scrypt-derived, salt stored
 * with the keyring).
 */
export const keySourceSchema = z.union([
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ env: envName }),
  z.strictObject({ passphraseFile: z.string().min(1) }),
  z.strictObject({ passphraseEnv: envName }),
]);

/** `properties` of a `keyring` service. */
export const keyringPropertiesSchema = z
  .strictObject({
    /** @default "file" */
    store: z.enum(['file', 'redis']).default('file'),
    /** File of the `file` store, relative to the configuration file's folder. @default KEYRING_DEFAULTS.file */
    file: z.string().min(1).default(KEYRING_DEFAULTS.file),
    /** `redis://` or `rediss://` URL of the `redis` store (required for it). */
    redisUrl: z.string().regex(/^rediss?:\/\/\S+$/, { message: 'expected a redis:// or rediss:// URL' }).optional(),
    /** @default KEYRING_DEFAULTS.redisPrefix */
    redisPrefix: z.string().min(1).default(KEYRING_DEFAULTS.redisPrefix),
    /** @default { passphraseEnv: KEYRING_DEFAULTS.passphraseEnv } */
    masterKey: keySourceSchema.default({ passphraseEnv: KEYRING_DEFAULTS.passphraseEnv }),
    /** Old keys still read during an unfinished rotation. @default [] */
    previousKeys: z.array(keySourceSchema).default([]),
    /** @default KEYRING_DEFAULTS.maxRecordsPerUser */
    maxRecordsPerUser: z.number().int().min(1).default(KEYRING_DEFAULTS.maxRecordsPerUser),
    /** @default KEYRING_DEFAULTS.maxCredentialBytes */
    maxCredentialBytes: z.number().int().min(16).max(65536).default(KEYRING_DEFAULTS.maxCredentialBytes),
    /** @default KEYRING_DEFAULTS.maxBodyBytes */
    maxBodyBytes: z.number().int().min(64).max(1024 * 1024).default(KEYRING_DEFAULTS.maxBodyBytes),
  })
  .refine((p) => p.store !== 'redis' || p.redisUrl !== undefined, { message: 'store "redis" needs redisUrl', path: ['redisUrl'] });

/** Validated `keyring` service properties. */
export type KeyringProperties = z.infer<typeof keyringPropertiesSchema>;

/** Options of {@link openKeyringFromProperties}. */
export interface OpenFromPropertiesOptions {
  /** Folder relative paths resolve against (the configuration file's). @default process.cwd() */
  readonly baseDir?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: Logger;
}

/** Makes the store `properties` describe (connecting to Redis for the `redis` store). */
export async function createStore(properties: KeyringProperties, baseDir: string = process.cwd()): Promise<KeyringStore> {
  if (properties.store === 'redis') {
    const store = new RedisKeyringStore({ url: properties.redisUrl, prefix: properties.redisPrefix });
    await store.connect();
    return store;
  }
  return new FileKeyringStore({ path: isAbsolute(properties.file) ? properties.file : resolve(baseDir, properties.file) });
}

/** Opens the keyring a `keyring` service's validated `properties` describe. */
export async function openKeyringFromProperties(properties: KeyringProperties, options: OpenFromPropertiesOptions = {}): Promise<Keyring> {
  const baseDir = options.baseDir ?? process.cwd();
  const store = await createStore(properties, baseDir);
  try {
    return await Keyring.open({
      store,
      key: properties.masterKey,
      previousKeys: properties.previousKeys,
      baseDir,
      env: options.env,
      log: options.log,
      limits: { maxRecordsPerUser: properties.maxRecordsPerUser, maxCredentialBytes: properties.maxCredentialBytes },
    });
  } catch (err) {
    await store.close();
    throw err;
  }
}
