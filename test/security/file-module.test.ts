import nodeCrypto = require('node:crypto');
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashPassword, parseScryptHash, verifyPassword, parseUsersFile, UsersStore, FileLoginModule, Subject } from '../../security';
import { captureLogger, tempDir } from './support';

const FAST = { N: 1024, r: 8, p: 1 };

describe('scrypt password hashes', () => {
  it('hashes into the $scrypt$ PHC-like form and verifies', async () => {
    const h = await hashPassword('s3cret pässword', FAST);
    expect(h).toMatch(/^\$scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const parsed = parseScryptHash(h);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(await verifyPassword('s3cret pässword', parsed)).toBe(true);
    expect(await verifyPassword('s3cret passwort', parsed)).toBe(false);
  });

  it('uses a fresh salt each time', async () => {
    expect(await hashPassword('x', FAST)).not.toBe(await hashPassword('x', FAST));
  });

  it.each([
    ['$bcrypt$N=1024,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'expected $scrypt$'],
    ['$scrypt$N=1000,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'power of two'],
    ['$scrypt$N=4194304,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'power of two up to'],
    ['$scrypt$N=1024,r=99,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'r must be'],
    ['$scrypt$N=1024,r=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'expected N, r and p'],
    ['$scrypt$N=1024,r=8,p=1$c2Fs$aGFzaGhhc2hoYXNoaGFzaA', 'salt must be at least'],
    ['$scrypt$N=1024,r=8,p=1$c2FsdHNhbHQ$!!', 'base64'],
  ])('refuses %s', (text, message) => {
    expect(parseScryptHash(text)).toEqual(expect.stringContaining(message));
  });
});

describe('file login module', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  async function yamlUsers(users: Record<string, { password: string; roles?: string[] }>): Promise<string> {
    const lines = ['users:'];
    for (const [name, u] of Object.entries(users)) {
      lines.push(`  ${name}:`, `    password: "${await hashPassword(u.password, FAST)}"`, `    roles: [${(u.roles ?? []).join(', ')}]`);
    }
    return `${lines.join('\n')}\n`;
  }

  const req = (username: string, password: string) => ({
    realm: 'r',
    credentials: { scheme: 'basic' as const, username, password },
    remoteAddress: '127.0.0.1',
    headers: {},
  });

  async function attempt(store: UsersStore, username: string, password: string): Promise<{ outcome: boolean | 'ignore'; subject: Subject }> {
    const m = new FileLoginModule(store);
    const outcome = await m.login(req(username, password));
    const subject = new Subject('r');
    m.commit(subject);
    return { outcome, subject };
  }

  it('accepts a right password with the user roles, refuses a wrong one and an unknown user (YAML)', async () => {
    const path = join(tmp.dir, 'users.yaml');
    writeFileSync(path, await yamlUsers({ alice: { password: 'wonderland', roles: ['trader', 'admin'] } }));
    const store = new UsersStore(path, captureLogger().log);
    const ok = await attempt(store, 'alice', 'wonderland');
    expect(ok.outcome).toBe(true);
    expect(ok.subject.user).toBe('alice');
    expect([...ok.subject.roles]).toEqual(['trader', 'admin']);
    const wrong = await attempt(store, 'alice', 'Wonderland');
    expect(wrong.outcome).toBe(false);
    expect(wrong.subject.user).toBeUndefined();
    expect((await attempt(store, 'bob', 'wonderland')).outcome).toBe(false);
  });

  it('reads JSON users files', async () => {
    const path = join(tmp.dir, 'users.json');
    writeFileSync(path, JSON.stringify({ users: { carol: { password: await hashPassword('pw-carol', FAST), roles: ['ops'] } } }));
    const store = new UsersStore(path, captureLogger().log);
    const r = await attempt(store, 'carol', 'pw-carol');
    expect(r.outcome).toBe(true);
    expect([...r.subject.roles]).toEqual(['ops']);
  });

  it('ignores schemes other than Basic', async () => {
    const path = join(tmp.dir, 'users.yaml');
    writeFileSync(path, await yamlUsers({ alice: { password: 'pw' } }));
    const m = new FileLoginModule(new UsersStore(path, captureLogger().log));
    expect(await m.login({ realm: 'r', credentials: { scheme: 'bearer', token: 'abc' }, remoteAddress: '::1', headers: {} })).toBe('ignore');
    expect(await m.login({ realm: 'r', credentials: { scheme: 'none' }, remoteAddress: '::1', headers: {} })).toBe('ignore');
  });

  it('reloads the users file when it changes (edit in place and atomic rename)', async () => {
    const path = join(tmp.dir, 'users.yaml');
    writeFileSync(path, await yamlUsers({ alice: { password: 'old-password' } }));
    const { log, lines } = captureLogger();
    const store = new UsersStore(path, log);
    expect((await attempt(store, 'alice', 'old-password')).outcome).toBe(true);

    writeFileSync(path, await yamlUsers({ alice: { password: 'new-password', roles: ['reader'] }, dave: { password: 'dave-pw' } }));
    const after = await attempt(store, 'alice', 'new-password');
    expect(after.outcome).toBe(true);
    expect([...after.subject.roles]).toEqual(['reader']);
    expect((await attempt(store, 'alice', 'old-password')).outcome).toBe(false);
    expect((await attempt(store, 'dave', 'dave-pw')).outcome).toBe(true);

    const next = join(tmp.dir, 'users.next.yaml');
    writeFileSync(next, await yamlUsers({ erin: { password: 'erin-pw' } }));
    renameSync(next, path);
    expect((await attempt(store, 'erin', 'erin-pw')).outcome).toBe(true);
    expect((await attempt(store, 'dave', 'dave-pw')).outcome).toBe(false);
    expect(lines.some((l) => l.includes('"event":"file.reloaded"'))).toBe(true);
  });

  it('keeps the previous users when the file becomes invalid, and says so', async () => {
    const path = join(tmp.dir, 'users.yaml');
    writeFileSync(path, await yamlUsers({ alice: { password: 'pw-a' } }));
    const { log, lines } = captureLogger();
    const store = new UsersStore(path, log);
    writeFileSync(path, 'users:\n  alice:\n    password: "plain text, not a hash"\n');
    expect((await attempt(store, 'alice', 'pw-a')).outcome).toBe(true);
    const warn = lines.find((l) => l.includes('"event":"file.invalid"'));
    expect(warn).toContain('users.alice.password');
    expect(warn).not.toContain('plain text');
  });

  it('refuses an invalid users file at start, naming the file and the key', () => {
    const path = join(tmp.dir, 'users.yaml');
    writeFileSync(path, 'users:\n  alice:\n    password: "$scrypt$N=3,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"\n');
    expect(() => new UsersStore(path, captureLogger().log)).toThrow(`${path}: users.alice.password: N must be a power of two`);
    writeFileSync(path, 'users:\n  alice:\n    password: x\n    groups: [a]\n');
    expect(() => parseUsersFile(Buffer.from('users:\n  alice:\n    password: x\n    groups: [a]\n'), path)).toThrow(/users\.alice/);
  });

  it('spends the same scrypt work on an unknown user as on a wrong password', async () => {
    const path = join(tmp.dir, 'users.yaml');
    // Default cost, as the dummy hash uses, so both paths run one full scrypt.
    writeFileSync(path, `users:\n  alice:\n    password: "${await hashPassword('right')}"\n`);
    const store = new UsersStore(path, captureLogger().log);
    await store.check('alice', 'warm-up');
    const spy = jest.spyOn(nodeCrypto, 'scrypt');
    try {
      await store.check('alice', 'wrong');
      const wrong = spy.mock.calls.map((c) => [c[2], c[3]]);
      spy.mockClear();
      await store.check('nobody', 'wrong');
      const unknown = spy.mock.calls.map((c) => [c[2], c[3]]);
      expect(wrong).toHaveLength(1);
      expect(unknown).toEqual(wrong);
    } finally {
      spy.mockRestore();
    }
  });
});
