import { z } from 'zod';
import { createReadStream, promises as fs, realpathSync, type Stats } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GATEWAY_ERRORS } from '../errors';
import { sendText } from './http';
import type { Service, ServiceType } from './types';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
};

const propertiesSchema = z.strictObject({
  /** Folder served; relative paths resolve against the configuration file. */
  root: z.string(),
  /** File served for a folder. @default "index.html" */
  index: z.string().default('index.html'),
  /** `Cache-Control: max-age` in seconds. @default 0 */
  maxAgeSeconds: z.number().int().min(0).default(0),
});

export type DirectoryProperties = z.infer<typeof propertiesSchema>;

/**
 * `directory`: static files below `root`. Paths are resolved and then checked against the real
 * path of the root, so neither `..` nor a symbolic link leads outside it; hidden files (a segment
 * starting with ".") are refused. Answers GET and HEAD with ETag, Last-Modified and 304s.
 */
export const directoryType: ServiceType<DirectoryProperties> = {
  type: 'directory',
  accepts: ['http'],
  connect: null,
  properties: propertiesSchema,
  create({ config, metrics }): Service {
    const props = config.properties;
    let root: string;
    try {
      root = realpathSync(resolve(props.root));
    } catch {
      throw new Error(`service ${config.name}: directory root ${props.root} does not exist`);
    }

    const refuse = (res: ServerResponse, status: 403 | 404 | 405, message: string): void => {
      metrics.error(status === 403 ? GATEWAY_ERRORS.FORBIDDEN_PATH.code : status === 404 ? GATEWAY_ERRORS.NOT_FOUND.code : GATEWAY_ERRORS.METHOD_NOT_ALLOWED.code);
      sendText(res, status, message, status === 405 ? { Allow: 'GET, HEAD' } : {});
    };

    async function serve(req: IncomingMessage, res: ServerResponse, subpath: string): Promise<void> {
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, `${req.method ?? ''} is not allowed here; use GET`);
      if (subpath.includes('\0') || subpath.split('/').some((seg) => seg.startsWith('.') && seg !== '')) {
        return refuse(res, 403, 'forbidden path');
      }
      let file = resolve(root, `.${subpath}`);
      if (file !== root && !file.startsWith(root + sep)) return refuse(res, 403, 'forbidden path');
      let stat: Stats;
      try {
        const real = await fs.realpath(file);
        if (real !== root && !real.startsWith(root + sep)) return refuse(res, 403, 'forbidden path');
        stat = await fs.stat(real);
        if (stat.isDirectory()) {
          if (!subpath.endsWith('/')) {
            res.writeHead(301, { Location: `${req.url?.split('?')[0] ?? ''}/`, 'Content-Length': 0 });
            res.end();
            return;
          }
          file = join(real, props.index);
          const realIndex = await fs.realpath(file);
          if (!realIndex.startsWith(root + sep)) return refuse(res, 403, 'forbidden path');
          stat = await fs.stat(realIndex);
          file = realIndex;
        } else {
          file = real;
        }
      } catch {
        return refuse(res, 404, `not found: ${subpath}`);
      }
      if (!stat.isFile()) return refuse(res, 404, `not found: ${subpath}`);

      const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
      const lastModified = new Date(Math.floor(stat.mtimeMs / 1000) * 1000);
      const headers: Record<string, string | number> = {
        ETag: etag,
        'Last-Modified': lastModified.toUTCString(),
        'Cache-Control': `max-age=${props.maxAgeSeconds}`,
        'X-Content-Type-Options': 'nosniff',
      };
      const inm = req.headers['if-none-match'];
      const ims = req.headers['if-modified-since'];
      const notModified = inm !== undefined ? inm.split(',').some((t) => t.trim() === etag || t.trim() === '*') : ims !== undefined && Date.parse(ims) >= lastModified.getTime();
      if (notModified) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      headers['Content-Type'] = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      headers['Content-Length'] = stat.size;
      res.writeHead(200, headers);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      const stream = createReadStream(file);
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    }

    return {
      config,
      handleRequest(req, res, subpath): void {
        serve(req, res, subpath).catch(() => {
          if (!res.headersSent) sendText(res, 500, 'cannot read the file');
          else res.destroy();
        });
      },
      async ready() {
        try {
          await fs.access(root);
          return { ok: true };
        } catch {
          return { ok: false, detail: `root ${props.root} is not readable` };
        }
      },
    };
  },
};
