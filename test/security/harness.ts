/**
 * A small gateway stand-in for the guard tests: one real HTTP server on port 0 where each service
 * has a WebSocket endpoint checked by its guard, a data endpoint, and the ticket, login, logout and
 * refresh endpoints — wired the way the gateway is expected to wire the security library.
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import type { Logger } from 'pino';
import { createSecurity, hashPassword, type Guard, type Security, type SecurityConfigInput, type ServiceAuthInput } from '../../security';
import { listen } from './support';

export const JWT_SECRET = 'guard-test-hs256-secret-0123456789abcdef';
export const COOKIE_KEY_OLD = randomBytes(32).toString('base64');
export const COOKIE_KEY_NEW = randomBytes(32).toString('base64');

/** Users of the test users file: name → password, roles. */
export const USERS: Record<string, { password: string; roles: string[] }> = {
  alice: { password: 'alice-pw-1', roles: ['trader'] },
  bob: { password: 'bob-pw-2', roles: ['trader', 'ops'] },
  root: { password: 'root-pw-3', roles: ['admin'] },
};

export async function writeUsers(dir: string): Promise<void> {
  const lines = ['users:'];
  for (const [name, u] of Object.entries(USERS)) {
    lines.push(`  ${name}:`, `    password: "${await hashPassword(u.password, { N: 1024 })}"`, `    roles: [${u.roles.join(', ')}]`);
  }
  writeFileSync(join(dir, 'users.yaml'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'jwt.secret'), JWT_SECRET);
}

/** The security configuration of the harness (the realm `corp`: Bearer JWT sufficient, then the users file). */
export function securityConfig(overrides: Partial<SecurityConfigInput> = {}): SecurityConfigInput {
  return {
    realms: [
      {
        name: 'corp',
        modules: [
          { type: 'jwt', name: 'tokens', flag: 'sufficient', options: { secretFile: 'jwt.secret', clockSkewSeconds: 0 } },
          { type: 'file', name: 'users', flag: 'required', options: { path: 'users.yaml' } },
        ],
      },
    ],
    cookies: { keys: [{ id: 'k2', secret: COOKIE_KEY_NEW }, { id: 'k1', secret: COOKIE_KEY_OLD }], secure: true },
    ...overrides,
  };
}

/** A running harness. */
export interface Harness {
  readonly url: string;
  readonly wsUrl: string;
  readonly security: Security;
  readonly guards: Map<string, Guard>;
  /** Closes of server-side sessions: code and reason. */
  readonly closes: { service: string; code: number; reason: string }[];
  close(): Promise<void>;
}

function refuse(socket: Duplex, status: number, body: string, headers: Record<string, string>): void {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  const text = `${body}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`);
}

let sessionCounter = 0;

/** Starts the harness with one guard per service. */
export async function startHarness(log: Logger, baseDir: string, services: Record<string, ServiceAuthInput>, config: SecurityConfigInput = securityConfig()): Promise<Harness> {
  const security = createSecurity(config, log, { baseDir });
  const guards = new Map<string, Guard>();
  for (const [name, auth] of Object.entries(services)) guards.set(name, security.guardFor(auth, name));
  const closes: Harness['closes'] = [];
  const wss = new WebSocketServer({ noServer: true });
  const route = (req: IncomingMessage): { guard: Guard; rest: string } | null => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const [, svc, ...rest] = path.split('/');
    const guard = guards.get(svc);
    return guard ? { guard, rest: `/${rest.join('/')}` } : null;
  };
  const srv = await listen((req, res) => {
    const r = route(req);
    if (!r) {
      res.writeHead(404);
      res.end();
      return;
    }
    const { guard, rest } = r;
    if (rest === '/ticket') void guard.handleTicketRequest(req, res);
    else if (rest === '/login') void guard.handleLoginRequest(req, res);
    else if (rest === '/logout') guard.handleLogoutRequest(req, res);
    else if (rest === '/refresh') void guard.handleRefreshRequest(req, res);
    else {
      if (guard.applyCors(req, res) !== 'continue') return;
      void guard.check(req).then((v) => {
        if (v.ok) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ user: v.subject.user, roles: [...v.subject.roles], scheme: v.scheme }));
        } else {
          res.writeHead(v.status, { ...v.headers, 'content-type': 'text/plain', 'x-gangway-error': v.code });
          res.end(`${v.body}\n`);
        }
      });
    }
  });
  srv.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const r = route(req);
    if (!r) {
      refuse(socket, 404, 'no service', {});
      return;
    }
    const { guard } = r;
    void guard.check(req).then((v) => {
      if (!v.ok) {
        refuse(socket, v.status, v.body, { ...v.headers, 'X-Gangway-Error': v.code });
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const id = `s${++sessionCounter}`;
        guard.track(id, v.subject, (code, reason) => ws.close(code, reason), v.refreshKey);
        ws.on('close', (code, reason) => {
          closes.push({ service: guard.service, code, reason: reason.toString() });
          void guard.end(id);
        });
        ws.send(JSON.stringify({ session: id, user: v.subject.user, roles: [...v.subject.roles], scheme: v.scheme, expiresAt: v.subject.expiresAt ?? null }));
      });
    });
  });
  return {
    url: srv.url,
    wsUrl: srv.url.replace('http:', 'ws:'),
    security,
    guards,
    closes,
    close: async () => {
      security.close();
      for (const c of wss.clients) c.terminate();
      await srv.close();
    },
  };
}

/** What a WebSocket client got: the first message, or the refusal. */
export type WsOutcome =
  | { open: true; ws: WebSocket; hello: { session: string; user: string; roles: string[]; scheme: string; expiresAt: number | null } }
  | { open: false; status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** Opens a WebSocket with the given headers and waits for the greeting or the refusal. */
export function connect(url: string, headers: Record<string, string> = {}): Promise<WsOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('message', (data: Buffer) => resolve({ open: true, ws, hello: JSON.parse(data.toString('utf8')) as Extract<WsOutcome, { open: true }>['hello'] }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ open: false, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    ws.once('error', (err) => {
      if (ws.readyState !== WebSocket.CLOSED) reject(err);
    });
  });
}

/** Waits for a client WebSocket to close; resolves the code and reason. */
export function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}
