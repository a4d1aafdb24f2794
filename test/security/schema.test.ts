import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  securityConfigSchema,
  serviceAuthConfigSchema,
  realmsConfigSchema,
  tlsConfigSchema,
  cookiesConfigSchema,
  createSecurity,
  parseUsersFile,
  SECURITY_ERRORS,
  type SecurityErrorSpec,
  SECURITY_DEFAULTS,
  verifyPassword,
  parseScryptHash,
} from '../../security';
import { captureLogger, tempDir } from './support';

const README = readFileSync(join(__dirname, '../../security/README.md'), 'utf8');
const yamlBlocks = [...README.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
const SECURITY_KEYS = ['realms', 'tls', 'cookies', 'loginRateLimit', 'tickets'];

describe('configuration schemas', () => {
  it('accepts every YAML example of security/README.md', async () => {
    expect(yamlBlocks.length).toBeGreaterThanOrEqual(8);
    for (const text of yamlBlocks) {
      const doc = parseYaml(text.replace(/\$\{GANGWAY_COOKIE_KEY\}/g, 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=')) as Record<string, unknown>;
      if ('users' in doc) {
        const users = parseUsersFile(Buffer.from(text), 'users.yaml');
        const alice = users.get('alice');
        expect(alice && (await verifyPassword('wonderland', alice.hash))).toBe(true);
        continue;
      }
      const security = Object.fromEntries(Object.entries(doc).filter(([k]) => SECURITY_KEYS.includes(k)));
      const parsed = securityConfigSchema.safeParse(security);
      expect([text.slice(0, 40), parsed.success ? 'ok' : parsed.error.message]).toEqual([text.slice(0, 40), 'ok']);
      for (const svc of (doc.services as { auth?: unknown }[] | undefined) ?? []) {
        const auth = serviceAuthConfigSchema.safeParse(svc.auth);
        expect(auth.success ? 'ok' : auth.error.message).toBe('ok');
      }
    }
  });

  it('applies the defaults', () => {
    const auth = serviceAuthConfigSchema.parse({ realm: 'corp' });
    expect(auth).toEqual({
      realm: 'corp',
      schemes: ['basic', 'bearer'],
      maxSessionSeconds: SECURITY_DEFAULTS.maxSessionSeconds,
      allowMissingOrigin: true,
      cors: { methods: ['GET', 'POST'], headers: ['Authorization', 'Content-Type'], maxAgeSeconds: 600 },
    });
    const all = securityConfigSchema.parse({});
    expect(all).toEqual({ realms: [], loginRateLimit: { windowSeconds: 60, maxFailuresPerAddress: 20, maxFailuresPerUser: 5 }, tickets: { ttlSeconds: 30, maxOutstanding: 100000 } });
    expect(realmsConfigSchema.parse([{ name: 'r', modules: [{ type: 'file', options: { path: 'u.yaml' } }] }])[0].modules[0].flag).toBe('required');
    expect(tlsConfigSchema.parse({ certificates: [{ cert: 'c', key: 'k' }] }).minVersion).toBe('TLSv1.2');
  });

  it.each([
    ['an unknown key in auth', () => serviceAuthConfigSchema.safeParse({ realm: 'r', realms: 'x' }), 'realms'],
    ['an unknown scheme', () => serviceAuthConfigSchema.safeParse({ realm: 'r', schemes: ['digest'] }), 'schemes'],
    ['a bad origin', () => serviceAuthConfigSchema.safeParse({ realm: 'r', origins: ['app.example.com'] }), 'origins'],
    ['a path in an origin', () => serviceAuthConfigSchema.safeParse({ realm: 'r', origins: ['https://a.test/x'] }), 'origins'],
    ['an unknown module type', () => realmsConfigSchema.safeParse([{ name: 'r', modules: [{ type: 'ldap', options: {} }] }]), 'type'],
    ['an unknown flag', () => realmsConfigSchema.safeParse([{ name: 'r', modules: [{ type: 'file', flag: 'mandatory', options: { path: 'u' } }] }]), 'flag'],
    ['a realm without modules', () => realmsConfigSchema.safeParse([{ name: 'r', modules: [] }]), 'modules'],
    ['a duplicate realm', () => realmsConfigSchema.safeParse([{ name: 'r', modules: [{ type: 'file', options: { path: 'u' } }] }, { name: 'r', modules: [{ type: 'file', options: { path: 'u' } }] }]), 'name'],
    ['unknown file module options', () => realmsConfigSchema.safeParse([{ name: 'r', modules: [{ type: 'file', options: { path: 'u', hash: 'md5' } }] }]), 'options'],
    ['an old TLS version', () => tlsConfigSchema.safeParse({ certificates: [{ cert: 'c', key: 'k' }], minVersion: 'TLSv1' }), 'minVersion'],
    ['a cookie key with two sources', () => cookiesConfigSchema.safeParse({ keys: [{ id: 'a', secret: 'x', secretFile: 'y' }] }), 'keys'],
  ])('refuses %s, naming the key', (_label, run, key) => {
    const r = run();
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues.some((i) => i.path.map(String).includes(key) || (i.code === 'unrecognized_keys' && i.keys.includes(key)))).toBe(true);
  });

  it('createSecurity names what is wrong: unknown realm, missing users file, bad cookie key, cookie scheme without cookies', () => {
    const tmp = tempDir();
    const { log } = captureLogger();
    try {
      expect(() => createSecurity({ realms: [{ name: 'r', modules: [{ type: 'file', options: { path: 'missing.yaml' } }] }] }, log, { baseDir: tmp.dir })).toThrow(
        /realms\[0\]\.modules\[0\] \(file#0\): .*missing\.yaml/,
      );
      expect(() => createSecurity({ cookies: { keys: [{ id: 'k', secret: 'c2hvcnQ=' }] } }, log)).toThrow('cookie key k: expected 32 bytes');
      const s = createSecurity({ realms: [{ name: 'r', modules: [{ type: 'custom', module: './examples/login-module/api-key-module.ts', options: {} }] }] }, log, { baseDir: join(__dirname, '../..') });
      expect(() => s.guardFor({ realm: 'nope' }, 'svc')).toThrow('service svc: auth.realm nope is not defined under realms:');
      expect(() => s.guardFor({ realm: 'r', schemes: ['cookie'] }, 'svc')).toThrow('the cookie scheme needs a top-level cookies: section');
      expect(s.guardFor({ realm: 'r' }, 'svc').realmName).toBe('r');
    } finally {
      tmp.cleanup();
    }
  });
});

describe('error catalogue', () => {
  it('documents every code in security/README.md with its status and close code', () => {
    const specs: SecurityErrorSpec[] = Object.values(SECURITY_ERRORS);
    for (const spec of specs) {
      const row = README.split('\n').find((l) => l.startsWith(`| \`${spec.code}\` |`));
      expect([spec.code, row !== undefined]).toEqual([spec.code, true]);
      const cells = (row ?? '').split('|').map((c) => c.trim());
      expect([spec.code, cells[2], cells[3]]).toEqual([spec.code, spec.status === undefined ? '' : String(spec.status), spec.close === undefined ? '' : String(spec.close)]);
    }
  });

  it('uses GW_ERR_ codes, unique, with 1008 for session ends', () => {
    const codes = Object.values(SECURITY_ERRORS).map((s) => s.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^GW_ERR_[A-Z_]+$/);
    expect(SECURITY_ERRORS.AUTH_EXPIRED.close).toBe(1008);
    expect(SECURITY_ERRORS.SESSION_LIFETIME.close).toBe(1008);
  });

  it('the README example hash is a valid scrypt hash', () => {
    expect(typeof parseScryptHash('$scrypt$N=16384,r=8,p=1$zcd6Ed86Ns7u6cmxj5FTIQ$NUig9NZMN53Z+SFReCY7TI3jh3qGDbAAuDTJMe4S39U')).toBe('object');
  });
});
