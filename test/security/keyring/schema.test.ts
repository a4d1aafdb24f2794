/**
 * The configuration schemas (service properties, credential injection), credential injection, and
 * the error catalogue being documented.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYRING_DEFAULTS, KEYRING_ERRORS, keyringPropertiesSchema } from '../../../security/keyring';

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

  it('documents every error code and every default in the README', () => {
    const readme = readFileSync(join(__dirname, '../../../security/keyring/README.md'), 'utf8');
    for (const spec of Object.values(KEYRING_ERRORS)) expect(readme).toContain(spec.code);
    for (const name of Object.keys(KEYRING_DEFAULTS)) expect(readme).toContain(`\`${name}\``);
  });
});
