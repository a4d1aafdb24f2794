/**
 * Example custom login module for Gangway: accepts an API key sent in a request header
 * (`X-Api-Key` by default). Keys are configured by their SHA-256 digest, never in clear, with the
 * user name and roles each one grants. Requests without the header are ignored, so the module can
 * sit in a chain next to `file` or `jwt` modules.
 *
 * Build it with the project (`npm run build` puts it in dist/examples/login-module/) or copy it into
 * your own package; point a realm at the compiled file:
 *
 * ```yaml
 * realms:
 *   - name: machines
 *     modules:
 *       - type: custom
 *         module: ./dist/examples/login-module/api-key-module.js
 *         flag: sufficient
 *         options:
 *           header: x-api-key
 *           keys:
 *             "8d50189b762a2ceb6ce62f175bdeed3b98da57133c8486a27d65fd5c8ece164f": { user: feed-bot, roles: [publisher] }
 * ```
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { LoginModule, LoginOutcome, LoginRequest, ModuleEnvironment } from '../../security/login-module';
import type { Subject } from '../../security/subject';

interface KeyGrant {
  readonly digest: Buffer;
  readonly user: string;
  readonly roles: readonly string[];
}

function parseGrants(value: unknown): KeyGrant[] {
  if (typeof value !== 'object' || value === null) throw new Error('options.keys: expected a mapping of SHA-256 hex digests to {user, roles}');
  return Object.entries(value as Record<string, unknown>).map(([hex, grant]) => {
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`options.keys: ${hex.slice(0, 12)}... is not a SHA-256 hex digest`);
    if (typeof grant !== 'object' || grant === null) throw new Error('options.keys: each entry needs {user, roles}');
    const g = grant as Record<string, unknown>;
    if (typeof g.user !== 'string' || g.user === '') throw new Error('options.keys: each entry needs a user');
    const roles = Array.isArray(g.roles) ? g.roles.filter((r): r is string => typeof r === 'string') : [];
    return { digest: Buffer.from(hex, 'hex'), user: g.user, roles };
  });
}

/** Authenticates a request by an API key header; see the file comment for configuration. */
export default class ApiKeyLoginModule implements LoginModule {
  private header = 'x-api-key';
  private grants: KeyGrant[] = [];
  private pending: KeyGrant | null = null;

  initialize(options: Readonly<Record<string, unknown>>, env: ModuleEnvironment): void {
    if (options.header !== undefined) {
      if (typeof options.header !== 'string') throw new Error('options.header: expected a header name');
      this.header = options.header.toLowerCase();
    }
    this.grants = parseGrants(options.keys);
    env.log.trace({ keys: this.grants.length }, 'api key module ready');
  }

  async login(request: LoginRequest): Promise<LoginOutcome> {
    const raw = request.headers[this.header];
    const presented = Array.isArray(raw) ? raw[0] : raw;
    if (presented === undefined || presented === '') return 'ignore';
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: KeyGrant | null = null;
    // Compare against every grant so the time does not depend on which one matches.
    for (const g of this.grants) if (timingSafeEqual(g.digest, digest) && !found) found = g;
    if (!found) return false;
    this.pending = found;
    return true;
  }

  commit(subject: Subject): void {
    if (!this.pending) return;
    subject.setUser(this.pending.user);
    subject.addRoles(this.pending.roles);
    subject.addClaim('authenticatedBy', 'api-key');
  }

  abort(): void {
    this.pending = null;
  }

  logout(): void {
    this.pending = null;
  }
}
