import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { SECURITY_DEFAULTS } from './defaults';

/** Parsed `$scrypt$N=..,r=..,p=..$salt$hash` string. */
export interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function scrypt(password: string | Buffer, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses a PHC-like scrypt string: `$scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>`.
 * Returns a message saying what is wrong when it is not one, or when its cost exceeds the limits
 * in {@link SECURITY_DEFAULTS.scrypt} (a hostile file must not make every login slow).
 */
export function parseScryptHash(text: string): ScryptHash | string {
  const parts = text.split('$');
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') return 'expected $scrypt$N=..,r=..,p=..$salt$hash';
  const params = new Map<string, number>();
  for (const kv of parts[2].split(',')) {
    const m = /^([Nrp])=(\d{1,8})$/.exec(kv);
    if (!m) return `bad scrypt parameter ${JSON.stringify(kv)}`;
    params.set(m[1], Number(m[2]));
  }
  const N = params.get('N');
  const r = params.get('r');
  const p = params.get('p');
  const lim = SECURITY_DEFAULTS.scrypt;
  if (N === undefined || r === undefined || p === undefined) return 'expected N, r and p';
  if (N < 2 || (N & (N - 1)) !== 0 || N > lim.maxN) return `N must be a power of two up to ${lim.maxN}`;
  if (r < 1 || r > lim.maxR) return `r must be 1..${lim.maxR}`;
  if (p < 1 || p > lim.maxP) return `p must be 1..${lim.maxP}`;
  if (!B64.test(parts[3]) || !B64.test(parts[4])) return 'salt and hash must be base64';
  const salt = Buffer.from(parts[3], 'base64');
  const hash = Buffer.from(parts[4], 'base64');
  if (salt.length < 8) return 'salt must be at least 8 bytes';
  if (hash.length < 16 || hash.length > 64) return 'hash must be 16..64 bytes';
  return { N, r, p, salt, hash };
}

function maxmem(N: number, r: number, p: number): number {
  return 128 * N * r * (p + 2) + 1024 * 1024;
}

/**
 * Hashes a password for a users file with scrypt and a random salt.
 * @param params cost parameters; @default SECURITY_DEFAULTS.scrypt
 */
export async function hashPassword(password: string, params: Partial<Pick<ScryptHash, 'N' | 'r' | 'p'>> = {}): Promise<string> {
  const d = SECURITY_DEFAULTS.scrypt;
  const N = params.N ?? d.N;
  const r = params.r ?? d.r;
  const p = params.p ?? d.p;
  const salt = randomBytes(d.saltBytes);
  const hash = await scrypt(password.normalize('NFC'), salt, d.keyLength, { N, r, p, maxmem: maxmem(N, r, p) });
  return `$scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64').replace(/=+$/, '')}$${hash.toString('base64').replace(/=+$/, '')}`;
}

/** Checks a password against a parsed hash in constant time (for equal lengths). */
export async function verifyPassword(password: string, stored: ScryptHash): Promise<boolean> {
  const derived = await scrypt(password.normalize('NFC'), stored.salt, stored.hash.length, {
    N: stored.N,
    r: stored.r,
    p: stored.p,
    maxmem: maxmem(stored.N, stored.r, stored.p),
  });
  return timingSafeEqual(derived, stored.hash);
}
