/**
 * Connection facts for the real back ends that `compose/up` starts (or docker compose runs),
 * read from the one table in `compose/.env`, and a readiness check for integration tests.
 *
 * Integration tests call {@link requireBackend} in `beforeAll`: when a server is not
 * answering, the test fails with an error that says how to start it. Tests never skip.
 * Tests of broker failure stop and start a broker's process with {@link brokerProcess}.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';

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

// --- broker processes ----------------------------------------------------------------------

const exec = promisify(execFile);

/** The brokers whose process a test may stop and start again. */
export type BrokerName = 'activemq' | 'rabbitmq';

/**
 * A broker's operating-system process, stopped and started again the way `compose/up` starts it
 * (tests of broker failure; root only, as compose/up).
 */
export interface BrokerProcess {
  readonly name: BrokerName;
  /** The pid of the broker's running process, or `null`. */
  pid(): number | null;
  /** Stops the broker and resolves once its process has exited. */
  stop(): Promise<void>;
  /**
   * Starts the broker unless its process runs (the command, user, environment, configuration
   * and log of compose/up), then resolves once it answers compose/up's protocol probes and a
   * login as the test user. Calls made while a start is under way share it.
   */
  start(): Promise<void>;
}

/** How long a broker may take to stop, and to answer after its start (compose/up allows 90 s). */
const BROKER_STOP_MS = 60_000;
const BROKER_START_MS = 120_000;

/** Written by the RabbitMQ node at start (compose/up's RABBITMQ_PIDFILE). */
const RABBITMQ_PIDFILE = `/var/lib/rabbitmq/mnesia/rabbit@${hostname().split('.')[0] ?? ''}.pid`;
/** The Debian ActiveMQ instance compose/up configures. */
const ACTIVEMQ_INSTANCE = 'gangway';
const ACTIVEMQ_DIR = `/etc/activemq/instances-available/${ACTIVEMQ_INSTANCE}`;
const ACTIVEMQ_PIDFILE = `/run/activemq/${ACTIVEMQ_INSTANCE}.pid`;

/** A file's text, or `null` when it does not exist. */
function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** The process has exited (a zombie waiting for its parent counts, as in compose/down). */
function exited(pid: number): boolean {
  const stat = readText(`/proc/${pid}/stat`);
  return stat === null || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

/** The live process whose pid `pidFile` holds, when its command line contains `signature`. */
function livePid(pidFile: string, signature: string): number | null {
  const pid = Number(readText(pidFile)?.trim());
  if (!Number.isInteger(pid) || pid <= 0 || exited(pid)) return null;
  return readText(`/proc/${pid}/cmdline`)?.includes(signature) === true ? pid : null;
}

/** Polls `check` every 200 ms until it returns a value other than `null`. */
async function until<T>(check: () => T | null, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** compose/up's environment: the table exported, and the values that differ on this host. */
function composeEnv(facts: Backends, stateDir: string): NodeJS.ProcessEnv {
  const table = parseEnvFile(readFileSync(facts.envFile, 'utf8'), facts.envFile);
  return { ...process.env, ...Object.fromEntries(table), STATE_DIR: stateDir, RABBITMQ_GUEST_LOOPBACK_ONLY: 'true', ACTIVEMQ_AMQP_CONNECTOR: '' };
}

/** Runs `command` detached from this process, its output appended to `logFile`; resolves when it exits 0. */
function runLogged(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<void> {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  return new Promise<void>((resolvePromise, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', fd, fd], detached: true });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal ?? '?'}; see ${logFile}`));
    });
  }).finally(() => closeSync(fd));
}

/** compose/up's readiness probes of `name` (compose/lib/probe.cjs), plus a login as the test user on RabbitMQ. */
function probes(name: BrokerName, facts: Backends): string[][] {
  const h = facts.host;
  if (name === 'activemq') {
    const { username, password } = facts.activemq.user;
    return [
      ['openwire', h, String(facts.activemq.openwirePort)],
      ['stomp', h, String(facts.activemq.stompPort), username, password],
    ];
  }
  const r = facts.rabbitmq;
  return [
    ['amqp', h, String(r.amqpPort), r.guest.username, r.guest.password],
    ['stomp', h, String(r.stompPort), r.guest.username, r.guest.password],
    ['webstomp', h, String(r.webStompPort), '/ws', r.guest.username, r.guest.password],
    ['amqp', h, String(r.amqpPort), r.gangway.username, r.gangway.password],
  ];
}

async function awaitProbes(name: BrokerName, facts: Backends): Promise<void> {
  const probe = join(facts.rootDir, 'compose', 'lib', 'probe.cjs');
  for (const args of probes(name, facts)) {
    try {
      await exec(process.execPath, [probe, '--wait', String(BROKER_START_MS / 1000), ...args], { timeout: BROKER_START_MS + 10_000 });
    } catch (error) {
      // The command line holds the password: report the probe's own words only.
      const stderr = (error as { stderr?: unknown }).stderr;
      throw new Error(`${name} does not answer the ${args[0] ?? ''} probe on port ${args[2] ?? ''}: ${typeof stderr === 'string' ? stderr.trim() : 'no output'}`);
    }
  }
}

/**
 * The state directory of the compose/up that started the running broker: RabbitMQ's node has it
 * in its environment, ActiveMQ's instance options name its log there. Default: this checkout's.
 */
function stateDirOf(name: BrokerName, pid: number | null, facts: Backends): string {
  const own = join(facts.rootDir, 'compose', '.state');
  if (name === 'rabbitmq') {
    const environ = pid === null ? null : readText(`/proc/${pid}/environ`);
    const entry = environ?.split('\0').find((e) => e.startsWith('STATE_DIR='));
    return entry === undefined ? own : entry.slice('STATE_DIR='.length);
  }
  const out = /^ACTIVEMQ_OUT="?([^"\n]+)\/logs\/activemq\.log"?$/m.exec(readText(join(ACTIVEMQ_DIR, 'options')) ?? '');
  return out?.[1] ?? own;
}

/**
 * The broker `name` as a process that a test stops and starts again: RabbitMQ is stopped with
 * `rabbitmqctl stop` (which waits for the node's process to end) and started with
 * `rabbitmq-server -detached`; ActiveMQ's instance gets SIGTERM (its orderly shutdown, as from
 * compose/down and /etc/init.d/activemq) and is started with `/usr/bin/activemq start`, with the
 * variables compose/up sets. The new pid replaces the old one in compose/up's record
 * (`compose/.state/pids/`), so that compose/down still stops the broker.
 */
export function brokerProcess(name: BrokerName, facts: Backends = backends()): BrokerProcess {
  const pidFile = name === 'rabbitmq' ? RABBITMQ_PIDFILE : ACTIVEMQ_PIDFILE;
  const signature = name === 'rabbitmq' ? 'rabbit' : 'activemq.jar';
  const pid = (): number | null => livePid(pidFile, signature);
  let stateDir = stateDirOf(name, pid(), facts);
  let stoppedPid: number | null = null;
  let starting: Promise<void> | null = null;

  const launch = async (): Promise<void> => {
    const env = composeEnv(facts, stateDir);
    const log = join(stateDir, 'logs', `${name}.log`);
    rmSync(pidFile, { force: true });
    if (name === 'rabbitmq') {
      await runLogged('rabbitmq-server', ['-detached'], env, log);
    } else {
      // What /etc/init.d/activemq does for the one instance, as compose/up runs it.
      const instance = {
        INSTANCE: ACTIVEMQ_INSTANCE,
        ACTIVEMQ_USER: 'activemq',
        ACTIVEMQ_HOME: '/usr/share/activemq',
        ACTIVEMQ_BASE: `/var/lib/activemq/${ACTIVEMQ_INSTANCE}`,
        ACTIVEMQ_DATA: `/var/lib/activemq/${ACTIVEMQ_INSTANCE}/data`,
        ACTIVEMQ_PIDFILE,
        ACTIVEMQ_CONFIG_DIR: `/etc/activemq/instances-enabled/${ACTIVEMQ_INSTANCE}`,
      };
      await runLogged('/usr/bin/activemq', ['start', `xbean:file:${ACTIVEMQ_DIR}/activemq.xml`], { ...env, ...instance }, log);
    }
    const started = await until(pid, BROKER_START_MS, `${name} to write its pid file ${pidFile}`);
    const record = join(stateDir, 'pids', `${name}.pid`);
    if (stoppedPid !== null && readText(record)?.trim() === String(stoppedPid)) writeFileSync(record, `${started}\n`);
    stoppedPid = null;
  };

  const start = async (): Promise<void> => {
    if (pid() === null) await launch();
    if (name === 'rabbitmq') await exec('rabbitmqctl', ['-q', 'await_startup', '--timeout', String(BROKER_START_MS / 1000)], { timeout: BROKER_START_MS + 10_000 });
    await awaitProbes(name, facts);
  };

  return {
    name,
    pid,
    async stop(): Promise<void> {
      const running = pid();
      if (running === null) throw new Error(`${name} is not running (no live process in ${pidFile})`);
      stateDir = stateDirOf(name, running, facts);
      stoppedPid = running;
      if (name === 'rabbitmq') {
        await exec('rabbitmqctl', ['-q', 'stop', pidFile], { timeout: BROKER_STOP_MS });
      } else {
        process.kill(running, 'SIGTERM');
      }
      await until(() => (exited(running) ? true : null), BROKER_STOP_MS, `${name} (pid ${running}) to exit`);
    },
    start(): Promise<void> {
      starting ??= start().finally(() => {
        starting = null;
      });
      return starting;
    },
  };
}
