/**
 * Master keys and record encryption.
 *
 * A master key is 32 bytes: read from a file (raw or base64), from an environment variable
 * (base64), or derived from a passphrase with scrypt (RFC 7914) and a stored random salt. From it
 * HKDF-SHA-256 (RFC 5869) derives two independent values: the AES-256-GCM key that encrypts
 * records and a public 8-byte key id stored with each record. The key id reveals nothing about
 * the key and lets the keyring tell which key a record needs.
 *
 * Each record is encrypted with AES-256-GCM (NIST SP 800-38D) under a fresh random 96-bit nonce,
 * with a 128-bit tag; its metadata (format version, user, service, key id, timestamps) is the
 * additional authenticated data, so a record altered or moved to another user or service fails
 * authentication.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { inspect } from 'node:util';
import { KEYRING_DEFAULTS, type ScryptCost } from './defaults';
import { KeyringError, messageOf } from './errors';

/** Bytes of a master key. */
export const MASTER_KEY_BYTES = 32;
/** Bytes of a GCM nonce (96 bits, the size GCM is defined for without hashing). */
export const NONCE_BYTES = 12;
/** Bytes of a GCM tag. */
export const TAG_BYTES = 16;
/** Version of the record format; part of every record's authenticated data. */
export const RECORD_FORMAT = 1;

const INFO_KEY = Buffer.from('gangway-keyring/v1/aes-256-gcm');
const INFO_ID = Buffer.from('gangway-keyring/v1/key-id');
const AAD_LABEL = 'gangway-keyring';

/** The scrypt salt and cost a passphrase-derived key was made with (stored with the keyring). */
export interface KdfParams extends ScryptCost {
  readonly name: 'scrypt';
  /** Random salt, base64. */
  readonly salt: string;
}

/**
 * Where a master key comes from. Relative file paths resolve against the `baseDir` given when
 * loading.
 */
export type MasterKeySource =
  | { readonly file: string }
  | { readonly env: string }
  | { readonly passphraseFile: string }
  | { readonly passphraseEnv: string };

/** Whether a source needs the stored scrypt salt. */
export function isPassphraseSource(source: MasterKeySource): boolean {
  return 'passphraseFile' in source || 'passphraseEnv' in source;
}

/** A one-line description of a source, naming the file or variable (never its content). */
export function describeKeySource(source: MasterKeySource): string {
  if ('file' in source) return `key file ${source.file}`;
  if ('env' in source) return `environment variable ${source.env}`;
  if ('passphraseFile' in source) return `passphrase file ${source.passphraseFile}`;
  return `passphrase in environment variable ${source.passphraseEnv}`;
}

/**
 * A loaded master key. The key bytes live in a private field: they are not enumerable, not part
 * of `JSON.stringify` and not shown by `util.inspect`, so a key object that reaches a log line
 * shows its id only.
 */
export class MasterKey {
  /** Public identifier derived from the key (16 hex digits). */
  readonly id: string;
  readonly #aeadKey: Buffer;

  private constructor(material: Buffer) {
    this.#aeadKey = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), INFO_KEY, 32));
    this.id = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), INFO_ID, 8)).toString('hex');
  }

  /** A key from its 32 bytes. */
  static fromBytes(bytes: Uint8Array): MasterKey {
    if (bytes.length !== MASTER_KEY_BYTES) {
      throw new KeyringError('KEY_SOURCE', `a master key has ${MASTER_KEY_BYTES} bytes, got ${bytes.length}`);
    }
    return new MasterKey(Buffer.from(bytes));
  }

  /** A key derived from a passphrase with scrypt and `kdf`'s salt and cost. */
  static async fromPassphrase(passphrase: string, kdf: KdfParams): Promise<MasterKey> {
    checkKdf(kdf);
    if ([...passphrase].length < KEYRING_DEFAULTS.minPassphraseLength) {
      throw new KeyringError('KEY_SOURCE', `a passphrase has at least ${KEYRING_DEFAULTS.minPassphraseLength} characters`);
    }
    const material = await new Promise<Buffer>((done, fail) => {
      scryptCb(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), MASTER_KEY_BYTES, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r + 1024 * 1024 }, (err, key) =>
        err ? fail(new KeyringError('KEY_SOURCE', `scrypt failed: ${err.message}`)) : done(key),
      );
    });
    return new MasterKey(material);
  }

  /** A new random key's 32 bytes. */
  static generateBytes(): Buffer {
    return randomBytes(MASTER_KEY_BYTES);
  }

  /** Encrypts `plaintext` under a fresh nonce with `aad` authenticated. */
  seal(plaintext: Buffer, aad: Buffer): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#aeadKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { nonce, ciphertext, tag: cipher.getAuthTag() };
  }

  /** Decrypts and authenticates; `null` when authentication fails. */
  open(nonce: Buffer, ciphertext: Buffer, tag: Buffer, aad: Buffer): Buffer | null {
    const decipher = createDecipheriv('aes-256-gcm', this.#aeadKey, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const out = decipher.update(ciphertext);
    try {
      return Buffer.concat([out, decipher.final()]);
    } catch {
      out.fill(0);
      return null;
    }
  }

  toJSON(): { keyId: string } {
    return { keyId: this.id };
  }

  [inspect.custom](): string {
    return `MasterKey { id: '${this.id}' }`;
  }
}

/** Refuses scrypt parameters that are malformed or weaker than the floor. */
export function checkKdf(kdf: KdfParams): void {
  const { N, r, p } = kdf;
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N < KEYRING_DEFAULTS.minScryptN || N > 2 ** 22) {
    throw new KeyringError('KEY_SOURCE', `scrypt N must be a power of two from ${KEYRING_DEFAULTS.minScryptN} to ${2 ** 22}, got ${N}`);
  }
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) {
    throw new KeyringError('KEY_SOURCE', `scrypt r must be 1-32 and p 1-16, got r=${r} p=${p}`);
  }
  if (Buffer.from(kdf.salt, 'base64').length < 16) {
    throw new KeyringError('KEY_SOURCE', 'the scrypt salt has fewer than 16 bytes');
  }
}

/** Fresh scrypt parameters: a random salt and `cost` (the defaults unless given). */
export function newKdfParams(cost: ScryptCost = KEYRING_DEFAULTS.scrypt): KdfParams {
  const kdf: KdfParams = { name: 'scrypt', salt: randomBytes(KEYRING_DEFAULTS.saltBytes).toString('base64'), N: cost.N, r: cost.r, p: cost.p };
  checkKdf(kdf);
  return kdf;
}

/**
 * Decodes a key file's content: exactly 32 bytes are the raw key; otherwise the trimmed text must
 * be base64 (or base64url) of 32 bytes.
 */
export function decodeKeyMaterial(content: Buffer, where: string): Buffer {
  if (content.length === MASTER_KEY_BYTES) return Buffer.from(content);
  const text = content.toString('latin1').trim();
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64');
    if (bytes.length === MASTER_KEY_BYTES) return bytes;
  }
  throw new KeyringError('KEY_SOURCE', `${where}: expected ${MASTER_KEY_BYTES} raw bytes or their base64, got ${content.length} bytes of something else`);
}

/** Options of {@link loadMasterKey}. */
export interface LoadKeyOptions {
  /** Folder relative file paths resolve against. @default process.cwd() */
  readonly baseDir?: string;
  /** Environment to read variables from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Stored scrypt parameters; required for passphrase sources. */
  readonly kdf?: KdfParams | null;
  /** Told when a key or passphrase file can be read by group or others. */
  readonly onWarning?: (message: string) => void;
}

async function readSecretFile(file: string, baseDir: string, what: string, onWarning?: (message: string) => void): Promise<Buffer> {
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a regular file');
    if (info.size > 4096) throw new Error(`${info.size} bytes is too large for a ${what}`);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      onWarning?.(`${what} ${path} can be read by group or others (mode ${(info.mode & 0o777).toString(8)}); restrict it to 600`);
    }
    return await readFile(path);
  } catch (err) {
    throw new KeyringError('KEY_SOURCE', `${what} ${path}: ${messageOf(err)}`, { cause: err });
  }
}

/** Loads a master key from its source (for passphrase sources, `options.kdf` is required). */
export async function loadMasterKey(source: MasterKeySource, options: LoadKeyOptions = {}): Promise<MasterKey> {
  const baseDir = options.baseDir ?? process.cwd();
  const env = options.env ?? process.env;
  if ('file' in source) {
    const content = await readSecretFile(source.file, baseDir, 'key file', options.onWarning);
    try {
      return MasterKey.fromBytes(decodeKeyMaterial(content, `key file ${source.file}`));
    } finally {
      content.fill(0);
    }
  }
  if ('env' in source) {
    const value = env[source.env];
    if (value === undefined || value === '') throw new KeyringError('KEY_SOURCE', `environment variable ${source.env} is not set`);
    return MasterKey.fromBytes(decodeKeyMaterial(Buffer.from(value, 'latin1'), `environment variable ${source.env}`));
  }
  const kdf = options.kdf;
  if (!kdf) throw new KeyringError('KEY_SOURCE', `${describeKeySource(source)}: no scrypt salt is stored for this keyring`);
  let passphrase: string;
  if ('passphraseFile' in source) {
    const content = await readSecretFile(source.passphraseFile, baseDir, 'passphrase file', options.onWarning);
    passphrase = content.toString('utf8').replace(/\r?\n$/, '');
    content.fill(0);
  } else {
    const value = env[source.passphraseEnv];
    if (value === undefined || value === '') throw new KeyringError('KEY_SOURCE', `environment variable ${source.passphraseEnv} is not set`);
    passphrase = value;
  }
  try {
    return await MasterKey.fromPassphrase(passphrase, kdf);
  } catch (err) {
    if (err instanceof KeyringError) throw new KeyringError('KEY_SOURCE', `${describeKeySource(source)}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Authenticated data of a record: everything about it but the secret. */
export interface RecordMetadata {
  readonly v: number;
  readonly user: string;
  readonly service: string;
  readonly kid: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The additional authenticated data of a record: a JSON array in a fixed order, UTF-8. */
export function recordAad(meta: RecordMetadata): Buffer {
  return Buffer.from(JSON.stringify([AAD_LABEL, meta.v, meta.user, meta.service, meta.kid, meta.createdAt, meta.updatedAt]), 'utf8');
}
