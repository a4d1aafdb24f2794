/**
 * The `gangway` command as users run it: a child process of node on the compiled CLI. The runtime
 * folders (src/, validators/, adapters/, security/) are compiled (transpiled only; type checking is `npm run typecheck`) into a temporary package folder
 * that holds package.json, src/default and a link to node_modules, exactly the layout of dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { transformFileSync } from '@swc/core';
import { hashPassword, parseScryptHash, verifyPassword } from '../security/passwords';
import { Resources, closed, closedPort, httpRequest, nextMessage, openClient, parseMetrics, sample, toBuffer } from './support/gateway';

const ROOT = join(__dirname, '..');
const FIXTURES = join(__dirname, 'fixtures', 'config');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let pkg: string;
let cli: string;

function compile(dir: string, out: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, entry.name);
    if (entry.isDirectory()) compile(from, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const target = join(out, relative(ROOT, from)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      const { code } = transformFileSync(from, { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' }, swcrc: false });
      writeFileSync(target, code);
    }
  }
}

beforeAll(() => {
  pkg = mkdtempSync(join(tmpdir(), 'gangway-cli-'));
  for (const folder of ['src', 'validators', 'adapters', 'security']) if (existsSync(join(ROOT, folder))) compile(join(ROOT, folder), pkg);
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'src', 'default'), join(pkg, 'src', 'default'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  cli = join(pkg, 'src', 'cli.js');
});
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

const res = new Resources();
afterEach(() => res.closeAll());

/** The environment without GANGWAY_* variables, so the built-in configuration's defaults apply. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GANGWAY_')) env[k] = v;
  return { ...env, ...extra };
}

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its end; `stdin`, when given, is written to its standard input. */
function run(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: cleanEnv(), stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdin?.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The JSON log lines of a run's standard output. */
function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A WebSocket client by hand that upgrades, then reads nothing more (so it never answers a close frame). */
async function stalledClient(port: number, path: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  res.add(() => void socket.destroy());
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const head = await new Promise<string>((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += c.toString('latin1');
      if (!got.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.pause();
      resolve(got);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`closed during the upgrade: ${got}`)));
  });
  expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\n$/);
  return socket;
}

/** Reads what is left on a socket until the peer has closed it. */
function readToEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
    socket.resume();
  });
}

describe('gangway --version and --help', () => {
  it('prints the package version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it('prints usage naming the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: gangway \[options\] \[command\]/);
    expect(r.stdout).toMatch(/\n\s+start \[options\]\s+start the gateway/);
    expect(r.stdout).toMatch(/\n\s+check \[options\]\s+validate a configuration file/);
  });

  it('exits 2 on an unknown command or a bad port', async () => {
    const unknown = await run(['launch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'launch'");
    const port = await run(['start', '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('expected a port number 0-65535');
  });
});

describe('gangway check', () => {
  it('exits 0 and lists the services of a valid file', async () => {
    const file = join(FIXTURES, 'valid.yaml');
    const r = await run(['check', '-c', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}: ok, 4 service(s): management (management), files (directory), echo (echo), tcp (proxy)\n`);
  });

  it.each([
    ['bad-yaml.yaml', /^bad-yaml\.yaml:5:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/],
    ['unknown-key.yaml', /^unknown-key\.yaml:4:12: services\[0\]\.acept: unknown key$/m],
    ['wrong-type.yaml', /^wrong-type\.yaml:6:24: services\[0\]\.limits\.maxMessageBytes: expected number, got "big"$/],
    ['bad-uri.yaml', /^bad-uri\.yaml:11:14: services\[2\]\.connect: expected a tcp:\/\/ or tls:\/\/ URI, got "htp:\/\/x"$/],
    ['missing-env.yaml', /^missing-env\.yaml:5:14: services\[0\]\.connect: environment variable GANGWAY_TEST_BACKEND_HOST is not set$/],
    ['unknown-type.yaml', /^unknown-type\.yaml:3:11: services\[0\]\.type: expected one of echo, directory, management, proxy, stomp.proxy, amqp.proxy, irc.proxy, xmpp.proxy, stomp.jms, keyring, got "ecko"$/],
    ['duplicate-mount.yaml', /^duplicate-mount\.yaml:7:13: services\[1\]\.accept: 127\.0\.0\.1:8000\/echo is already taken by service "first"$/],
    ['small-buffer.yaml', /^small-buffer\.yaml:7:25: services\[0\]\.limits\.maxBufferedBytes: must be at least 131072/],
  ])('exits 2 for %s naming the key path', async (file, expected) => {
    const r = await run(['check', '-c', join(FIXTURES, file)]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const [head, ...lines] = r.stderr.trimEnd().split('\n');
    expect(head).toBe('gangway: configuration error');
    expect(lines.map((l) => l.split(`${FIXTURES}/`).join('')).join('\n')).toMatch(expected);
  });

  it('exits 2 for a file that does not exist, and without -c', async () => {
    const missing = await run(['check', '-c', join(FIXTURES, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${join(FIXTURES, 'nope.yaml')}: cannot read configuration: no such file`);
    const noFile = await run(['check']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain("required option '-c, --config <file>' not specified");
  });
});

describe('gangway start', () => {
  /** Starts the CLI (with `env` added to its environment) and resolves once it logged the start line. */
  function start(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; exited: Promise<Run> }> {
    const child = spawn(process.execPath, [cli, 'start', ...args], { env: cleanEnv({ GANGWAY_LOG_LEVEL: 'info', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const exited = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
    res.add(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    });
    return new Promise((resolve, reject) => {
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout?.on('data', (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes('"event":"start"')) resolve({ child, exited });
      });
      void exited.then((r) => reject(new Error(`gangway exited with ${String(r.code)} before starting: ${r.stderr}`)));
    });
  }

  it('runs the built-in configuration: /health, /ready, /metrics, /echo, / and /tcp; SIGTERM closes sessions with 1001 and exits 0', async () => {
    const port = await closedPort();
    const { child, exited } = await start(['--port', String(port)]);
    const base = `127.0.0.1:${port}`;

    const health = await httpRequest(`http://${base}/health`);
    expect(health.status).toBe(200);
    expect((JSON.parse(health.body) as { status: string }).status).toBe('ok');

    // Ready: listening, and the /tcp example's back end (Gangway's own port) accepts connections.
    const ready = await httpRequest(`http://${base}/ready`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({
      status: 'ready',
      listening: true,
      services: { management: { ok: true }, welcome: { ok: true }, echo: { ok: true }, tcp: { ok: true } },
    });

    const page = await httpRequest(`http://${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toBe(readFileSync(join(ROOT, 'src', 'default', 'www', 'index.html'), 'utf8'));

    const echo = await openClient(res, `ws://${base}/echo`);
    const back = nextMessage(echo);
    echo.send('round trip');
    expect(await back).toEqual({ data: Buffer.from('round trip'), isBinary: false });

    // /tcp is a byte proxy to Gangway's own port: an HTTP request through it gets an HTTP answer.
    const tcp = await openClient(res, `ws://${base}/tcp`);
    let answer = '';
    const binaryMessages: boolean[] = [];
    tcp.on('message', (m: Buffer, isBinary: boolean) => {
      binaryMessages.push(isBinary);
      answer += toBuffer(m).toString();
    });
    tcp.send('GET /health HTTP/1.0\r\nHost: gangway\r\n\r\n');
    expect(await closed(tcp)).toEqual({ code: 1000, reason: 'back end closed the connection' });
    expect(binaryMessages.length).toBeGreaterThan(0);
    expect(binaryMessages.every((b) => !b)).toBe(true);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toContain('"status":"ok"');

    const metrics = await httpRequest(`http://${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(metrics.body);
    expect(sample(samples, 'gangway_sessions', { service: 'echo' })).toBe(1);
    expect(sample(samples, 'gangway_sessions_total', { service: 'tcp' })).toBe(1);
    expect(sample(samples, 'gangway_messages_total', { service: 'echo', direction: 'in' })).toBe(1);
    expect(sample(samples, 'gangway_bytes_total', { service: 'echo', direction: 'out' })).toBe('round trip'.length);

    const shutdown = closed(echo);
    child.kill('SIGTERM');
    expect(await shutdown).toEqual({ code: 1001, reason: 'Gangway shutting down' });
    const r = await exited;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const events = logLines(r.stdout).map((l) => l.event);
    expect(events).toEqual(expect.arrayContaining(['listen', 'start', 'session.open', 'session.close', 'shutdown', 'stopped']));
  }, 20_000);

  it('on SIGINT, as on SIGTERM, closes sessions with 1001 "Gangway shutting down" and exits 0', async () => {
    const port = await closedPort();
    const { child, exited } = await start(['--port', String(port)]);
    const echo = await openClient(res, `ws://127.0.0.1:${port}/echo`);
    const shutdown = closed(echo);
    child.kill('SIGINT');
    expect(await shutdown).toEqual({ code: 1001, reason: 'Gangway shutting down' });
    const r = await exited;
    expect([r.code, r.signal, r.stderr]).toEqual([0, null, '']);
    const lines = logLines(r.stdout);
    expect(lines.find((l) => l.event === 'shutdown')).toMatchObject({ signal: 'SIGINT' });
    expect(lines.find((l) => l.event === 'session.close')).toMatchObject({ service: 'echo', closeCode: 1001, reason: 'Gangway shutting down', error: 'GW_ERR_SHUTDOWN' });
    expect(lines.at(-1)).toMatchObject({ event: 'stopped' });
  }, 20_000);

  it('takes the port of the built-in configuration from GANGWAY_PORT', async () => {
    const port = await closedPort();
    const { child, exited } = await start([], { GANGWAY_PORT: String(port) });
    const health = await httpRequest(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    const echo = await openClient(res, `ws://127.0.0.1:${port}/echo`);
    const back = nextMessage(echo);
    echo.send('via GANGWAY_PORT');
    expect(await back).toEqual({ data: Buffer.from('via GANGWAY_PORT'), isBinary: false });
    child.kill('SIGTERM');
    const r = await exited;
    expect(r.code).toBe(0);
    expect(logLines(r.stdout).filter((l) => l.event === 'listen')).toEqual([expect.objectContaining({ host: '127.0.0.1', port })]);
  }, 20_000);

  it('does not wait past shutdownDrainMs for a client that never completes the close handshake', async () => {
    const drainMs = 1500;
    const port = await closedPort();
    const dir = mkdtempSync(join(tmpdir(), 'gangway-cli-drain-'));
    res.add(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'gangway.yaml');
    writeFileSync(
      file,
      [
        `gangway: { limits: { shutdownDrainMs: ${drainMs} } }`,
        'services:',
        `  - { name: echo, type: echo, accept: "ws://127.0.0.1:${port}/echo" }`,
        '',
      ].join('\n'),
    );
    const { child, exited } = await start(['-c', file]);
    const polite = await openClient(res, `ws://127.0.0.1:${port}/echo`);
    const politeClosed = closed(polite);
    const stalled = await stalledClient(port, '/echo');

    const signalled = Date.now();
    child.kill('SIGTERM');
    // A client that answers the close frame is let go at once; the stalled one holds the drain until its end.
    expect(await politeClosed).toEqual({ code: 1001, reason: 'Gangway shutting down' });
    expect(Date.now() - signalled).toBeLessThan(drainMs);
    const r = await exited;
    const took = Date.now() - signalled;
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(took).toBeGreaterThanOrEqual(drainMs);
    expect(took).toBeLessThan(drainMs + 3000);

    // The stalled client was sent the 1001 close frame, then its connection was cut.
    const rest = await readToEnd(stalled);
    expect(rest).toEqual(Buffer.concat([Buffer.from([0x88, 2 + 21, 0x03, 0xe9]), Buffer.from('Gangway shutting down')]));
    const closes = logLines(r.stdout).filter((l) => l.event === 'session.close');
    expect(closes).toHaveLength(2);
    for (const c of closes) expect(c).toMatchObject({ closeCode: 1001, error: 'GW_ERR_SHUTDOWN' });
  }, 20_000);

  it('exits 2 with the problem when the configuration is broken', async () => {
    const r = await run(['start', '-c', join(FIXTURES, 'bad-uri.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('services[2].connect: expected a tcp:// or tls:// URI, got "htp://x"');
  });

  it('exits 1 when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    res.add(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as net.AddressInfo).port;
    const r = await run(['start', '--port', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('gangway: cannot start: listen EADDRINUSE');
  });
});

describe('gangway hash-password', () => {
  it('prints a scrypt hash of the password on standard input that verifies', async () => {
    const r = await run(['hash-password'], 'pw-from-stdin-1\n');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$N=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    const parsed = parseScryptHash(hash);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(await verifyPassword('pw-from-stdin-1', parsed)).toBe(true);
    expect(r.stdout).not.toContain('pw-from-stdin-1');
  });

  it('exits 1 on empty input', async () => {
    const r = await run(['hash-password'], '');
    expect([r.code, r.stdout]).toEqual([1, '']);
    expect(r.stderr).toBe('gangway hash-password: standard input is empty; the secret is read from it\n');
  });
});

describe('gangway keyring -c FILE', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gangway-cli-keyring-'));
    writeFileSync(join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    writeFileSync(join(dir, 'users.yaml'), `users:\n  alice: { password: "${await hashPassword('alice-gw-pw', { N: 1024 })}" }\n`);
    file = join(dir, 'gangway.yaml');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function config(port: number, key = 'master.key'): void {
    writeFileSync(
      file,
      [
        'realms: [{ name: corp, modules: [{ type: file, flag: required, options: { path: users.yaml } }] }]',
        'services:',
        `  - { name: keyring, type: keyring, accept: "http://127.0.0.1:${port}/keyring", auth: { realm: corp, schemes: [basic] }, properties: { file: ring.json, masterKey: { file: ${key} } } }`,
        '',
      ].join('\n'),
    );
  }

  it('sets, lists and removes through the configuration’s keyring, which a running gateway serves', async () => {
    const port = await closedPort();
    config(port);
    const set = await run(['keyring', 'set', '-c', file, 'alice', 'mq', '--username', 'alice-mq', '--password-stdin'], 'mq-Secret-77\n');
    expect([set.code, set.stderr]).toEqual([0, '']);
    expect(set.stdout).toMatch(/^stored the credential of alice for mq \(key id [0-9a-f]+\)\n$/);
    expect(existsSync(join(dir, 'ring.json'))).toBe(true);

    const child = spawn(process.execPath, [cli, 'start', '-c', file], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    res.add(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('"event":"start"')) resolve();
      });
      void exited.then((code) => reject(new Error(`gangway exited with ${String(code)}`)));
    });
    const auth = { Authorization: `Basic ${Buffer.from('alice:alice-gw-pw').toString('base64')}` };
    const listed = await httpRequest(`http://127.0.0.1:${port}/keyring/credentials`, { headers: auth });
    expect([listed.status, listed.body]).toEqual([200, '{"services":["mq"]}\n']);
    expect((await run(['keyring', 'rm', '-c', file, 'alice', 'mq'])).code).toBe(0);
    const after = await httpRequest(`http://127.0.0.1:${port}/keyring/credentials`, { headers: auth });
    expect(after.body).toBe('{"services":[]}\n');
    expect((await run(['keyring', 'list', '-c', file, 'alice'])).stdout).toBe('');
    expect(out).not.toContain('mq-Secret-77');
  }, 20_000);

  it('refuses -c with store options, a file without a keyring service, and a start on the wrong master key', async () => {
    const port = await closedPort();
    config(port);
    const both = await run(['keyring', 'list', '-c', file, '--file', 'other.json', 'alice']);
    expect([both.code, both.stderr]).toEqual([1, 'gangway keyring: give either --config or store and key options, not both (also given: file) (GW_ERR_KEYRING_INVALID)\n']);
    const none = await run(['keyring', 'list', '-c', join(FIXTURES, 'valid.yaml'), 'alice']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('has no service of type keyring (GW_ERR_KEYRING_INVALID)');
    writeFileSync(join(dir, 'other.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
    config(port, 'other.key');
    const wrong = await run(['start', '-c', file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^gangway: cannot start: service keyring: .*is not this keyring's key/);
  });
});

