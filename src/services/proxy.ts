import { z } from 'zod';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import type { RawData } from 'ws';
import { GATEWAY_ERRORS, type GatewayErrorSpec } from '../errors';
import { redactUri } from '../log';
import { asBuffer, type Session } from '../session';
import type { Readiness, Service, ServiceConfig, ServiceType } from './types';

const propertiesSchema = z.strictObject({
  /**
   * How bytes from the back end reach the client: `binary` messages, `text` messages (UTF-8
   * checked; a character split across reads is held back until complete), or `mirror`: the type of
   * the client's latest message, binary until it sends one. @default "mirror"
   */
  messageType: z.enum(['binary', 'text', 'mirror']).default('mirror'),
  /** For `tls://` back ends. */
  tls: z
    .strictObject({
      /** PEM file of the CA(s) that sign the back end's certificate; the system's CAs when absent. */
      caFile: z.string().optional(),
      /** Name checked against the certificate. @default the connect URI's host */
      serverName: z.string().optional(),
      /** Client certificate and key (PEM) presented to the back end. */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
    })
    .optional(),
});

export type ProxyProperties = z.infer<typeof propertiesSchema>;

/** Close the back end this long after a clean end if it has not closed its side. */
const BACKEND_LINGER_MS = 5000;

const TLS_ERROR = /^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_MISMATCH)/;

/** Connects to `connect` as configured (TCP, or TLS with the service's trust settings). */
export function connectBackend(config: ServiceConfig<ProxyProperties>): net.Socket {
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

/** Byte length of the longest prefix of `buf` that ends on a UTF-8 character boundary. */
export function utf8CompleteLength(buf: Buffer): number {
  const len = buf.length;
  for (let i = len - 1; i >= 0 && i >= len - 4; i--) {
    const b = buf[i] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return len - i >= need ? len : i;
  }
  return len;
}

/**
 * `proxy`: each WebSocket session gets its own TCP (or TLS) connection to `connect`; bytes flow
 * both ways unchanged, with flow control in both directions and the back end's fate reported in
 * the close code (refused 1011, timeout 1014, closed 1000, lost 1011).
 */
export const proxyType: ServiceType<ProxyProperties> = {
  type: 'proxy',
  accepts: ['ws'],
  connect: { required: true, schemes: ['tcp', 'tls'] },
  properties: propertiesSchema,
  create({ config, metrics, log }): Service {
    const target = redactUri(config.connect as URL);
    const handshakeEvent = (config.connect as URL).protocol === 'tls:' ? 'secureConnect' : 'connect';

    function handleSession(session: Session): void {
      const { ws, limits } = session;
      const mode = config.properties.messageType;
      let binary = mode !== 'text';
      let connected = false;
      let carry: Buffer | null = null;
      const started = process.hrtime.bigint();
      const sock = connectBackend(config);
      const toBackend = session.valveFromClient();
      session.setPeer(sock);

      const fail = (spec: GatewayErrorSpec, reason: string): void => {
        log.debug({ session: session.id, code: spec.code, reason }, 'back end');
        session.close(spec.close as number, reason, spec);
        sock.destroy();
      };
      const timer = setTimeout(() => fail(GATEWAY_ERRORS.BACKEND_TIMEOUT, `back end ${target} did not answer within ${limits.connectTimeoutMs} ms`), limits.connectTimeoutMs);

      sock.once(handshakeEvent, () => {
        clearTimeout(timer);
        connected = true;
        metrics.backendConnected(Number(process.hrtime.bigint() - started) / 1e9);
      });
      sock.on('data', (chunk: Buffer) => {
        if (binary) {
          session.send(chunk, true);
          return;
        }
        let data = carry ? Buffer.concat([carry, chunk]) : chunk;
        carry = null;
        const complete = utf8CompleteLength(data);
        if (complete < data.length) {
          carry = Buffer.from(data.subarray(complete));
          data = data.subarray(0, complete);
        }
        if (!isUtf8(data)) {
          fail(GATEWAY_ERRORS.BACKEND_INVALID_UTF8, 'back end sent bytes that are not UTF-8 for a text message');
          return;
        }
        if (data.length > 0) session.send(data, false);
      });
      sock.on('end', () => {
        if (!session.closed) session.close(1000, 'back end closed the connection');
      });
      sock.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (session.closed) return;
        const code = err.code ?? '';
        if (TLS_ERROR.test(code)) fail(GATEWAY_ERRORS.BACKEND_TLS, `TLS with back end ${target} failed: ${code}`);
        else if (!connected) fail(GATEWAY_ERRORS.BACKEND_REFUSED, `back end ${target} refused: ${code || err.message}`);
        else fail(GATEWAY_ERRORS.BACKEND_LOST, `back end connection lost: ${code || err.message}`);
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!session.closed) session.close(1000, 'back end closed the connection');
      });

      ws.on('message', (data: RawData, isBinary: boolean) => {
        const buf = asBuffer(data);
        session.received(buf.length);
        if (mode === 'mirror') binary = isBinary;
        if (sock.destroyed) return;
        const n = buf.length;
        toBackend.add(n);
        sock.write(buf, () => toBackend.release(n));
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

    return {
      config,
      handleSession,
      ready(): Promise<Readiness> {
        return new Promise((resolve) => {
          const sock = connectBackend(config);
          const done = (r: Readiness): void => {
            clearTimeout(timer);
            sock.destroy();
            resolve(r);
          };
          const timer = setTimeout(() => done({ ok: false, detail: `${target}: no answer within 2000 ms` }), Math.min(2000, config.limits.connectTimeoutMs));
          sock.once(handshakeEvent, () => done({ ok: true }));
          sock.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: `${target}: ${err.code ?? err.message}` }));
        });
      },
    };
  },
};
