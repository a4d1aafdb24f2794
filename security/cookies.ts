import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SECURITY_DEFAULTS } from './defaults';
import type { SubjectSnapshot } from './subject';

/** One AES-256 key of the cookie key ring. */
export interface CookieKey {
  /** Written into every cookie it encrypts, so rotation can find it. */
  readonly id: string;
  /** 32 bytes. */
  readonly secret: Buffer;
}

/** Cookie settings. */
export interface CookieSettings {
  /** @default "gangway_session" */
  readonly name: string;
  /** @default 28800 */
  readonly ttlSeconds: number;
  /** @default "Lax" */
  readonly sameSite: 'Strict' | 'Lax' | 'None';
  /** @default true */
  readonly secure: boolean;
  /** @default "/" */
  readonly path: string;
}

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

interface Payload {
  /** realm, user, roles, issued at (s), expires at (s), credential expiry (ms) */
  rl: string;
  u: string;
  r: string[];
  iat: number;
  exp: number;
  cx?: number;
}

function isPayload(x: unknown): x is Payload {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o.rl === 'string' &&
    typeof o.u === 'string' &&
    Array.isArray(o.r) &&
    o.r.every((v) => typeof v === 'string') &&
    typeof o.iat === 'number' &&
    typeof o.exp === 'number' &&
    (o.cx === undefined || typeof o.cx === 'number')
  );
}

/** Decodes a base64 cookie key; throws when it is not 32 bytes. */
export function decodeCookieSecret(text: string, id: string): Buffer {
  const secret = Buffer.from(text.trim(), 'base64');
  if (secret.length !== 32) throw new Error(`cookie key ${id}: expected 32 bytes in base64, got ${secret.length}`);
  return secret;
}

/**
 * Encrypted session cookies: AES-256-GCM with a random 96-bit nonce per cookie; the value is
 * `v1.<key id>.<base64url(nonce | ciphertext | tag)>`, the version and key id authenticated as
 * additional data. The payload holds the subject and the cookie's own expiry. New cookies use the
 * first key of the ring; every key of the ring still opens cookies, so a key is retired by removing
 * it once the cookies it sealed have expired.
 */
export class CookieCodec {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(
    private readonly keys: readonly CookieKey[],
    readonly settings: CookieSettings,
    private readonly now: () => number = Date.now,
  ) {
    if (keys.length === 0) throw new Error('the cookie key ring is empty');
    const byId = new Map<string, Buffer>();
    for (const k of keys) {
      if (k.secret.length !== 32) throw new Error(`cookie key ${k.id}: expected 32 bytes`);
      if (byId.has(k.id)) throw new Error(`cookie key ${k.id} is listed twice`);
      byId.set(k.id, k.secret);
    }
    this.byId = byId;
  }

  /** Seals a subject; the cookie expires after `ttlSeconds` or with the credential, whichever is first. */
  seal(subject: SubjectSnapshot): string {
    const key = this.keys[0];
    const nowS = Math.floor(this.now() / 1000);
    let exp = nowS + this.settings.ttlSeconds;
    if (subject.expiresAt !== undefined) exp = Math.min(exp, Math.floor(subject.expiresAt / 1000));
    const payload: Payload = { rl: subject.realm, u: subject.user, r: [...subject.roles], iat: nowS, exp };
    if (subject.expiresAt !== undefined) payload.cx = subject.expiresAt;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.secret, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`${VERSION}.${key.id}`));
    const body = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return `${VERSION}.${key.id}.${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url')}`;
  }

  /** Opens a cookie value; null when it is malformed, tampered with, sealed by an unknown key or expired. */
  open(value: string): SubjectSnapshot | null {
    if (value.length > SECURITY_DEFAULTS.maxCookieBytes) return null;
    const parts = value.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return null;
    const secret = this.byId.get(parts[1]);
    if (!secret || !/^[A-Za-z0-9_-]+$/.test(parts[2])) return null;
    const raw = Buffer.from(parts[2], 'base64url');
    if (raw.length < NONCE_BYTES + TAG_BYTES + 2) return null;
    const nonce = raw.subarray(0, NONCE_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const body = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
    let plain: string;
    try {
      const decipher = createDecipheriv('aes-256-gcm', secret, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(`${VERSION}.${parts[1]}`));
      decipher.setAuthTag(tag);
      plain = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      return null; // authentication failed: tampered, truncated or another key
    }
    let payload: unknown;
    try {
      payload = JSON.parse(plain);
    } catch {
      return null;
    }
    if (!isPayload(payload) || payload.exp * 1000 <= this.now()) return null;
    const base = { realm: payload.rl, user: payload.u, roles: payload.r };
    return payload.cx === undefined ? base : { ...base, expiresAt: payload.cx };
  }

  /** The `Set-Cookie` value that stores `value` (HttpOnly, Secure per settings, SameSite, Max-Age). */
  setCookieHeader(value: string): string {
    const s = this.settings;
    const secure = s.secure || s.sameSite === 'None' ? '; Secure' : '';
    return `${s.name}=${value}; Path=${s.path}; Max-Age=${s.ttlSeconds}; HttpOnly${secure}; SameSite=${s.sameSite}`;
  }

  /** The `Set-Cookie` value that removes the cookie. */
  clearCookieHeader(): string {
    const s = this.settings;
    const secure = s.secure || s.sameSite === 'None' ? '; Secure' : '';
    return `${s.name}=; Path=${s.path}; Max-Age=0; HttpOnly${secure}; SameSite=${s.sameSite}`;
  }

  /** Finds this codec's cookie in a `Cookie` header; undefined when absent. */
  readFrom(cookieHeader: string | undefined): string | undefined {
    if (!cookieHeader || cookieHeader.length > SECURITY_DEFAULTS.maxCookieBytes * 4) return undefined;
    for (const part of cookieHeader.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0) continue;
      if (part.slice(0, eq).trim() === this.settings.name) return part.slice(eq + 1).trim();
    }
    return undefined;
  }
}
