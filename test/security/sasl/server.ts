/**
 * The server side of SCRAM (RFC 5802 §3, §7) for tests that need a server other than Prosody
 * (SCRAM-SHA-256, a wrong signature): written out step by step from the RFC with Node's crypto,
 * independent of security/sasl/scram.ts. It holds the password in the clear, as a test may.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

/** One exchange as the server: first, then final. */
export class TestScramServer {
  private firstBare = '';
  private serverFirst = '';
  private nonce = '';
  /** The client's user name as sent (`n=`), and whether its proof was right. */
  username = '';
  proofOk = false;

  constructor(
    private readonly hash: 'sha1' | 'sha256',
    private readonly password: string,
    private readonly options: { readonly iterations?: number; readonly salt?: Buffer; readonly nonceSuffix?: string } = {},
  ) {}

  /** The server-first message for the client-first message `clientFirst` (`n,,n=…,r=…`). */
  first(clientFirst: string): string {
    const m = /^n,,(n=([^,]*),r=([^,]+))$/.exec(clientFirst);
    if (!m) throw new Error(`not a client-first message: ${clientFirst}`);
    this.firstBare = m[1] as string;
    this.username = (m[2] as string).replace(/=2C/g, ',').replace(/=3D/g, '=');
    this.nonce = `${m[3] as string}${this.options.nonceSuffix ?? randomBytes(12).toString('hex')}`;
    const salt = this.options.salt ?? randomBytes(16);
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${this.options.iterations ?? 4096}`;
    return this.serverFirst;
  }

  /** Checks the client-final message's proof; the server-final message (`v=…`). */
  final(clientFinal: string): string {
    const m = /^(c=biws,r=([^,]+)),p=([A-Za-z0-9+/=]+)$/.exec(clientFinal);
    if (!m || m[2] !== this.nonce) throw new Error(`not the client-final message of this exchange: ${clientFinal}`);
    const salt = Buffer.from(/,s=([^,]+),/.exec(this.serverFirst)?.[1] ?? '', 'base64');
    const iterations = Number(/,i=(\d+)/.exec(this.serverFirst)?.[1]);
    const salted = pbkdf2Sync(this.password, salt, iterations, this.hash === 'sha1' ? 20 : 32, this.hash);
    const clientKey = createHmac(this.hash, salted).update('Client Key').digest();
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const authMessage = `${this.firstBare},${this.serverFirst},${m[1] as string}`;
    const signature = createHmac(this.hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(m[3] as string, 'base64');
    const recovered = Buffer.from(proof.map((x, i) => x ^ (signature[i] as number)));
    this.proofOk = recovered.length === storedKey.length && timingSafeEqual(createHash(this.hash).update(recovered).digest(), storedKey);
    const serverKey = createHmac(this.hash, salted).update('Server Key').digest();
    return `v=${createHmac(this.hash, serverKey).update(authMessage).digest('base64')}`;
  }
}
