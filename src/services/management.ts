import { z } from 'zod';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, sendText } from './http';
import { GATEWAY_ERRORS } from '../errors';
import type { Readiness, Service, ServiceType } from './types';

/**
 * `management`: `/health` (the process answers), `/ready` (listeners up and every service's back
 * end reachable; 503 otherwise) and `/metrics` (Prometheus text format), below its mount.
 */
export const managementType: ServiceType<Record<string, never>> = {
  type: 'management',
  accepts: ['http'],
  connect: null,
  exactPaths: ['/health', '/ready', '/metrics'],
  properties: z.strictObject({}),
  create({ config, gateway, metrics, log }): Service {
    return {
      config,
      handleRequest(req: IncomingMessage, res: ServerResponse, subpath: string): void {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          metrics.error(GATEWAY_ERRORS.METHOD_NOT_ALLOWED.code);
          sendText(res, 405, `${req.method ?? ''} is not allowed here; use GET`, { Allow: 'GET, HEAD' });
          return;
        }
        if (subpath === '/health') {
          sendJson(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - gateway.startedAt) / 1000) });
        } else if (subpath === '/ready') {
          void readiness().then(
            (body) => sendJson(res, body.status === 'ready' ? 200 : 503, body),
            (err: Error) => {
              log.error({ err: err.message }, 'readiness check failed');
              sendJson(res, 503, { status: 'not ready', error: err.message });
            },
          );
        } else {
          gateway.metricsText().then(
            ({ contentType, body }) => {
              res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
              res.end(req.method === 'HEAD' ? undefined : body);
            },
            (err: Error) => sendText(res, 500, `metrics unavailable: ${err.message}`),
          );
        }
      },
    };

    async function readiness(): Promise<{ status: string; listening: boolean; services: Record<string, Readiness> }> {
      const services: Record<string, Readiness> = {};
      await Promise.all(
        [...gateway.services()].map(async (s) => {
          services[s.config.name] = s.ready ? await s.ready() : { ok: true };
        }),
      );
      const listening = gateway.listening();
      const ok = listening && Object.values(services).every((r) => r.ok);
      return { status: ok ? 'ready' : 'not ready', listening, services };
    }
  },
};
