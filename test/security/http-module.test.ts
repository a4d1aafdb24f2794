import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpLoginModule, httpModuleOptionsSchema, Realm, Subject } from '../../security';
import { captureLogger, listen } from './support';

type Handler = (req: IncomingMessage, body: Record<string, unknown>, res: ServerResponse) => void;

describe('http login module', () => {
  let handler: Handler;
  let endpoint: Awaited<ReturnType<typeof listen>>;
  const seen: { headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    endpoint = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        seen.push({ headers: req.headers, body });
        handler(req, body, res);
      });
    });
  });
  afterAll(() => endpoint.close());
  beforeEach(() => {
    seen.length = 0;
  });

  function make(extra: Record<string, unknown> = {}): HttpLoginModule {
    return new HttpLoginModule(httpModuleOptionsSchema.parse({ url: `${endpoint.url}/check`, ...extra }), captureLogger().log);
  }

  const basicReq = { realm: 'corp', service: 'chat', credentials: { scheme: 'basic' as const, username: 'alice', password: 'pw' }, remoteAddress: '10.0.0.9', headers: {} };

  it('POSTs the credentials as JSON and takes 200 {user, roles, expiresAt} as success', async () => {
    const exp = Math.floor(Date.now() / 1000) + 300;
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ user: 'alice', roles: ['chat'], expiresAt: exp }));
    };
    const m = make({ headers: { 'x-endpoint-key': 'k' } });
    expect(await m.login(basicReq)).toBe(true);
    const subject = new Subject('corp');
    m.commit(subject);
    expect(subject.user).toBe('alice');
    expect([...subject.roles]).toEqual(['chat']);
    expect(subject.expiresAt).toBe(exp * 1000);
    expect(seen[0].body).toEqual({ realm: 'corp', service: 'chat', scheme: 'basic', username: 'alice', password: 'pw', remoteAddress: '10.0.0.9' });
    expect(seen[0].headers['content-type']).toBe('application/json');
    expect(seen[0].headers['x-endpoint-key']).toBe('k');
  });

  it('sends bearer tokens and accepts an ISO expiry', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200);
      res.end(JSON.stringify({ user: 'svc', roles: [], expiresAt: '2030-01-01T00:00:00Z' }));
    };
    const m = make();
    expect(await m.login({ ...basicReq, credentials: { scheme: 'bearer', token: 'tok' } })).toBe(true);
    const s = new Subject('corp');
    m.commit(s);
    expect(s.expiresAt).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(seen[0].body.token).toBe('tok');
    expect(seen[0].body.password).toBeUndefined();
  });

  it.each([401, 403])('takes %i as a failure', async (status) => {
    handler = (_req, _body, res) => {
      res.writeHead(status);
      res.end('no');
    };
    expect(await make().login(basicReq)).toBe(false);
  });

  it.each([
    [500, 'login endpoint answered 500'],
    [302, 'login endpoint'],
  ])('takes %i as an error', async (status, message) => {
    handler = (_req, _body, res) => {
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {});
      res.end();
    };
    await expect(make().login(basicReq)).rejects.toThrow(message);
  });

  it('takes a 200 without a user as an error', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200);
      res.end(JSON.stringify({ roles: ['x'] }));
    };
    await expect(make().login(basicReq)).rejects.toThrow('without {user, roles}');
  });

  it('times out', async () => {
    handler = (_req, _body, res) => {
      setTimeout(() => {
        res.writeHead(200);
        res.end('{}');
      }, 500);
    };
    const t0 = Date.now();
    await expect(make({ timeoutMs: 100 }).login(basicReq)).rejects.toThrow('did not answer within 100 ms');
    expect(Date.now() - t0).toBeLessThan(450);
  });

  it('is ignored without credentials, and an error fails a required chain', async () => {
    expect(await make().login({ ...basicReq, credentials: { scheme: 'none' } })).toBe('ignore');
    handler = (_req, _body, res) => {
      res.writeHead(503);
      res.end();
    };
    const { log, lines } = captureLogger();
    const realm = new Realm('corp', [{ name: 'idp', flag: 'required', options: {}, create: () => make() }], log);
    const r = await realm.login(basicReq);
    expect(r.ok).toBe(false);
    expect(r.trace[0].login).toBe('error');
    expect(lines.some((l) => l.includes('login endpoint answered 503'))).toBe(true);
  });

  it('validates its options', () => {
    expect(httpModuleOptionsSchema.safeParse({ url: 'ftp://x' }).success).toBe(false);
    expect(httpModuleOptionsSchema.safeParse({ url: 'http://x', extra: 1 }).success).toBe(false);
    expect(httpModuleOptionsSchema.parse({ url: 'http://x' }).timeoutMs).toBe(5000);
  });
});
