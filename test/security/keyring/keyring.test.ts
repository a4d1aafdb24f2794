/**
 * The keyring on the file store: round-trips, key sources, wrong keys, every kind of tampering,
 * limits and validation.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { FileKeyringStore, Keyring, KeyringError, KEYRING_ERRORS, MasterKey, type StoredRecord } from '../../../security/keyring';
import { FAST_SCRYPT, openFileKeyring, tempDir, writeKeyFile } from './helpers';

const PASSWORD = 'rabbit-password-0f9e8d';
const TOKEN = 'xoxb-token-7a6b5c4d';

interface FileDoc {
  format: string;
  version: number;
  meta: unknown;
  records: StoredRecord[];
}

describe('Keyring on the file store', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const storePath = () => join(tmp.dir, 'keyring.json');
  const readDoc = (): FileDoc => JSON.parse(readFileSync(storePath(), 'utf8')) as FileDoc;
  const writeDoc = (doc: FileDoc) => writeFileSync(storePath(), JSON.stringify(doc));
  const mutateRecord = (user: string, service: string, change: (r: StoredRecord) => StoredRecord) => {
    const doc = readDoc();
    doc.records = doc.records.map((r) => (r.user === user && r.service === service ? change(r) : r));
    writeDoc(doc);
  };
  const flipBase64 = (b64: string, index = 0): string => {
    const bytes = Buffer.from(b64, 'base64');
    bytes[index] ^= 0x01;
    return bytes.toString('base64');
  };

  it('stores, reads, lists, updates and deletes credentials', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    let t = Date.parse('2025-01-01T00:00:00Z');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path }, now: () => new Date(t) });
    await keyring.set('alice', 'rabbitmq', { username: 'alice-mq', password: PASSWORD });
    await keyring.set('alice', 'slack', { token: TOKEN });
    await keyring.set('bob', 'rabbitmq', { username: 'bob-mq', password: 'bob-secret-123' });

    const entry = await keyring.get('alice', 'rabbitmq');
    expect(entry).toMatchObject({ user: 'alice', service: 'rabbitmq', credential: { username: 'alice-mq', password: PASSWORD }, keyId: key.id });
    expect(entry?.createdAt).toBe('2025-01-01T00:00:00.000Z');
    expect((await keyring.get('alice', 'slack'))?.credential).toEqual({ token: TOKEN });
    expect(await keyring.list('alice')).toEqual(['rabbitmq', 'slack']);
    expect(await keyring.list('carol')).toEqual([]);
    expect(await keyring.get('carol', 'rabbitmq')).toBeNull();

    t += 60_000;
    await keyring.set('alice', 'rabbitmq', { username: 'alice-mq', password: 'changed-password-1' });
    const updated = await keyring.get('alice', 'rabbitmq');
    expect(updated?.credential).toEqual({ username: 'alice-mq', password: 'changed-password-1' });
    expect(updated?.createdAt).toBe('2025-01-01T00:00:00.000Z');
    expect(updated?.updatedAt).toBe('2025-01-01T00:01:00.000Z');

    expect(await keyring.delete('alice', 'slack')).toBe(true);
    expect(await keyring.delete('alice', 'slack')).toBe(false);
    expect(await keyring.list('alice')).toEqual(['rabbitmq']);

    // The file holds ciphertext only, and a second keyring on it reads the same.
    const text = readFileSync(storePath(), 'utf8');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('changed-password-1');
    expect(text).not.toContain('alice-mq');
    const again = await openFileKeyring(tmp.dir, { key: { file: key.path } });
    expect((await again.get('bob', 'rabbitmq'))?.credential).toEqual({ username: 'bob-mq', password: 'bob-secret-123' });
  });

  it('uses a fresh nonce for every record, even for the same credential', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
    await keyring.set('alice', 'a', { token: TOKEN });
    await keyring.set('alice', 'b', { token: TOKEN });
    const [a, b] = readDoc().records;
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.ct).not.toBe(b.ct);
    expect(Buffer.from(a.nonce, 'base64')).toHaveLength(12);
    expect(Buffer.from(a.tag, 'base64')).toHaveLength(16);
    expect(a.kid).toBe(key.id);
  });

  it('loads keys from a raw file, a base64 file and an environment variable; the same bytes give the same key id', async () => {
    const raw = writeKeyFile(tmp.dir, 'raw.key', 'raw');
    const k1 = await openFileKeyring(tmp.dir, { key: { file: raw.path } }, 'a.json');
    await k1.set('alice', 'x', { token: TOKEN });
    const env = { KR_KEY: raw.bytes.toString('base64') };
    const k2 = await openFileKeyring(tmp.dir, { key: { env: 'KR_KEY' }, env }, 'a.json');
    expect(k2.primaryKeyId).toBe(raw.id);
    expect((await k2.get('alice', 'x'))?.credential).toEqual({ token: TOKEN });
    writeFileSync(join(tmp.dir, 'b64.key'), raw.bytes.toString('base64'));
    const k3 = await openFileKeyring(tmp.dir, { key: { file: 'b64.key' }, baseDir: tmp.dir }, 'a.json');
    expect((await k3.get('alice', 'x'))?.credential).toEqual({ token: TOKEN });
  });

  it('refuses key sources that are missing or the wrong length, naming the source but not its content', async () => {
    writeFileSync(join(tmp.dir, 'short.key'), 'c2hvcnQta2V5');
    const missing = openFileKeyring(tmp.dir, { key: { file: join(tmp.dir, 'nope.key') } });
    await expect(missing).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_SOURCE.code, message: expect.stringContaining('nope.key') });
    const short = openFileKeyring(tmp.dir, { key: { file: join(tmp.dir, 'short.key') } });
    await expect(short).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_SOURCE.code, message: expect.stringContaining('expected 32 raw bytes or their base64') });
    await expect(short).rejects.not.toMatchObject({ message: expect.stringContaining('c2hvcnQta2V5') });
    await expect(openFileKeyring(tmp.dir, { key: { env: 'NOT_SET_ANYWHERE' }, env: {} })).rejects.toMatchObject({
      code: KEYRING_ERRORS.KEY_SOURCE.code,
      message: 'environment variable NOT_SET_ANYWHERE is not set',
    });
  });

  it('derives a key from a passphrase with a stored random salt and the stored scrypt cost', async () => {
    const env = { PASS: 'correct horse battery staple' };
    const k1 = await openFileKeyring(tmp.dir, { key: { passphraseEnv: 'PASS' }, env });
    await k1.set('alice', 'x', { username: 'a', password: PASSWORD });
    const meta = readDoc().meta as { kdf: { name: string; salt: string; N: number; r: number; p: number } };
    expect(meta.kdf).toMatchObject({ name: 'scrypt', N: FAST_SCRYPT.N, r: 8, p: 1 });
    expect(Buffer.from(meta.kdf.salt, 'base64')).toHaveLength(16);
    // Reopening uses the stored salt and cost, whatever the options say.
    const k2 = await Keyring.open({ store: new FileKeyringStore({ path: storePath() }), key: { passphraseEnv: 'PASS' }, env });
    expect((await k2.get('alice', 'x'))?.credential).toEqual({ username: 'a', password: PASSWORD });
    // Another keyring, same passphrase: another salt, another key.
    const k3 = await openFileKeyring(tmp.dir, { key: { passphraseEnv: 'PASS' }, env }, 'other.json');
    expect(k3.primaryKeyId).not.toBe(k1.primaryKeyId);
    // A wrong passphrase is a wrong key.
    await expect(openFileKeyring(tmp.dir, { key: { passphraseEnv: 'PASS' }, env: { PASS: 'incorrect horse battery' } })).rejects.toMatchObject({
      code: KEYRING_ERRORS.WRONG_KEY.code,
    });
    await expect(openFileKeyring(tmp.dir, { key: { passphraseEnv: 'PASS' }, env: { PASS: 'short' } }, 'new.json')).rejects.toMatchObject({
      code: KEYRING_ERRORS.KEY_SOURCE.code,
      message: expect.stringContaining('at least 12 characters'),
    });
  });

  it('refuses a wrong master key at open, naming both key ids', async () => {
    const right = writeKeyFile(tmp.dir, 'right.key');
    const wrong = writeKeyFile(tmp.dir, 'wrong.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: right.path } });
    await keyring.set('alice', 'x', { token: TOKEN });
    const err = await openFileKeyring(tmp.dir, { key: { file: wrong.path } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyringError);
    expect(err).toMatchObject({ code: 'GW_ERR_KEYRING_WRONG_KEY', message: expect.stringContaining(`key id ${right.id}`) });
    expect((err as Error).message).toContain(`key id ${wrong.id}`);
  });

  it('refuses a record under a key id that was not loaded', async () => {
    const right = writeKeyFile(tmp.dir, 'right.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: right.path } });
    await keyring.set('alice', 'x', { token: TOKEN });
    mutateRecord('alice', 'x', (r) => ({ ...r, kid: '0123456789abcdef' }));
    await expect(keyring.get('alice', 'x')).rejects.toMatchObject({ code: 'GW_ERR_KEYRING_KEY_UNKNOWN', message: expect.stringContaining('key id 0123456789abcdef') });
  });

  describe('tampering', () => {
    let keyring: Keyring;
    beforeEach(async () => {
      const key = writeKeyFile(tmp.dir, 'master.key');
      keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
      await keyring.set('alice', 'rabbitmq', { username: 'alice', password: PASSWORD });
      await keyring.set('bob', 'rabbitmq', { username: 'bob', password: 'bob-secret-123' });
    });
    const authFailure = { code: KEYRING_ERRORS.TAMPERED.code, message: expect.stringContaining('record alice/rabbitmq') };

    it('refuses an altered ciphertext', async () => {
      mutateRecord('alice', 'rabbitmq', (r) => ({ ...r, ct: flipBase64(r.ct, 3) }));
      await expect(keyring.get('alice', 'rabbitmq')).rejects.toMatchObject({ ...authFailure, message: expect.stringContaining('failed authentication') });
    });

    it('refuses an altered nonce', async () => {
      mutateRecord('alice', 'rabbitmq', (r) => ({ ...r, nonce: flipBase64(r.nonce, 11) }));
      await expect(keyring.get('alice', 'rabbitmq')).rejects.toMatchObject({ ...authFailure, message: expect.stringContaining('failed authentication') });
    });

    it('refuses an altered tag', async () => {
      mutateRecord('alice', 'rabbitmq', (r) => ({ ...r, tag: flipBase64(r.tag, 15) }));
      await expect(keyring.get('alice', 'rabbitmq')).rejects.toMatchObject({ ...authFailure, message: expect.stringContaining('failed authentication') });
    });

    it('refuses altered metadata (timestamps are authenticated too)', async () => {
      mutateRecord('alice', 'rabbitmq', (r) => ({ ...r, createdAt: '1999-01-01T00:00:00.000Z' }));
      await expect(keyring.get('alice', 'rabbitmq')).rejects.toMatchObject({ ...authFailure, message: expect.stringContaining('failed authentication') });
    });

    it("refuses bob's record moved to alice", async () => {
      const doc = readDoc();
      const bobs = doc.records.find((r) => r.user === 'bob') as StoredRecord;
      doc.records = [...doc.records.filter((r) => r.user !== 'alice'), { ...bobs, user: 'alice' }];
      writeDoc(doc);
      await expect(keyring.get('alice', 'rabbitmq')).rejects.toMatchObject({ ...authFailure, message: expect.stringContaining('moved from another user or service') });
    });

    it('refuses a record moved to another service', async () => {
      const doc = readDoc();
      const alices = doc.records.find((r) => r.user === 'alice') as StoredRecord;
      doc.records = [...doc.records, { ...alices, service: 'activemq' }];
      writeDoc(doc);
      await expect(keyring.get('alice', 'activemq')).rejects.toMatchObject({ code: KEYRING_ERRORS.TAMPERED.code, message: expect.stringContaining('record alice/activemq') });
    });

    it('refuses a truncated nonce or tag as malformed', async () => {
      mutateRecord('alice', 'rabbitmq', (r) => ({ ...r, nonce: Buffer.from(r.nonce, 'base64').subarray(0, 8).toString('base64') }));
      await expect(keyring.get('bob', 'rabbitmq')).rejects.toMatchObject({ code: KEYRING_ERRORS.MALFORMED.code, message: expect.stringContaining('nonce: expected base64 of 12 bytes') });
      mutateRecord('alice', 'rabbitmq', (r) => ({ ...r, nonce: Buffer.alloc(12).toString('base64'), tag: 'AAAA' }));
      await expect(keyring.get('alice', 'rabbitmq')).rejects.toMatchObject({ code: KEYRING_ERRORS.MALFORMED.code, message: expect.stringContaining('tag: expected base64 of 16 bytes') });
    });

    it('refuses a store file that is not JSON', async () => {
      writeFileSync(storePath(), '{"format":"gangway-keyring", broken');
      await expect(keyring.list('alice')).rejects.toMatchObject({ code: KEYRING_ERRORS.MALFORMED.code, message: expect.stringContaining('not valid JSON') });
    });
  });

  it('enforces the per-user record limit and the credential size limit', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path }, limits: { maxRecordsPerUser: 2, maxCredentialBytes: 64 } });
    await keyring.set('alice', 'a', { token: 't1' });
    await keyring.set('alice', 'b', { token: 't2' });
    await expect(keyring.set('alice', 'c', { token: 't3' })).rejects.toMatchObject({ code: KEYRING_ERRORS.LIMIT.code, message: expect.stringContaining('already stores 2') });
    await keyring.set('alice', 'b', { token: 't2-replaced' });
    await keyring.set('bob', 'c', { token: 't3' });
    await expect(keyring.set('bob', 'd', { token: 'x'.repeat(100) })).rejects.toMatchObject({ code: KEYRING_ERRORS.LIMIT.code, message: expect.stringContaining('at most 64') });
    expect(await keyring.list('alice')).toEqual(['a', 'b']);
  });

  it('validates user names, service names and credentials', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
    await expect(keyring.set('', 'a', { token: 't' })).rejects.toMatchObject({ code: KEYRING_ERRORS.INVALID.code });
    await expect(keyring.set('al\nice', 'a', { token: 't' })).rejects.toMatchObject({ code: KEYRING_ERRORS.INVALID.code });
    await expect(keyring.set('alice', '../etc', { token: 't' })).rejects.toMatchObject({ code: KEYRING_ERRORS.INVALID.code, message: expect.stringContaining('service name') });
    const bad = { token: 't', password: 'p' } as unknown as { token: string };
    await expect(keyring.set('alice', 'a', bad)).rejects.toMatchObject({ code: KEYRING_ERRORS.INVALID.code, message: expect.stringContaining('{"token"}') });
    // Names that are property names in plain objects are ordinary names here.
    await keyring.set('__proto__', 'constructor', { token: 't' });
    expect(await keyring.list('__proto__')).toEqual(['constructor']);
  });

  it('shows key objects by id only', () => {
    const bytes = MasterKey.generateBytes();
    const key = MasterKey.fromBytes(bytes);
    expect(JSON.stringify({ key })).toBe(`{"key":{"keyId":"${key.id}"}}`);
    expect(inspect(key)).toBe(`MasterKey { id: '${key.id}' }`);
    expect(Object.keys(key)).toEqual(['id']);
    expect(JSON.stringify(key)).not.toContain(bytes.toString('base64'));
  });

  it('writes the store file with mode 600', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
    await keyring.set('alice', 'a', { token: TOKEN });
    const { statSync } = await import('node:fs');
    expect(statSync(storePath()).mode & 0o777).toBe(0o600);
  });
});
