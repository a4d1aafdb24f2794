import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import type { Logger } from 'pino';
import { WireError } from '../../validators/types';
import { GATEWAY_ERRORS, type GatewayErrorSpec } from '../errors';
import { redactUri } from '../log';
import type { ServiceMetrics } from '../metrics';
import type { Session, Valve } from '../session';
import { proxyHeaderV2 } from './proxy-protocol';
import type { Readiness, ServiceConfig } from './types';

/** Trust settings for `tls://` back ends, shared by every type that connects over TCP. */
export const backendTlsSchema = z.strictObject({
  /** PEM file of the CA(s) that sign the back end's certificate; the system's CAs when absent. */
  caFile: z.string().optional(),
  /** Name checked against the certificate. @default the connect URI's host */
  serverName: z.string().optional(),
  /** Client certificate and key (PEM) presented to the back end. */
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
});

/** Properties every piped type takes. */
export const pipePropertiesShape = {
  tls: backendTlsSchema.optional(),
  /** Send a PROXY protocol v2 header first, so the back end sees the client's address. @default false */
  proxyProtocol: z.boolean().default(false),
};

export interface PipeProperties {
  readonly tls?: z.infer<typeof backendTlsSchema>;
  readonly proxyProtocol: boolean;
}

/**
 * What a service does to the bytes between a WebSocket client and its TCP back end. The plain
 * `proxy` passes them through; protocol proxies frame and validate them. A transform throws
 * {@link WireError} to refuse input: nothing of the offending input is forwarded.
 */
export interface Transform {
  /** Bytes the back end gets before anything from the client (a WEBIRC line). */
  preamble?(): Buffer | null;
  /** One client message → bytes for the back end (none yet is fine). */
  fromClient(data: Buffer, binary: boolean): Buffer | null;
  /** Bytes from the back end → messages for the client, through `send`. */
  fromBackend(chunk: Buffer, send: (data: Buffer, binary: boolean) => void): void;
  /** Messages telling the client why its input was refused (the protocol's own error), sent before the close. */
  clientReply?(err: WireError): readonly Buffer[];
  /**
   * Whether the session's messages are binary (a binary subprotocol): replies then go as binary
   * messages. Absent or false: a reply is text when it is UTF-8.
   */
  readonly binaryReplies?: boolean;
  /** Bytes telling the back end why its stream was refused, sent before Gangway ends the connection. */
  backendReply?(err: WireError): Buffer | null;
  /**
   * Messages telling the client, in its protocol, that Gangway ends the session for a reason
   * outside the protocol — `reason` and the catalogue `code` (its authorization expired, it reached
   * its lifetime) — sent before the close; none where the protocol has no way to say it at this
   * point of its stream.
   */
  endNotice?(reason: string, code: string): readonly Buffer[];
  /**
   * Bytes that end the protocol session cleanly toward the back end when Gangway ends the session:
   * after the client's input was refused, or for `reason` (an expired authorization).
   */
  farewell?(reason: string): Buffer | null;
  /**
   * Called once, before the preamble, with the session's link to the back end: what a transform
   * uses to speak to the back end on its own (STARTTLS, a login) and to upgrade the link to TLS.
   */
  attach?(link: BackendLink): void;
  /**
   * Runs once when the session starts (a credential lookup, a STARTTLS negotiation). Client
   * messages are held, in order, until it settles; they are bounded by the session's
   * `maxBufferedBytes` and the wait by `connectTimeoutMs`. Throwing a {@link WireError} refuses the
   * session with the protocol's own error ({@link Transform.clientReply}).
   */
  start?(): Promise<void>;
}

/** What a transform may do to the back-end connection besides answering its bytes. */
export interface BackendLink {
  /** Whether the link is encrypted now: `tls://`, or after {@link BackendLink.startTls}. */
  readonly secure: boolean;
  /** Writes bytes to the back end (with the session's flow control). */
  write(data: Buffer): void;
  /**
   * Wraps the connected back-end socket in TLS (STARTTLS), verifying the certificate with the
   * service's `tls` settings (`caFile`, `serverName`, client `certFile`/`keyFile`), and carries on
   * reading from the TLS socket. Call it from `fromBackend` right after the back end agreed, so
   * nothing else is read in plaintext. Resolves `true` once the handshake is done, `false` when it
   * failed (the session is then already being closed with `GW_ERR_BACKEND_TLS`).
   */
  startTls(): Promise<boolean>;
  /** Refuses the session with the transform's reply for `err`, as if the client's input had been refused. */
  refuse(err: WireError): void;
  /**
   * Ends the session after what was sent to the client (a back end's refusal of the login that
   * it does not follow with a close itself): WebSocket close `code`, back-end connection ended.
   */
  close(code: number, reason: string): void;
}

/** Close after the back end sent something the client must not see (RFC 6455: bad gateway). */
const BAD_GATEWAY = 1014;

/**
 * Client bytes for the back end are gathered up to this size per tick; a message this large is
 * written on its own. 16 KiB is one TLS record and well under a socket buffer.
 */
const WRITE_BATCH_BYTES = 16 * 1024;

/** Why the back end's session ends when the client's input was refused (an IRC QUIT's text). */
const REFUSED_INPUT = 'Gangway refused the client input';

/** Close the back end this long after a clean end if it has not closed its side. */
const BACKEND_LINGER_MS = 5000;

const TLS_ERROR = /^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH)/;

/** Connects to `connect` as configured (TCP, or TLS with the service's trust settings). */
export function connectBackend(config: ServiceConfig<PipeProperties>): net.Socket {
  const url = config.connect as URL;
  const host = backendHost(url);
  const port = Number(url.port);
  if (url.protocol !== 'tls:') return net.connect({ host, port, noDelay: true });
  const socket = tls.connect({ host, port, ...tlsOptions(config, host) });
  socket.setNoDelay(true);
  return socket;
}

function backendHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** TLS options from the service's trust settings: SNI and the name checked, CA, client certificate. */
function tlsOptions(config: ServiceConfig<PipeProperties>, host: string): tls.ConnectionOptions {
  const t = config.properties.tls ?? {};
  const servername = t.serverName ?? (net.isIP(host) ? undefined : host);
  return {
    ...(servername === undefined ? {} : { servername }),
    ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
    ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
    ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
  };
}

/** Wraps a connected socket in TLS toward the service's back end (STARTTLS). */
function upgradeBackend(config: ServiceConfig<PipeProperties>, socket: net.Socket): tls.TLSSocket {
  const host = backendHost(config.connect as URL);
  const secure = tls.connect({ socket, host, ...tlsOptions(config, host) });
  secure.setNoDelay(true);
  return secure;
}

const targets = new WeakMap<ServiceConfig<PipeProperties>, string>();

/** The back end as logs and close reasons name it (user info redacted), computed once per service. */
function targetOf(config: ServiceConfig<PipeProperties>): string {
  let target = targets.get(config);
  if (target === undefined) {
    target = redactUri(config.connect as URL);
    targets.set(config, target);
  }
  return target;
}

/** `/ready` for a back end: does it accept a connection (and a TLS handshake) within 2 s? */
export function probeBackend(config: ServiceConfig<PipeProperties>): Promise<Readiness> {
  const target = targetOf(config);
  const event = (config.connect as URL).protocol === 'tls:' ? 'secureConnect' : 'connect';
  return new Promise((resolve) => {
    const sock = connectBackend(config);
    const done = (r: Readiness): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `${target}: no answer within 2000 ms` }), Math.min(2000, config.limits.connectTimeoutMs));
    sock.once(event, () => done({ ok: true }));
    sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `${target}: ${err.code ?? err.message}` }));
  });
}

export interface PipeContext {
  readonly config: ServiceConfig<PipeProperties>;
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
}

/**
 * Runs one session: connects the back end, moves bytes both ways through `transform` with flow
 * control in both directions, and reports the back end's fate in the close code (refused 1011,
 * timeout 1014, closed 1000, lost 1011; refused input: the catalogue's code after the protocol's
 * own error).
 */
export function runPipe(session: Session, ctx: PipeContext, transform: Transform): void {
  const { config, metrics, log } = ctx;
  const { limits } = session;
  const target = targetOf(config);
  let secure = (config.connect as URL).protocol === 'tls:';
  let connected = false;
  const started = process.hrtime.bigint();
  let sock = connectBackend(config);
  session.setPeer(sock);

  const toBackend = new BackendWriter(sock, session.valveFromClient());
  const write = (data: Buffer): void => toBackend.write(data);
  /** Ends the back end's side after everything gathered for it. */
  const endBackend = (): void => {
    toBackend.flush();
    if (!sock.destroyed) sock.end();
  };
  const fail = (spec: GatewayErrorSpec, reason: string): void => {
    log.debug({ session: session.id, code: spec.code, reason }, 'back end');
    session.close(spec.close as number, reason, spec);
    // Accepted bytes reach the socket as they would have unbatched; destroy drops what it cannot send.
    toBackend.flush();
    sock.destroy();
  };
  /** Whether a message of Gangway's own (a refusal, a notice) goes out binary. */
  const asBinary = (m: Buffer): boolean => transform.binaryReplies === true || !isUtf8(m);
  const refused = (err: WireError, fromClient: boolean): void => {
    if (session.closeSent !== undefined) return;
    log.info({ session: session.id, code: err.code, direction: err.direction, reason: err.message }, 'input refused');
    // Counts the error against the service once (Session.fail records it in the same metrics).
    session.fail(err.code);
    if (fromClient) {
      for (const m of transform.clientReply?.(err) ?? []) session.send(m, asBinary(m));
      session.close(err.closeCode, truncateReason(err.message));
      const farewell = transform.farewell?.(REFUSED_INPUT);
      if (farewell) write(farewell);
    } else {
      session.close(BAD_GATEWAY, 'back end sent malformed data');
      const reply = transform.backendReply?.(err);
      if (reply) write(reply);
    }
    endBackend();
  };

  const timer = setTimeout(() => fail(GATEWAY_ERRORS.BACKEND_TIMEOUT, `back end ${target} did not answer within ${limits.connectTimeoutMs} ms`), limits.connectTimeoutMs);

  const sendToClient = (data: Buffer, binary: boolean): void => session.send(data, binary);
  const onData = (chunk: Buffer): void => {
    if (session.closed || session.closeSent !== undefined) return;
    try {
      transform.fromBackend(chunk, sendToClient);
    } catch (err) {
      if (err instanceof WireError) refused(err, false);
      else if (err instanceof BackendDataError) fail(err.spec, err.message);
      else throw err;
    }
  };
  const onEnd = (): void => {
    if (!session.closed) session.close(1000, 'back end closed the connection');
  };
  const onError = (err: NodeJS.ErrnoException): void => {
    clearTimeout(timer);
    if (session.closed || session.closeSent !== undefined) return;
    const code = err.code ?? '';
    if (TLS_ERROR.test(code)) fail(GATEWAY_ERRORS.BACKEND_TLS, `TLS with back end ${target} failed: ${code}`);
    else if (!connected) fail(GATEWAY_ERRORS.BACKEND_REFUSED, `back end ${target} refused: ${code || err.message}`);
    else fail(GATEWAY_ERRORS.BACKEND_LOST, `back end connection lost: ${code || err.message}`);
  };
  const onClose = (): void => {
    clearTimeout(timer);
    if (!session.closed) session.close(1000, 'back end closed the connection');
  };
  const listen = (s: net.Socket): void => {
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('error', onError);
    s.on('close', onClose);
  };

  const link: BackendLink = {
    get secure() {
      return secure;
    },
    write,
    startTls() {
      if (secure) return Promise.resolve(true);
      // What was gathered before the upgrade was meant for the plaintext link.
      toBackend.flush();
      const plain = sock;
      plain.removeListener('data', onData);
      plain.removeListener('end', onEnd);
      plain.removeListener('close', onClose);
      // Errors of the plain socket reach the TLS socket too; the listener stays so none is unhandled.
      const upgraded = upgradeBackend(config, plain);
      sock = upgraded;
      toBackend.sock = upgraded;
      session.setPeer(upgraded);
      listen(upgraded);
      return new Promise<boolean>((resolve) => {
        const handshake = setTimeout(() => {
          fail(GATEWAY_ERRORS.BACKEND_TLS, `TLS with back end ${target} failed: no handshake within ${limits.connectTimeoutMs} ms`);
          resolve(false);
        }, limits.connectTimeoutMs);
        upgraded.once('secureConnect', () => {
          clearTimeout(handshake);
          secure = true;
          log.debug({ session: session.id, protocol: upgraded.getProtocol() }, 'back end link upgraded to TLS');
          resolve(true);
        });
        upgraded.once('close', () => {
          clearTimeout(handshake);
          resolve(false);
        });
      });
    },
    refuse(err) {
      refused(err, true);
    },
    close(code, reason) {
      session.close(code, truncateReason(reason));
      endBackend();
    },
  };
  transform.attach?.(link);
  // Gangway ends the session (an expired authorization): the protocol's notice to the client,
  // the close, then the back end's session ended as after refused input.
  session.setFarewell((code, reason, error) => {
    for (const m of transform.endNotice?.(reason, error.code) ?? []) session.send(m, asBinary(m));
    session.close(code, reason, error);
    const farewell = transform.farewell?.(reason);
    if (farewell) write(farewell);
    endBackend();
  });

  if (config.properties.proxyProtocol) write(proxyHeaderV2(session));
  const preamble = transform.preamble?.();
  if (preamble) write(preamble);

  sock.once(secure ? 'secureConnect' : 'connect', () => {
    clearTimeout(timer);
    connected = true;
    metrics.backendConnected(Number(process.hrtime.bigint() - started) / 1e9);
  });
  listen(sock);

  const fromClient = (data: Buffer, isBinary: boolean): void => {
    let out: Buffer | null;
    try {
      out = transform.fromClient(data, isBinary);
    } catch (err) {
      if (err instanceof WireError) {
        refused(err, true);
        return;
      }
      throw err;
    }
    if (out && out.length > 0) write(out);
  };

  /** Client messages held while `start()` runs, and their size. */
  let held: { data: Buffer; isBinary: boolean }[] | null = null;
  let heldBytes = 0;
  if (transform.start) {
    held = [];
    const startTimer = setTimeout(
      () => fail(GATEWAY_ERRORS.BACKEND_TIMEOUT, `session start toward ${target} did not finish within ${limits.connectTimeoutMs} ms`),
      limits.connectTimeoutMs,
    );
    transform.start().then(
      () => {
        clearTimeout(startTimer);
        const queue = held ?? [];
        held = null;
        heldBytes = 0;
        for (const m of queue) {
          if (sock.destroyed || session.closeSent !== undefined) return;
          fromClient(m.data, m.isBinary);
        }
      },
      (err: unknown) => {
        clearTimeout(startTimer);
        held = null;
        if (err instanceof WireError) refused(err, true);
        else {
          log.warn({ session: session.id, err }, 'session start failed');
          fail(GATEWAY_ERRORS.BACKEND_LOST, `session start toward ${target} failed`);
        }
      },
    );
  }

  session.onMessage((data, isBinary) => {
    session.received(data.length);
    if (sock.destroyed || session.closeSent !== undefined) return;
    if (held !== null) {
      heldBytes += data.length;
      if (heldBytes > limits.maxBufferedBytes) {
        fail(GATEWAY_ERRORS.MESSAGE_TOO_LARGE, `client sent more than ${limits.maxBufferedBytes} bytes before the session toward ${target} started`);
        return;
      }
      held.push({ data, isBinary });
      return;
    }
    fromClient(data, isBinary);
  });

  session.onClose((code) => {
    clearTimeout(timer);
    if (sock.destroyed) return;
    if (code === 1006 || !connected) {
      toBackend.flush();
      sock.destroy();
      return;
    }
    endBackend();
    setTimeout(() => sock.destroy(), BACKEND_LINGER_MS).unref();
  });
}

/**
 * Bytes on their way to the back end, gathered and written once per tick (nats `sendCommand`): a
 * burst of small client messages taken off one socket read costs one `write()` instead of one
 * each. Bytes count against the session's bound (the valve) from the moment they are taken until
 * the socket has written them, exactly as when each was written at once.
 */
class BackendWriter {
  private readonly batch: Buffer[] = [];
  private batchBytes = 0;
  private flushQueued = false;

  constructor(
    /** The back end's socket: the TLS socket once the link was upgraded. */
    public sock: net.Socket,
    private readonly valve: Valve,
  ) {}

  /** Takes `data` for the back end: gathered when small, written at once (after what was gathered) when large. */
  write(data: Buffer): void {
    const n = data.length;
    this.valve.add(n);
    if (n >= WRITE_BATCH_BYTES) {
      this.flush();
      this.writeNow(data, n);
      return;
    }
    this.batch.push(data);
    this.batchBytes += n;
    if (this.batchBytes >= WRITE_BATCH_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(flushOnTick, this);
    }
  }

  /** Writes what is gathered. Called on the next tick, when the batch is full, and before the link is ended, destroyed or upgraded. */
  flush(): void {
    const n = this.batchBytes;
    if (n === 0) return;
    const data = this.batch.length === 1 ? (this.batch[0] as Buffer) : Buffer.concat(this.batch, n);
    this.batch.length = 0;
    this.batchBytes = 0;
    this.writeNow(data, n);
  }

  /** The tick's flush, queued once per tick by {@link BackendWriter.write}. */
  tick(): void {
    this.flushQueued = false;
    this.flush();
  }

  private writeNow(data: Buffer, n: number): void {
    // A destroyed socket takes nothing more: the bytes leave the bound as they are dropped.
    if (this.sock.destroyed) this.valve.release(n);
    else this.sock.write(data, () => this.valve.release(n));
  }
}

function flushOnTick(writer: BackendWriter): void {
  writer.tick();
}

/** Back-end data a transform cannot pass on, outside any wire protocol (text that is not UTF-8). */
export class BackendDataError extends Error {
  constructor(
    readonly spec: GatewayErrorSpec,
    message: string,
  ) {
    super(message);
  }
}


/** Close reasons are limited to 123 bytes by RFC 6455. */
export function truncateReason(reason: string): string {
  const buf = Buffer.from(reason);
  if (buf.length <= 123) return reason;
  return `${buf.subarray(0, 120).toString().replace(/\uFFFD$/, '')}...`;
}
