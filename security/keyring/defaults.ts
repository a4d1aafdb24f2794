/**
 * Every default of the keyring, in one place. The keyring README's tables list the same values.
 */

/** scrypt cost parameters for a passphrase-derived master key (RFC 7914). */
export interface ScryptCost {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelisation. */
  readonly p: number;
}

/** Defaults and limits of the keyring. */
export interface KeyringDefaults {
  /**
   * scrypt cost for a passphrase-derived key: N=2^17, r=8, p=1 (128 MiB, about 0.3 s on a current
   * server core). The values used are stored beside the salt, so changing this default never
   * makes an existing keyring unreadable.
   * @default { N: 131072, r: 8, p: 1 }
   */
  readonly scrypt: ScryptCost;
  /** Smallest scrypt N accepted from a stored keyring or from options. @default 16384 */
  readonly minScryptN: number;
  /** Bytes of the random scrypt salt. @default 16 */
  readonly saltBytes: number;
  /** Shortest passphrase accepted, in characters. @default 12 */
  readonly minPassphraseLength: number;
  /** File of the embedded store, relative to the configuration file's folder (the working folder for the CLI). @default "keyring.json" */
  readonly file: string;
  /** Suffix of the lock file that serialises writers of the file store across processes. @default ".lock" */
  readonly lockSuffix: string;
  /** How long a writer waits for another process's lock on the file store. @default 10000 */
  readonly lockTimeoutMs: number;
  /** Largest store file read, in bytes; a larger file is refused. @default 67108864 (64 MiB) */
  readonly maxFileBytes: number;
  /** Prefix of every Redis key; the braces make one Redis Cluster hash slot hold the whole keyring. @default "{gangway-keyring}:" */
  readonly redisPrefix: string;
  /** Environment variable holding a base64 32-byte master key. @default "GANGWAY_KEYRING_KEY" */
  readonly keyEnv: string;
  /** Environment variable holding the passphrase of the embedded default. @default "GANGWAY_KEYRING_PASSPHRASE" */
  readonly passphraseEnv: string;
  /** Credentials one user may store. @default 100 */
  readonly maxRecordsPerUser: number;
  /** Largest credential, as its JSON text in UTF-8 bytes. @default 4096 */
  readonly maxCredentialBytes: number;
  /** Longest user name, in UTF-8 bytes. @default 256 */
  readonly maxUserBytes: number;
  /** Longest service name, in characters. @default 128 */
  readonly maxServiceLength: number;
  /** Largest request body the HTTP handler reads; larger gets 413. @default 8192 */
  readonly maxBodyBytes: number;
  /** Records re-encrypted per store write during a rotation. @default 100 */
  readonly rotationBatchSize: number;
  /** Passes over the store a rotation makes to catch records written while it ran, before it gives up. @default 5 */
  readonly rotationMaxPasses: number;
}

/** The keyring's defaults. */
export const KEYRING_DEFAULTS: KeyringDefaults = Object.freeze({
  scrypt: Object.freeze({ N: 2 ** 17, r: 8, p: 1 }),
  minScryptN: 2 ** 14,
  saltBytes: 16,
  minPassphraseLength: 12,
  file: 'keyring.json',
  lockSuffix: '.lock',
  lockTimeoutMs: 10_000,
  maxFileBytes: 64 * 1024 * 1024,
  redisPrefix: '{gangway-keyring}:',
  keyEnv: 'GANGWAY_KEYRING_KEY',
  passphraseEnv: 'GANGWAY_KEYRING_PASSPHRASE',
  maxRecordsPerUser: 100,
  maxCredentialBytes: 4096,
  maxUserBytes: 256,
  maxServiceLength: 128,
  maxBodyBytes: 8192,
  rotationBatchSize: 100,
  rotationMaxPasses: 5,
});
