/**
 * Configuration of the `keyring` service and of credential injection, and the factory that opens
 * a keyring from it.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { KEYRING_DEFAULTS } from './defaults';
import { KeyringError, messageOf } from './errors';
import { FileKeyringStore } from './file-store';
import { Keyring, type Credential } from './keyring';
import { RedisKeyringStore } from './redis-store';
import type { KeyringStore } from './store';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'expected an environment variable name' });
const serviceName = z
  .string()
  .max(KEYRING_DEFAULTS.maxServiceLength)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a name of letters, digits, "_", "." or "-"' });

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

/**
 * Where a proxy service takes the credentials it injects toward its back end:
 * - `{ source: keyring, service? }`: the session user's own credential stored in the keyring
 *   under `service` (default: the proxy service's name);
 * - `{ source: service, username?, password? | passwordEnv? | passwordFile? }`: one credential
 *   configured on the service for every session.
 */
export const credentialsInjectionSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('keyring'), service: serviceName.optional() }),
  z
    .strictObject({
      source: z.literal('service'),
      username: z.string().min(1).optional(),
      password: z.string().optional(),
      passwordEnv: envName.optional(),
      passwordFile: z.string().min(1).optional(),
    })
    .refine((c) => [c.password, c.passwordEnv, c.passwordFile].filter((v) => v !== undefined).length <= 1, {
      message: 'give at most one of password, passwordEnv and passwordFile',
    })
    .refine((c) => c.username !== undefined || c.password !== undefined || c.passwordEnv !== undefined || c.passwordFile !== undefined, {
      message: 'give username and/or a password',
    }),
]);

/** Validated injection settings. */
export type CredentialsInjection = z.infer<typeof credentialsInjectionSchema>;

/** Options of {@link resolveInjectedCredential}. */
export interface InjectionContext {
  /** The keyring, for `source: keyring`. */
  readonly keyring: Keyring | null;
  /** The session's authenticated user; `null` for an anonymous session. */
  readonly user: string | null;
  /** The proxy service's name (default keyring service name). */
  readonly serviceName: string;
  /** @default process.cwd() */
  readonly baseDir?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The credential to inject for one session, or `null` when there is none (anonymous session,
 * nothing stored). Throws `KeyringError` when the keyring refuses the record.
 */
export async function resolveInjectedCredential(injection: CredentialsInjection, ctx: InjectionContext): Promise<Credential | null> {
  if (injection.source === 'keyring') {
    if (!ctx.keyring) throw new KeyringError('STORE', 'credentials come from the keyring, and no keyring service is configured');
    if (ctx.user === null) return null;
    return (await ctx.keyring.get(ctx.user, injection.service ?? ctx.serviceName))?.credential ?? null;
  }
  let password = injection.password;
  if (injection.passwordEnv !== undefined) {
    password = (ctx.env ?? process.env)[injection.passwordEnv];
    if (password === undefined) throw new KeyringError('KEY_SOURCE', `environment variable ${injection.passwordEnv} is not set`);
  } else if (injection.passwordFile !== undefined) {
    const path = isAbsolute(injection.passwordFile) ? injection.passwordFile : resolve(ctx.baseDir ?? process.cwd(), injection.passwordFile);
    try {
      password = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new KeyringError('KEY_SOURCE', `password file ${path}: ${messageOf(err)}`, { cause: err });
    }
  }
  return { username: injection.username ?? '', password: password ?? '' };
}

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
