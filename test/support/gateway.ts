/**
 * Helpers for tests that drive a real Gangway in-process: gateways on port 0, TCP back ends,
 * `ws` clients, raw HTTP over a socket, captured log lines, and one place that closes it all.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import type { Logger } from 'pino';
import { buildConfig, type GatewayConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/log';
import { SERVICE_TYPES } from '../../src/services';
import type { Session } from '../../src/session';

/** Teardown list: everything a test opens is registered here and closed after it, newest first. */
export class Resources {
  private readonly closers: (() => Promise<void> | void)[] = [];

  add(closer: () => Promise<void> | void): void {
    this.closers.push(closer);
  }

  async closeAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.closers.length > 0) {
      const closer = this.closers.pop() as () => Promise<void> | void;
      try {
        await closer();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** pino output as parsed JSON lines. */
export class LogCapture {
  readonly raw: string[] = [];

  write(line: string): void {
    this.raw.push(line);
  }

  records(): Record<string, unknown>[] {
    return this.raw.flatMap((chunk) =>
      chunk
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }

  events(event: string): Record<string, unknown>[] {
    return this.records().filter((r) => r.event === event);
  }

  text(): string {
    return this.raw.join('');
  }
}

export interface StartedGateway {
  readonly gateway: Gateway;
  readonly config: GatewayConfig;
  readonly port: number;
  readonly log: LogCapture;
  /** `ws://127.0.0.1:port/path`. */
  ws(path: string): string;
  /** `http://127.0.0.1:port/path`. */
  http(path: string): string;
}

/** Builds a configuration from a plain object (as YAML would give), starts it, registers the stop. */
export async function startGateway(res: Resources, doc: Record<string, unknown>, options: { level?: string; logger?: Logger } = {}): Promise<StartedGateway> {
  const config = buildConfig(doc, { source: 'test', types: SERVICE_TYPES, env: {} });
  const log = new LogCapture();
  const logger = options.logger ?? createLogger(options.level ?? 'info', log);
  const gateway = new Gateway(config, logger);
  await gateway.start();
  res.add(() => gateway.stop());
  const port = gateway.port();
  return {
    gateway,
    config,
    port,
    log,
    ws: (path) => `ws://127.0.0.1:${port}${path}`,
    http: (path) => `http://127.0.0.1:${port}${path}`,
  };
}

/** A service definition with short limits suitable for tests. */
export function service(name: string, type: string, path: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const scheme = type === 'directory' || type === 'management' ? 'http' : 'ws';
  return { name, type, accept: `${scheme}://127.0.0.1:0${path}`, ...extra };
}

export interface TcpServer {
  readonly server: net.Server;
  readonly port: number;
  /** Sockets accepted so far, in order. */
  readonly sockets: net.Socket[];
  /** Resolves with the next accepted socket (or the first not yet handed out). */
  nextSocket(): Promise<net.Socket>;
}

/** A TCP server on 127.0.0.1 port 0; `onSocket` runs for each connection. Registered for teardown. */
export async function tcpServer(res: Resources, onSocket: (socket: net.Socket) => void = () => undefined): Promise<TcpServer> {
  const sockets: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  let handed = 0;
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => socket.destroy());
    onSocket(socket);
    const w = waiting.shift();
    if (w) {
      handed++;
      w(socket);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  res.add(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    sockets,
    nextSocket: () =>
      new Promise<net.Socket>((resolve) => {
        if (handed < sockets.length) resolve(sockets[handed++] as net.Socket);
        else waiting.push(resolve);
      }),
  };
}

/** A TCP server that echoes every byte back. */
export function tcpEchoServer(res: Resources): Promise<TcpServer> {
  return tcpServer(res, (socket) => socket.pipe(socket));
}

/** A port on 127.0.0.1 where nothing listens (taken and released again). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Opens a `ws` client and waits for the open; registered for teardown. */
export async function openClient(res: Resources, url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  closeEvents.set(ws, new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() }))));
  res.add(() => closeClient(ws));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, response: http.IncomingMessage) => reject(new Error(`upgrade refused: ${response.statusCode ?? 0}`)));
  });
  ws.on('error', () => undefined);
  return ws;
}

function closeClient(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    ws.once('close', () => resolve());
    ws.terminate();
  });
}

export interface CloseEvent {
  readonly code: number;
  readonly reason: string;
}

const closeEvents = new WeakMap<WebSocket, Promise<CloseEvent>>();

/** Resolves when a client from {@link openClient} has closed, with code and reason (recorded from the start). */
export function closed(ws: WebSocket): Promise<CloseEvent> {
  const event = closeEvents.get(ws);
  if (!event) throw new Error('not a client from openClient');
  return event;
}

export interface Message {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** Resolves with the next message the client receives. */
export function nextMessage(ws: WebSocket): Promise<Message> {
  return new Promise((resolve, reject) => {
    const onClose = (code: number): void => reject(new Error(`closed with ${code} before a message`));
    ws.once('message', (data: RawData, isBinary: boolean) => {
      ws.off('close', onClose);
      resolve({ data: toBuffer(data), isBinary });
    });
    ws.once('close', onClose);
  });
}

export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** What a refused upgrade answered (`unexpected-response`). Rejects if the upgrade succeeds. */
export function refusedUpgrade(url: string, protocols?: string | string[], options: ClientOptions = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    ws.on('error', () => undefined);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (req: http.ClientRequest, response: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() });
        req.destroy();
      });
    });
  });
}

/** A plain HTTP request with node:http (no keep-alive). */
export function httpRequest(url: string, options: http.RequestOptions = {}, body?: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes raw bytes to 127.0.0.1:port and resolves with all bytes the server sent until it closed the connection. */
export function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('connect', () => socket.write(text));
  });
}

/** Splits a raw HTTP response into status, headers (lower-case names) and body. */
export function parseRawResponse(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number((statusLine ?? '').split(' ')[1]), headers, body: split < 0 ? '' : raw.slice(split + 4) };
}

/** Polls `check` every 20 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The only session of the gateway, once there is exactly one. */
export async function onlySession(gateway: Gateway): Promise<Session> {
  await waitFor(() => [...gateway.sessions()].length === 1, 5000, 'one session');
  return [...gateway.sessions()][0] as Session;
}

/** Resolves when the socket has closed; reads (and drops) what is left so the peer's FIN is seen. */
export function socketClosed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.resume();
  });
}

/** Prometheus text exposition parsed into samples. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name and these labels (among possibly more labels); undefined if none. */
export function sample(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

/**
 * A throwaway self-signed certificate for `cn` (P-256, one day) with `subjectAltName` `san`
 * (e.g. `DNS:localhost,IP:127.0.0.1`), written to `dir` as cert.pem and key.pem.
 */
export function selfSignedCertificate(dir: string, cn: string, san: string): { readonly certFile: string; readonly keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${cn}`, '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}
