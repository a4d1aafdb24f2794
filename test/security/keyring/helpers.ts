/**
 * Helpers for the keyring tests: temporary folders, a logger that keeps every line (without
 * redaction, so the keyring itself must keep secrets out), real HTTP servers on port 0, a small
 * request client, and keyrings on a file store with a fast scrypt cost.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { FileKeyringStore, Keyring, MasterKey, type KeyringOptions, type ScryptCost } from '../../../security/keyring';

/** The smallest scrypt cost the keyring accepts: fast enough for tests. */
export const FAST_SCRYPT: ScryptCost = { N: 2 ** 14, r: 8, p: 1 };

/** A pino logger at trace level, no redaction, keeping every line. */
export function captureLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: pino({ level: 'trace', base: undefined }, stream), lines };
}

/** A writable that keeps what is written. */
export function sink(): { stream: Writable; text(): string } {
  const chunks: string[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString('utf8'));
        cb();
      },
    }),
    text: () => chunks.join(''),
  };
}

/** A temporary folder, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'gangway-keyring-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a random key file (base64 text or raw bytes, mode 600); returns its path and bytes. */
export function writeKeyFile(dir: string, name: string, format: 'base64' | 'raw' = 'base64'): { path: string; bytes: Buffer; id: string } {
  const bytes = MasterKey.generateBytes();
  const path = join(dir, name);
  writeFileSync(path, format === 'raw' ? bytes : `${bytes.toString('base64')}\n`, { mode: 0o600 });
  return { path, bytes, id: MasterKey.fromBytes(bytes).id };
}

/** A keyring on a file store in `dir`. */
export function openFileKeyring(dir: string, options: Omit<KeyringOptions, 'store'>, file = 'keyring.json'): Promise<Keyring> {
  return Keyring.open({ scrypt: FAST_SCRYPT, ...options, store: new FileKeyringStore({ path: join(dir, file) }) });
}

/** Starts an HTTP server on 127.0.0.1, port 0. */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** A response as the tests look at it. */
export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Sends one request and reads the whole answer (a refused upload's reset counts as the answer already read). */
export function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', fail);
    });
    req.on('error', fail);
    req.end(options.body);
  });
}
