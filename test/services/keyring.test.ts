/**
 * The `keyring` service: configuration rules (auth required, one per configuration, proxies that
 * inject from it need it and auth), its HTTP API through a real Gateway with the guard in front,
 * the start refused on a wrong master key, `/ready`, and the credential source proxies read.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfigText, type GatewayConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/log';
import { SERVICE_TYPES } from '../../src/services';
import { KeyringCredentials, absoluteKeyringPaths } from '../../src/services/keyring';
import { Keyring, FileKeyringStore, keyringPropertiesSchema } from '../../security/keyring';
import { LogCapture, Resources, httpRequest, type HttpAnswer } from '../support/gateway';
import { basicFor, createWorld, USERS, type AuthWorld } from '../fixtures/auth/world';

const res = new Resources();
let world: AuthWorld;

beforeAll(async () => {
  world = await createWorld();
  writeFileSync(join(world.dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
  writeFileSync(join(world.dir, 'other.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
});
afterEach(() => res.closeAll());
afterAll(() => world.cleanup());

const REALM = ['realms:', '  - name: corp', '    modules:', '      - { type: file, flag: required, options: { path: users.yaml } }'];
const KEYRING = '  - { name: keyring, type: keyring, accept: "http://127.0.0.1:0/keyring", auth: { realm: corp, schemes: [basic] }, properties: { masterKey: { file: master.key }, file: ring.json } }';

function load(lines: readonly string[]): GatewayConfig {
  return loadConfigText(`${lines.join('\n')}\n`, { source: 'gangway.yaml', types: SERVICE_TYPES, baseDir: world.dir, env: {} });
}

function problems(lines: readonly string[]): string[] {
  try {
    load(lines);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('the configuration loaded');
}

async function start(lines: readonly string[]): Promise<{ gateway: Gateway; url: (path: string) => string; log: LogCapture }> {
  const log = new LogCapture();
  const gateway = new Gateway(load(lines), createLogger('trace', log));
  res.add(() => gateway.stop());
  await gateway.start();
  const port = gateway.port();
  return { gateway, url: (path) => `http://127.0.0.1:${port}${path}`, log };
}

function call(url: string, method: string, user: string | null, body?: string): Promise<HttpAnswer> {
  const headers: Record<string, string> = user === null ? {} : { Authorization: basicFor(world, user) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return httpRequest(url, { method, headers }, body);
}

describe('keyring configuration', () => {
  it('requires auth on the keyring service', () => {
    expect(problems([...REALM, 'services:', '  - { name: keyring, type: keyring, accept: "http://127.0.0.1:0/keyring" }'])).toEqual([
      'services[0].auth: required for type keyring: each user stores and reads only their own credentials, so the keyring needs auth (a realm)',
    ]);
  });

  it('holds one keyring service', () => {
    const second = '  - { name: ring2, type: keyring, accept: "http://127.0.0.1:0/ring2", auth: { realm: corp, schemes: [basic] } }';
    expect(problems([...REALM, 'services:', KEYRING, second])).toEqual(['services[1].type: a configuration holds one keyring service, and services[0] is one']);
  });

  it('refuses inject source keyring without a keyring service, and without auth on the proxy', () => {
    const guarded = '  - { name: mq, type: stomp.proxy, accept: "ws://127.0.0.1:0/mq", connect: "tls://127.0.0.1:1", auth: { realm: corp, schemes: [basic] }, properties: { inject: { source: keyring } } }';
    const open = '  - { name: mq2, type: stomp.proxy, accept: "ws://127.0.0.1:0/mq2", connect: "tls://127.0.0.1:1", properties: { inject: { source: keyring } } }';
    expect(problems([...REALM, 'services:', guarded])).toEqual(['services[0].properties.inject.source: keyring needs a service of type keyring in this configuration (none is)']);
    expect(problems([...REALM, 'services:', KEYRING, open])).toEqual([
      'services[1].properties.inject.source: keyring needs auth on the service: the keyring holds credentials per authenticated user',
    ]);
    expect(load([...REALM, 'services:', guarded, KEYRING]).services.map((s) => s.name)).toEqual(['mq', 'keyring']);
  });

  it('makes the store and key files absolute against the configuration folder', () => {
    const props = keyringPropertiesSchema.parse({ file: 'ring.json', masterKey: { file: 'master.key' }, previousKeys: [{ file: '/etc/old.key' }, { env: 'K' }] });
    const abs = absoluteKeyringPaths(props, '/srv/gw');
    expect([abs.file, abs.masterKey, abs.previousKeys]).toEqual(['/srv/gw/ring.json', { file: '/srv/gw/master.key' }, [{ file: '/etc/old.key' }, { env: 'K' }]]);
  });
});

describe('the keyring service in a running gateway', () => {
  it('stores, lists and deletes the authenticated user’s own credentials, never answering a secret', async () => {
    const { gateway, url, log } = await start([...REALM, 'services:', KEYRING]);
    const secret = 'stored-Secret-93ac1e';
    expect((await call(url('/keyring/credentials/rabbit'), 'PUT', 'alice', JSON.stringify({ username: 'mq-alice', password: secret }))).status).toBe(204);
    expect((await call(url('/keyring/credentials/xmpp'), 'PUT', 'alice', JSON.stringify({ token: `${secret}-t` }))).status).toBe(204);
    const listed = await call(url('/keyring/credentials'), 'GET', 'alice');
    expect([listed.status, JSON.parse(listed.body)]).toEqual([200, { services: ['rabbit', 'xmpp'] }]);
    // Bob sees none of Alice's, and nobody gets in without credentials.
    expect(JSON.parse((await call(url('/keyring/credentials'), 'GET', 'bob')).body)).toEqual({ services: [] });
    const anonymous = await call(url('/keyring/credentials'), 'GET', null);
    expect([anonymous.status, anonymous.headers['www-authenticate']]).toEqual([401, expect.stringMatching(/^Basic /)]);
    // The credential source proxies read: user and service pick the entry; a token is the password.
    const source = gateway.keyring();
    expect(await source?.lookup('alice', 'rabbit')).toEqual({ username: 'mq-alice', password: secret });
    expect(await source?.lookup('alice', 'xmpp')).toEqual({ username: 'alice', password: `${secret}-t` });
    expect(await source?.lookup('bob', 'rabbit')).toBeNull();
    expect(await source?.lookup(null, 'rabbit')).toBeNull();
    // A bad body is refused without echoing it; DELETE removes, a second DELETE finds nothing.
    const bad = await call(url('/keyring/credentials/rabbit'), 'PUT', 'alice', JSON.stringify({ username: 'x', password: secret, extra: 1 }));
    expect([bad.status, bad.body.includes(secret)]).toEqual([400, false]);
    expect((await call(url('/keyring/credentials/rabbit'), 'DELETE', 'alice')).status).toBe(204);
    expect((await call(url('/keyring/credentials/rabbit'), 'DELETE', 'alice')).status).toBe(404);
    expect(await source?.lookup('alice', 'rabbit')).toBeNull();
    const after = await call(url('/keyring/credentials'), 'GET', 'alice');
    expect([after.body, after.body.includes(secret)]).toEqual([expect.stringContaining('xmpp'), false]);
    expect(log.text().includes(secret)).toBe(false);
    expect(log.text().includes(USERS.alice.password)).toBe(false);
  });

  it('refuses to start on a master key that is not the keyring’s, naming the service and the code', async () => {
    const first = await start([...REALM, 'services:', KEYRING]);
    await first.gateway.stop();
    const wrong = KEYRING.replace('master.key', 'other.key');
    const gateway = new Gateway(load([...REALM, 'services:', wrong]), createLogger('silent'));
    res.add(() => gateway.stop());
    await expect(gateway.start()).rejects.toThrow(/^service keyring: .*is not this keyring's key/);
    expect(gateway.listening()).toBe(false);
  });

  it('reports ready once the keyring is open', async () => {
    const { gateway } = await start([...REALM, 'services:', KEYRING]);
    const keyring = [...gateway.services()].find((s) => s.config.type === 'keyring');
    expect(await keyring?.ready?.()).toEqual({ ok: true });
  });
});

describe('KeyringCredentials', () => {
  it('reads the keyring it is given, per user and service', async () => {
    const store = new FileKeyringStore({ path: join(world.dir, 'direct.json') });
    const keyring = await Keyring.open({ store, key: { file: join(world.dir, 'master.key') } });
    await keyring.set('carol', 'amqp', { username: 'c', password: 'p' });
    const source = new KeyringCredentials(() => Promise.resolve(keyring));
    expect(await source.lookup('carol', 'amqp')).toEqual({ username: 'c', password: 'p' });
    expect(await source.lookup('carol', 'stomp')).toBeNull();
    await keyring.close();
  });
});
