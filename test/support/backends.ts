/**
 * Connection facts for the real back ends that `compose/up` starts (or docker compose runs),
 * read from the one table in `compose/.env`, and a readiness check for integration tests.
 *
 * Integration tests call {@link requireBackend} in `beforeAll`: when a server is not
 * answering, the test fails with an error that says how to start it. Tests never skip.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The back ends, by the names that `compose/up` and `compose/down` accept. */
export const BACKEND_NAMES = ['activemq', 'rabbitmq', 'prosody', 'ngircd', 'redis'] as const;

/** One of {@link BACKEND_NAMES}. */
export type BackendName = (typeof BACKEND_NAMES)[number];

/** A user name and password pair. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** ActiveMQ Classic. Logins are checked: `user` is the one account the broker accepts. */
export interface ActiveMqFacts {
  readonly openwirePort: number;
  readonly stompPort: number;
  /** AMQP 1.0: served by the container image only (Debian's build has no AMQP transport). */
  readonly amqpPort: number;
  readonly user: Credentials;
}

/** RabbitMQ with the STOMP, AMQP 1.0 and Web-STOMP plugins. */
export interface RabbitMqFacts {
  /** AMQP 0-9-1 and AMQP 1.0 share this port. */
  readonly amqpPort: number;
  readonly stompPort: number;
  /** STOMP over WebSocket at path `/ws`. */
  readonly webStompPort: number;
  readonly vhost: string;
  /** guest: accepted from loopback only. */
  readonly guest: Credentials;
  /** A user with full rights on {@link RabbitMqFacts.vhost}, accepted from anywhere. */
  readonly gangway: Credentials;
}

/** Prosody (XMPP). */
export interface XmppFacts {
  readonly domain: string;
  readonly mucDomain: string;
  /** Client-to-server port: STARTTLS offered, not required on host localhost (PLAIN only once encrypted). */
  readonly c2sPort: number;
  readonly directTlsPort: number;
  /** HTTP: `/xmpp-websocket` and `/http-bind`. */
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Test users on {@link XmppFacts.domain}, in table order. */
  readonly users: readonly Credentials[];
}

/** ngIRCd. */
export interface IrcFacts {
  readonly serverName: string;
  readonly port: number;
  /** Implicit TLS (ngIRCd has no STARTTLS). */
  readonly tlsPort: number;
}

/** Redis (no password). */
export interface RedisFacts {
  readonly port: number;
}

/** Everything the tests need to reach the back ends. */
export interface Backends {
  /** The file the facts were read from. */
  readonly envFile: string;
  /** The repository root (the folder holding `compose/`). */
  readonly rootDir: string;
  /** Where the servers listen. */
  readonly host: string;
  /** Absolute path of the test certificate authority (PEM). */
  readonly caFile: string;
  readonly activemq: ActiveMqFacts;
  readonly rabbitmq: RabbitMqFacts;
  readonly xmpp: XmppFacts;
  readonly irc: IrcFacts;
  readonly redis: RedisFacts;
}

/** A host and port. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `KEY=VALUE` lines; blank lines and lines starting with `#` are ignored.
 * @throws Error naming the file and line of anything else.
 */
export function parseEnvFile(text: string, source: string): ReadonlyMap<string, string> {
  const values = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) {
      throw new Error(`${source}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(raw)}`);
    }
    values.set(match[1], match[2]);
  });
  return values;
}

/**
 * Finds `compose/.env` by walking up from `start`.
 * @default start this file's folder (works from the sources and from `dist/`)
 */
export function findEnvFile(start: string = __dirname): string {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, 'compose', '.env');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no compose/.env in ${start} or any folder above it`);
    }
    dir = parent;
  }
}

/**
 * Reads the table of back-end facts.
 * @default envFile the `compose/.env` found by {@link findEnvFile}
 * @throws Error naming the file and key when a value is missing or malformed.
 */
export function loadBackends(envFile: string = findEnvFile()): Backends {
  const values = parseEnvFile(readFileSync(envFile, 'utf8'), envFile);
  const text = (key: string): string => {
    const value = values.get(key);
    if (value === undefined || value === '') {
      throw new Error(`${envFile}: ${key}: expected a value, found none`);
    }
    return value;
  };
  const port = (key: string): number => {
    const value = text(key);
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < 1 || n > 65535) {
      throw new Error(`${envFile}: ${key}: expected a TCP port (1-65535), got ${JSON.stringify(value)}`);
    }
    return n;
  };
  const rootDir = dirname(dirname(resolve(envFile)));
  const caFile = text('CA_FILE');
  const xmppUsers = text('XMPP_USERS')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
    .map((username) => ({ username, password: text(`XMPP_PASSWORD_${username.toUpperCase()}`) }));

  return Object.freeze({
    envFile: resolve(envFile),
    rootDir,
    host: text('BACKEND_HOST'),
    caFile: isAbsolute(caFile) ? caFile : join(rootDir, caFile),
    activemq: Object.freeze({
      openwirePort: port('ACTIVEMQ_OPENWIRE_PORT'),
      stompPort: port('ACTIVEMQ_STOMP_PORT'),
      amqpPort: port('ACTIVEMQ_AMQP_PORT'),
      user: Object.freeze({ username: text('ACTIVEMQ_USER'), password: text('ACTIVEMQ_PASSWORD') }),
    }),
    rabbitmq: Object.freeze({
      amqpPort: port('RABBITMQ_AMQP_PORT'),
      stompPort: port('RABBITMQ_STOMP_PORT'),
      webStompPort: port('RABBITMQ_WEB_STOMP_PORT'),
      vhost: text('RABBITMQ_VHOST'),
      guest: Object.freeze({ username: text('RABBITMQ_USER'), password: text('RABBITMQ_PASSWORD') }),
      gangway: Object.freeze({ username: text('RABBITMQ_GANGWAY_USER'), password: text('RABBITMQ_GANGWAY_PASSWORD') }),
    }),
    xmpp: Object.freeze({
      domain: text('XMPP_DOMAIN'),
      mucDomain: text('XMPP_MUC_DOMAIN'),
      c2sPort: port('XMPP_C2S_PORT'),
      directTlsPort: port('XMPP_C2S_DIRECT_TLS_PORT'),
      httpPort: port('XMPP_HTTP_PORT'),
      httpsPort: port('XMPP_HTTPS_PORT'),
      users: Object.freeze(xmppUsers.map((user) => Object.freeze(user))),
    }),
    irc: Object.freeze({
      serverName: text('IRC_SERVER_NAME'),
      port: port('IRC_PORT'),
      tlsPort: port('IRC_TLS_PORT'),
    }),
    redis: Object.freeze({ port: port('REDIS_PORT') }),
  });
}

let cached: Backends | undefined;

/** The facts from `compose/.env`, read once per process. */
export function backends(): Backends {
  cached ??= loadBackends();
  return cached;
}

/** The ports that must accept connections for `name` to be usable (docker-only ports excluded). */
export function endpointsOf(name: BackendName, facts: Backends = backends()): Endpoint[] {
  const at = (port: number): Endpoint => ({ host: facts.host, port });
  switch (name) {
    case 'activemq':
      return [at(facts.activemq.openwirePort), at(facts.activemq.stompPort)];
    case 'rabbitmq':
      return [at(facts.rabbitmq.amqpPort), at(facts.rabbitmq.stompPort), at(facts.rabbitmq.webStompPort)];
    case 'prosody':
      return [at(facts.xmpp.c2sPort), at(facts.xmpp.directTlsPort), at(facts.xmpp.httpPort)];
    case 'ngircd':
      return [at(facts.irc.port), at(facts.irc.tlsPort)];
    case 'redis':
      return [at(facts.redis.port)];
  }
}

/** Back ends whose tests use TLS through clients that take no CA option. */
const NEEDS_TRUSTED_CA: ReadonlySet<BackendName> = new Set<BackendName>(['prosody', 'ngircd']);

/**
 * Resolves when a TCP connection to `endpoint` opens; rejects with the socket error or after
 * `timeoutMs`.
 * @default timeoutMs 2000
 */
export function probePort(endpoint: Endpoint, timeoutMs = 2000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

const HOW_TO_START =
  'The integration tests need the real servers: run `compose/up` from the repository root ' +
  '(as root; it installs and starts them), then `. compose/env.sh` in the shell that runs jest. ' +
  '`npm test` does both.';

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** Options of {@link requireBackend}. */
export interface RequireOptions {
  /** Per port. @default 2000 */
  timeoutMs?: number;
  /** @default {@link backends}() */
  facts?: Backends;
}

/**
 * Checks that back end `name` accepts connections on every port the tests use (and, for
 * servers reached over TLS, that this process trusts the test CA).
 * @returns the back-end facts, for convenience
 * @throws Error saying which server and port failed and how to start the back ends.
 */
export async function requireBackend(name: BackendName, options: RequireOptions = {}): Promise<Backends> {
  const facts = options.facts ?? backends();
  const timeoutMs = options.timeoutMs ?? 2000;
  for (const endpoint of endpointsOf(name, facts)) {
    try {
      await probePort(endpoint, timeoutMs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `Back end "${name}" is not answering at ${endpoint.host}:${endpoint.port} (${reason}). ` +
          `${HOW_TO_START} To start only this one: \`compose/up ${name}\`.`,
        { cause: error },
      );
    }
  }
  if (NEEDS_TRUSTED_CA.has(name)) {
    const extra = process.env.NODE_EXTRA_CA_CERTS;
    if (!existsSync(facts.caFile)) {
      throw new Error(`Back end "${name}": the test CA ${facts.caFile} does not exist. ${HOW_TO_START}`);
    }
    if (extra === undefined || !sameFile(extra, facts.caFile)) {
      throw new Error(
        `Back end "${name}" is reached over TLS, and this process does not trust the test CA: ` +
          `NODE_EXTRA_CA_CERTS is ${extra === undefined ? 'not set' : JSON.stringify(extra)}, expected ${facts.caFile}. ` +
          'Node reads it only at start-up: run `. compose/env.sh` before jest (`npm test` does).',
      );
    }
  }
  return facts;
}
