import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';
import { JwtLoginModule, JwtVerifier, jwtModuleOptionsSchema, Subject, type JwtModuleOptions } from '../../security';
import { captureLogger, tempDir } from './support';

const SECRET = 'an-hs256-secret-that-is-long-enough-0123456789';
const now = () => Math.floor(Date.now() / 1000);

let tmp: ReturnType<typeof tempDir>;
let rsa: { publicKey: KeyObject; privateKey: KeyObject };
let ec: { publicKey: KeyObject; privateKey: KeyObject };

beforeAll(async () => {
  tmp = tempDir();
  rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(tmp.dir, 'hs.secret'), `${SECRET}\n`);
  writeFileSync(join(tmp.dir, 'rsa.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' };
  const rsaJwk = { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
  writeFileSync(join(tmp.dir, 'jwks.json'), JSON.stringify({ keys: [jwk, rsaJwk] }));
});
afterAll(() => tmp.cleanup());

function sign(payload: JWTPayload, alg: 'HS256' | 'RS256' | 'ES256', opts: { kid?: string; key?: KeyObject | Uint8Array } = {}): Promise<string> {
  const key = opts.key ?? (alg === 'HS256' ? new TextEncoder().encode(SECRET) : alg === 'RS256' ? rsa.privateKey : ec.privateKey);
  return new SignJWT(payload).setProtectedHeader(opts.kid ? { alg, kid: opts.kid } : { alg }).sign(key);
}

function moduleFor(raw: Record<string, unknown>): JwtLoginModule {
  const options: JwtModuleOptions = jwtModuleOptionsSchema.parse(raw);
  return new JwtLoginModule(new JwtVerifier(options, tmp.dir, captureLogger().log));
}

async function run(m: JwtLoginModule, token: string): Promise<{ outcome: boolean | 'ignore'; subject: Subject }> {
  const outcome = await m.login({ realm: 'r', credentials: { scheme: 'bearer', token }, remoteAddress: '127.0.0.1', headers: {} });
  const subject = new Subject('r');
  m.commit(subject);
  return { outcome, subject };
}

describe('jwt login module', () => {
  it('accepts HS256 with a secret file: user, roles, claims and expiresAt from exp', async () => {
    const m = moduleFor({ secretFile: 'hs.secret', issuer: 'https://idp.test', audience: 'gangway' });
    const exp = now() + 600;
    const token = await sign({ sub: 'alice', roles: ['trader'], iss: 'https://idp.test', aud: 'gangway', exp, desk: 'fx' }, 'HS256');
    const r = await run(m, token);
    expect(r.outcome).toBe(true);
    expect(r.subject.user).toBe('alice');
    expect([...r.subject.roles]).toEqual(['trader']);
    expect(r.subject.expiresAt).toBe(exp * 1000);
    expect(r.subject.claims.desk).toBe('fx');
  });

  it('accepts RS256 with a PEM public key and refuses an HS256 token signed with the PEM as secret', async () => {
    const m = moduleFor({ publicKeyFile: 'rsa.pem' });
    expect((await run(m, await sign({ sub: 'bob', exp: now() + 60 }, 'RS256'))).outcome).toBe(true);
    const pemAsSecret = new TextEncoder().encode(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    expect((await run(m, await sign({ sub: 'bob', exp: now() + 60 }, 'HS256', { key: pemAsSecret }))).outcome).toBe(false);
  });

  it('accepts ES256 and RS256 from a local JWKS file, choosing the key by kid', async () => {
    const m = moduleFor({ jwksFile: 'jwks.json' });
    expect((await run(m, await sign({ sub: 'carol', exp: now() + 60 }, 'ES256', { kid: 'ec-1' }))).outcome).toBe(true);
    expect((await run(m, await sign({ sub: 'carol', exp: now() + 60 }, 'RS256', { kid: 'rsa-1' }))).outcome).toBe(true);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect((await run(m, await sign({ sub: 'carol', exp: now() + 60 }, 'ES256', { kid: 'ec-1', key: other.privateKey }))).outcome).toBe(false);
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.test', aud: 'gangway' }],
    ['a wrong audience', { iss: 'https://idp.test', aud: 'other' }],
    ['an expired token beyond the skew', { iss: 'https://idp.test', aud: 'gangway', exp: now() - 120 }],
    ['a token not valid before a future time beyond the skew', { iss: 'https://idp.test', aud: 'gangway', nbf: now() + 120 }],
    ['a token without exp', { iss: 'https://idp.test', aud: 'gangway', exp: undefined }],
    ['a token without sub', { iss: 'https://idp.test', aud: 'gangway', sub: undefined }],
  ])('refuses %s', async (_label, claims) => {
    const m = moduleFor({ secretFile: 'hs.secret', issuer: 'https://idp.test', audience: 'gangway', clockSkewSeconds: 30 });
    const payload: JWTPayload = { sub: 'alice', exp: now() + 600, ...claims };
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    expect((await run(m, await sign(payload, 'HS256'))).outcome).toBe(false);
  });

  it('tolerates clock skew on exp and nbf', async () => {
    const m = moduleFor({ secretFile: 'hs.secret', clockSkewSeconds: 60 });
    expect((await run(m, await sign({ sub: 'a', exp: now() - 20 }, 'HS256'))).outcome).toBe(true);
    expect((await run(m, await sign({ sub: 'a', exp: now() + 60, nbf: now() + 20 }, 'HS256'))).outcome).toBe(true);
  });

  it('reads roles from a configurable claim, following dotted paths and space-separated strings', async () => {
    const nested = moduleFor({ secretFile: 'hs.secret', rolesClaim: 'realm_access.roles', userClaim: 'preferred_username' });
    const r = await run(nested, await sign({ preferred_username: 'dora', realm_access: { roles: ['a', 'b'] }, exp: now() + 60 }, 'HS256'));
    expect(r.subject.user).toBe('dora');
    expect([...r.subject.roles]).toEqual(['a', 'b']);
    const scope = moduleFor({ secretFile: 'hs.secret', rolesClaim: 'scope' });
    const s = await run(scope, await sign({ sub: 'e', scope: 'read write', exp: now() + 60 }, 'HS256'));
    expect([...s.subject.roles]).toEqual(['read', 'write']);
  });

  it('ignores Basic credentials and refuses garbage', async () => {
    const m = moduleFor({ secret: SECRET });
    expect(await m.login({ realm: 'r', credentials: { scheme: 'basic', username: 'a', password: 'b' }, remoteAddress: '::1', headers: {} })).toBe('ignore');
    expect((await run(m, 'not.a.jwt')).outcome).toBe(false);
  });

  it('restricts algorithms when configured', async () => {
    const m = moduleFor({ jwksFile: 'jwks.json', algorithms: ['ES256'] });
    expect((await run(m, await sign({ sub: 'x', exp: now() + 60 }, 'RS256', { kid: 'rsa-1' }))).outcome).toBe(false);
  });

  it('validates its options: exactly one key source, long enough secrets', () => {
    expect(jwtModuleOptionsSchema.safeParse({}).success).toBe(false);
    expect(jwtModuleOptionsSchema.safeParse({ secretFile: 'a', jwksFile: 'b' }).success).toBe(false);
    expect(jwtModuleOptionsSchema.safeParse({ secret: 'short' }).success).toBe(false);
    expect(jwtModuleOptionsSchema.safeParse({ secretFile: 'a', algorithms: ['none'] }).success).toBe(false);
  });
});
