/**
 * The `keyring` service's HTTP API, below its mount:
 * - `GET /credentials`: names of the services the authenticated user stores credentials for;
 * - `PUT /credentials/{service}`: stores `{username, password}` or `{token}` (204);
 * - `DELETE /credentials/{service}`: removes it (204, 404 when there was none).
 * No answer ever carries a secret, and error messages never echo the request body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { KEYRING_DEFAULTS } from './defaults';
import { KeyringError, messageOf } from './errors';
import { credentialSchema, type Keyring } from './keyring';

/** Options of {@link createKeyringHandler}. */
export interface KeyringHandlerOptions {
  /** The authenticated user of a request, or `null` (answered with 401). */
  authenticate(req: IncomingMessage): Promise<string | null>;
  /** @default KEYRING_DEFAULTS.maxBodyBytes */
  readonly maxBodyBytes?: number;
  /** `WWW-Authenticate` value sent with 401. @default none */
  readonly challenge?: string;
  readonly log?: Logger;
}

/** A request handler as `Service.handleRequest` takes it. */
export type KeyringHandler = (req: IncomingMessage, res: ServerResponse, subpath: string) => void;

function send(res: ServerResponse, status: number, body: string | null, headers: Record<string, string> = {}, json = false): void {
  if (res.headersSent) return;
  const text = body === null ? '' : json ? `${body}\n` : `${body}\n`;
  const base: Record<string, string | number> = { 'Cache-Control': 'no-store', ...headers };
  if (body !== null) {
    base['Content-Type'] = json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8';
    base['Content-Length'] = Buffer.byteLength(text);
  }
  res.writeHead(status, base);
  res.end(body === null ? undefined : text);
}

class BodyTooLarge extends Error {}

/** Reads the body up to `max` bytes; rejects with {@link BodyTooLarge} past it. */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((done, fail) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > max) {
      fail(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.off('data', onData);
        req.off('end', onEnd);
        fail(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => done(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', fail);
  });
}

const PREFIX = '/credentials';

/** The `keyring` service's request handler. */
export function createKeyringHandler(keyring: Keyring, options: KeyringHandlerOptions): KeyringHandler {
  const max = options.maxBodyBytes ?? KEYRING_DEFAULTS.maxBodyBytes;
  const log = options.log;

  const fail = (res: ServerResponse, err: unknown, user: string | null): void => {
    if (err instanceof KeyringError) {
      if (err.status >= 500) log?.error({ event: 'keyring.api.error', user, code: err.code, err: err.message }, 'keyring request failed');
      send(res, err.status, err.status >= 500 ? `keyring unavailable (${err.code})` : err.message);
      return;
    }
    log?.error({ event: 'keyring.api.error', user, err: messageOf(err) }, 'keyring request failed');
    send(res, 500, 'keyring request failed');
  };

  return (req, res, subpath) => {
    const path = subpath.split('?')[0];
    let service: string | null = null;
    if (path === PREFIX || path === `${PREFIX}/`) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, `${req.method ?? ''} is not allowed on ${PREFIX}; use GET`, { Allow: 'GET, HEAD' });
        return;
      }
    } else if (path.startsWith(`${PREFIX}/`)) {
      try {
        service = decodeURIComponent(path.slice(PREFIX.length + 1));
      } catch {
        send(res, 400, 'the service name is not valid percent-encoding');
        return;
      }
      if (req.method !== 'PUT' && req.method !== 'DELETE') {
        send(res, 405, `${req.method ?? ''} is not allowed on ${PREFIX}/{service}; use PUT or DELETE (stored secrets are never returned)`, { Allow: 'PUT, DELETE' });
        return;
      }
    } else {
      send(res, 404, `no such resource; the keyring API is ${PREFIX}`);
      return;
    }

    void (async () => {
      let user: string | null = null;
      try {
        user = await options.authenticate(req);
      } catch (err) {
        fail(res, err, null);
        return;
      }
      if (user === null) {
        send(res, 401, 'authentication required', options.challenge ? { 'WWW-Authenticate': options.challenge } : {});
        return;
      }
      try {
        if (service === null) {
          const services = await keyring.list(user);
          const body = JSON.stringify({ services });
          if (req.method === 'HEAD') {
            res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) + 1, 'Cache-Control': 'no-store' });
            res.end();
          } else {
            send(res, 200, body, {}, true);
          }
          return;
        }
        if (req.method === 'DELETE') {
          const removed = await keyring.delete(user, service);
          send(res, removed ? 204 : 404, removed ? null : `no credential stored for ${service}`);
          return;
        }
        let body: Buffer;
        try {
          body = await readBody(req, max);
        } catch (err) {
          if (err instanceof BodyTooLarge) {
            send(res, 413, `the body is larger than ${max} bytes`, { Connection: 'close' });
            res.on('finish', () => req.destroy());
            return;
          }
          throw err;
        }
        let value: unknown;
        try {
          value = JSON.parse(body.toString('utf8'));
        } catch {
          send(res, 400, 'the body is not valid JSON');
          return;
        } finally {
          body.fill(0);
        }
        const parsed = credentialSchema.safeParse(value);
        if (!parsed.success) {
          send(res, 400, 'expected a JSON object {"username": string, "password": string} or {"token": string}, with no other fields');
          return;
        }
        await keyring.set(user, service, parsed.data);
        send(res, 204, null);
      } catch (err) {
        fail(res, err, user);
      }
    })();
  };
}
