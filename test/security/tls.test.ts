import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { TlsContextManager, tlsConfigSchema, certificateNames } from '../../security';
import { captureLogger, tempDir } from './support';

let tmp: ReturnType<typeof tempDir>;
let ca: Buffer;

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: tmp.dir, stdio: 'pipe' });
}

/** Issues a leaf certificate signed by the test CA into `<file>.crt` / `<file>.key`. */
function issue(file: string, names: string[], serial: string): void {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${file}.key.tmp`, '-out', `${file}.csr`, '-subj', `/CN=${names[0]}`]);
  writeFileSync(join(tmp.dir, `${file}.ext`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '2', '-out', `${file}.crt.tmp`, '-extfile', `${file}.ext`]);
  // Renewal as certificate tools do it: new files moved into place.
  renameSync(join(tmp.dir, `${file}.key.tmp`), join(tmp.dir, `${file}.key`));
  renameSync(join(tmp.dir, `${file}.crt.tmp`), join(tmp.dir, `${file}.crt`));
}

beforeAll(() => {
  tmp = tempDir('gangway-tls-');
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Gangway Test CA']);
  ca = readFileSync(join(tmp.dir, 'ca.crt'));
  issue('a', ['a.test'], '0x1001');
  issue('b', ['b.test', 'b2.test'], '0x1002');
  issue('wild', ['*.wild.test'], '0x1003');
});
afterAll(() => tmp.cleanup());

interface Served {
  readonly serial: string;
  readonly subject: string;
  readonly protocol: string;
}

function fetchCert(port: number, servername: string | undefined, extra: { maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/', ca, agent: false, ...(servername ? { servername } : { checkServerIdentity: () => undefined }), ...extra },
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert = socket.getPeerCertificate();
        const protocol = socket.getProtocol() ?? '';
        res.resume();
        res.on('end', () => resolve({ serial: cert.serialNumber.toUpperCase(), subject: String(cert.subject.CN), protocol }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function serve(manager: TlsContextManager): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer(manager.serverOptions(), (_req, res) => res.end('ok'));
  manager.attach(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function manager(extra: Record<string, unknown> = {}): TlsContextManager {
  const config = tlsConfigSchema.parse({
    certificates: [
      { cert: 'a.crt', key: 'a.key' },
      { cert: 'b.crt', key: 'b.key' },
      { cert: 'wild.crt', key: 'wild.key', names: ['*.wild.test'] },
    ],
    ...extra,
  });
  return new TlsContextManager(config, captureLogger().log, tmp.dir);
}

describe('TLS contexts by SNI', () => {
  it('reads names from subjectAltName', () => {
    expect(certificateNames(readFileSync(join(tmp.dir, 'b.crt')))).toEqual(['b.test', 'b2.test']);
  });

  it('serves each name its certificate, wildcards one label deep, and the default otherwise', async () => {
    const m = manager();
    const srv = await serve(m);
    try {
      expect((await fetchCert(srv.port, 'a.test')).serial).toBe('1001');
      expect((await fetchCert(srv.port, 'b.test')).serial).toBe('1002');
      expect((await fetchCert(srv.port, 'b2.test')).serial).toBe('1002');
      expect((await fetchCert(srv.port, 'x.wild.test')).serial).toBe('1003');
      // No SNI (an IP address): the default, the first certificate.
      expect((await fetchCert(srv.port, undefined)).serial).toBe('1001');
      // An unknown name gets the default certificate, which the client then refuses.
      await expect(fetchCert(srv.port, 'y.x.wild.test')).rejects.toThrow(/altnames|Hostname/i);
    } finally {
      await srv.close();
      m.close();
    }
  });

  it('serves a renewed certificate to new clients without a restart', async () => {
    const m = manager();
    const srv = await serve(m);
    try {
      expect((await fetchCert(srv.port, 'b.test')).serial).toBe('1002');
      expect(m.checkNow()).toBe(0);
      issue('b', ['b.test', 'b2.test'], '0x2002');
      issue('a', ['a.test'], '0x2001');
      expect(m.checkNow()).toBe(2);
      expect((await fetchCert(srv.port, 'b.test')).serial).toBe('2002');
      expect((await fetchCert(srv.port, 'a.test')).serial).toBe('2001');
      expect((await fetchCert(srv.port, undefined)).serial).toBe('2001');
    } finally {
      await srv.close();
      m.close();
    }
  });

  it('finds renewals by itself every reloadCheckMs', async () => {
    const m = manager({ reloadCheckMs: 100 });
    m.start();
    const srv = await serve(m);
    try {
      issue('wild', ['*.wild.test'], '0x3003');
      await new Promise((r) => setTimeout(r, 350));
      expect((await fetchCert(srv.port, 'q.wild.test')).serial).toBe('3003');
    } finally {
      await srv.close();
      m.close();
    }
  });

  it('keeps the previous certificate when a renewal is broken', async () => {
    const m = manager();
    const srv = await serve(m);
    const { log, lines } = captureLogger();
    const watched = new TlsContextManager(tlsConfigSchema.parse({ certificates: [{ cert: 'a.crt', key: 'a.key' }] }), log, tmp.dir);
    try {
      const before = (await fetchCert(srv.port, 'a.test')).serial;
      writeFileSync(join(tmp.dir, 'a.key'), readFileSync(join(tmp.dir, 'b.key')));
      expect(watched.checkNow()).toBe(0);
      expect(m.checkNow()).toBe(0);
      expect((await fetchCert(srv.port, 'a.test')).serial).toBe(before);
      expect(lines.some((l) => l.includes('"event":"tls.reload-failed"'))).toBe(true);
    } finally {
      issue('a', ['a.test'], '0x4001');
      await srv.close();
      m.close();
    }
  });

  it('enforces the minimum TLS version (TLSv1.2 by default)', async () => {
    const def = manager();
    expect(def.serverOptions().minVersion).toBe('TLSv1.2');
    const srv12 = await serve(def);
    const strict = manager({ minVersion: 'TLSv1.3' });
    const srv13 = await serve(strict);
    try {
      expect((await fetchCert(srv12.port, 'a.test', { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
      await expect(fetchCert(srv13.port, 'a.test', { maxVersion: 'TLSv1.2' })).rejects.toThrow();
      expect((await fetchCert(srv13.port, 'a.test')).protocol).toBe('TLSv1.3');
    } finally {
      await srv12.close();
      await srv13.close();
    }
  });

  it('refuses missing files at start, naming them', () => {
    expect(() => new TlsContextManager(tlsConfigSchema.parse({ certificates: [{ cert: 'none.crt', key: 'a.key' }] }), captureLogger().log, tmp.dir)).toThrow(/tls\.certificates\[0\].*none\.crt/);
  });
});
