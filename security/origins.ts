import type { IncomingMessage, ServerResponse } from 'node:http';
import { SECURITY_DEFAULTS } from './defaults';

type Pattern = { kind: 'exact'; origin: string } | { kind: 'wildcard'; protocol: string; suffix: string; port: string } | { kind: 'null' } | { kind: 'any' };

function compile(p: string): Pattern {
  if (p === 'null') return { kind: 'null' };
  if (p === '*') return { kind: 'any' };
  const m = /^([a-z][a-z0-9+.-]*):\/\/\*\.([^/:]+)(?::(\d+))?$/i.exec(p);
  if (m) {
    const u = new URL(`${m[1]}://x.${m[2]}${m[3] ? `:${m[3]}` : ''}`);
    return { kind: 'wildcard', protocol: u.protocol, suffix: u.hostname.slice(1), port: u.port };
  }
  const u = new URL(p);
  return { kind: 'exact', origin: u.origin };
}

/** Why an origin check gave its answer. */
export type OriginDecision = 'allowed' | 'missing-allowed' | 'missing-refused' | 'refused';

/**
 * Allowed browser origins of a service. Patterns: an exact origin (`https://app.example.com`,
 * compared after normalising case and default ports), a wildcard for subdomains at any depth
 * (`https://*.example.com`, not the bare domain; same scheme and port), `null` (opaque origins,
 * refused unless listed) and `*` (any origin except `null`). Without a list only the request's own
 * host is allowed (same origin). A request without `Origin` is a non-browser client: allowed unless
 * `allowMissing` is false.
 */
export class OriginPolicy {
  private readonly patterns: readonly Pattern[] | null;

  /**
   * @param origins patterns; undefined for same-origin only
   * @param allowMissing @default SECURITY_DEFAULTS.allowMissingOrigin
   */
  constructor(
    origins: readonly string[] | undefined,
    readonly allowMissing: boolean = SECURITY_DEFAULTS.allowMissingOrigin,
  ) {
    this.patterns = origins ? origins.map(compile) : null;
  }

  /** Decides for an `Origin` header value; `host` is the request's `Host` header (same-origin rule). */
  decide(origin: string | undefined, host?: string): OriginDecision {
    if (origin === undefined || origin === '') return this.allowMissing ? 'missing-allowed' : 'missing-refused';
    return this.matches(origin, host) ? 'allowed' : 'refused';
  }

  /** Whether a request's origin passes. */
  allows(req: IncomingMessage): boolean {
    const d = this.decide(headerOf(req, 'origin'), headerOf(req, 'host'));
    return d === 'allowed' || d === 'missing-allowed';
  }

  private matches(origin: string, host: string | undefined): boolean {
    if (origin === 'null') return this.patterns?.some((p) => p.kind === 'null') ?? false;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false;
    }
    if (url.origin === 'null') return false;
    if (!this.patterns) return host !== undefined && url.host === host.toLowerCase();
    for (const p of this.patterns) {
      if (p.kind === 'any') return true;
      if (p.kind === 'exact' && url.origin === p.origin) return true;
      if (p.kind === 'wildcard' && url.protocol === p.protocol && url.port === p.port && url.hostname.endsWith(p.suffix) && url.hostname.length > p.suffix.length) return true;
    }
    return false;
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** CORS settings of a service. */
export interface CorsSettings {
  /** @default ["GET","POST"] */
  readonly methods: readonly string[];
  /** @default ["Authorization","Content-Type"] */
  readonly headers: readonly string[];
  /** @default 600 */
  readonly maxAgeSeconds: number;
}

/** What `applyCors` did. */
export type CorsResult =
  /** Not a cross-origin request, or an allowed one: headers set, carry on serving it. */
  | 'continue'
  /** A preflight, answered 204. */
  | 'preflight'
  /** The origin is not allowed: answered 403 (`GW_ERR_ORIGIN_REFUSED`). */
  | 'refused';

/**
 * CORS for a service's HTTP endpoints. A request with an allowed `Origin` gets
 * `Access-Control-Allow-Origin` (the origin itself), `Access-Control-Allow-Credentials: true` and
 * `Vary: Origin`; a preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 with
 * the allowed methods and headers and `Access-Control-Max-Age`; a request or preflight from an
 * origin that is not allowed is answered 403. Requests without `Origin` pass untouched.
 */
export function applyCors(policy: OriginPolicy, settings: CorsSettings, req: IncomingMessage, res: ServerResponse): CorsResult {
  const origin = headerOf(req, 'origin');
  res.setHeader('Vary', 'Origin');
  if (origin === undefined) return 'continue';
  if (!policy.allows(req)) {
    const body = 'origin not allowed\n';
    res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'X-Gangway-Error': 'GW_ERR_ORIGIN_REFUSED' });
    res.end(body);
    return 'refused';
  }
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  if (req.method === 'OPTIONS' && headerOf(req, 'access-control-request-method') !== undefined) {
    res.writeHead(204, {
      'Access-Control-Allow-Methods': settings.methods.join(', '),
      'Access-Control-Allow-Headers': settings.headers.join(', '),
      'Access-Control-Max-Age': String(settings.maxAgeSeconds),
      'Content-Length': '0',
    });
    res.end();
    return 'preflight';
  }
  return 'continue';
}
