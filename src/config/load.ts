import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { acceptFamily, configSchema, isSecureAccept, parseAcceptUri, type AcceptUri, type RawConfig } from './schema';
import { DEFAULT_GATEWAY_LIMITS, DEFAULT_LOG_LEVEL, DEFAULT_SESSION_LIMITS, type GatewayLimits } from './defaults';
import type { ServiceConfig, ServiceType } from '../services/types';
import type { SecurityConfigInput } from '../../security/schema';

/** The whole configuration after load: validated, defaults applied, frozen. */
export interface GatewayConfig {
  /** The file it came from, or `<built-in>`. */
  readonly source: string;
  readonly log: { readonly level: string };
  readonly limits: Readonly<GatewayLimits>;
  /** Realms, TLS certificates, cookies, tickets and login limits, as `createSecurity` takes them. */
  readonly security: SecurityConfigInput;
  /** Whether any accept URI is wss://, https:// or tls:// (then `tls:` is set). */
  readonly secureListeners: boolean;
  /** Folder relative paths in the file resolve against. */
  readonly baseDir: string;
  /** Reverse proxies whose `Forwarded` / `X-Forwarded-For` is believed (addresses or CIDR ranges). */
  readonly trustedProxies: readonly string[];
  readonly services: readonly ServiceConfig[];
}

export interface ConfigProblem {
  /** Key path such as `services[2].connect`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column in the file, when known. */
  readonly line?: number;
  readonly column?: number;
}

/** A configuration that cannot be used; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(problems.map((p) => formatProblem(source, p)).join('\n'));
  }
}

function formatProblem(source: string, p: ConfigProblem): string {
  const where = p.line === undefined ? source : `${source}:${p.line}:${p.column ?? 1}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

type PathSegment = string | number;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return `${typeof value} ${String(value)}`;
}

/** Environment lookup, injectable for tests. */
export type Env = Readonly<Record<string, string | undefined>>;

const ENV_REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string value (`$${` is a literal `${`).
 * Paths whose value came from the environment are recorded so that no message ever echoes them.
 */
function substituteEnv(value: unknown, env: Env, path: PathSegment[], problems: ConfigProblem[], secretPaths: Set<string>): unknown {
  if (typeof value === 'string') {
    let substituted = false;
    const out = value.replace(ENV_REF, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${';
      const found = env[name as string];
      substituted = true;
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      problems.push({ path: formatPath(path), message: `environment variable ${name} is not set` });
      return '';
    });
    if (substituted) {
      secretPaths.add(formatPath(path));
      // A value that is one reference alone takes the type its text has: `${PORT}` can be a number.
      if (/^\$\{[^}]+\}$/.test(value)) {
        if (/^-?\d+(\.\d+)?$/.test(out)) return Number(out);
        if (out === 'true' || out === 'false') return out === 'true';
      }
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, i], problems, secretPaths));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, [...path, k], problems, secretPaths);
    return out;
  }
  return value;
}

function zodProblems(issues: readonly z.core.$ZodIssue[], prefix: PathSegment[], secretPaths: Set<string>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    const key = formatPath(path);
    const input = (issue as { input?: unknown }).input;
    const got = secretPaths.has(key) ? 'a value from the environment' : describe(input);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const k of issue.keys) out.push({ path: formatPath([...path, k]), message: 'unknown key' });
        break;
      case 'invalid_type':
        out.push({ path: key, message: input === undefined ? `required, expected ${issue.expected}` : `expected ${issue.expected}, got ${got}` });
        break;
      case 'invalid_value':
        out.push({ path: key, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}` });
        break;
      case 'too_small':
      case 'too_big': {
        const custom = issue.message.startsWith('Too ') ? null : issue.message;
        const bound = issue.code === 'too_small' ? `at least ${String(issue.minimum)}` : `at most ${String(issue.maximum)}`;
        const what = issue.origin === 'array' ? `a list of ${bound} item(s)` : issue.origin === 'string' ? `${bound} character(s)` : bound;
        out.push({ path: key, message: `${custom ?? `expected ${what}`}, got ${got}` });
        break;
      }
      case 'invalid_union':
        out.push({ path: key, message: input === undefined ? 'required, expected a string or a list of strings' : `expected a string or a list of strings, got ${got}` });
        break;
      default:
        out.push({ path: key, message: `${issue.message.replace(/^Invalid input: /, '')}, got ${got}` });
    }
  }
  return out;
}

function locate(doc: Document | undefined, counter: LineCounter | undefined, problem: ConfigProblem, rawPath: PathSegment[]): ConfigProblem {
  if (!doc || !counter) return problem;
  for (let n = rawPath.length; n >= 0; n--) {
    const node = doc.getIn(rawPath.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && node.range) {
      const pos = counter.linePos(node.range[0]);
      return { ...problem, line: pos.line, column: pos.col };
    }
  }
  return problem;
}

function parsePathString(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof URL)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface BuildOptions {
  readonly source: string;
  readonly env?: Env;
  /** Directory that relative file paths in the config resolve against. */
  readonly baseDir?: string;
  /** Service types by name (the registry). */
  readonly types: ReadonlyMap<string, ServiceType>;
}

/** Validates a parsed document and builds the frozen configuration, or throws {@link ConfigError}. */
export function buildConfig(input: unknown, options: BuildOptions, doc?: Document, counter?: LineCounter): GatewayConfig {
  const problems: ConfigProblem[] = [];
  const secretPaths = new Set<string>();
  const data = substituteEnv(input, options.env ?? process.env, [], problems, secretPaths);
  const fail = (): never => {
    throw new ConfigError(options.source, problems.map((p) => locate(doc, counter, p, parsePathString(p.path))));
  };
  if (problems.length) fail();
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    problems.push({ path: '', message: `expected a mapping with a "services" list, got ${describe(data)}` });
    fail();
  }
  const parsed = configSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    problems.push(...zodProblems(parsed.error.issues, [], secretPaths));
    fail();
  }
  const raw = parsed.data as RawConfig;
  const baseDir = options.baseDir ?? process.cwd();
  const sessionDefaults = { ...DEFAULT_SESSION_LIMITS, ...raw.gangway?.sessionLimits };
  const names = new Set<string>();
  const mounts = new Map<string, string>();
  /** Listeners by host:port: the first service on each, and whether it is a tcp:// or tls:// one. */
  const ports = new Map<string, { readonly service: string; readonly stream: boolean }>();
  const services: ServiceConfig[] = [];
  const realmNames = new Set((raw.realms ?? []).map((r) => r.name));
  /** Indexes of services that inject credentials from the keyring, and of the keyring service. */
  const keyringUsers: number[] = [];
  let keyringAt: number | null = null;
  let secureListeners = false;

  raw.services.forEach((svc, i) => {
    const at = (key: string): string => formatPath(['services', i, ...parsePathString(key)]);
    const type = options.types.get(svc.type);
    if (!type) {
      problems.push({ path: at('type'), message: `expected one of ${[...options.types.keys()].join(', ')}, got ${describe(svc.type)}` });
      return;
    }
    if (names.has(svc.name)) problems.push({ path: at('name'), message: `duplicate service name ${JSON.stringify(svc.name)}` });
    names.add(svc.name);

    const accept: AcceptUri[] = [];
    const acceptList = Array.isArray(svc.accept) ? svc.accept : [svc.accept];
    acceptList.forEach((text, j) => {
      const key = Array.isArray(svc.accept) ? `accept[${j}]` : 'accept';
      const uri = parseAcceptUri(text);
      if (typeof uri === 'string') {
        problems.push({ path: at(key), message: uri });
        return;
      }
      const family = acceptFamily(uri.scheme);
      if (!type.accepts.includes(family)) {
        const want = type.accepts.map((s) => `${s}://`).join(' or ');
        problems.push({ path: at(key), message: `type ${svc.type} accepts ${want} URIs, got ${JSON.stringify(text)}` });
        return;
      }
      if (isSecureAccept(uri.scheme)) {
        if (!raw.tls) {
          problems.push({ path: at(key), message: `${uri.scheme}:// needs tls (certificates) at the top level` });
          return;
        }
        secureListeners = true;
      }
      const hostPort = `${uri.host}:${uri.port}`;
      // Port 0 asks for a free port: every tcp:// listener on it gets one of its own.
      const taken = uri.port === 0 ? undefined : ports.get(hostPort);
      if (family === 'tcp') {
        if (svc.auth && !type.protocolLogin) {
          problems.push({ path: at(key), message: `type ${svc.type} cannot authenticate ${uri.scheme}:// sessions (no HTTP upgrade carries their credentials); remove auth or this URI` });
          return;
        }
        if (taken !== undefined) {
          problems.push({ path: at(key), message: `${hostPort} is already taken by service ${JSON.stringify(taken.service)}; a ${uri.scheme}:// listener needs a port of its own` });
          return;
        }
        ports.set(hostPort, { service: svc.name, stream: true });
        accept.push(uri);
        return;
      }
      if (taken?.stream) {
        problems.push({ path: at(key), message: `${hostPort} is already taken by service ${JSON.stringify(taken.service)} (a tcp:// or tls:// listener)` });
        return;
      }
      if (taken === undefined && uri.port !== 0) ports.set(hostPort, { service: svc.name, stream: false });
      const mountKey = `${uri.host}:${uri.port}${uri.path}${type.exactPaths ? ' (exact)' : ''}`;
      const other = mounts.get(mountKey);
      if (other !== undefined) {
        problems.push({ path: at(key), message: `${uri.host}:${uri.port}${uri.path} is already taken by service ${JSON.stringify(other)}` });
        return;
      }
      mounts.set(mountKey, svc.name);
      accept.push(uri);
    });

    let connect: URL | undefined;
    if (type.connect === null) {
      if (svc.connect !== undefined) problems.push({ path: at('connect'), message: `type ${svc.type} connects nowhere; remove connect` });
    } else if (svc.connect === undefined) {
      if (type.connect.required) problems.push({ path: at('connect'), message: `required, expected a ${type.connect.schemes.map((s) => `${s}://`).join(' or ')} URI` });
    } else {
      const want = type.connect.schemes.map((s) => `${s}://`).join(' or ');
      const shown = secretPaths.has(at('connect')) ? 'a value from the environment' : JSON.stringify(svc.connect);
      try {
        connect = new URL(svc.connect);
      } catch {
        connect = undefined;
      }
      if (!connect || !type.connect.schemes.includes(connect.protocol.slice(0, -1))) {
        problems.push({ path: at('connect'), message: `expected a ${want} URI, got ${shown}` });
        connect = undefined;
      } else if (!connect.hostname || !connect.port) {
        problems.push({ path: at('connect'), message: `expected host and port (${want}host:port), got ${shown}` });
        connect = undefined;
      }
    }

    if (svc.auth && !realmNames.has(svc.auth.realm)) {
      const known = realmNames.size ? `one of ${[...realmNames].join(', ')}` : 'a realm defined under realms (none is)';
      problems.push({ path: at('auth.realm'), message: `expected ${known}, got ${JSON.stringify(svc.auth.realm)}` });
    }
    if (type.requiresAuth !== undefined && !svc.auth) problems.push({ path: at('auth'), message: `required for type ${svc.type}: ${type.requiresAuth}` });
    if (svc.auth && accept.some((u) => acceptFamily(u.scheme) === 'tcp') && !svc.auth.schemes.some((x) => x === 'basic' || x === 'bearer')) {
      problems.push({ path: at('auth.schemes'), message: 'tcp:// and tls:// sessions log in with CONNECT login and passcode: offer basic or bearer' });
    }
    const props = type.properties.safeParse(svc.properties ?? {}, { reportInput: true });
    if (!props.success) problems.push(...zodProblems(props.error.issues, ['services', i, 'properties'], secretPaths));
    if (injectsFromKeyring(props.data)) {
      keyringUsers.push(i);
      if (!svc.auth) problems.push({ path: at('properties.inject.source'), message: 'keyring needs auth on the service: the keyring holds credentials per authenticated user' });
    }
    if (svc.type === KEYRING_TYPE) {
      if (keyringAt !== null) problems.push({ path: at('type'), message: `a configuration holds one keyring service, and ${formatPath(['services', keyringAt])} is one` });
      else keyringAt = i;
    }

    services.push({
      name: svc.name,
      type: svc.type,
      ...(svc.description === undefined ? {} : { description: svc.description }),
      accept,
      ...(connect === undefined ? {} : { connect }),
      subprotocols: svc.subprotocols ?? type.defaultSubprotocols ?? [],
      properties: props.success ? resolvePaths(props.data, baseDir) : {},
      limits: { ...sessionDefaults, ...svc.limits },
      ...(svc.auth ? { auth: svc.auth } : {}),
    });
  });
  if (keyringAt === null) {
    for (const i of keyringUsers) problems.push({ path: formatPath(['services', i, 'properties', 'inject', 'source']), message: `keyring needs a service of type ${KEYRING_TYPE} in this configuration (none is)` });
  }
  if (problems.length) fail();

  return deepFreeze({
    source: options.source,
    log: { level: raw.gangway?.log?.level ?? DEFAULT_LOG_LEVEL },
    limits: { ...DEFAULT_GATEWAY_LIMITS, ...raw.gangway?.limits },
    security: {
      realms: raw.realms ?? [],
      ...(raw.tls ? { tls: raw.tls } : {}),
      ...(raw.cookies ? { cookies: raw.cookies } : {}),
      ...(raw.loginRateLimit ? { loginRateLimit: raw.loginRateLimit } : {}),
      ...(raw.tickets ? { tickets: raw.tickets } : {}),
    },
    secureListeners,
    baseDir,
    trustedProxies: raw.gangway?.trustedProxies ?? [],
    services,
  });
}

/** The type of the service that holds the keyring. */
const KEYRING_TYPE = 'keyring';

/** Whether validated service properties say `inject: { source: keyring }`. */
function injectsFromKeyring(properties: unknown): boolean {
  if (properties === null || typeof properties !== 'object' || !('inject' in properties)) return false;
  const { inject } = properties;
  return inject !== null && typeof inject === 'object' && 'source' in inject && inject.source === 'keyring';
}

/**
 * Properties named `root` or ending in `File` are file paths, relative to the config file, at any
 * depth (`properties.tls.caFile` as well as `properties.root`).
 */
function resolvePaths<P>(props: P, baseDir: string): P {
  if (props === null || typeof props !== 'object' || Array.isArray(props)) return props;
  const out: Record<string, unknown> = { ...(props as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'string' && (k === 'root' || k.endsWith('File'))) out[k] = resolve(baseDir, v);
    else if (v !== null && typeof v === 'object') out[k] = resolvePaths(v, baseDir);
  }
  return out as P;
}

/** Parses YAML text and builds the configuration, or throws {@link ConfigError}. */
export function loadConfigText(text: string, options: BuildOptions): GatewayConfig {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(
      options.source,
      doc.errors.map((e) => {
        const pos = counter.linePos(e.pos[0]);
        return { path: '', message: `YAML: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
      }),
    );
  }
  return buildConfig(doc.toJS(), options, doc, counter);
}

/** Reads and loads a YAML file; relative paths inside resolve against the file's folder. */
export function loadConfigFile(file: string, types: ReadonlyMap<string, ServiceType>, env?: Env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError(file, [{ path: '', message: `cannot read configuration: ${reason}` }]);
  }
  return loadConfigText(text, { source: file, types, baseDir: dirname(resolve(file)), ...(env ? { env } : {}) });
}
