/**
 * The client side of SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), without channel
 * binding: the GS2 header is `n,,` (the client does not support it, RFC 5802 §7), so a server
 * that also offers the `-PLUS` variants accepts it. Protocol-neutral: it builds and reads the
 * SCRAM messages; carrying them (XMPP `<auth/>`/`<challenge/>`, IRC `AUTHENTICATE`, AMQP
 * sasl-init) is the caller's part. See security/sasl/README.md.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

/** The SCRAM mechanisms this client performs, strongest first. */
export const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const;

/** A SCRAM mechanism name as SASL offers it. */
export type ScramMechanism = (typeof SCRAM_MECHANISMS)[number];

const DIGESTS: Readonly<Record<ScramMechanism, { readonly hash: 'sha256' | 'sha1'; readonly bytes: number }>> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-1': { hash: 'sha1', bytes: 20 },
};

/** Limits on what a server may ask of the client. */
export interface ScramLimits {
  /**
   * Fewest PBKDF2 iterations accepted from the server (RFC 7677 §4: at least 4096); fewer make the
   * exchange, if recorded, cheaper to attack offline.
   * @default 4096
   */
  readonly minIterations: number;
  /**
   * Most PBKDF2 iterations accepted from the server: each costs CPU in Gangway's thread pool, so a
   * server cannot make one login take long.
   * @default 600000
   */
  readonly maxIterations: number;
  /** Bytes of randomness in the client nonce (sent as base64). @default 24 */
  readonly nonceBytes: number;
}

/** Defaults of {@link ScramLimits}. */
export const SCRAM_DEFAULTS: ScramLimits = Object.freeze({ minIterations: 4096, maxIterations: 600_000, nonceBytes: 24 });

/**
 * Why an exchange failed. `credential`: the user name or password is outside what this client
 * prepares (see {@link saslprep}); `message`: the server's message is malformed or unacceptable
 * (nonce, salt, iteration count, mandatory extension, a server error `e=`); `signature`: the
 * server's signature does not prove it knows the password.
 */
export type ScramFailure = 'credential' | 'message' | 'signature';

/** A failed SCRAM exchange. Messages never hold the password or anything derived from it. */
export class ScramError extends Error {
  override readonly name = 'ScramError';

  constructor(
    readonly reason: ScramFailure,
    message: string,
  ) {
    super(message);
  }
}

// Printable ASCII: SASLprep (RFC 4013) maps, normalises and prohibits nothing in it.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * SASLprep (RFC 4013) of `value` where it is the identity: printable ASCII (U+0020–U+007E) is
 * returned as is. Anything else is refused rather than risk a normalisation that differs from
 * the server's (NFKC tables and the Unicode 3.2 unassigned code points of RFC 3454): such a
 * credential cannot log in with SCRAM here.
 * @throws ScramError `credential` for an empty value or one outside printable ASCII.
 */
export function saslprep(value: string, what: string): string {
  if (value === '') throw new ScramError('credential', `the ${what} is empty`);
  if (!PRINTABLE_ASCII.test(value)) throw new ScramError('credential', `the ${what} holds characters other than printable ASCII, which SCRAM here does not prepare`);
  return value;
}

/** Whether {@link saslprep} takes both: the credential can be used with SCRAM. */
export function scramCanPrepare(username: string, password: string): boolean {
  return username !== '' && password !== '' && PRINTABLE_ASCII.test(username) && PRINTABLE_ASCII.test(password);
}

/** `saslname` (RFC 5802 §7): `=` and `,` escaped as `=3D` and `=2C`. */
function saslname(username: string): string {
  return username.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

// RFC 5802 §7: printable = %x21-2B / %x2D-7E (no comma); base64 as in RFC 4648.
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ATTRIBUTE = /^[A-Za-z]=/;

/** A SCRAM message's attributes in order: `[name, value]` per comma-separated `a=value`. */
function attributes(message: string, which: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of message.split(',')) {
    if (!ATTRIBUTE.test(part)) throw new ScramError('message', `the server's ${which} message is malformed (expected a=value attributes)`);
    out.push([part[0] as string, part.slice(2)]);
  }
  return out;
}

function base64(value: string, what: string): Buffer {
  if (value === '' || !BASE64.test(value)) throw new ScramError('message', `the server's ${what} is not base64`);
  return Buffer.from(value, 'base64');
}

function hmac(hash: string, key: Buffer, data: string): Buffer {
  return createHmac(hash, key).update(data, 'utf8').digest();
}

function hi(password: string, salt: Buffer, iterations: number, hash: string, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, bytes, hash, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Where a {@link ScramClient} stands. */
type ScramState = 'initial' | 'first-sent' | 'final-sent' | 'done';

/**
 * One SCRAM exchange as the client: {@link clientFirst}, then {@link clientFinal} with the
 * server's first message, then {@link verifyServerFinal} with its final message. The password is
 * dropped once the client proof is computed; the server signature is checked in constant time.
 */
export class ScramClient {
  private state: ScramState = 'initial';
  private password: string | null;
  private readonly username: string;
  private readonly nonce: string;
  private readonly limits: ScramLimits;
  private firstBare = '';
  private serverSignature: Buffer | null = null;

  /**
   * @param nonce the client nonce; only tests fix it (RFC test vectors), otherwise
   * `limits.nonceBytes` random bytes as base64.
   * @throws ScramError `credential` when the user name or password cannot be prepared;
   * RangeError for a nonce that is not printable ASCII without `,`.
   */
  constructor(
    readonly mechanism: ScramMechanism,
    username: string,
    password: string,
    options: { readonly nonce?: string; readonly limits?: Partial<ScramLimits> } = {},
  ) {
    this.limits = { ...SCRAM_DEFAULTS, ...options.limits };
    this.username = saslprep(username, 'user name');
    this.password = saslprep(password, 'password');
    this.nonce = options.nonce ?? randomBytes(this.limits.nonceBytes).toString('base64');
    if (!NONCE.test(this.nonce)) throw new RangeError('the client nonce must be printable ASCII without ","');
  }

  /** The client-first-message (RFC 5802 §7): `n,,n=USER,r=NONCE`. */
  clientFirst(): Buffer {
    if (this.state !== 'initial') throw new ScramError('message', 'the client-first message was already sent');
    this.state = 'first-sent';
    this.firstBare = `n=${saslname(this.username)},r=${this.nonce}`;
    return Buffer.from(`n,,${this.firstBare}`, 'utf8');
  }

  /**
   * The client-final-message for the server-first-message `serverFirst` (RFC 5802 §3, §7):
   * `c=biws,r=NONCE,p=PROOF`. Checks that the server's nonce extends the client's, that the salt
   * is base64 and the iteration count within {@link ScramLimits}; a mandatory extension (`m=`) is
   * refused, others are ignored.
   * @throws ScramError `message` for a server message that is malformed or unacceptable.
   */
  async clientFinal(serverFirst: Buffer): Promise<Buffer> {
    if (this.state !== 'first-sent' || this.password === null) throw new ScramError('message', 'a server-first message out of order');
    this.state = 'final-sent';
    const text = serverFirst.toString('utf8');
    const attrs = attributes(text, 'first');
    const [r, s, i] = attrs;
    if (r?.[0] === 'm') throw new ScramError('message', 'the server requires a SCRAM extension this client does not know (m=)');
    if (r?.[0] !== 'r' || s?.[0] !== 's' || i?.[0] !== 'i') throw new ScramError('message', "the server's first message does not start with r=, s=, i=");
    const nonce = r[1];
    if (!NONCE.test(nonce) || !nonce.startsWith(this.nonce)) throw new ScramError('message', "the server's nonce does not extend the client's nonce");
    const salt = base64(s[1], 'salt');
    if (!/^[1-9][0-9]{0,9}$/.test(i[1])) throw new ScramError('message', "the server's iteration count is not a positive number");
    const iterations = Number(i[1]);
    if (iterations < this.limits.minIterations || iterations > this.limits.maxIterations) {
      throw new ScramError('message', `the server asks for ${iterations} iterations, outside ${this.limits.minIterations}..${this.limits.maxIterations}`);
    }

    const { hash, bytes } = DIGESTS[this.mechanism];
    const password = this.password;
    this.password = null;
    const salted = await hi(password, salt, iterations, hash, bytes);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.firstBare},${text},${withoutProof}`;
    const clientKey = hmac(hash, salted, 'Client Key');
    const storedKey = createHash(hash).update(clientKey).digest();
    const clientSignature = hmac(hash, storedKey, authMessage);
    const proof = Buffer.alloc(bytes);
    for (let k = 0; k < bytes; k++) proof[k] = (clientKey[k] as number) ^ (clientSignature[k] as number);
    this.serverSignature = hmac(hash, hmac(hash, salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /**
   * Checks the server-final-message (RFC 5802 §7: `v=SIGNATURE`, or `e=ERROR`).
   * @throws ScramError `signature` when the signature differs (the server does not hold the
   * password's keys, or is not the server it claims); `message` for a server error or a malformed
   * message.
   */
  verifyServerFinal(serverFinal: Buffer): void {
    if (this.state !== 'final-sent' || this.serverSignature === null) throw new ScramError('message', 'a server-final message out of order');
    this.state = 'done';
    const [first] = attributes(serverFinal.toString('utf8'), 'final');
    if (first?.[0] === 'e') throw new ScramError('message', `the server reported a SCRAM error: ${first[1].slice(0, 64)}`);
    if (first?.[0] !== 'v') throw new ScramError('message', "the server's final message carries no signature (v=)");
    const signature = base64(first[1], 'signature');
    if (signature.length !== this.serverSignature.length || !timingSafeEqual(signature, this.serverSignature)) {
      throw new ScramError('signature', 'the server signature does not match: the server does not know the password');
    }
  }
}
