/**
 * The configuration schemas (service properties, credential injection), credential injection, and
 * the error catalogue being documented.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentialsInjectionSchema, KEYRING_DEFAULTS, KEYRING_ERRORS, keyringPropertiesSchema, resolveInjectedCredential } from '../../../security/keyring';
import { openFileKeyring, tempDir, writeKeyFile } from './helpers';

describe('keyring configuration', () => {
  it('fills the defaults of the service properties', () => {
    expect(keyringPropertiesSchema.parse({})).toEqual({
      store: 'file',
      file: KEYRING_DEFAULTS.file,
      redisPrefix: KEYRING_DEFAULTS.redisPrefix,
      masterKey: { passphraseEnv: KEYRING_DEFAULTS.passphraseEnv },
      previousKeys: [],
      maxRecordsPerUser: KEYRING_DEFAULTS.maxRecordsPerUser,
      maxCredentialBytes: KEYRING_DEFAULTS.maxCredentialBytes,
      maxBodyBytes: KEYRING_DEFAULTS.maxBodyBytes,
    });
  });

  it('refuses unknown keys, a redis store without URL and malformed key sources, naming the key', () => {
    const issues = (v: unknown) => {
      const r = keyringPropertiesSchema.safeParse(v);
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(issues({ store: 'redis' })).toEqual(['redisUrl']);
    expect(issues({ store: 'redis', redisUrl: 'http://x' })).toEqual(['redisUrl']);
    expect(issues({ masterKey: { file: 'k', env: 'X' } })).toEqual(['masterKey']);
    expect(issues({ masterKey: { env: 'not a name' } })).toEqual(['masterKey.env']);
    expect(issues({ stores: 'file' })).toEqual(['']);
    expect(issues({ store: 'redis', redisUrl: 'redis://127.0.0.1:6379/0', masterKey: { env: 'K' }, previousKeys: [{ file: 'old.key' }] })).toEqual([]);
  });

  it('validates injection settings', () => {
    expect(credentialsInjectionSchema.parse({ source: 'keyring' })).toEqual({ source: 'keyring' });
    expect(credentialsInjectionSchema.parse({ source: 'keyring', service: 'rabbitmq' })).toEqual({ source: 'keyring', service: 'rabbitmq' });
    expect(credentialsInjectionSchema.safeParse({ source: 'keyring', password: 'x' }).success).toBe(false);
    expect(credentialsInjectionSchema.safeParse({ source: 'service', username: 'u', password: 'p' }).success).toBe(true);
    expect(credentialsInjectionSchema.safeParse({ source: 'service', password: 'p', passwordEnv: 'P' }).success).toBe(false);
    expect(credentialsInjectionSchema.safeParse({ source: 'service' }).success).toBe(false);
    expect(credentialsInjectionSchema.safeParse({ source: 'elsewhere' }).success).toBe(false);
  });

  it('resolves the credential to inject from the keyring or the service', async () => {
    const tmp = tempDir();
    try {
      const key = writeKeyFile(tmp.dir, 'k.key');
      const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
      await keyring.set('alice', 'rabbitmq', { username: 'alice-mq', password: 'alice-pw-1' });
      const fromKeyring = credentialsInjectionSchema.parse({ source: 'keyring' });
      expect(await resolveInjectedCredential(fromKeyring, { keyring, user: 'alice', serviceName: 'rabbitmq' })).toEqual({ username: 'alice-mq', password: 'alice-pw-1' });
      expect(await resolveInjectedCredential(fromKeyring, { keyring, user: 'bob', serviceName: 'rabbitmq' })).toBeNull();
      expect(await resolveInjectedCredential(fromKeyring, { keyring, user: null, serviceName: 'rabbitmq' })).toBeNull();
      const named = credentialsInjectionSchema.parse({ source: 'keyring', service: 'rabbitmq' });
      expect(await resolveInjectedCredential(named, { keyring, user: 'alice', serviceName: 'stomp-proxy' })).toEqual({ username: 'alice-mq', password: 'alice-pw-1' });
      const fromFile = credentialsInjectionSchema.parse({ source: 'service', username: 'svc', passwordFile: 'svc.pw' });
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(tmp.dir, 'svc.pw'), 'svc-pw-2\n');
      expect(await resolveInjectedCredential(fromFile, { keyring: null, user: null, serviceName: 'x', baseDir: tmp.dir })).toEqual({ username: 'svc', password: 'svc-pw-2' });
      await expect(resolveInjectedCredential(fromKeyring, { keyring: null, user: 'alice', serviceName: 'x' })).rejects.toMatchObject({ code: KEYRING_ERRORS.STORE.code });
    } finally {
      tmp.cleanup();
    }
  });

  it('documents every error code and every default in the README', () => {
    const readme = readFileSync(join(__dirname, '../../../security/keyring/README.md'), 'utf8');
    for (const spec of Object.values(KEYRING_ERRORS)) expect(readme).toContain(spec.code);
    for (const name of Object.keys(KEYRING_DEFAULTS)) expect(readme).toContain(`\`${name}\``);
  });
});
