/**
 * Shared pieces of the keyring injection tests: a temporary directory with a users file (the
 * Gangway users below), a master key and a configuration file holding a `keyring` service and
 * the protocol proxies under test, each injecting from the keyring; a real Gateway started from
 * that file with every log line captured at trace level; the keyring's HTTP API as a user calls
 * it; `gangway keyring set -c FILE` through the built CLI; and WebSocket classes that
 * authenticate to Gangway with HTTP Basic on the upgrade (and nothing else) for client libraries
 * that create their own sockets.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WebSocket, type ClientOptions } from 'ws';
import { hashPassword } from '../../../security';
import { loadConfigFile } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import { SERVICE_TYPES } from '../../../src/services';
import { LogCapture, httpRequest, waitFor, type CloseEvent, type HttpAnswer, type Resources } from '../../support/gateway';
import type { Tap, TapConnection } from '../proxies/support';

/**
 * Gangway's own users and their Gangway passwords (never a back-end password). By convention of
 * these tests: alice stores the right back-end credential, bob stores none, carol stores a wrong
 * one, dave stores one and deletes it.
 */
export const USERS = {
  alice: 'alice-gw-Pw-41d7e0',
  bob: 'bob-gw-Pw-8a2c55',
  carol: 'carol-gw-Pw-19fb3e',
  dave: 'dave-gw-Pw-6c0d72',
} as const;

export type User = keyof typeof USERS;

/** A back-end credential as the keyring's HTTP API takes it. */
export interface StoredCredential {
  readonly username: string;
  readonly password: string;
}

/** One protocol proxy of the configuration; it injects from the keyring under its own name. */
export interface ProxySpec {
  readonly name: string;
  readonly type: string;
  /** Mount path, e.g. `/mq`. */
  readonly path: string;
  /** `tcp://host:port` of the back end (or of a tap in front of it). */
  readonly connect: string;
  /** Properties besides `inject`. */
  readonly properties?: Record<string, unknown>;
  /** Fields of `inject` besides `source: keyring`. */
  readonly inject?: Record<string, unknown>;
}

const CLI = resolve(__dirname, '../../../dist/src/cli.js');

/** The users file, the master key and (per gateway) the configuration, in a temporary folder. */
export interface KeyringWorld {
  readonly dir: string;
  /** Starts a Gateway with the keyring service and `proxies` from a configuration file written for it. */
  start(res: Resources, proxies: readonly ProxySpec[]): Promise<KeyringGateway>;
  cleanup(): void;
}

/** A running Gateway of a {@link KeyringWorld}. */
export interface KeyringGateway {
  readonly gateway: Gateway;
  /** The configuration file it was started from (what `gangway keyring -c` reads). */
  readonly configFile: string;
  readonly log: LogCapture;
  /** `ws://127.0.0.1:<port><path>`. */
  ws(path: string): string;
  /** The `Authorization` header of a Gangway user. */
  authorization(user: User): string;
  /** `PUT <mount>/credentials/<entry>` as `user`. */
  put(user: User, entry: string, credential: StoredCredential): Promise<HttpAnswer>;
  /** `DELETE <mount>/credentials/<entry>` as `user`. */
  remove(user: User, entry: string): Promise<HttpAnswer>;
  /** `GET <mount>/credentials` as `user`: the entry names. */
  list(user: User): Promise<string[]>;
  /** `gangway keyring set -c <configFile> <user> <entry> --username U --password-stdin`; its standard output. */
  cliSet(user: User, entry: string, credential: StoredCredential): Promise<string>;
  /** Every password stored or sent in this world (back-end and Gangway) that the captured log contains. */
  leakedSecrets(): string[];
}

/** Writes the users file (scrypt at low cost) and a master key into a new temporary folder. */
export async function createKeyringWorld(): Promise<KeyringWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'gangway-keyring-it-'));
  const secrets = new Set<string>(Object.values(USERS));
  const lines = ['users:'];
  for (const [name, password] of Object.entries(USERS)) lines.push(`  ${name}:`, `    password: "${await hashPassword(password, { N: 1024 })}"`, '    roles: []');
  writeFileSync(join(dir, 'users.yaml'), `${lines.join('\n')}\n`);
  const masterKey = randomBytes(32).toString('base64');
  secrets.add(masterKey);
  writeFileSync(join(dir, 'master.key'), masterKey, { mode: 0o600 });
  let configs = 0;

  return {
    dir,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    async start(res, proxies) {
      const auth = { realm: 'corp', schemes: ['basic'] };
      const doc = {
        realms: [{ name: 'corp', modules: [{ type: 'file', flag: 'required', options: { path: 'users.yaml' } }] }],
        services: [
          { name: 'keyring', type: 'keyring', accept: 'http://127.0.0.1:0/keyring', auth, properties: { masterKey: { file: 'master.key' }, file: 'keyring.json' } },
          ...proxies.map((p) => ({
            name: p.name,
            type: p.type,
            accept: `ws://127.0.0.1:0${p.path}`,
            connect: p.connect,
            auth,
            properties: { ...p.properties, inject: { source: 'keyring', ...p.inject } },
          })),
        ],
      };
      configs += 1;
      const configFile = join(dir, `gangway-${configs}.yaml`);
      // JSON is YAML: the file is what an operator would write.
      writeFileSync(configFile, `${JSON.stringify(doc, null, 2)}\n`);
      const log = new LogCapture();
      const gateway = new Gateway(loadConfigFile(configFile, SERVICE_TYPES, {}), createLogger('trace', log));
      res.add(() => gateway.stop());
      await gateway.start();
      const port = gateway.port();
      const authorization = (user: User): string => `Basic ${Buffer.from(`${user}:${USERS[user]}`).toString('base64')}`;
      const call = (user: User, method: string, path: string, body?: string): Promise<HttpAnswer> =>
        httpRequest(
          `http://127.0.0.1:${port}/keyring${path}`,
          { method, headers: { Authorization: authorization(user), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) } },
          body,
        );
      return {
        gateway,
        configFile,
        log,
        ws: (path) => `ws://127.0.0.1:${port}${path}`,
        authorization,
        put: (user, entry, credential) => {
          secrets.add(credential.password);
          return call(user, 'PUT', `/credentials/${entry}`, JSON.stringify(credential));
        },
        remove: (user, entry) => call(user, 'DELETE', `/credentials/${entry}`),
        list: async (user) => {
          const answer = await call(user, 'GET', '/credentials');
          if (answer.status !== 200) throw new Error(`GET /keyring/credentials as ${user}: ${answer.status} ${answer.body}`);
          return (JSON.parse(answer.body) as { services: string[] }).services;
        },
        cliSet: (user, entry, credential) => {
          secrets.add(credential.password);
          if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run npm run build first`);
          return new Promise<string>((done, fail) => {
            const child = execFile(
              process.execPath,
              [CLI, 'keyring', 'set', '-c', configFile, user, entry, '--username', credential.username, '--password-stdin'],
              (err, stdout, stderr) => (err ? fail(new Error(`gangway keyring set: ${err.message}: ${stderr}`)) : done(stdout)),
            );
            child.stdin?.end(`${credential.password}\n`);
          });
        },
        leakedSecrets: () => {
          const text = log.text();
          return [...secrets].filter((s) => text.includes(s));
        },
      };
    },
  };
}

/** Stores `credential` for `user` through the HTTP API and checks the 204. */
export async function store(gw: KeyringGateway, user: User, entry: string, credential: StoredCredential): Promise<void> {
  const answer = await gw.put(user, entry, credential);
  if (answer.status !== 204) throw new Error(`PUT /keyring/credentials/${entry} as ${user}: ${answer.status} ${answer.body}`);
}

const closes = new WeakMap<WebSocket, Promise<CloseEvent>>();

/** A WebSocket constructor as client libraries call it. */
export type WebSocketClass = new (address: string | URL, protocols?: string | string[], options?: ClientOptions) => WebSocket;

/**
 * A `ws` WebSocket class whose sockets send `authorization` on the upgrade; each socket made is
 * pushed to `made` and registered for teardown. For clients that take a WebSocket class
 * (rhea) or use the global one (@xmpp/client, irc-framework).
 */
export function authenticatedWebSocket(res: Resources, authorization: string, made: WebSocket[] = []): WebSocketClass {
  return class AuthenticatedWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[], options: ClientOptions = {}) {
      super(address, protocols, { ...options, headers: { ...options.headers, Authorization: authorization } });
      closes.set(this, new Promise((done) => this.once('close', (code: number, reason: Buffer) => done({ code, reason: reason.toString() }))));
      this.on('error', () => undefined);
      made.push(this);
      res.add(() => {
        if (this.readyState !== WebSocket.CLOSED) this.terminate();
      });
    }
  };
}

/** The close of a socket made by an {@link authenticatedWebSocket} class (recorded from its creation). */
export function closeOf(ws: WebSocket | undefined): Promise<CloseEvent> {
  const close = ws === undefined ? undefined : closes.get(ws);
  if (close === undefined) throw new Error('not a socket of authenticatedWebSocket');
  return close;
}

/** Installs `Class` as the global WebSocket (which @xmpp/client and irc-framework use) until teardown. */
export function installGlobalWebSocket(res: Resources, Class: WebSocketClass): void {
  const previous: unknown = Reflect.get(globalThis, 'WebSocket');
  Reflect.set(globalThis, 'WebSocket', Class);
  res.add(() => {
    if (previous === undefined) Reflect.deleteProperty(globalThis, 'WebSocket');
    else Reflect.set(globalThis, 'WebSocket', previous);
  });
}

/** The tap connection Gangway opens next (call before the client connects). */
export function nextConnection(tap: Tap): () => Promise<TapConnection> {
  const index = tap.connections.length;
  return async () => {
    await waitFor(() => tap.connections.length > index, 5000, 'Gangway to connect through the tap');
    return tap.connections[index] as TapConnection;
  };
}
