import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSecurity, loadCustomModule, Realm } from '../../security';
import { captureLogger, tempDir } from './support';

const EXAMPLE = resolve(__dirname, '../../examples/login-module/api-key-module.ts');
const KEY = 'feed-bot-api-key-7c1e';
const digest = createHash('sha256').update(KEY).digest('hex');

describe('custom login modules', () => {
  it('loads the example API key module by path and authenticates with the header', async () => {
    const create = loadCustomModule({ module: EXAMPLE }, process.cwd());
    const realm = new Realm(
      'machines',
      [{ name: 'api-key', flag: 'sufficient', options: { header: 'X-Api-Key', keys: { [digest]: { user: 'feed-bot', roles: ['publisher'] } } }, create }],
      captureLogger().log,
    );
    const base = { realm: 'machines', credentials: { scheme: 'none' as const }, remoteAddress: '127.0.0.1' };
    const ok = await realm.login({ ...base, headers: { 'x-api-key': KEY } });
    if (!ok.ok) throw new Error('expected success');
    expect(ok.subject.user).toBe('feed-bot');
    expect([...ok.subject.roles]).toEqual(['publisher']);
    expect(ok.subject.claims.authenticatedBy).toBe('api-key');
    const bad = await realm.login({ ...base, headers: { 'x-api-key': 'wrong' } });
    expect(bad.ok).toBe(false);
    expect(bad.trace[0].login).toBe('failure');
    const none = await realm.login({ ...base, headers: {} });
    expect(none.trace[0].login).toBe('ignore');
  });

  it('loads it through createSecurity with a path relative to the configuration directory', async () => {
    const { log } = captureLogger();
    const security = createSecurity(
      { realms: [{ name: 'machines', modules: [{ type: 'custom', module: './examples/login-module/api-key-module.ts', options: { keys: { [digest]: { user: 'feed-bot' } } } }] }] },
      log,
      { baseDir: resolve(__dirname, '../..') },
    );
    const realm = security.realms.get('machines');
    const r = await realm?.login({ realm: 'machines', credentials: { scheme: 'none' }, remoteAddress: '::1', headers: { 'x-api-key': KEY } });
    expect(r?.ok).toBe(true);
    security.close();
  });

  it('accepts factory exports and named exports, and refuses what is not a LoginModule', () => {
    const tmp = tempDir();
    try {
      const factory = join(tmp.dir, 'factory.js');
      writeFileSync(
        factory,
        `module.exports.createLoginModule = () => ({ async login() { return true; }, commit(s) { s.setUser('f'); }, abort() {}, logout() {} });\n` +
          `module.exports.Broken = class { login() {} };\nmodule.exports.notAFunction = 42;\n`,
      );
      expect(typeof loadCustomModule({ module: factory }, tmp.dir)().login).toBe('function');
      expect(() => loadCustomModule({ module: './factory.js', export: 'Broken' }, tmp.dir)).toThrow('does not implement LoginModule');
      expect(() => loadCustomModule({ module: './factory.js', export: 'notAFunction' }, tmp.dir)).toThrow('to be a LoginModule class or factory, got number');
      expect(() => loadCustomModule({ module: './missing.js' }, tmp.dir)).toThrow();
    } finally {
      tmp.cleanup();
    }
  });

  it('reports a plugin whose initialize rejects its options as an error of the chain', async () => {
    const create = loadCustomModule({ module: EXAMPLE }, process.cwd());
    const { log, lines } = captureLogger();
    const realm = new Realm('m', [{ name: 'api-key', flag: 'required', options: { keys: { 'not-a-digest': { user: 'x' } } }, create }], log);
    const r = await realm.login({ realm: 'm', credentials: { scheme: 'none' }, remoteAddress: '::1', headers: { 'x-api-key': KEY } });
    expect(r.ok).toBe(false);
    expect(r.trace[0].login).toBe('error');
    expect(lines.some((l) => l.includes('is not a SHA-256 hex digest'))).toBe(true);
  });
});
