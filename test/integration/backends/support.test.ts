/** The back-end table (compose/.env) and the readiness check the other tests rely on. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { BACKEND_NAMES, backends, endpointsOf, loadBackends, parseEnvFile, requireBackend, type BackendName, type Backends } from '../../support/backends';
import { within } from './async';

/** A port that was free a moment ago and has nobody listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('compose/.env', () => {
  it('holds distinct ports for every endpoint and the test users', () => {
    const facts = backends();
    const ports = BACKEND_NAMES.flatMap((name) => endpointsOf(name, facts).map((e) => e.port));

    expect(new Set(ports).size).toBe(ports.length);
    expect(facts.rabbitmq.stompPort).not.toBe(facts.activemq.stompPort);
    expect(facts.xmpp.users.map((u) => u.username)).toEqual(['alice', 'bob', 'carol']);
    expect(facts.caFile.startsWith(facts.rootDir)).toBe(true);
  });

  it('names the file and line of a malformed entry', () => {
    expect(() => parseEnvFile('# fine\nA=1\nnot a pair\n', 'x.env')).toThrow('x.env:3: expected KEY=VALUE, got "not a pair"');
  });

  it('names the file and key of a bad port', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gangway-env-'));
    try {
      const file = join(dir, '.env');
      const text = readFileSync(backends().envFile, 'utf8').replace(/^REDIS_PORT=.*$/m, 'REDIS_PORT=70000');
      writeFileSync(file, text);
      expect(() => loadBackends(file)).toThrow(`${file}: REDIS_PORT: expected a TCP port (1-65535), got "70000"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('requireBackend', () => {
  it('says which server is missing and how to start it', async () => {
    const port = await closedPort();
    const facts: Backends = { ...backends(), redis: { port } };

    const failure = requireBackend('redis', { facts, timeoutMs: 1000 });

    await expect(failure).rejects.toThrow(`Back end "redis" is not answering at 127.0.0.1:${port}`);
    await expect(failure).rejects.toThrow('`compose/up redis`');
  });

  it('refuses TLS back ends when the process does not trust the test CA', async () => {
    const saved = process.env.NODE_EXTRA_CA_CERTS;
    process.env.NODE_EXTRA_CA_CERTS = '/nonexistent/ca.pem';
    try {
      await expect(requireBackend('ngircd')).rejects.toThrow(/does not trust the test CA.*compose\/env\.sh/);
    } finally {
      if (saved === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = saved;
    }
  });
});

describe('test certificates', () => {
  /** Completes a TLS handshake verifying the chain against the test CA and the name. */
  function verify(port: number, servername: string): Promise<string> {
    const facts = backends();
    return within(
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({ host: facts.host, port, servername, ca: readFileSync(facts.caFile) }, () => {
          const protocol = socket.getProtocol() ?? 'unknown';
          socket.destroy();
          resolve(protocol);
        });
        socket.once('error', reject);
      }),
      5000,
      `TLS handshake with ${facts.host}:${port} as ${servername}`,
    );
  }

  it.each<[string, BackendName, (f: Backends) => number, (f: Backends) => string]>([
    ['ngIRCd TLS', 'ngircd', (f) => f.irc.tlsPort, (f) => f.irc.serverName],
    ['ngIRCd TLS as localhost', 'ngircd', (f) => f.irc.tlsPort, () => 'localhost'],
    ['Prosody direct TLS', 'prosody', (f) => f.xmpp.directTlsPort, (f) => f.xmpp.domain],
    ['Prosody HTTPS, MUC name', 'prosody', (f) => f.xmpp.httpsPort, (f) => f.xmpp.mucDomain],
  ])('%s presents a certificate from the test CA', async (_label, backend, port, name) => {
    const facts = await requireBackend(backend);
    await expect(verify(port(facts), name(facts))).resolves.toMatch(/^TLSv1\.[23]$/);
  });

  it('is refused for a name the certificate does not hold', async () => {
    const facts = await requireBackend('ngircd');
    await expect(verify(facts.irc.tlsPort, 'not-in-the-certificate.example')).rejects.toThrow(/altnames|ERR_TLS_CERT_ALTNAME_INVALID/);
  });
});
