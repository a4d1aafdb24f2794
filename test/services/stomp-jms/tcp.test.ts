/**
 * `stomp.jms` over `tcp://` without a broker (the connect URI names a closed port): framing of a
 * byte stream, the ERROR frame before every close Gangway makes (bad input, idle timeout,
 * shutdown), and logging in with CONNECT `login`/`passcode` on a guarded service. Traffic through
 * real brokers is in test/integration/stomp-jms/tcp.test.ts.
 */
import net from 'node:net';
import { buildConfig } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import { SERVICE_TYPES } from '../../../src/services';
import { LogCapture, Resources, closedPort, onlySession, waitFor } from '../../support/gateway';
import { USERS, createWorld, type AuthWorld } from '../../fixtures/auth/world';

const res = new Resources();
afterEach(() => res.closeAll());

interface Frame {
  readonly command: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** The frames of a STOMP byte stream (heart-beat EOLs between frames skipped). */
function framesOf(text: string): Frame[] {
  return text
    .split('\0')
    .slice(0, -1)
    .map((raw) => {
      const frame = raw.replace(/^[\r\n]+/, '');
      const split = frame.indexOf('\n\n');
      const [command = '', ...lines] = frame.slice(0, split).split('\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const colon = l.indexOf(':');
        headers[l.slice(0, colon)] ??= l.slice(colon + 1);
      }
      return { command, headers, body: frame.slice(split + 2) };
    });
}

interface Client {
  readonly socket: net.Socket;
  /** Resolves with everything the server sent, once it has closed the connection. */
  readonly all: Promise<string>;
}

async function connect(port: number): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const all = new Promise<string>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks).toString())));
  res.add(() => {
    socket.destroy();
    return all.then(() => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, all };
}

interface Started {
  readonly gateway: Gateway;
  readonly log: LogCapture;
  readonly port: number;
}

async function start(service: Record<string, unknown> = {}, top: Record<string, unknown> = {}, baseDir?: string): Promise<Started> {
  const broker = await closedPort();
  const config = buildConfig(
    {
      ...top,
      services: [
        {
          name: 'jms',
          type: 'stomp.jms',
          accept: 'tcp://127.0.0.1:0',
          connect: `stomp://127.0.0.1:${broker}`,
          properties: { reconnect: { initialMs: 100, maxMs: 200 } },
          ...service,
          limits: { connectTimeoutMs: 500, ...(service.limits as Record<string, unknown> | undefined) },
        },
      ],
    },
    { source: 'test', types: SERVICE_TYPES, env: {}, ...(baseDir === undefined ? {} : { baseDir }) },
  );
  const log = new LogCapture();
  const gateway = new Gateway(config, createLogger('debug', log));
  await gateway.start();
  res.add(() => gateway.stop());
  return { gateway, log, port: gateway.streamPort('jms') };
}

const CONNECT = (headers: Record<string, string> = {}): string =>
  `CONNECT\naccept-version:1.2\nhost:/\n${Object.entries(headers)
    .map(([k, v]) => `${k}:${v}\n`)
    .join('')}\n\0`;

async function closeLine(gw: Started): Promise<Record<string, unknown>> {
  await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
  return gw.log.events('session.close')[0] as Record<string, unknown>;
}

describe('stomp.jms over tcp://', () => {
  it('answers a malformed frame with an ERROR frame, then closes the connection', async () => {
    const gw = await start();
    const c = await connect(gw.port);
    c.socket.write('\n\nHELLO\n\n\0');
    const frames = framesOf(await c.all);
    expect(frames).toHaveLength(1);
    expect(frames[0]?.command).toBe('ERROR');
    expect(frames[0]?.headers.code).toBe('GW_ERR_STOMP_UNKNOWN_COMMAND');
    expect(await closeLine(gw)).toMatchObject({ transport: 'tcp', service: 'jms', closeCode: 1002, error: 'GW_ERR_STOMP_UNKNOWN_COMMAND' });
    expect(gw.gateway.metrics.service('jms').errors.get('GW_ERR_STOMP_UNKNOWN_COMMAND')).toBe(1);
  });

  it('frames a CONNECT split into one byte per read, after heart-beat EOLs', async () => {
    const gw = await start();
    const c = await connect(gw.port);
    c.socket.setNoDelay(true);
    for (const b of Buffer.from(`\n\r\n${CONNECT()}`)) {
      c.socket.write(Buffer.of(b));
      await new Promise((r) => setTimeout(r, 1));
    }
    // The CONNECT was read whole: it waited for the broker, which is not there.
    const [error] = framesOf(await c.all);
    expect(error?.command).toBe('ERROR');
    expect(error?.headers).toMatchObject({ message: 'broker unavailable', code: 'GW_ERR_STOMP_JMS_BROKER_UNAVAILABLE' });
    // Each TCP read counts as one message in: the frame came in many.
    expect((await closeLine(gw)).messagesIn).toBeGreaterThan(10);
  });

  it('sends ERROR "idle timeout" before ending an idle connection', async () => {
    const gw = await start({ limits: { idleTimeoutMs: 1000 } });
    const c = await connect(gw.port);
    const [error] = framesOf(await c.all);
    expect(error).toMatchObject({ command: 'ERROR', headers: { message: 'idle timeout', code: 'GW_ERR_IDLE_TIMEOUT' } });
    expect(await closeLine(gw)).toMatchObject({ closeCode: 1001, error: 'GW_ERR_IDLE_TIMEOUT' });
  }, 10_000);

  it('sends ERROR "Gangway shutting down" before ending the connection on shutdown', async () => {
    const gw = await start();
    const c = await connect(gw.port);
    await onlySession(gw.gateway);
    await gw.gateway.stop();
    const [error] = framesOf(await c.all);
    expect(error).toMatchObject({ command: 'ERROR', headers: { message: 'Gangway shutting down', code: 'GW_ERR_SHUTDOWN' } });
    expect(gw.log.events('session.close')[0]).toMatchObject({ closeCode: 1001, error: 'GW_ERR_SHUTDOWN' });
  });
});

describe('stomp.jms over tcp:// with auth: CONNECT login and passcode', () => {
  let world: AuthWorld;
  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(() => world.cleanup());

  const guarded = (auth: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<Started> =>
    start({ auth: { realm: 'corp', ...auth } }, { realms: [{ name: 'corp', modules: [{ type: 'file', options: { path: 'users.yaml' } }] }], ...top }, world.dir);

  async function refusal(gw: Started, headers: Record<string, string>): Promise<Frame | undefined> {
    const c = await connect(gw.port);
    c.socket.write(CONNECT(headers));
    return framesOf(await c.all)[0];
  }

  it('logs the client in through the realm: session.login and the user on session.close', async () => {
    const gw = await guarded();
    const c = await connect(gw.port);
    c.socket.write(CONNECT({ login: 'alice', passcode: USERS.alice.password }));
    // Admitted; then the broker (absent) is what stops it.
    const [error] = framesOf(await c.all);
    expect(error?.headers.code).toBe('GW_ERR_STOMP_JMS_BROKER_UNAVAILABLE');
    const session = gw.log.events('session.open')[0]?.session;
    expect(gw.log.events('session.login')).toEqual([expect.objectContaining({ session, service: 'jms', user: 'alice' })]);
    expect(gw.log.events('auth.ok')).toEqual([expect.objectContaining({ user: 'alice', scheme: 'basic', remote: '127.0.0.1' })]);
    expect(await closeLine(gw)).toMatchObject({ session, user: 'alice' });
    expect(gw.log.text()).not.toContain(USERS.alice.password);
  });

  it.each([
    ['a wrong passcode', { login: 'alice', passcode: 'not-her-password' }, 'GW_ERR_AUTH_FAILED', 'authentication failed for user alice'],
    ['no login', {}, 'GW_ERR_AUTH_REQUIRED', 'authentication required for service jms'],
    ['a passcode alone where only basic is offered', { passcode: 'a-token' }, 'GW_ERR_AUTH_REQUIRED', 'authentication required for service jms'],
  ])('refuses %s with ERROR and its code, then closes', async (_what, headers, code, message) => {
    const gw = await guarded({ schemes: ['basic'] });
    const error = await refusal(gw, headers);
    expect(error).toMatchObject({ command: 'ERROR', headers: { message, code } });
    expect(await closeLine(gw)).toMatchObject({ closeCode: 1008, error: code });
    expect(gw.gateway.metrics.service('jms').errors.get(code)).toBe(1);
    expect(gw.log.events('session.login')).toEqual([]);
    expect(gw.log.text()).not.toContain('not-her-password');
  });

  it('refuses a user without the roles the service requires', async () => {
    const gw = await guarded({ authorization: { anyOf: ['ops'] } });
    const error = await refusal(gw, { login: 'alice', passcode: USERS.alice.password });
    expect(error).toMatchObject({ command: 'ERROR', headers: { message: 'user alice lacks the roles service jms requires', code: 'GW_ERR_FORBIDDEN' } });
  });

  it('tracks a session logged in over TCP: ERROR "session lifetime reached" at maxSessionSeconds', async () => {
    const gw = await start(
      { auth: { realm: 'corp', maxSessionSeconds: 1 }, limits: { connectTimeoutMs: 10_000 } },
      { realms: [{ name: 'corp', modules: [{ type: 'file', options: { path: 'users.yaml' } }] }] },
      world.dir,
    );
    const c = await connect(gw.port);
    c.socket.write(CONNECT({ login: 'bob', passcode: USERS.bob.password }));
    const [error] = framesOf(await c.all);
    expect(error).toMatchObject({ command: 'ERROR', headers: { message: 'session lifetime reached', code: 'GW_ERR_SESSION_LIFETIME' } });
    expect(await closeLine(gw)).toMatchObject({ user: 'bob', closeCode: 1008, error: 'GW_ERR_SESSION_LIFETIME' });
  }, 10_000);

  it('counts failed logins toward loginRateLimit', async () => {
    const gw = await guarded({}, { loginRateLimit: { maxFailuresPerAddress: 2 } });
    for (let i = 0; i < 2; i++) expect((await refusal(gw, { login: 'alice', passcode: 'wrong' }))?.headers.code).toBe('GW_ERR_AUTH_FAILED');
    const limited = await refusal(gw, { login: 'alice', passcode: USERS.alice.password });
    expect(limited?.headers.code).toBe('GW_ERR_LOGIN_RATE_LIMITED');
    expect(limited?.headers.message).toMatch(/^too many failed logins; retry in \d+ s$/);
  });
});
