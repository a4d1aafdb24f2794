/**
 * Durability of the file store under SIGKILL: a child process writes records in a loop and prints
 * the id of each one whose `put` resolved; the test kills it at a random moment, several times,
 * and checks the store file still parses and holds every acknowledged record, decryptable.
 *
 * The child runs the keyring's sources compiled with @swc/core into a temporary folder.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { transformFileSync } from '@swc/core';
import { openFileKeyring, tempDir, writeKeyFile } from './helpers';

const SOURCE = resolve(__dirname, '../../../security/keyring');
const NODE_MODULES = resolve(__dirname, '../../../node_modules');

const CHILD = `
const { Keyring, FileKeyringStore } = require('./keyring');
const [file, keyFile, startText] = process.argv.slice(2);
(async () => {
  const keyring = await Keyring.open({ store: new FileKeyringStore({ path: file }), key: { file: keyFile } });
  process.stdout.write('ready\\n');
  for (let i = Number(startText); ; i++) {
    const user = 'u' + (i % 50);
    const service = 's' + i;
    await keyring.set(user, service, { token: 'tok-' + i });
    process.stdout.write('ack ' + i + '\\n');
  }
})().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\\n');
  process.exit(3);
});
`;

function compile(into: string): void {
  mkdirSync(join(into, 'keyring'), { recursive: true });
  for (const name of readdirSync(SOURCE).filter((n) => n.endsWith('.ts'))) {
    const { code } = transformFileSync(join(SOURCE, name), { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' }, swcrc: false });
    writeFileSync(join(into, 'keyring', name.replace(/\.ts$/, '.js')), code);
  }
  writeFileSync(join(into, 'child.js'), CHILD);
}

/** Runs the child until `killAfterMs` after its first acknowledgement, then SIGKILLs it; returns the acknowledged ids. */
function runAndKill(dir: string, file: string, keyFile: string, start: number, killAfterMs: number): Promise<{ acked: number[]; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(dir, 'child.js'), file, keyFile, String(start)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', NODE_PATH: NODE_MODULES },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (!timer && out.includes('ack ')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        fail(new Error(`child ended with code ${code} instead of being killed: ${err}`));
        return;
      }
      // Only complete lines count: the kill may cut the last one.
      const acked = out
        .split('\n')
        .slice(0, -1)
        .filter((l) => l.startsWith('ack '))
        .map((l) => Number(l.slice(4)));
      done({ acked, stderr: err });
    });
  });
}

describe('file store under SIGKILL', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
    compile(tmp.dir);
  });
  afterAll(() => tmp.cleanup());

  it('keeps every acknowledged record through repeated kills at random moments', async () => {
    const key = writeKeyFile(tmp.dir, 'master.key');
    const file = join(tmp.dir, 'store', 'keyring.json');
    const acked: number[] = [];
    let next = 0;
    for (let round = 0; round < 6; round++) {
      const killAfterMs = 20 + Math.floor(Math.random() * 150);
      const result = await runAndKill(tmp.dir, file, key.path, next, killAfterMs);
      expect(result.acked.length).toBeGreaterThan(0);
      acked.push(...result.acked);
      // Ids not acknowledged may or may not have been written; the next child starts past them.
      next = result.acked[result.acked.length - 1] + 1000;

      // The file parses after every kill, and everything acknowledged so far is there.
      const doc = JSON.parse(readFileSync(file, 'utf8')) as { records: unknown[] };
      expect(doc.records.length).toBeGreaterThanOrEqual(acked.length);
      const keyring = await openFileKeyring(tmp.dir, { key: { file: key.path } }, 'store/keyring.json');
      for (const i of acked) {
        const entry = await keyring.get(`u${i % 50}`, `s${i}`);
        expect(entry?.credential).toEqual({ token: `tok-${i}` });
      }
    }
    expect(acked.length).toBeGreaterThan(6);
  }, 60_000);
});
