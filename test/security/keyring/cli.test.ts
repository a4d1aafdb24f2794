/**
 * The `gangway keyring` functions and the commander command: set from standard input, list, rm,
 * rotate, keygen, and their failures.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import {
  KEYRING_ERRORS,
  keyringCommand,
  keyringKeygen,
  keyringList,
  keyringPropertiesSchema,
  keyringRemove,
  keyringRotate,
  keyringSet,
  propertiesFromFlags,
  readSecret,
  type KeyringProperties,
} from '../../../security/keyring';
import { FAST_SCRYPT, openFileKeyring, sink, tempDir, writeKeyFile } from './helpers';

const PASSWORD = 'cli-password-5e6f7a';

describe('keyring CLI', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const propsFor = (keyFile: string): KeyringProperties => keyringPropertiesSchema.parse({ file: join(tmp.dir, 'keyring.json'), masterKey: { file: keyFile } });

  it('set reads the secret from standard input; list prints names; rm removes', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    const properties = propsFor(key.path);
    const out = sink();
    await keyringSet({ properties, user: 'alice', service: 'rabbitmq', secret: 'password', username: 'alice-mq', input: Readable.from([Buffer.from(`${PASSWORD}\n`)]) }, out.stream);
    await keyringSet({ properties, user: 'alice', service: 'slack', secret: 'token', input: Readable.from([Buffer.from('cli-token-1\r\n')]) }, out.stream);
    await keyringSet({ properties, user: 'alice', service: 'xmpp', secret: 'json', input: Readable.from([Buffer.from('{"username":"a@localhost","password":"x-pw-123"}')]) }, out.stream);
    expect(out.text()).toContain(`stored the credential of alice for rabbitmq (key id ${key.id})`);

    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
    expect((await keyring.get('alice', 'rabbitmq'))?.credential).toEqual({ username: 'alice-mq', password: PASSWORD });
    expect((await keyring.get('alice', 'slack'))?.credential).toEqual({ token: 'cli-token-1' });
    expect((await keyring.get('alice', 'xmpp'))?.credential).toEqual({ username: 'a@localhost', password: 'x-pw-123' });

    const listed = sink();
    expect(await keyringList({ properties, user: 'alice' }, listed.stream)).toEqual(['rabbitmq', 'slack', 'xmpp']);
    expect(listed.text()).toBe('rabbitmq\nslack\nxmpp\n');

    const removed = sink();
    await keyringRemove({ properties, user: 'alice', service: 'slack' }, removed.stream);
    expect(removed.text()).toBe('removed the credential of alice for slack\n');
    await expect(keyringRemove({ properties, user: 'alice', service: 'slack' }, removed.stream)).rejects.toMatchObject({ code: KEYRING_ERRORS.NOT_FOUND.code });
    expect(out.text() + listed.text() + removed.text()).not.toContain(PASSWORD);
  });

  it('refuses an empty, oversized or terminal standard input, and --password-stdin without --username', async () => {
    await expect(readSecret(Readable.from([Buffer.from('\n')]), 100)).rejects.toMatchObject({ code: KEYRING_ERRORS.INVALID.code, message: expect.stringContaining('empty') });
    await expect(readSecret(Readable.from([Buffer.alloc(200, 0x61)]), 100)).rejects.toMatchObject({ code: KEYRING_ERRORS.LIMIT.code });
    const tty = Object.assign(Readable.from([Buffer.from('x')]), { isTTY: true });
    await expect(readSecret(tty, 100)).rejects.toMatchObject({ code: KEYRING_ERRORS.INVALID.code, message: expect.stringContaining('terminal') });
    const key = writeKeyFile(tmp.dir, 'master.key');
    await expect(keyringSet({ properties: propsFor(key.path), user: 'a', service: 's', secret: 'password', input: Readable.from([Buffer.from('pw')]) }, sink().stream)).rejects.toMatchObject({
      message: '--password-stdin needs --username NAME',
    });
  });

  it('rotate re-encrypts under the new key file and retires the old key; keygen writes a mode-600 key', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const properties = propsFor(oldKey.path);
    await keyringSet({ properties, user: 'bob', service: 'amqp', secret: 'token', input: Readable.from([Buffer.from('tok-bob')]) }, sink().stream);

    const genOut = sink();
    const newId = await keyringKeygen({ file: join(tmp.dir, 'new.key') }, genOut.stream);
    expect(genOut.text()).toBe(`wrote a new master key (key id ${newId}) to ${join(tmp.dir, 'new.key')}\n`);
    expect(statSync(join(tmp.dir, 'new.key')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(join(tmp.dir, 'new.key'), 'utf8').trim(), 'base64')).toHaveLength(32);
    await expect(keyringKeygen({ file: join(tmp.dir, 'new.key') }, genOut.stream)).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_SOURCE.code });

    const out = sink();
    const result = await keyringRotate({ properties, newKey: { file: join(tmp.dir, 'new.key') } }, out.stream);
    expect(result).toEqual({ keyId: newId, reencrypted: 1, retired: [oldKey.id] });
    expect(out.text()).toContain(`rotated to key id ${newId}`);
    expect(out.text()).toContain(`retired key id(s): ${oldKey.id}`);
    const after = await openFileKeyring(tmp.dir, { key: { file: join(tmp.dir, 'new.key') } });
    expect((await after.get('bob', 'amqp'))?.credential).toEqual({ token: 'tok-bob' });
    await expect(keyringList({ properties, user: 'bob' }, sink().stream)).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_RETIRED.code });
  });

  it('rotate resumes a rotation interrupted earlier', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const newKey = writeKeyFile(tmp.dir, 'new.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: oldKey.path } });
    for (let i = 0; i < 4; i++) await keyring.set('u', `s${i}`, { token: `t${i}` });
    const abort = new AbortController();
    await expect(keyring.rotate({ file: newKey.path }, { batchSize: 1, signal: abort.signal, onBatch: () => abort.abort() })).rejects.toMatchObject({ code: KEYRING_ERRORS.ROTATION.code });
    const result = await keyringRotate({ properties: propsFor(oldKey.path), newKey: { file: newKey.path } }, sink().stream);
    expect(result).toEqual({ keyId: newKey.id, reencrypted: 3, retired: [oldKey.id] });
  });

  describe('keyringCommand', () => {
    const run = async (args: string[], stdinText = '', env: NodeJS.ProcessEnv = {}): Promise<{ out: string; err: string; failures: number[] }> => {
      const out = sink();
      const err = sink();
      const failures: number[] = [];
      const program = new Command().exitOverride();
      program.addCommand(keyringCommand({ stdin: Readable.from([Buffer.from(stdinText)]), stdout: out.stream, stderr: err.stream, env, onFailure: (c) => failures.push(c) }));
      await program.parseAsync(['keyring', ...args], { from: 'user' });
      return { out: out.text(), err: err.text(), failures };
    };

    it('runs set, list, rm and rotate from parsed arguments; the secret never comes from them', async () => {
      const key = writeKeyFile(tmp.dir, 'master.key');
      const file = join(tmp.dir, 'keyring.json');
      const store = ['--file', file, '--key-file', key.path];
      const set = await run(['set', 'alice', 'rabbitmq', '--password-stdin', '--username', 'alice', ...store], `${PASSWORD}\n`);
      expect(set).toEqual({ out: `stored the credential of alice for rabbitmq (key id ${key.id})\n`, err: '', failures: [] });
      expect((await run(['list', 'alice', ...store])).out).toBe('rabbitmq\n');
      const newKey = writeKeyFile(tmp.dir, 'new.key');
      const rotated = await run(['rotate', '--new-key-file', newKey.path, ...store]);
      expect(rotated.out).toContain(`rotated to key id ${newKey.id}`);
      const rm = await run(['rm', 'alice', 'rabbitmq', '--file', file, '--key-file', newKey.path]);
      expect(rm.out).toBe('removed the credential of alice for rabbitmq\n');
      const missing = await run(['rm', 'alice', 'rabbitmq', '--file', file, '--key-file', newKey.path]);
      expect(missing.failures).toEqual([1]);
      expect(missing.err).toBe(`gangway keyring: alice stores no credential for rabbitmq (${KEYRING_ERRORS.NOT_FOUND.code})\n`);
    });

    it('uses the passphrase in GANGWAY_KEYRING_PASSPHRASE by default, and reports failures on stderr', async () => {
      const file = join(tmp.dir, 'keyring.json');
      const env = { GANGWAY_KEYRING_PASSPHRASE: 'the default passphrase' };
      // Fast scrypt for the test: create the keyring first with the low cost, the CLI reuses the stored cost.
      await openFileKeyring(tmp.dir, { key: { passphraseEnv: 'GANGWAY_KEYRING_PASSPHRASE' }, env, scrypt: FAST_SCRYPT });
      const set = await run(['set', 'bob', 'irc', '--token-stdin', '--file', file], 'irc-token-1', env);
      expect(set.failures).toEqual([]);
      expect((await run(['list', 'bob', '--file', file], '', env)).out).toBe('irc\n');
      const wrong = await run(['list', 'bob', '--file', file], '', { GANGWAY_KEYRING_PASSPHRASE: 'not the passphrase' });
      expect(wrong.failures).toEqual([1]);
      expect(wrong.err).toContain(KEYRING_ERRORS.WRONG_KEY.code);
      const none = await run(['set', 'bob', 'irc', '--file', file], 'x', env);
      expect(none.err).toContain('give exactly one of --password-stdin, --token-stdin and --json-stdin');
    });

    it('builds properties from flags', () => {
      expect(propertiesFromFlags({}, {}).masterKey).toEqual({ passphraseEnv: 'GANGWAY_KEYRING_PASSPHRASE' });
      expect(propertiesFromFlags({}, { GANGWAY_KEYRING_KEY: 'x' }).masterKey).toEqual({ env: 'GANGWAY_KEYRING_KEY' });
      expect(propertiesFromFlags({ store: 'redis' }, { GANGWAY_KEYRING_REDIS_URL: 'redis://h:1/0' })).toMatchObject({ store: 'redis', redisUrl: 'redis://h:1/0' });
      expect(() => propertiesFromFlags({ store: 'redis' }, {})).toThrow('redisUrl: store "redis" needs redisUrl');
      expect(() => propertiesFromFlags({ keyFile: 'a', keyEnv: 'B' }, {})).toThrow('give one of');
    });
  });
});
