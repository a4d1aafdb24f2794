/**
 * The storage seam: one interface, two implementations (file-store.ts, redis-store.ts). A store
 * keeps encrypted records and the keyring's metadata; it never sees a key or a secret.
 */
import { z } from 'zod';
import { NONCE_BYTES, RECORD_FORMAT, TAG_BYTES } from './crypto';
import { KeyringError } from './errors';

/** One encrypted credential as stored. Binary fields are base64. */
export interface StoredRecord {
  /** Record format version. */
  readonly v: number;
  readonly user: string;
  /** Back-end service name. */
  readonly service: string;
  /** Id of the master key the record is encrypted under. */
  readonly kid: string;
  /** 96-bit GCM nonce, fresh for every encryption. */
  readonly nonce: string;
  /** AES-256-GCM ciphertext of the credential's JSON. */
  readonly ct: string;
  /** 128-bit GCM tag. */
  readonly tag: string;
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601. */
  readonly updatedAt: string;
}

/** A rotation under way: the keys records are moved from, and the key they are moved to. */
export interface RotationState {
  readonly from: readonly string[];
  readonly to: string;
  readonly startedAt: string;
}

/** Keyring-wide metadata, kept by the store beside the records. */
export interface KeyringMeta {
  readonly format: number;
  /** The key new records are written under. */
  readonly primaryKid: string;
  /** Keys retired by completed rotations: never used again, records under them refused. */
  readonly retiredKids: readonly string[];
  /** scrypt salt and cost, when a passphrase-derived key was ever used. */
  readonly kdf: { readonly name: 'scrypt'; readonly salt: string; readonly N: number; readonly r: number; readonly p: number } | null;
  readonly rotation: RotationState | null;
  readonly createdAt: string;
}

/** Options of {@link KeyringStore.put}. */
export interface PutOptions {
  /** Refuse a new service for a user who already has this many. */
  readonly maxRecordsPerUser: number;
}

/** A compare-and-set pair for {@link KeyringStore.replaceMany}. */
export interface Replacement {
  readonly expected: StoredRecord;
  readonly next: StoredRecord;
}

/**
 * Where records live. Every method resolves only once the change is durable (file: renamed and
 * fsynced; Redis: acknowledged by the server).
 */
export interface KeyringStore {
  /** One line naming the store for logs and errors (never credentials in a URL). */
  readonly description: string;
  get(user: string, service: string): Promise<StoredRecord | null>;
  /** The user's records, ordered by service name. */
  list(user: string): Promise<StoredRecord[]>;
  /**
   * Writes a record, atomically checking that `record.kid` is the metadata's primary key (else
   * throws `ROTATION`) and that the user stays within `maxRecordsPerUser` (else throws `LIMIT`).
   */
  put(record: StoredRecord, options: PutOptions): Promise<void>;
  /** Removes a record; whether there was one. */
  delete(user: string, service: string): Promise<boolean>;
  /** Every record (for rotation); records written during the iteration may or may not appear. */
  records(): AsyncIterable<StoredRecord>;
  /** Replaces each record still equal to `expected` by `next`; how many were replaced. */
  replaceMany(replacements: readonly Replacement[]): Promise<number>;
  readMeta(): Promise<KeyringMeta | null>;
  /** Writes `next` if the stored metadata still equals `expected` (`null`: none yet); whether it did. */
  swapMeta(expected: KeyringMeta | null, next: KeyringMeta): Promise<boolean>;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const base64Of = (bytes: number) =>
  z.string().refine((s) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && Buffer.from(s, 'base64').length === bytes, { message: `expected base64 of ${bytes} bytes` });

/** Schema of a stored record. */
export const storedRecordSchema = z.strictObject({
  v: z.literal(RECORD_FORMAT),
  user: z.string().min(1),
  service: z.string().min(1),
  kid: z.string().regex(/^[0-9a-f]{16}$/),
  nonce: base64Of(NONCE_BYTES),
  ct: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  tag: base64Of(TAG_BYTES),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Schema of the keyring metadata. */
export const keyringMetaSchema = z.strictObject({
  format: z.literal(1),
  primaryKid: z.string().regex(/^[0-9a-f]{16}$/),
  retiredKids: z.array(z.string()),
  kdf: z.strictObject({ name: z.literal('scrypt'), salt: z.string(), N: z.number().int(), r: z.number().int(), p: z.number().int() }).nullable(),
  rotation: z.strictObject({ from: z.array(z.string()), to: z.string(), startedAt: z.string() }).nullable(),
  createdAt: z.string(),
});

/** Validates a stored record; `where` names it in the error. */
export function parseStoredRecord(value: unknown, where: string): StoredRecord {
  const parsed = storedRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeyringError('MALFORMED', `${where}: not a keyring record (${issue.path.join('.') || 'record'}: ${issue.message})`);
  }
  return parsed.data;
}

/** Validates keyring metadata. */
export function parseMeta(value: unknown, where: string): KeyringMeta {
  const parsed = keyringMetaSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeyringError('MALFORMED', `${where}: not keyring metadata (${issue.path.join('.') || 'meta'}: ${issue.message})`);
  }
  return parsed.data;
}

/** A record's canonical JSON (fixed field order), as the Redis store keeps it and compares it. */
export function encodeRecord(r: StoredRecord): string {
  return JSON.stringify({ v: r.v, user: r.user, service: r.service, kid: r.kid, nonce: r.nonce, ct: r.ct, tag: r.tag, createdAt: r.createdAt, updatedAt: r.updatedAt });
}

/** Metadata's canonical JSON. */
export function encodeMeta(m: KeyringMeta): string {
  return JSON.stringify({
    format: m.format,
    primaryKid: m.primaryKid,
    retiredKids: [...m.retiredKids],
    kdf: m.kdf ? { name: m.kdf.name, salt: m.kdf.salt, N: m.kdf.N, r: m.kdf.r, p: m.kdf.p } : null,
    rotation: m.rotation ? { from: [...m.rotation.from], to: m.rotation.to, startedAt: m.rotation.startedAt } : null,
    createdAt: m.createdAt,
  });
}

/** Whether two records are the same encryption (same key, nonce, ciphertext and tag). */
export function sameRecord(a: StoredRecord, b: StoredRecord): boolean {
  return encodeRecord(a) === encodeRecord(b);
}
