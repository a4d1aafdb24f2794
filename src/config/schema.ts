import { isIP } from 'node:net';
import { z } from 'zod';
import { SOCKET_READ_BYTES } from './defaults';
import {
  cookiesConfigSchema,
  loginRateLimitConfigSchema,
  realmsConfigSchema,
  serviceAuthConfigSchema,
  ticketsConfigSchema,
  tlsConfigSchema,
} from '../../security/schema';

/** `ws://host:port/path` and friends, parsed once at load. */
export interface AcceptUri {
  readonly scheme: 'ws' | 'wss' | 'http' | 'https' | 'tcp' | 'tls';
  readonly host: string;
  readonly port: number;
  /** Mount path, normalised: leading slash, no trailing slash except for the root (`/` for `tcp://` and `tls://`). */
  readonly path: string;
  readonly href: string;
}

/** The family of an accept scheme, as service types declare it: `wss` is `ws`, `https` is `http`, `tls` is `tcp`. */
export function acceptFamily(scheme: AcceptUri['scheme']): 'ws' | 'http' | 'tcp' {
  return scheme === 'wss' ? 'ws' : scheme === 'https' ? 'http' : scheme === 'tls' ? 'tcp' : scheme;
}

/** Whether an accept URI is served over TLS. */
export function isSecureAccept(scheme: AcceptUri['scheme']): boolean {
  return scheme === 'wss' || scheme === 'https' || scheme === 'tls';
}

const ACCEPT_SCHEMES = new Set(['ws:', 'wss:', 'http:', 'https:', 'tcp:', 'tls:']);
const STREAM_SCHEMES = new Set(['tcp:', 'tls:']);
const DEFAULT_PORTS: Record<string, number> = { 'ws:': 80, 'http:': 80, 'wss:': 443, 'https:': 443 };
const EXPECTED = 'expected a ws://, wss://, http://, https://, tcp:// or tls:// URI';

/** Parses an accept URI; returns a message saying what was expected when it is not one. */
export function parseAcceptUri(text: string): AcceptUri | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${EXPECTED}, got ${JSON.stringify(text)}`;
  }
  if (!ACCEPT_SCHEMES.has(url.protocol)) {
    return `${EXPECTED}, got ${JSON.stringify(text)}`;
  }
  if (url.username || url.password) return `accept URIs carry no credentials, got ${JSON.stringify(url.origin)} with user info`;
  if (url.search || url.hash) return `accept URIs carry no query or fragment, got ${JSON.stringify(text)}`;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (STREAM_SCHEMES.has(url.protocol)) {
    // A byte stream has no paths to route by: one listener per host and port, for one service.
    const scheme = url.protocol.slice(0, -1);
    if (!host || url.port === '') return `expected ${scheme}://HOST:PORT, got ${JSON.stringify(text)}`;
    if (url.pathname !== '' && url.pathname !== '/') return `${scheme}:// accept URIs carry no path, got ${JSON.stringify(text)}`;
    return { scheme: scheme as AcceptUri['scheme'], host, port: Number(url.port), path: '/', href: text };
  }
  let path = decodeURIComponent(url.pathname);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return {
    scheme: url.protocol.slice(0, -1) as AcceptUri['scheme'],
    host,
    port: url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port),
    path,
    href: text,
  };
}

function isAddressOrCidr(text: string): boolean {
  const [addr = '', bits, extra] = text.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

const byteCount = z.number().int().min(1);
const millis = z.number().int().min(0);

export const sessionLimitsSchema = z.strictObject({
  maxMessageBytes: byteCount,
  maxBufferedBytes: z.number().int().min(2 * SOCKET_READ_BYTES, { message: `must be at least ${2 * SOCKET_READ_BYTES} (two socket reads)` }),
  slowConsumerMs: z.number().int().min(1),
  maxConnections: byteCount,
  connectionsPerSecondPerIp: z.number().min(0.1),
  idleTimeoutMs: millis,
  pingIntervalMs: millis,
  connectTimeoutMs: z.number().int().min(1),
});

const nameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a name of letters, digits, "_", "." or "-"' });

const acceptSchema = z.union([z.string(), z.array(z.string()).min(1)]);

export const serviceSchema = z.strictObject({
  name: nameSchema,
  type: z.string(),
  description: z.string().optional(),
  accept: acceptSchema,
  connect: z.string().optional(),
  subprotocols: z.array(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: 'expected an HTTP token' })).optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
  limits: sessionLimitsSchema.partial().optional(),
  /** Who may connect: realm, schemes, roles, origins, session lifetime (security/README.md). */
  auth: serviceAuthConfigSchema.optional(),
});

export const configSchema = z.strictObject({
  gangway: z
    .strictObject({
      log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) }).partial().optional(),
      limits: z.strictObject({ maxConnections: byteCount, shutdownDrainMs: millis, tlsHandshakeTimeoutMs: z.number().int().min(1) }).partial().optional(),
      /**
       * Addresses or CIDR ranges of reverse proxies in front of Gangway: from these peers the
       * client's address is taken from `Forwarded` / `X-Forwarded-For`.
       */
      trustedProxies: z.array(z.string().refine(isAddressOrCidr, { message: 'expected an IP address or CIDR range' })).optional(),
      /** Session limit defaults for every service of this file (each service may override). */
      sessionLimits: sessionLimitsSchema.partial().optional(),
    })
    .optional(),
  services: z.array(serviceSchema).min(1, { message: 'expected at least one service' }),
  /** Named chains of login modules (security/README.md). */
  realms: realmsConfigSchema.optional(),
  /** Certificates for wss://, https:// and tls:// accept URIs, chosen by SNI and reloaded when renewed. */
  tls: tlsConfigSchema.optional(),
  /** The encrypted session cookie. */
  cookies: cookiesConfigSchema.optional(),
  /** Failed-login limits per address and per user. */
  loginRateLimit: loginRateLimitConfigSchema.optional(),
  /** Single-use tickets for browsers that cannot send headers on a WebSocket. */
  tickets: ticketsConfigSchema.optional(),
});

export type RawConfig = z.infer<typeof configSchema>;
export type RawService = z.infer<typeof serviceSchema>;
