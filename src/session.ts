import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import { SOCKET_READ_BYTES, type SessionLimits } from './config/defaults';
import type { ServiceMetrics } from './metrics';
import type { GatewayErrorSpec } from './errors';
import type { Subject } from '../security/subject';

/**
 * How a service ends its session in the session's own protocol when Gangway ends it for a reason
 * outside that protocol (see {@link Session.closeWithFarewell}): it tells the client why, where the
 * protocol has a way to at that point of its stream, winds the back end down, and closes the
 * session with `code` and `reason`.
 */
export type Farewell = (code: number, reason: string, error: GatewayErrorSpec) => void;

/** Something that can stop and restart producing data (a socket, a WebSocket). */
export interface Source {
  pause(): void;
  resume(): void;
}

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

  constructor(
    readonly ws: WebSocket,
    readonly service: string,
    /** The client's address: the socket's peer, or the forwarded address when the peer is a trusted proxy. */
    readonly remoteAddress: string,
    readonly limits: Readonly<SessionLimits>,
    readonly metrics: ServiceMetrics,
    readonly log: Logger,
    /** The TCP endpoints of the client's connection, as Gangway sees them. */
    readonly endpoints: Readonly<Endpoints> = { remotePort: 0, localAddress: '', localPort: 0 },
    /** Who the client authenticated as, on a guarded service. */
    readonly subject: Subject | null = null,
  ) {
    this.nextPingAt = this.startedAt + limits.pingIntervalMs;
    this.peer = ws;
    this.toClient = new Valve(this, { pause: () => this.peer.pause(), resume: () => this.peer.resume() });
  }

  /** The subprotocol agreed at the upgrade ('' for none). */
  get protocol(): string {
    return this.ws.protocol;
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
    const n = data.length;
    this.sending(n);
    this.ws.send(data, { binary }, () => this.toClient.release(n));
  }

  /**
   * Sends one message that is already a whole WebSocket frame, `frame`, whose payload is `n`
   * bytes, by writing it to `socket`, the one under this session's WebSocket: a frame built once
   * is so written to many clients. Counted and flow-controlled as {@link send}; the caller makes
   * sure ws itself has nothing queued for the socket and no extension is agreed.
   */
  sendFrame(frame: Buffer, n: number, socket: Duplex): void {
    if (this.closed) return;
    this.sending(n);
    socket.write(frame, () => this.toClient.release(n));
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
    return new Valve(this, this.ws);
  }

  /** Ends the session with a close code; `error` names the catalogue entry when it is an error. */
  close(code: number, reason: string, error?: GatewayErrorSpec | string): void {
    if (error !== undefined) this.fail(error);
    if (this.closed || this.closeSent !== undefined) return;
    this.closeSent = code;
    this.closeReasonSent = reason;
    if (code === 1006) this.ws.terminate();
    else this.ws.close(code, reason);
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

  /** Called once by the gateway when the WebSocket has closed. */
  ended(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.closeListeners) l(code, reason);
  }
}

/** With `binaryType` left at 'nodebuffer', ws hands every message over as one Buffer. */
export function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
