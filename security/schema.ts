import { z } from 'zod';
import { SECURITY_DEFAULTS } from './defaults';
import { CONTROL_FLAGS } from './login-module';
import { fileModuleOptionsSchema } from './modules/file';
import { httpModuleOptionsSchema } from './modules/http';
import { jwtModuleOptionsSchema } from './modules/jwt';

const nameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'expected a name of letters, digits, "_", "." or "-"' });
/** A JAAS control flag; `required` when absent. */
const flag = z.enum(['required', 'requisite', 'sufficient', 'optional'] satisfies typeof CONTROL_FLAGS).default('required');

/** One module of a realm (`realms[].modules[]`). `flag` defaults to `required`. */
export const loginModuleConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('file'), name: nameSchema.optional(), flag, options: fileModuleOptionsSchema }),
  z.strictObject({ type: z.literal('jwt'), name: nameSchema.optional(), flag, options: jwtModuleOptionsSchema }),
  z.strictObject({ type: z.literal('http'), name: nameSchema.optional(), flag, options: httpModuleOptionsSchema }),
  z.strictObject({
    type: z.literal('custom'),
    name: nameSchema.optional(),
    flag,
    /** File path (relative to the configuration file) or package name. */
    module: z.string().min(1),
    /** Export to use (default export, `LoginModule` or `createLoginModule` when absent). */
    export: z.string().min(1).optional(),
    /** Handed to the module's `initialize` as they are. */
    options: z.record(z.string(), z.unknown()).default({}),
  }),
]);

/** A realm: a name and an ordered chain of login modules (`realms[]`). */
export const realmConfigSchema = z.strictObject({
  name: nameSchema,
  modules: z.array(loginModuleConfigSchema).min(1, { message: 'expected at least one login module' }),
});

/** Top-level `realms:`; names must be unique. */
export const realmsConfigSchema = z.array(realmConfigSchema).superRefine((realms, ctx) => {
  const seen = new Set<string>();
  realms.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `realm ${r.name} is defined twice` });
    seen.add(r.name);
  });
});

/** An origin as configured: `https://app.example.com`, `https://*.example.com`, `null` or `*`. */
export const originPatternSchema = z.string().refine((s) => s === 'null' || s === '*' || /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[^/*?#@]+$/i.test(s), {
  message: 'expected scheme://host[:port], scheme://*.domain[:port], "null" or "*"',
});

/** Authentication schemes a service may offer. */
export const AUTH_SCHEMES = ['basic', 'bearer', 'cookie', 'ticket'] as const;

/** Per-service `auth:`. */
export const serviceAuthConfigSchema = z.strictObject({
  /** Realm that authenticates the service's clients. */
  realm: nameSchema,
  /** Schemes offered, in order of precedence. @default ["basic", "bearer"] */
  schemes: z.array(z.enum(AUTH_SCHEMES)).min(1).default(['basic', 'bearer']),
  /** Roles required: any valid user when absent. */
  authorization: z
    .strictObject({
      anyOf: z.array(z.string().min(1)).min(1).optional(),
      allOf: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
  /** Longest session life; 0 means no limit. @default 86400 */
  maxSessionSeconds: z.number().int().min(0).default(SECURITY_DEFAULTS.maxSessionSeconds),
  /** Allowed browser origins; absent: only the request's own host (same origin). */
  origins: z.array(originPatternSchema).optional(),
  /** Whether requests without `Origin` (non-browser clients) pass. @default true */
  allowMissingOrigin: z.boolean().default(SECURITY_DEFAULTS.allowMissingOrigin),
  /** CORS for the service's HTTP endpoints (origins come from `origins`). */
  cors: z
    .strictObject({
      methods: z.array(z.string().regex(/^[A-Z]+$/)).min(1).default([...SECURITY_DEFAULTS.corsMethods]),
      headers: z.array(z.string().min(1)).default([...SECURITY_DEFAULTS.corsHeaders]),
      maxAgeSeconds: z.number().int().min(0).default(SECURITY_DEFAULTS.corsMaxAgeSeconds),
    })
    .prefault({}),
});

/** Top-level `tls:`: certificates chosen by SNI, and the minimum version. */
export const tlsConfigSchema = z.strictObject({
  certificates: z
    .array(
      z.strictObject({
        /** PEM certificate chain file. */
        cert: z.string().min(1),
        /** PEM private key file. */
        key: z.string().min(1),
        /** Host names served (exact or `*.domain`); absent: taken from the certificate's subjectAltName. */
        names: z.array(z.string().regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, { message: 'expected a host name or *.domain' })).min(1).optional(),
        /** Served to clients that send no SNI or an unknown name; @default the first certificate. */
        default: z.boolean().optional(),
      }),
    )
    .min(1, { message: 'expected at least one certificate' }),
  /** @default "TLSv1.2" */
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default(SECURITY_DEFAULTS.tlsMinVersion),
  /** @default 10000 */
  reloadCheckMs: z.number().int().min(100).default(SECURITY_DEFAULTS.tlsReloadCheckMs),
});

/** Top-level `cookies:`: the encrypted session cookie. The first key encrypts new cookies. */
export const cookiesConfigSchema = z.strictObject({
  /** @default "gangway_session" */
  name: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/).default(SECURITY_DEFAULTS.cookieName),
  keys: z
    .array(
      z
        .strictObject({
          id: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, { message: 'expected 1-16 letters, digits, "_" or "-"' }),
          /** 32 bytes, base64 (use `${ENV}` substitution). */
          secret: z.string().optional(),
          /** File holding the 32 bytes, base64. */
          secretFile: z.string().optional(),
        })
        .refine((k) => (k.secret === undefined) !== (k.secretFile === undefined), { message: 'expected exactly one of secret, secretFile' }),
    )
    .min(1),
  /** @default 28800 */
  ttlSeconds: z.number().int().min(1).default(SECURITY_DEFAULTS.cookieTtlSeconds),
  /** @default "Lax" */
  sameSite: z.enum(['Strict', 'Lax', 'None']).default(SECURITY_DEFAULTS.cookieSameSite),
  /** @default true */
  secure: z.boolean().default(SECURITY_DEFAULTS.cookieSecure),
  /** Cookie path. @default "/" */
  path: z.string().startsWith('/').default('/'),
});

/** Top-level `loginRateLimit:`. */
export const loginRateLimitConfigSchema = z.strictObject({
  windowSeconds: z.number().int().min(1).default(SECURITY_DEFAULTS.loginWindowSeconds),
  maxFailuresPerAddress: z.number().int().min(1).default(SECURITY_DEFAULTS.maxFailuresPerAddress),
  maxFailuresPerUser: z.number().int().min(1).default(SECURITY_DEFAULTS.maxFailuresPerUser),
});

/** Top-level `tickets:`. */
export const ticketsConfigSchema = z.strictObject({
  ttlSeconds: z.number().int().min(1).max(600).default(SECURITY_DEFAULTS.ticketTtlSeconds),
  maxOutstanding: z.number().int().min(1).default(SECURITY_DEFAULTS.maxOutstandingTickets),
});

/** Everything `createSecurity` takes: the top-level security keys of the configuration. */
export const securityConfigSchema = z.strictObject({
  realms: realmsConfigSchema.default([]),
  tls: tlsConfigSchema.optional(),
  cookies: cookiesConfigSchema.optional(),
  loginRateLimit: loginRateLimitConfigSchema.prefault({}),
  tickets: ticketsConfigSchema.prefault({}),
});

/** Parsed `realms[].modules[]`. */
export type LoginModuleConfig = z.infer<typeof loginModuleConfigSchema>;
/** Parsed `realms[]`. */
export type RealmConfig = z.infer<typeof realmConfigSchema>;
/** Parsed per-service `auth:`. */
export type ServiceAuthConfig = z.infer<typeof serviceAuthConfigSchema>;
/** Per-service `auth:` as written (before defaults). */
export type ServiceAuthInput = z.input<typeof serviceAuthConfigSchema>;
/** Parsed `tls:`. */
export type TlsConfig = z.infer<typeof tlsConfigSchema>;
/** Parsed `cookies:`. */
export type CookiesConfig = z.infer<typeof cookiesConfigSchema>;
/** Parsed `loginRateLimit:`. */
export type LoginRateLimitConfig = z.infer<typeof loginRateLimitConfigSchema>;
/** Parsed `tickets:`. */
export type TicketsConfig = z.infer<typeof ticketsConfigSchema>;
/** Parsed security configuration. */
export type SecurityConfig = z.infer<typeof securityConfigSchema>;
/** Security configuration as written (before defaults). */
export type SecurityConfigInput = z.input<typeof securityConfigSchema>;
