import { createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { JSONWebKeySet } from 'jose';
import { SECURITY_DEFAULTS } from '../defaults';
import { ReloadingFile } from '../files';
import { loadJose } from '../jose';
import type { LoginModule, LoginOutcome, LoginRequest } from '../login-module';
import type { Subject } from '../subject';

/** Signature algorithms the `jwt` module accepts. */
export const JWT_ALGORITHMS = ['HS256', 'RS256', 'ES256'] as const;

/** Options of the `jwt` login module; exactly one key source. */
export const jwtModuleOptionsSchema = z
  .strictObject({
    /** File holding the HMAC secret (HS256), used as bytes after trimming the final newline. */
    secretFile: z.string().min(1).optional(),
    /** HMAC secret given inline (use `${ENV}` substitution rather than writing it in the file). */
    secret: z.string().min(32, { message: 'expected at least 32 characters for an HS256 secret' }).optional(),
    /** PEM file with a public key or certificate (RS256 or ES256). */
    publicKeyFile: z.string().min(1).optional(),
    /** Local JWKS file (`{"keys": [...]}`); the token's `kid` selects the key. */
    jwksFile: z.string().min(1).optional(),
    /** Accepted algorithms; @default by key: HS256 for a secret, RS256/ES256 per key type, both for a JWKS. */
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
    /** Required `iss`. */
    issuer: z.string().optional(),
    /** Required `aud` (one of). */
    audience: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** @default 30 */
    clockSkewSeconds: z.number().int().min(0).max(3600).default(SECURITY_DEFAULTS.jwtClockSkewSeconds),
    /** Claim with the roles (array of strings or space-separated string; dotted path). @default "roles" */
    rolesClaim: z.string().min(1).default(SECURITY_DEFAULTS.jwtRolesClaim),
    /** Claim with the user name. @default "sub" */
    userClaim: z.string().min(1).default(SECURITY_DEFAULTS.jwtUserClaim),
    /** Whether tokens without `exp` are refused. @default true */
    requireExpiry: z.boolean().default(true),
  })
  .refine((o) => [o.secretFile, o.secret, o.publicKeyFile, o.jwksFile].filter((x) => x !== undefined).length === 1, {
    message: 'expected exactly one of secretFile, secret, publicKeyFile, jwksFile',
  });

/** Options of the `jwt` login module. */
export type JwtModuleOptions = z.infer<typeof jwtModuleOptionsSchema>;

type KeyMaterial = { kind: 'secret'; key: Uint8Array } | { kind: 'public'; key: KeyObject } | { kind: 'jwks'; jwks: JSONWebKeySet };

function parseJwks(buf: Buffer): KeyMaterial {
  const raw: unknown = JSON.parse(buf.toString('utf8'));
  const jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).parse(raw);
  return { kind: 'jwks', jwks: jwks as JSONWebKeySet };
}

function parseSecret(buf: Buffer): KeyMaterial {
  const text = buf.toString('utf8').replace(/\r?\n$/, '');
  if (Buffer.byteLength(text) < 32) throw new Error('an HS256 secret must be at least 32 bytes');
  return { kind: 'secret', key: new Uint8Array(Buffer.from(text, 'utf8')) };
}

function parsePublic(buf: Buffer): KeyMaterial {
  return { kind: 'public', key: createPublicKey(buf) };
}

function defaultAlgorithms(m: KeyMaterial): string[] {
  if (m.kind === 'secret') return ['HS256'];
  if (m.kind === 'jwks') return ['RS256', 'ES256'];
  return m.key.asymmetricKeyType === 'ec' ? ['ES256'] : ['RS256'];
}

/** Follows a dotted claim path (`realm_access.roles`). */
function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (path in payload) return payload[path];
  let cur: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !(part in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function rolesOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** The shared part of a `jwt` module entry: key material (reloaded when its file changes) and rules. */
export class JwtVerifier {
  private readonly keyFile: ReloadingFile<KeyMaterial> | null;
  private readonly inline: KeyMaterial | null;

  constructor(
    private readonly options: JwtModuleOptions,
    baseDir: string,
    private readonly log: Logger,
  ) {
    if (options.secret !== undefined) {
      this.inline = { kind: 'secret', key: new Uint8Array(Buffer.from(options.secret, 'utf8')) };
      this.keyFile = null;
    } else {
      this.inline = null;
      const [file, parse] =
        options.secretFile !== undefined ? [options.secretFile, parseSecret] : options.publicKeyFile !== undefined ? [options.publicKeyFile, parsePublic] : [options.jwksFile as string, parseJwks];
      this.keyFile = new ReloadingFile(resolve(baseDir, file), parse, log);
    }
  }

  /** Verifies a compact JWT; resolves its payload, or null when it is not valid (reason logged at debug). */
  async verify(token: string): Promise<Record<string, unknown> | null> {
    const jose = await loadJose();
    const material = this.inline ?? (await (this.keyFile as ReloadingFile<KeyMaterial>).get());
    const algorithms = this.options.algorithms ? [...this.options.algorithms] : defaultAlgorithms(material);
    const verifyOptions = {
      algorithms,
      clockTolerance: this.options.clockSkewSeconds,
      ...(this.options.issuer !== undefined ? { issuer: this.options.issuer } : {}),
      ...(this.options.audience !== undefined ? { audience: this.options.audience } : {}),
      ...(this.options.requireExpiry ? { requiredClaims: ['exp'] } : {}),
    };
    try {
      const { payload } =
        material.kind === 'jwks'
          ? await jose.jwtVerify(token, jose.createLocalJWKSet(material.jwks), verifyOptions)
          : await jose.jwtVerify(token, material.key, verifyOptions);
      return payload as Record<string, unknown>;
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'ERR_INVALID';
      this.log.debug({ event: 'jwt.invalid', reason: code }, 'bearer token refused');
      return null;
    }
  }

  /** The user name, roles and expiry a payload grants; null without a user claim. */
  principals(payload: Record<string, unknown>): { user: string; roles: string[]; expiresAt?: number } | null {
    const user = claimAt(payload, this.options.userClaim);
    if (typeof user !== 'string' || user === '') return null;
    const roles = rolesOf(claimAt(payload, this.options.rolesClaim));
    return typeof payload.exp === 'number' ? { user, roles, expiresAt: payload.exp * 1000 } : { user, roles };
  }
}

/**
 * The `jwt` login module: `Authorization: Bearer` JSON Web Tokens signed with HS256, RS256 or
 * ES256, checked for issuer, audience, expiry and not-before (with clock skew). The subject gets
 * the user claim, the roles claim, every claim, and `expiresAt` from `exp`. Other schemes are
 * ignored.
 */
export class JwtLoginModule implements LoginModule {
  private pending: { user: string; roles: string[]; expiresAt?: number; claims: Record<string, unknown> } | null = null;

  constructor(private readonly verifier: JwtVerifier) {}

  async login(request: LoginRequest): Promise<LoginOutcome> {
    const c = request.credentials;
    if (c.scheme !== 'bearer') return 'ignore';
    const payload = await this.verifier.verify(c.token);
    if (!payload) return false;
    const p = this.verifier.principals(payload);
    if (!p) return false;
    this.pending = { ...p, claims: payload };
    return true;
  }

  commit(subject: Subject): void {
    if (!this.pending) return;
    subject.setUser(this.pending.user);
    subject.addRoles(this.pending.roles);
    for (const [k, v] of Object.entries(this.pending.claims)) subject.addClaim(k, v);
    if (this.pending.expiresAt !== undefined) subject.limitExpiry(this.pending.expiresAt);
  }

  abort(): void {
    this.pending = null;
  }

  logout(): void {
    this.pending = null;
  }
}

/** Builds the factory of `jwt` module instances for one realm entry. */
export function jwtModuleFactory(options: JwtModuleOptions, baseDir: string, log: Logger): () => LoginModule {
  const verifier = new JwtVerifier(options, baseDir, log);
  return () => new JwtLoginModule(verifier);
}
