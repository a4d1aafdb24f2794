import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import type { RawData } from 'ws';
import type { Logger } from 'pino';
import { WireError } from '../../validators/types';
import { GATEWAY_ERRORS, type GatewayErrorSpec } from '../errors';
import { redactUri } from '../log';
import type { ServiceMetrics } from '../metrics';
import { asBuffer, type Session } from '../session';
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
  /** Bytes telling the back end why its stream was refused, sent before Gangway ends the connection. */
  backendReply?(err: WireError): Buffer | null;
  /** Bytes that end the protocol session cleanly toward the back end after the client's input was refused. */
  farewell?(): Buffer | null;
}

/** Close after the back end sent something the client must not see (RFC 6455: bad gateway). */
const BAD_GATEWAY = 1014;

/** Close the back end this long after a clean end if it has not closed its side. */
const BACKEND_LINGER_MS = 5000;

const TLS_ERROR = /^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH)/;

/** Connects to `connect` as configured (TCP, or TLS with the service's trust settings). */
export function connectBackend(config: ServiceConfig<PipeProperties>): net.Socket {
  const url = config.connect as URL;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port);
  if (url.protocol !== 'tls:') return net.connect({ host, port, noDelay: true });
  const t = config.properties.tls ?? {};
  const servername = t.serverName ?? (net.isIP(host) ? undefined : host);
  const socket = tls.connect({
    host,
    port,
    ...(servername === undefined ? {} : { servername }),
    ...(t.caFile ? { ca: readFileSync(t.caFile) } : {}),
    ...(t.certFile ? { cert: readFileSync(t.certFile) } : {}),
    ...(t.keyFile ? { key: readFileSync(t.keyFile) } : {}),
  });
  socket.setNoDelay(true);
  return socket;
}

/** `/ready` for a back end: does it accept a connection (and a TLS handshake) within 2 s? */
export function probeBackend(config: ServiceConfig<PipeProperties>): Promise<Readiness> {
  const target = redactUri(config.connect as URL);
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
  const { ws, limits } = session;
  const target = redactUri(config.connect as URL);
  const secure = (config.connect as URL).protocol === 'tls:';
  let connected = false;
  const started = process.hrtime.bigint();
  const sock = connectBackend(config);
  const toBackend = session.valveFromClient();
  session.setPeer(sock);

  const write = (data: Buffer): void => {
    const n = data.length;
    toBackend.add(n);
    sock.write(data, () => toBackend.release(n));
  };
  const fail = (spec: GatewayErrorSpec, reason: string): void => {
    log.debug({ session: session.id, code: spec.code, reason }, 'back end');
    session.close(spec.close as number, reason, spec);
    sock.destroy();
  };
  const refused = (err: WireError, fromClient: boolean): void => {
    log.info({ session: session.id, code: err.code, direction: err.direction, reason: err.message }, 'input refused');
    // Counts the error against the service once (Session.fail records it in the same metrics).
    session.fail(err.code);
    if (fromClient) {
      for (const m of transform.clientReply?.(err) ?? []) session.send(m, !isText(m));
      session.close(err.closeCode, truncateReason(err.message));
      const farewell = transform.farewell?.();
      if (farewell && !sock.destroyed) sock.write(farewell);
    } else {
      session.close(BAD_GATEWAY, 'back end sent malformed data');
      const reply = transform.backendReply?.(err);
      if (reply && !sock.destroyed) sock.write(reply);
    }
    if (!sock.destroyed) sock.end();
  };

  const timer = setTimeout(() => fail(GATEWAY_ERRORS.BACKEND_TIMEOUT, `back end ${target} did not answer within ${limits.connectTimeoutMs} ms`), limits.connectTimeoutMs);

  if (config.properties.proxyProtocol) write(proxyHeaderV2(session));
  const preamble = transform.preamble?.();
  if (preamble) write(preamble);

  sock.once(secure ? 'secureConnect' : 'connect', () => {
    clearTimeout(timer);
    connected = true;
    metrics.backendConnected(Number(process.hrtime.bigint() - started) / 1e9);
  });
  const sendToClient = (data: Buffer, binary: boolean): void => session.send(data, binary);
  sock.on('data', (chunk: Buffer) => {
    if (session.closed || session.closeSent !== undefined) return;
    try {
      transform.fromBackend(chunk, sendToClient);
    } catch (err) {
      if (err instanceof WireError) refused(err, false);
      else if (err instanceof BackendDataError) fail(err.spec, err.message);
      else throw err;
    }
  });
  sock.on('end', () => {
    if (!session.closed) session.close(1000, 'back end closed the connection');
  });
  sock.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    if (session.closed || session.closeSent !== undefined) return;
    const code = err.code ?? '';
    if (TLS_ERROR.test(code)) fail(GATEWAY_ERRORS.BACKEND_TLS, `TLS with back end ${target} failed: ${code}`);
    else if (!connected) fail(GATEWAY_ERRORS.BACKEND_REFUSED, `back end ${target} refused: ${code || err.message}`);
    else fail(GATEWAY_ERRORS.BACKEND_LOST, `back end connection lost: ${code || err.message}`);
  });
  sock.on('close', () => {
    clearTimeout(timer);
    if (!session.closed) session.close(1000, 'back end closed the connection');
  });

  ws.on('message', (raw: RawData, isBinary: boolean) => {
    const data = asBuffer(raw);
    session.received(data.length);
    if (sock.destroyed || session.closeSent !== undefined) return;
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
  });

  session.onClose((code) => {
    clearTimeout(timer);
    if (sock.destroyed) return;
    if (code === 1006 || !connected) {
      sock.destroy();
      return;
    }
    sock.end();
    setTimeout(() => sock.destroy(), BACKEND_LINGER_MS).unref();
  });
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

/** Protocol replies are sent as text when they are UTF-8. */
function isText(data: Buffer): boolean {
  return isUtf8(data);
}

/** Close reasons are limited to 123 bytes by RFC 6455. */
export function truncateReason(reason: string): string {
  const buf = Buffer.from(reason);
  if (buf.length <= 123) return reason;
  return `${buf.subarray(0, 120).toString().replace(/\uFFFD$/, '')}...`;
}
