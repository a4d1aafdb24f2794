import type { Logger } from 'pino';
import { SOCKET_READ_BYTES, type SessionLimits } from './config/defaults';
import type { ServiceMetrics } from './metrics';
import type { GatewayErrorSpec } from './errors';
import type { Subject } from '../security/subject';
import type { Credentials } from '../security/login-module';
import type { Source, Transport } from './transports';

export type { Source } from './transports';

/**
 * How a service ends its session in the session's own protocol when Gangway ends it for a reason
 * outside that protocol (see {@link Session.closeWithFarewell}): it tells the client why, where the
 * protocol has a way to at that point of its stream, winds the back end down, and closes the
 * session with `code` and `reason`.
 */
export type Farewell = (code: number, reason: string, error: GatewayErrorSpec) => void;

/** A refused login: the catalogue code and a one-line reason for the client. */
export interface LoginRefusal {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
}

/** What {@link Session.login} decided: in, or why not (the user is then {@link Session.subject}). */
export type LoginResult = { readonly ok: true } | LoginRefusal;

/**
 * Authenticates a session from credentials its client sent inside its own protocol (STOMP
 * CONNECT `login` and `passcode`), for transports that have no HTTP handshake to carry them. It
 * never rejects: a failure of the realm is a refusal.
 */
export type Login = (credentials: Credentials) => Promise<{ readonly ok: true; readonly subject: Subject } | LoginRefusal>;

let nextId = 0;

/** The ports and local address of the connection a session arrived on. */
export interface Endpoints {
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/**
 * Tracks bytes written toward one receiver and not yet taken by it, and pauses the sender before
 * the session's bound could be passed: at most one socket read arrives after the pause, so the
 * sender stops once `pending + SOCKET_READ_BYTES` would exceed the bound, and resumes at half of it.
 */
export class Valve {
  pending = 0;
  private paused = false;

  constructor(
    private readonly session: Session,
    private readonly source: Source,
  ) {}

  /** Counts `n` bytes handed to the receiver. */
  add(n: number): void {
    this.pending += n;
    this.session.buffered += n;
    if (this.session.buffered > this.session.peakBuffered) this.session.peakBuffered = this.session.buffered;
    if (!this.paused && this.session.buffered + SOCKET_READ_BYTES > this.session.limits.maxBufferedBytes) {
      this.paused = true;
      this.session.pausedSince = Date.now();
      this.source.pause();
    }
  }

  /** The receiver took `n` bytes. */
  release(n: number): void {
    this.pending -= n;
    this.session.buffered -= n;
    if (this.paused && this.session.buffered <= this.session.limits.maxBufferedBytes / 2) {
      this.paused = false;
      this.session.pausedSince = 0;
      if (!this.session.closed) this.source.resume();
    }
  }
}

/** One client connection through one service. */
export class Session {
  readonly id = (++nextId).toString(36);
  readonly startedAt = Date.now();
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  /** Bytes held now for receivers that have not taken them, and the most ever held. */
  buffered = 0;
  peakBuffered = 0;
  /** When a sender was paused for a receiver that does not drain (0: not paused). */
  pausedSince = 0;
  /** Set by traffic, cleared by the gateway's sweep (idle timeout). */
  active = true;
  lastActiveAt = Date.now();
  awaitingPong = false;
  nextPingAt: number;
  closed = false;
  /** The close code and reason Gangway sent, when it was Gangway that closed. */
  closeSent: number | undefined;
  closeReasonSent: string | undefined;
  /** The catalogue code of the error that ended the session, if any. */
  errorCode: string | undefined;
  private readonly toClient: Valve;
  private readonly closeListeners: ((code: number, reason: string) => void)[] = [];
  private peer: Source;
  private farewell: Farewell | null = null;
  private loginHandler: Login | null = null;
  private authSubject: Subject | null;

  constructor(
    /** How the client is connected: WebSocket, or a TCP or TLS byte stream. */
    readonly transport: Transport,
    readonly service: string,
    /** The client's address: the socket's peer, or the forwarded address when the peer is a trusted proxy. */
    readonly remoteAddress: string,
    readonly limits: Readonly<SessionLimits>,
    readonly metrics: ServiceMetrics,
    readonly log: Logger,
    /** The TCP endpoints of the client's connection, as Gangway sees them. */
    readonly endpoints: Readonly<Endpoints> = { remotePort: 0, localAddress: '', localPort: 0 },
    /** Who the client authenticated as at the upgrade, on a guarded service. */
    subject: Subject | null = null,
  ) {
    this.authSubject = subject;
    this.nextPingAt = this.startedAt + limits.pingIntervalMs;
    this.peer = transport;
    this.toClient = new Valve(this, { pause: () => this.peer.pause(), resume: () => this.peer.resume() });
  }

  /** The subprotocol agreed at the upgrade ('' for none, and on TCP). */
  get protocol(): string {
    return this.transport.protocol;
  }

  /**
   * Who the client authenticated as, on a guarded service: at the upgrade, or through
   * {@link Session.login} on transports without one; `null` until then and on unguarded services.
   */
  get subject(): Subject | null {
    return this.authSubject;
  }

  /** Each message from the client (each read, on TCP), with whether it is binary. */
  onMessage(listener: (data: Buffer, binary: boolean) => void): void {
    this.transport.onMessage(listener);
  }

  /**
   * Whether the service must authenticate the client from credentials in its own protocol, with
   * {@link Session.login}, before serving it: a guarded service's session that arrived without an
   * HTTP handshake (TCP).
   */
  get loginRequired(): boolean {
    return this.loginHandler !== null;
  }

  /** Set by the gateway on a session that must log in (see {@link Session.loginRequired}). */
  requireLogin(login: Login): void {
    this.loginHandler = login;
  }

  /**
   * Authenticates the client through the service's realm and role constraints, once: on success
   * {@link Session.subject} is set and no further login is required.
   */
  async login(credentials: Credentials): Promise<LoginResult> {
    const login = this.loginHandler;
    if (login === null) return { ok: true };
    const result = await login(credentials);
    if (!result.ok) return result;
    this.loginHandler = null;
    this.authSubject = result.subject;
    return { ok: true };
  }

  /** Names what produces the data sent to the client, so it is paused when the client is slow. */
  setPeer(source: Source): void {
    this.peer = source;
  }

  /** Counts a message from the client. */
  received(size: number): void {
    this.bytesIn += size;
    this.messagesIn++;
    this.metrics.bytesIn += size;
    this.metrics.messagesIn++;
    this.active = true;
  }

  /** Sends one message to the client with flow control. */
  send(data: Buffer, binary: boolean): void {
    if (this.closed) return;
    this.sending(data.length);
    this.transport.send(data, binary, () => this.toClient.release(data.length));
  }

  /**
   * Sends one message that is handed unchanged to many sessions in a row (a fan-out), so that the
   * transport may encode it once for all of them; counted and flow-controlled as {@link send}.
   */
  sendShared(data: Buffer, binary: boolean): void {
    if (this.closed) return;
    this.sending(data.length);
    this.transport.sendShared(data, binary, () => this.toClient.release(data.length));
  }

  private sending(n: number): void {
    this.bytesOut += n;
    this.messagesOut++;
    this.metrics.bytesOut += n;
    this.metrics.messagesOut++;
    this.active = true;
    this.toClient.add(n);
  }

  /** A flow-control valve for a receiver other than the client, pausing the client's reads. */
  valveFromClient(): Valve {
    return new Valve(this, this.transport);
  }

  /** Ends the session with a close code; `error` names the catalogue entry when it is an error. */
  close(code: number, reason: string, error?: GatewayErrorSpec | string): void {
    if (error !== undefined) this.fail(error);
    if (this.closed || this.closeSent !== undefined) return;
    this.closeSent = code;
    this.closeReasonSent = reason;
    if (code === 1006) this.transport.terminate();
    else this.transport.close(code, reason);
  }

  /**
   * Ends the session for a reason of Gangway's own (idle timeout, slow consumer, shutdown). A
   * WebSocket client reads it in the close frame; over a transport whose close carries no code or
   * reason (TCP) the service's {@link Farewell} tells the client first, in its protocol.
   */
  closeByGateway(code: number, reason: string, error: GatewayErrorSpec): void {
    if (this.transport.closeFrames) this.close(code, reason, error);
    else this.closeWithFarewell(code, reason, error);
  }

  /** Names how the service ends the session in its protocol (protocol-aware services set it). */
  setFarewell(farewell: Farewell): void {
    this.farewell = farewell;
  }

  /**
   * Ends the session for a reason outside its wire protocol (its authorization expired, it reached
   * its maximum lifetime): the service's {@link Farewell} first, so the client gets the
   * protocol's own error before the close; a plain close when the service has none.
   */
  closeWithFarewell(code: number, reason: string, error: GatewayErrorSpec): void {
    const farewell = this.farewell;
    this.farewell = null;
    if (farewell && !this.closed && this.closeSent === undefined) farewell(code, reason, error);
    this.close(code, reason, error);
  }

  /** Records an error against the session and its service (first one wins). */
  fail(error: GatewayErrorSpec | string): void {
    const code = typeof error === 'string' ? error : error.code;
    if (this.errorCode === undefined) {
      this.errorCode = code;
      this.metrics.error(code);
    }
  }

  onClose(listener: (code: number, reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  /** Called once by the gateway when the connection has closed. */
  ended(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l(code, reason);
  }
}
