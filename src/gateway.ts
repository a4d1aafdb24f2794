import http, { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config/load';
import { acceptFamily, isSecureAccept, type AcceptUri } from './config/schema';
import { GATEWAY_ERRORS, type GatewayErrorSpec } from './errors';
import { Metrics, type ServiceMetrics } from './metrics';
import { TrustedProxies, clientAddress } from './forwarded';
import { SECURITY_ERRORS, createSecurity, type Guard, type Security, type Subject, type Verdict } from '../security';
import type { TlsContextManager } from '../security/tls';
import { Session, type Endpoints, type Login } from './session';
import { StreamTransport, WebSocketTransport, type Transport } from './transports';
import { SERVICE_TYPES } from './services';
import { sendText } from './services/http';
import type { GatewayView, Service, ServiceType } from './services/types';
import type { CredentialSource } from './services/inject/types';

interface Mount {
  readonly path: string;
  readonly service: Service;
  readonly state: ServiceState;
}

interface ServiceState {
  readonly service: Service;
  readonly metrics: ServiceMetrics;
  readonly wss: WebSocketServer | null;
  readonly sessions: Set<Session>;
  readonly buckets: Map<string, { tokens: number; at: number }>;
  /** Present when the service has `auth:`. */
  readonly guard: Guard | null;
}

interface Listener {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly server: http.Server;
  readonly exact: Map<string, Mount>;
  /** Prefix mounts, longest path first. */
  readonly prefixes: Mount[];
}

/** A `tcp://` or `tls://` listener: every connection is a session of its one service. */
interface StreamListener {
  readonly uri: AcceptUri;
  readonly state: ServiceState;
  readonly server: net.Server;
  /** Connections not yet closed (with TLS, also those still in the handshake), cut at shutdown. */
  readonly sockets: Set<Socket>;
}

/** Why a new connection does not become a session, and when to try again (seconds). */
interface Refusal {
  readonly spec: GatewayErrorSpec;
  readonly message: string;
  readonly retryAfter: string;
}

const NO_SERVICE = '-';

/** Paths below a guarded mount that the guard answers itself (see `securityEndpoint`). */
const GUARD_ENDPOINTS: readonly string[] = ['/ticket', '/refresh', '/login', '/logout'];

/** What a guarded session was authorized with. */
interface SessionAuth {
  readonly guard: Guard;
  readonly subject: Subject;
  readonly refreshKey: string | undefined;
}

/** `error` listener of an upgrading or refused socket: a module-level function, so it keeps no request alive. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** Answers an upgrade with an HTTP error and closes the socket. */
function refuseUpgrade(socket: Duplex, status: number, message: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

function requestPath(url: string | undefined): string | null {
  try {
    return decodeURIComponent(new URL(url ?? '/', 'http://gangway').pathname);
  } catch {
    return null;
  }
}

/**
 * The running gateway: listeners (one HTTP server per host:port, shared by path; one TCP or TLS
 * server per `tcp://` or `tls://` accept URI), routing, upgrade checks and limits, sessions,
 * keep-alive and idle sweeps, shutdown.
 */
export class Gateway implements GatewayView {
  readonly startedAt = Date.now();
  readonly metrics = new Metrics();
  private readonly states = new Map<string, ServiceState>();
  private readonly listeners: Listener[] = [];
  private readonly streams: StreamListener[] = [];
  private readonly sessionSet = new Set<Session>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;
  private readonly trusted: TrustedProxies;
  readonly security: Security;

  constructor(
    readonly config: GatewayConfig,
    readonly log: Logger,
    types: ReadonlyMap<string, ServiceType> = SERVICE_TYPES,
  ) {
    this.trusted = new TrustedProxies(config.trustedProxies);
    this.security = createSecurity(config.security, log, {
      baseDir: config.baseDir,
      clientAddress: (req) => clientAddress(req.socket.remoteAddress ?? 'unknown', req.headers, this.trusted),
    });
    for (const svc of config.services) {
      const type = types.get(svc.type);
      if (!type) throw new Error(`service type ${svc.type} is not registered`);
      const metrics = this.metrics.service(svc.name);
      const service = type.create({ config: svc, log: log.child({ service: svc.name }), metrics, gateway: this, baseDir: config.baseDir });
      const wss = type.accepts.includes('ws')
        ? new WebSocketServer({
            noServer: true,
            maxPayload: svc.limits.maxMessageBytes,
            perMessageDeflate: false,
            clientTracking: false,
            handleProtocols: (offered: Set<string>) => svc.subprotocols.find((p) => offered.has(p)) ?? false,
          })
        : null;
      const guard = svc.auth ? this.security.guardFor(svc.auth, svc.name) : null;
      this.states.set(svc.name, { service, metrics, wss, sessions: new Set(), buckets: new Map(), guard });
      for (const uri of svc.accept) this.mount(uri, type, this.states.get(svc.name) as ServiceState);
    }
  }

  private mount(uri: AcceptUri, type: ServiceType, state: ServiceState): void {
    if (acceptFamily(uri.scheme) === 'tcp') {
      this.streams.push(this.createStreamListener(uri, state));
      return;
    }
    const secure = isSecureAccept(uri.scheme);
    let listener = this.listeners.find((l) => l.host === uri.host && l.port === uri.port);
    if (!listener) {
      listener = this.createListener(uri.host, uri.port, secure);
      this.listeners.push(listener);
    } else if (listener.secure !== secure) {
      throw new Error(`${uri.host}:${uri.port} is used both with and without TLS (${uri.href})`);
    }
    if (type.exactPaths) {
      const base = uri.path === '/' ? '' : uri.path;
      // A guarded service also answers its guard's endpoints (POST /login, /ticket, ...).
      const paths = state.guard ? [...type.exactPaths, ...GUARD_ENDPOINTS] : type.exactPaths;
      for (const p of paths) listener.exact.set(`${base}${p}`, { path: uri.path, service: state.service, state });
    } else {
      listener.prefixes.push({ path: uri.path, service: state.service, state });
      listener.prefixes.sort((a, b) => b.path.length - a.path.length);
    }
  }

  /** Options of every TLS listener: the certificates and `tlsHandshakeTimeoutMs`. */
  private tlsServerOptions(contexts: TlsContextManager): tls.TlsOptions {
    return { ...contexts.serverOptions(), handshakeTimeout: this.config.limits.tlsHandshakeTimeoutMs };
  }

  private createListener(host: string, port: number, secure: boolean): Listener {
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.onRequest(listener, req, res);
    const tlsContexts = this.security.tls;
    let server: http.Server;
    if (secure) {
      if (!tlsContexts) throw new Error(`${host}:${port} is a TLS listener but no tls: certificates are configured`);
      const tlsServer = https.createServer(this.tlsServerOptions(tlsContexts), onRequest);
      tlsContexts.attach(tlsServer);
      // Before https passes the error on as an HTTP 'clientError', whose answer could never leave a
      // connection that has no TLS yet: closed here, that one finds the socket gone.
      tlsServer.prependListener('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) =>
        this.tlsClientError({ listener: `https://${host}:${(tlsServer.address() as AddressInfo).port}` }, err, socket),
      );
      server = tlsServer;
    } else {
      server = http.createServer(onRequest);
    }
    const listener: Listener = { host, port, secure, server, exact: new Map(), prefixes: [] };
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(listener, req, socket, head));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      if (err.code === 'ECONNRESET' || !socket.writable) socket.destroy();
      else refuseUpgrade(socket, 400, 'malformed HTTP request');
    });
    return listener;
  }

  private createStreamListener(uri: AcceptUri, state: ServiceState): StreamListener {
    const sockets = new Set<Socket>();
    const track = (socket: Socket): void => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    let server: net.Server;
    if (uri.scheme === 'tls') {
      const tlsContexts = this.security.tls;
      if (!tlsContexts) throw new Error(`${uri.href} is a TLS listener but no tls: certificates are configured`);
      const tlsServer = tls.createServer(this.tlsServerOptions(tlsContexts));
      tlsContexts.attach(tlsServer);
      // The rate and the places are checked on the TCP connection, so a refused client costs no handshake.
      tlsServer.on('connection', (raw: Socket) => {
        track(raw);
        this.refuseStream(listener, raw, this.admission(state, raw.remoteAddress ?? 'unknown'));
      });
      // Others may have taken the last places during the handshake.
      tlsServer.on('secureConnection', (socket: Socket) => {
        if (!this.refuseStream(listener, socket, this.capacity(state))) this.openStream(listener, socket);
      });
      tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => this.tlsClientError({ service: state.service.config.name }, err, socket));
      server = tlsServer;
    } else {
      server = net.createServer();
      server.on('connection', (socket: Socket) => {
        track(socket);
        if (!this.refuseStream(listener, socket, this.admission(state, socket.remoteAddress ?? 'unknown'))) this.openStream(listener, socket);
      });
    }
    const listener: StreamListener = { uri, state, server, sockets };
    return listener;
  }

  private route(listener: Listener, path: string): Mount | null {
    const exact = listener.exact.get(path);
    if (exact) return exact;
    for (const m of listener.prefixes) {
      if (m.path === '/' || path === m.path || path.startsWith(`${m.path}/`)) return m;
    }
    return null;
  }

  private noServiceError(spec: GatewayErrorSpec): void {
    this.metrics.service(NO_SERVICE).error(spec.code);
  }

  private onRequest(listener: Listener, req: IncomingMessage, res: ServerResponse): void {
    const path = requestPath(req.url);
    const mount = path === null ? null : this.route(listener, path);
    if (!mount || path === null) {
      this.noServiceError(GATEWAY_ERRORS.NOT_FOUND);
      sendText(res, 404, `no service at ${path ?? 'this path'}`);
      return;
    }
    const { service } = mount;
    const below = mount.path === '/' ? path : path.slice(mount.path.length) || '/';
    if (this.securityEndpoint(mount.state, req, res, below)) return;
    if (!service.handleRequest) {
      mount.state.metrics.error(GATEWAY_ERRORS.UPGRADE_REQUIRED.code);
      sendText(res, 426, `${path} is a WebSocket endpoint: send an Upgrade: websocket request`, { Upgrade: 'websocket', Connection: 'Upgrade' });
      return;
    }
    const subpath = below;
    const { guard } = mount.state;
    if (!guard) {
      service.handleRequest(req, res, subpath);
      return;
    }
    const cors = guard.applyCors(req, res);
    if (cors === 'refused') mount.state.metrics.error(SECURITY_ERRORS.ORIGIN_REFUSED.code);
    if (cors !== 'continue') return;
    const handle = service.handleRequest.bind(service);
    void guard.check(req).then(
      (verdict) => {
        if (verdict.ok) {
          handle(req, res, subpath, verdict.subject);
          return;
        }
        mount.state.metrics.error(verdict.code);
        sendText(res, verdict.status, verdict.body, verdict.headers);
      },
      (err: Error) => {
        this.log.error({ service: service.config.name, err: err.message }, 'authentication failed');
        if (!res.headersSent) sendText(res, 500, 'authentication failed');
      },
    );
  }

  /** The guard's own endpoints below a guarded mount: POST ticket, refresh, login, logout. */
  private securityEndpoint(state: ServiceState, req: IncomingMessage, res: ServerResponse, subpath: string): boolean {
    const { guard } = state;
    if (!guard || req.method !== 'POST' && req.method !== 'OPTIONS') return false;
    // The guard answers these itself; its refusals name their code in X-Gangway-Error.
    const count = (): void => {
      res.once('finish', () => {
        const code = res.getHeader('X-Gangway-Error');
        if (typeof code === 'string') state.metrics.error(code);
      });
    };
    switch (subpath) {
      case '/ticket':
        count();
        void guard.handleTicketRequest(req, res);
        return true;
      case '/refresh':
        count();
        void guard.handleRefreshRequest(req, res);
        return true;
      case '/login':
        if (!this.security.cookies) return false;
        count();
        void guard.handleLoginRequest(req, res);
        return true;
      case '/logout':
        if (!this.security.cookies) return false;
        count();
        guard.handleLogoutRequest(req, res);
        return true;
      default:
        return false;
    }
  }

  private onUpgrade(listener: Listener, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroyOnError);
    const path = requestPath(req.url);
    const mount = path === null ? null : this.route(listener, path);
    if (!mount) {
      this.noServiceError(GATEWAY_ERRORS.NOT_FOUND);
      refuseUpgrade(socket, 404, `no service at ${path ?? 'this path'}`);
      return;
    }
    const { state } = mount;
    const svc = state.service.config;
    const refuse = (spec: GatewayErrorSpec, message: string, headers?: Record<string, string>): void => {
      state.metrics.error(spec.code);
      this.log.debug({ service: svc.name, remote: req.socket.remoteAddress, code: spec.code }, message);
      refuseUpgrade(socket, spec.status ?? 400, message, headers);
    };
    if (!state.wss || !state.service.handleSession) {
      refuse(GATEWAY_ERRORS.NOT_WEBSOCKET, `${path} serves HTTP only, not WebSocket`);
      return;
    }
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      refuse(GATEWAY_ERRORS.BAD_UPGRADE, 'malformed upgrade: expected GET with Upgrade: websocket');
      return;
    }
    const remote = clientAddress(req.socket.remoteAddress ?? 'unknown', req.headers, this.trusted);
    const refusal = this.admission(state, remote);
    if (refusal) {
      refuse(refusal.spec, refusal.message, { 'Retry-After': refusal.retryAfter });
      return;
    }
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (offered.length > 0 && !offered.some((p) => svc.subprotocols.includes(p))) {
      const speaks = svc.subprotocols.length ? `it speaks ${svc.subprotocols.join(', ')}` : 'it speaks no subprotocol';
      refuse(GATEWAY_ERRORS.SUBPROTOCOL, `service ${svc.name} does not speak ${offered.join(', ')}: ${speaks}`);
      return;
    }
    const key = req.headers['sec-websocket-key'];
    const version = req.headers['sec-websocket-version'];
    if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key) || (version !== '13' && version !== '8')) {
      refuse(GATEWAY_ERRORS.BAD_UPGRADE, 'malformed upgrade: invalid Sec-WebSocket-Key or Sec-WebSocket-Version');
      return;
    }
    const endpoints = { remotePort: req.socket.remotePort ?? 0, localAddress: req.socket.localAddress ?? '', localPort: req.socket.localPort ?? 0 };
    const wss = state.wss;
    const { guard } = state;
    if (!guard) {
      wss.handleUpgrade(req, socket, head, (ws) => this.openWebSocket(state, ws, remote, endpoints, null));
      return;
    }
    socket.pause();
    guard.check(req).then(
      (verdict) => {
        if (socket.destroyed) {
          if (verdict.ok) void guard.release(verdict.subject);
          return;
        }
        if (!verdict.ok) {
          state.metrics.error(verdict.code);
          this.log.info({ service: svc.name, remote, code: verdict.code, status: verdict.status }, 'upgrade refused');
          refuseUpgrade(socket, verdict.status, verdict.body, verdict.headers);
          return;
        }
        // Other sessions may have opened while the login ran.
        const full = this.capacity(state);
        if (full) {
          void guard.release(verdict.subject);
          refuse(full.spec, full.message, { 'Retry-After': full.retryAfter });
          return;
        }
        socket.resume();
        const auth = { guard, subject: verdict.subject, refreshKey: verdict.refreshKey };
        wss.handleUpgrade(req, socket, head, (ws) => this.openWebSocket(state, ws, remote, endpoints, auth));
      },
      (err: Error) => {
        this.log.error({ service: svc.name, err: err.message }, 'authentication failed');
        refuseUpgrade(socket, 500, 'authentication failed');
      },
    );
  }

  /**
   * A connection on a `tcp://` or `tls://` listener that the limits refused: there is no HTTP to
   * answer with, so the socket is closed at once and the code counted and logged. True if refused.
   */
  private refuseStream(listener: StreamListener, socket: Socket, refusal: Refusal | null): boolean {
    if (!refusal) return false;
    const { state } = listener;
    socket.on('error', destroyOnError);
    state.metrics.error(refusal.spec.code);
    this.log.debug({ service: state.service.config.name, remote: socket.remoteAddress ?? 'unknown', code: refusal.spec.code }, refusal.message);
    socket.destroy();
    return true;
  }

  /**
   * An admitted connection on a `tcp://` or `tls://` listener (after the TLS handshake) becomes a
   * session. The client's address is the socket's peer (no `Forwarded` on a byte stream).
   */
  private openStream(listener: StreamListener, socket: Socket): void {
    const svc = listener.state.service.config;
    socket.setNoDelay(true);
    // No pings on a byte stream: TCP keep-alive probes find a peer that vanished.
    if (svc.limits.pingIntervalMs > 0) socket.setKeepAlive(true, svc.limits.pingIntervalMs);
    const endpoints = { remotePort: socket.remotePort ?? 0, localAddress: socket.localAddress ?? '', localPort: socket.localPort ?? 0 };
    this.openSession(listener.state, new StreamTransport(socket), socket.remoteAddress ?? 'unknown', endpoints, null);
  }

  /**
   * A client of a TLS listener whose handshake failed or did not finish within
   * `tlsHandshakeTimeoutMs`: closed, no session, and a debug line unless the connection was merely
   * reset (by the client, or by {@link refuseStream}, which has logged its own reason).
   */
  private tlsClientError(where: { service: string } | { listener: string }, err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code !== 'ECONNRESET') this.log.debug({ ...where, remote: socket.remoteAddress ?? 'unknown', err: err.code ?? err.message }, 'TLS handshake failed');
    socket.destroy();
  }

  /** Whether a new connection from `remote` may become a session of the service now; the refusal when not. */
  private admission(state: ServiceState, remote: string): Refusal | null {
    const svc = state.service.config;
    // While stopping, the refusal says so and takes no token.
    if (!this.stopping && !this.takeToken(state, remote)) {
      return { spec: GATEWAY_ERRORS.RATE_LIMITED, message: `too many new connections from ${remote}: limit ${svc.limits.connectionsPerSecondPerIp}/s`, retryAfter: '1' };
    }
    return this.capacity(state);
  }

  /** Whether Gangway and the service have room for one more session (and are not stopping); the refusal when not. */
  private capacity(state: ServiceState): Refusal | null {
    const svc = state.service.config;
    const { TOO_MANY_CONNECTIONS } = GATEWAY_ERRORS;
    if (this.stopping) return { spec: TOO_MANY_CONNECTIONS, message: 'Gangway is shutting down', retryAfter: '5' };
    if (state.sessions.size >= svc.limits.maxConnections) return { spec: TOO_MANY_CONNECTIONS, message: `service ${svc.name} is at its limit of ${svc.limits.maxConnections} connections`, retryAfter: '5' };
    if (this.sessionSet.size >= this.config.limits.maxConnections) return { spec: TOO_MANY_CONNECTIONS, message: `Gangway is at its limit of ${this.config.limits.maxConnections} connections`, retryAfter: '5' };
    return null;
  }

  /**
   * Token bucket per client address and service: `connectionsPerSecondPerIp`, burst of the same
   * size but at least one (a rate below 1/s still lets one connection through per 1/rate seconds).
   */
  private takeToken(state: ServiceState, remote: string): boolean {
    const rate = state.service.config.limits.connectionsPerSecondPerIp;
    const burst = Math.max(1, rate);
    const now = Date.now();
    const bucket = state.buckets.get(remote) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    state.buckets.set(remote, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private openWebSocket(state: ServiceState, ws: WebSocket, remote: string, endpoints: Endpoints, auth: SessionAuth | null): void {
    const session = this.openSession(state, new WebSocketTransport(ws), remote, endpoints, auth);
    ws.on('pong', () => {
      session.awaitingPong = false;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already answered with a close frame: 1009 for size, 1007 for UTF-8, 1002 otherwise.
      const tooLarge = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      session.closeSent ??= tooLarge ? 1009 : err.code === 'WS_ERR_INVALID_UTF8' ? 1007 : 1002;
      session.fail(tooLarge ? GATEWAY_ERRORS.MESSAGE_TOO_LARGE : GATEWAY_ERRORS.WEBSOCKET_PROTOCOL);
      this.log.debug({ session: session.id, err: err.message }, 'websocket error');
    });
  }

  private openSession(state: ServiceState, transport: Transport, remote: string, endpoints: Endpoints, auth: SessionAuth | null): Session {
    const svc = state.service.config;
    const session = new Session(transport, svc.name, remote, svc.limits, state.metrics, this.log, endpoints, auth?.subject ?? null);
    state.sessions.add(session);
    this.sessionSet.add(session);
    state.metrics.sessionsCurrent++;
    state.metrics.sessionsTotal++;
    this.log.info(
      { event: 'session.open', session: session.id, service: svc.name, transport: transport.kind, remote, user: auth?.subject.user, protocol: transport.protocol || undefined },
      'session open',
    );
    transport.onClose((code: number, reason: string) => {
      state.sessions.delete(session);
      this.sessionSet.delete(session);
      state.metrics.sessionsCurrent--;
      session.ended(code, reason);
      this.log.info(
        {
          event: 'session.close',
          session: session.id,
          service: svc.name,
          transport: transport.kind,
          remote,
          user: session.subject?.user,
          durationMs: Date.now() - session.startedAt,
          bytesIn: session.bytesIn,
          bytesOut: session.bytesOut,
          messagesIn: session.messagesIn,
          messagesOut: session.messagesOut,
          closeCode: session.closeSent ?? code,
          reason: reason || session.closeReasonSent || undefined,
          error: session.errorCode,
        },
        'session close',
      );
    });
    // A guarded service's session that came without an upgrade logs in inside its protocol.
    if (state.guard && !auth) session.requireLogin(this.loginFor(state.guard, session));
    (state.service.handleSession as (s: Session) => void).call(state.service, session);
    if (auth) {
      // Tracked once the service holds the session, so a deadline reaches its farewell: the
      // protocol's own error before the 1008 close.
      auth.guard.track(session.id, auth.subject, (code, reason, spec) => session.closeWithFarewell(code, reason, spec), auth.refreshKey);
      session.onClose(() => void auth.guard.end(session.id));
    }
    return session;
  }

  /**
   * How a session without an upgrade (TCP) of a guarded service logs in: the credentials its
   * client sent in its protocol go through the guard (limiter, realm, roles); once admitted the
   * session is tracked as an upgraded one is (expiry, lifetime, logout at its end).
   */
  private loginFor(guard: Guard, session: Session): Login {
    return async (credentials) => {
      let verdict: Verdict;
      try {
        verdict = await guard.checkCredentials(credentials, session.remoteAddress);
      } catch (err) {
        this.log.error({ service: session.service, err: (err as Error).message }, 'authentication failed');
        return { ok: false, code: SECURITY_ERRORS.AUTH_FAILED.code, message: 'authentication failed' };
      }
      if (!verdict.ok) return { ok: false, code: verdict.code, message: verdict.body };
      const { subject } = verdict;
      if (session.closed) {
        await guard.release(subject);
        return { ok: false, code: SECURITY_ERRORS.AUTH_REQUIRED.code, message: 'the session closed during its login' };
      }
      this.log.info({ event: 'session.login', session: session.id, service: session.service, user: subject.user }, 'session logged in');
      guard.track(session.id, subject, (code, reason, spec) => session.closeWithFarewell(code, reason, spec));
      session.onClose(() => void guard.end(session.id));
      return { ok: true, subject };
    };
  }

  /** Once a second: idle timeouts, keep-alive pings, slow consumers, stale rate buckets. */
  private sweep(): void {
    const now = Date.now();
    for (const s of this.sessionSet) {
      const { idleTimeoutMs, pingIntervalMs, slowConsumerMs } = s.limits;
      if (s.active) {
        s.active = false;
        s.lastActiveAt = now;
      } else if (idleTimeoutMs > 0 && now - s.lastActiveAt >= idleTimeoutMs) {
        s.closeByGateway(GATEWAY_ERRORS.IDLE_TIMEOUT.close, 'idle timeout', GATEWAY_ERRORS.IDLE_TIMEOUT);
        continue;
      }
      if (s.pausedSince > 0 && now - s.pausedSince >= slowConsumerMs) {
        s.closeByGateway(GATEWAY_ERRORS.SLOW_CONSUMER.close, 'slow consumer', GATEWAY_ERRORS.SLOW_CONSUMER);
        continue;
      }
      if (pingIntervalMs > 0 && s.transport.ping !== undefined && now >= s.nextPingAt) {
        if (s.awaitingPong) {
          s.close(1006, 'ping timeout', GATEWAY_ERRORS.PING_TIMEOUT);
          continue;
        }
        s.awaitingPong = true;
        s.nextPingAt = now + pingIntervalMs;
        s.transport.ping();
      }
    }
    for (const state of this.states.values()) {
      for (const [ip, b] of state.buckets) if (now - b.at > 60_000) state.buckets.delete(ip);
    }
  }

  /** Opens the services that need it, then starts every listener; resolves when all are listening. */
  async start(): Promise<void> {
    for (const st of this.states.values()) {
      try {
        await st.service.open?.();
      } catch (err) {
        throw new Error(`service ${st.service.config.name}: ${(err as Error).message}`, { cause: err });
      }
    }
    const listen = (server: net.Server, port: number, host: string): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    await Promise.all([...this.listeners.map((l) => listen(l.server, l.port, l.host)), ...this.streams.map((l) => listen(l.server, l.uri.port, l.uri.host))]);
    this.started = true;
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    for (const l of this.listeners) {
      const { port } = l.server.address() as AddressInfo;
      const mounts = [...l.prefixes.map((m) => `${m.path} (${m.service.config.name})`), ...[...l.exact.entries()].map(([p, m]) => `${p} (${m.service.config.name})`)];
      this.log.info({ event: 'listen', host: l.host, port, tls: l.secure, mounts }, `listening on ${l.secure ? 'https' : 'http'}://${l.host}:${port}`);
    }
    for (const l of this.streams) {
      const { port } = l.server.address() as AddressInfo;
      const name = l.state.service.config.name;
      this.log.info({ event: 'listen', host: l.uri.host, port, tls: l.uri.scheme === 'tls', service: name }, `listening on ${l.uri.scheme}://${l.uri.host}:${port} (${name})`);
    }
  }

  /** The port a listener got (useful with port 0): the first listener, or the one on `host`. */
  port(host?: string): number {
    const l = host === undefined ? this.listeners[0] : this.listeners.find((x) => x.host === host);
    if (!l) throw new Error(`no listener${host ? ` on ${host}` : ''}`);
    return (l.server.address() as AddressInfo).port;
  }

  /** The port a service's `tcp://` or `tls://` listener got (useful with port 0): its first one, or the one of `scheme`. */
  streamPort(service: string, scheme?: 'tcp' | 'tls'): number {
    const l = this.streams.find((x) => x.state.service.config.name === service && (scheme === undefined || x.uri.scheme === scheme));
    if (!l) throw new Error(`service ${service} has no ${scheme ?? 'tcp:// or tls://'} listener`);
    return (l.server.address() as AddressInfo).port;
  }

  /**
   * Stops accepting, closes every session with 1001 (over TCP, after the service's own farewell:
   * a STOMP ERROR frame "Gangway shutting down"), waits up to `shutdownDrainMs` for them to
   * close, cuts what remains, and releases the services.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const servers: net.Server[] = [...this.listeners.map((l) => l.server), ...this.streams.map((l) => l.server)];
    const closed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    const { SHUTDOWN } = GATEWAY_ERRORS;
    for (const s of this.sessionSet) s.closeByGateway(SHUTDOWN.close, 'Gangway shutting down', SHUTDOWN);
    const deadline = Date.now() + this.config.limits.shutdownDrainMs;
    while (this.sessionSet.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    // Sessions cut at the deadline still end (and log their close line) before stop resolves.
    const cut = [...this.sessionSet].map((s) => new Promise<void>((resolve) => s.transport.onClose(() => resolve())));
    for (const s of this.sessionSet) s.transport.terminate();
    for (const l of this.listeners) l.server.closeAllConnections();
    for (const l of this.streams) for (const socket of l.sockets) socket.destroy();
    await Promise.all([closed, ...cut]);
    await Promise.all([...this.states.values()].map((st) => st.service.close?.()));
    this.security.close();
    this.started = false;
  }

  *sessions(): Iterable<Session> {
    yield* this.sessionSet;
  }

  *services(): Iterable<Service> {
    for (const st of this.states.values()) yield st.service;
  }

  listening(): boolean {
    return this.started && !this.stopping && this.listeners.every((l) => l.server.listening) && this.streams.every((l) => l.server.listening);
  }

  metricsText(): Promise<{ contentType: string; body: string }> {
    return this.metrics.text();
  }

  keyring(): CredentialSource | null {
    for (const st of this.states.values()) if (st.service.credentials) return st.service.credentials;
    return null;
  }
}
