/**
 * No password, token, passphrase or key material reaches a log line, an error message (or its
 * causes), an HTTP answer or CLI output, across every operation and failure of the keyring. The
 * logger here has NO redaction: the keyring itself must keep secrets out.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Readable } from 'node:stream';
import { Command } from 'commander';
import { createKeyringHandler, Keyring, keyringCommand, keyringPropertiesSchema, keyringRotate, keyringSet, type StoredRecord } from '../../../security/keyring';
import { captureLogger, FAST_SCRYPT, listen, openFileKeyring, request, sink, tempDir, writeKeyFile } from './helpers';

const PASSWORD = 'log-test-password-c0ffee';
const TOKEN = 'log-test-token-deadbeef';
const PASSPHRASE = 'log test passphrase 314159';
const WRONG_PASSPHRASE = 'wrong passphrase 271828';

describe('no secrets in logs, errors or answers', () => {
  const { log, lines } = captureLogger();
  const texts: string[] = [];
  const keyTexts: string[] = [];
  let tmp: ReturnType<typeof tempDir>;

  const collect = async (p: Promise<unknown>): Promise<void> => {
    try {
      await p;
    } catch (err) {
      let e: unknown = err;
      while (e instanceof Error) {
        texts.push(e.message, inspect(e));
        e = e.cause;
      }
    }
  };

  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp.cleanup());

  it('runs every operation and failure', async () => {
    const keyA = writeKeyFile(tmp.dir, 'a.key');
    const keyB = writeKeyFile(tmp.dir, 'b.key', 'raw');
    const wrong = writeKeyFile(tmp.dir, 'wrong.key');
    for (const k of [keyA, keyB, wrong]) keyTexts.push(k.bytes.toString('base64'), k.bytes.toString('hex'), k.bytes.toString('base64url'));
    writeFileSync(join(tmp.dir, 'wide.key'), keyA.bytes.toString('base64'), { mode: 0o644 });

    const keyring = await openFileKeyring(tmp.dir, { key: { file: join(tmp.dir, 'wide.key') }, log });
    await keyring.set('alice', 'rabbitmq', { username: 'alice', password: PASSWORD });
    await keyring.set('alice', 'slack', { token: TOKEN });
    await keyring.get('alice', 'rabbitmq');
    await collect(keyring.set('alice', 'big', { token: TOKEN.repeat(500) }));
    await collect(keyring.set('alice', 'bad', { token: TOKEN, password: PASSWORD } as unknown as { token: string }));
    await collect(openFileKeyring(tmp.dir, { key: { file: wrong.path }, log }));

    // Tampered records.
    const file = join(tmp.dir, 'keyring.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { records: StoredRecord[] };
    writeFileSync(file, JSON.stringify({ ...doc, records: doc.records.map((r) => ({ ...r, ct: Buffer.from('garbage-ciphertext').toString('base64') })) }));
    await collect(keyring.get('alice', 'rabbitmq'));
    writeFileSync(file, JSON.stringify(doc));

    // HTTP, including failures.
    const handler = createKeyringHandler(keyring, { authenticate: async (req: IncomingMessage) => (req.headers['x-user'] as string | undefined) ?? null, log, maxBodyBytes: 128 });
    const server = await listen((req, res) => handler(req, res, req.url ?? '/'));
    try {
      for (const [method, path, body, user] of [
        ['PUT', '/credentials/xmpp', JSON.stringify({ username: 'a', password: PASSWORD }), 'alice'],
        ['PUT', '/credentials/xmpp', `{"password":"${PASSWORD}"`, 'alice'],
        ['PUT', '/credentials/xmpp', JSON.stringify({ username: 'a', password: PASSWORD, x: TOKEN }), 'alice'],
        ['PUT', '/credentials/xmpp', JSON.stringify({ token: TOKEN.repeat(10) }), 'alice'],
        ['PUT', '/credentials/xmpp', JSON.stringify({ token: TOKEN }), undefined],
        ['GET', '/credentials', undefined, 'alice'],
        ['GET', '/credentials/xmpp', undefined, 'alice'],
      ] as const) {
        const reply = await request(`${server.url}${path}`, { method, body, headers: user ? { 'x-user': user, 'content-type': 'application/json' } : {} });
        texts.push(reply.body, JSON.stringify(reply.headers));
      }
    } finally {
      await server.close();
    }

    // Rotation, interrupted and resumed, to a passphrase-free key and with the CLI.
    const abort = new AbortController();
    await collect(keyring.rotate({ file: keyB.path }, { batchSize: 1, signal: abort.signal, onBatch: () => abort.abort() }));
    await keyring.rotate({ file: keyB.path });
    const props = keyringPropertiesSchema.parse({ file, masterKey: { file: keyB.path } });
    const out = sink();
    await keyringSet({ properties: props, log, user: 'bob', service: 'irc', secret: 'password', username: 'bob', input: Readable.from([Buffer.from(PASSWORD)]) }, out.stream);
    await keyringRotate({ properties: props, log, newKey: { file: keyA.path } }, out.stream).catch((err: Error) => texts.push(err.message));
    const newKey = writeKeyFile(tmp.dir, 'c.key');
    keyTexts.push(newKey.bytes.toString('base64'), newKey.bytes.toString('hex'));
    await keyringRotate({ properties: props, log, newKey: { file: newKey.path } }, out.stream);
    texts.push(out.text());

    // The CLI's own failure reports.
    const err = sink();
    const program = new Command().exitOverride();
    program.addCommand(keyringCommand({ stdin: Readable.from([Buffer.from(PASSWORD)]), stdout: out.stream, stderr: err.stream, env: {}, log, onFailure: () => undefined }));
    await program.parseAsync(['keyring', 'set', 'carol', 'x', '--password-stdin', '--username', 'c', '--file', file, '--key-file', keyB.path], { from: 'user' });
    await program.parseAsync(['keyring', 'list', 'carol', '--file', file, '--key-env', 'NOPE'], { from: 'user' });
    texts.push(err.text(), out.text());

    // Passphrases: right, then wrong.
    const env = { PP: PASSPHRASE, WRONG: WRONG_PASSPHRASE };
    const pk = await openFileKeyring(tmp.dir, { key: { passphraseEnv: 'PP' }, env, log, scrypt: FAST_SCRYPT }, 'pass.json');
    await pk.set('dave', 'x', { token: TOKEN });
    await collect(Keyring.open({ store: pk.store, key: { passphraseEnv: 'WRONG' }, env, log }));
    await collect(Keyring.open({ store: pk.store, key: { passphraseEnv: 'PP' }, env: { PP: 'short' }, log }));

    texts.push(inspect(keyring, { depth: 5 }));
    expect(lines.length).toBeGreaterThan(10);
    expect(texts.length).toBeGreaterThan(20);
  });

  it('found no secret anywhere', () => {
    const secrets = [PASSWORD, TOKEN, PASSPHRASE, WRONG_PASSPHRASE, ...keyTexts];
    const everything = [...lines, ...texts];
    for (const secret of secrets) {
      for (const text of everything) expect(text).not.toContain(secret);
    }
    // And the logs did say what happened (so the check above looked at real lines).
    const events = lines.map((l) => (JSON.parse(l) as { event?: string }).event);
    expect(events).toEqual(expect.arrayContaining(['keyring.created', 'keyring.set', 'keyring.rotation.started', 'keyring.rotation.completed', 'keyring.key.permissions']));
  });
});
