/**
 * Key rotation: records are readable before, during (an interrupted rotation, then resumed) and
 * after; the old key is retired at the end and refused from then on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYRING_ERRORS, type Keyring } from '../../../security/keyring';
import { openFileKeyring, tempDir, writeKeyFile } from './helpers';

const USERS = ['alice', 'bob', 'carol', 'dave'];
const SERVICES = ['rabbitmq', 'activemq', 'xmpp'];
const secretOf = (user: string, service: string) => `pw-${user}-${service}-41f3`;

async function readAll(keyring: Keyring): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  for (const user of USERS) {
    for (const service of await keyring.list(user)) {
      const entry = await keyring.get(user, service);
      const cred = entry?.credential;
      seen.set(`${user}/${service}`, cred && 'password' in cred ? cred.password : '');
    }
  }
  return seen;
}

describe('key rotation', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const kids = () => (JSON.parse(readFileSync(join(tmp.dir, 'keyring.json'), 'utf8')) as { records: { kid: string }[] }).records.map((r) => r.kid);

  it('re-encrypts every record, resumes after an interruption, and retires the old key', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const newKey = writeKeyFile(tmp.dir, 'new.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: oldKey.path } });
    for (const user of USERS) for (const service of SERVICES) await keyring.set(user, service, { username: user, password: secretOf(user, service) });
    const expected = await readAll(keyring);
    expect(expected.size).toBe(12);

    // Interrupted after the first batch of 5.
    const abort = new AbortController();
    const interrupted = keyring.rotate({ file: newKey.path }, { batchSize: 5, signal: abort.signal, onBatch: () => abort.abort() });
    await expect(interrupted).rejects.toMatchObject({ code: KEYRING_ERRORS.ROTATION.code, message: expect.stringContaining('interrupted after 5 record(s)') });
    const mixed = kids();
    expect(mixed.filter((k) => k === newKey.id)).toHaveLength(5);
    expect(mixed.filter((k) => k === oldKey.id)).toHaveLength(7);

    // During: the same keyring reads records under both keys; new writes go under the new key.
    expect(await readAll(keyring)).toEqual(expected);
    await keyring.set('erin', 'rabbitmq', { username: 'erin', password: 'erin-pw-during' });
    expect((await keyring.get('erin', 'rabbitmq'))?.keyId).toBe(newKey.id);

    // During: the old key alone cannot open the keyring; the new one with the old as previous can.
    await expect(openFileKeyring(tmp.dir, { key: { file: oldKey.path } })).rejects.toMatchObject({
      code: KEYRING_ERRORS.ROTATION.code,
      message: expect.stringContaining(`a rotation to key id ${newKey.id} is unfinished`),
    });
    const both = await openFileKeyring(tmp.dir, { key: { file: newKey.path }, previousKeys: [{ file: oldKey.path }] });
    expect(await readAll(both)).toEqual(expected);
    const newOnly = await openFileKeyring(tmp.dir, { key: { file: newKey.path } });
    await expect(newOnly.get('dave', 'xmpp')).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_UNKNOWN.code, message: expect.stringContaining('a rotation away from it is unfinished') });

    // A rotation to a third key must wait for this one.
    const third = writeKeyFile(tmp.dir, 'third.key');
    await expect(both.rotate({ file: third.path })).rejects.toMatchObject({ code: KEYRING_ERRORS.ROTATION.code, message: expect.stringContaining('unfinished') });

    // Resumed from another keyring instance.
    const result = await both.rotate({ file: newKey.path }, { batchSize: 5 });
    expect(result).toEqual({ keyId: newKey.id, reencrypted: 7, retired: [oldKey.id] });
    expect(new Set(kids())).toEqual(new Set([newKey.id]));

    // After: every record reads under the new key alone.
    const after = await openFileKeyring(tmp.dir, { key: { file: newKey.path } });
    expect(await readAll(after)).toEqual(expected);
    expect(after.metadata.retiredKids).toEqual([oldKey.id]);
    expect(after.metadata.rotation).toBeNull();

    // The old key is retired: refused as the key, ignored as a previous key, refused as a rotation target.
    await expect(openFileKeyring(tmp.dir, { key: { file: oldKey.path } })).rejects.toMatchObject({
      code: KEYRING_ERRORS.KEY_RETIRED.code,
      message: expect.stringContaining(`key id ${oldKey.id} was retired`),
    });
    const withOld = await openFileKeyring(tmp.dir, { key: { file: newKey.path }, previousKeys: [{ file: oldKey.path }] });
    expect(withOld.keyIds).toEqual([newKey.id]);
    await expect(after.rotate({ file: oldKey.path })).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_RETIRED.code });
  });

  it('never overwrites a credential changed while the rotation runs', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const newKey = writeKeyFile(tmp.dir, 'new.key');
    const a = await openFileKeyring(tmp.dir, { key: { file: oldKey.path } });
    for (const user of USERS) for (const service of SERVICES) await a.set(user, service, { username: user, password: secretOf(user, service) });
    const b = await openFileKeyring(tmp.dir, { key: { file: oldKey.path }, previousKeys: [{ file: newKey.path }] });
    const late: Promise<void>[] = [];
    await a.rotate(
      { file: newKey.path },
      {
        batchSize: 2,
        onBatch: () => {
          if (late.length === 0) late.push(b.set('dave', 'xmpp', { username: 'dave', password: 'late-write-pw' }));
        },
      },
    );
    await Promise.all(late);
    const entry = await a.get('dave', 'xmpp');
    expect(entry?.credential).toEqual({ username: 'dave', password: 'late-write-pw' });
    expect(entry?.keyId).toBe(newKey.id);
    expect(new Set(kids())).toEqual(new Set([newKey.id]));
  });

  it('replaces a record during rotation only if it is unchanged (compare-and-set)', async () => {
    const key = writeKeyFile(tmp.dir, 'k.key');
    const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } });
    await keyring.set('alice', 'x', { token: 'tok-one' });
    const store = keyring.store;
    const first = await store.get('alice', 'x');
    await keyring.set('alice', 'x', { token: 'tok-two' });
    const second = await store.get('alice', 'x');
    if (!first || !second) throw new Error('records missing');
    expect(await store.replaceMany([{ expected: first, next: { ...first, updatedAt: 'x' } }])).toBe(0);
    expect((await keyring.get('alice', 'x'))?.credential).toEqual({ token: 'tok-two' });
    expect(await store.replaceMany([{ expected: second, next: first }])).toBe(1);
    expect((await keyring.get('alice', 'x'))?.credential).toEqual({ token: 'tok-one' });
  });

  it('tells an instance without the new key that the keyring was rotated', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const newKey = writeKeyFile(tmp.dir, 'new.key');
    const a = await openFileKeyring(tmp.dir, { key: { file: oldKey.path } });
    await a.set('alice', 'x', { token: 'tok-x' });
    const b = await openFileKeyring(tmp.dir, { key: { file: oldKey.path } });
    await a.rotate({ file: newKey.path });
    await expect(b.set('alice', 'y', { token: 'tok-y' })).rejects.toMatchObject({ code: KEYRING_ERRORS.KEY_RETIRED.code, message: expect.stringContaining(`now key id ${newKey.id}`) });
    expect(await a.list('alice')).toEqual(['x']);
  });

  it('lets a writer that has the new key follow a rotation done by another process', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const newKey = writeKeyFile(tmp.dir, 'new.key');
    const rotator = await openFileKeyring(tmp.dir, { key: { file: oldKey.path } });
    await rotator.set('alice', 'x', { token: 'tok-before-rotation' });
    const writer = await openFileKeyring(tmp.dir, { key: { file: oldKey.path }, previousKeys: [{ file: newKey.path }] });
    await rotator.rotate({ file: newKey.path });
    await writer.set('alice', 'y', { token: 'tok-after-rotation' });
    expect((await rotator.get('alice', 'y'))?.keyId).toBe(newKey.id);
    expect((await writer.get('alice', 'x'))?.credential).toEqual({ token: 'tok-before-rotation' });
  });

  it('rotates a key-file keyring to a passphrase, storing a salt then', async () => {
    const oldKey = writeKeyFile(tmp.dir, 'old.key');
    const env = { NEW_PASS: 'a new long passphrase' };
    const keyring = await openFileKeyring(tmp.dir, { key: { file: oldKey.path }, env });
    await keyring.set('alice', 'x', { token: 'tok-x' });
    expect(keyring.metadata.kdf).toBeNull();
    const result = await keyring.rotate({ passphraseEnv: 'NEW_PASS' });
    expect(result.retired).toEqual([oldKey.id]);
    const reopened = await openFileKeyring(tmp.dir, { key: { passphraseEnv: 'NEW_PASS' }, env });
    expect((await reopened.get('alice', 'x'))?.credential).toEqual({ token: 'tok-x' });
  });
});
