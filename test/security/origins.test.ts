import { OriginPolicy, applyCors, type CorsSettings } from '../../security';
import { listen, request } from './support';

describe('origin policy', () => {
  const policy = new OriginPolicy(['https://app.example.com', 'https://*.example.org', 'http://localhost:3000']);
  it.each([
    ['https://app.example.com', 'allowed'],
    ['HTTPS://APP.EXAMPLE.COM', 'allowed'],
    ['https://app.example.com:443', 'allowed'],
    ['https://app.example.com:8443', 'refused'],
    ['http://app.example.com', 'refused'],
    ['https://example.com', 'refused'],
    ['https://a.example.org', 'allowed'],
    ['https://a.b.example.org', 'allowed'],
    ['https://example.org', 'refused'],
    ['https://evilexample.org', 'refused'],
    ['http://a.example.org', 'refused'],
    ['http://localhost:3000', 'allowed'],
    ['http://localhost:3001', 'refused'],
    ['null', 'refused'],
    ['not a url', 'refused'],
    [undefined, 'missing-allowed'],
  ])('%s → %s', (origin, decision) => {
    expect(policy.decide(origin)).toBe(decision);
  });

  it('refuses a missing Origin when configured to', () => {
    expect(new OriginPolicy(['https://a.test'], false).decide(undefined)).toBe('missing-refused');
  });

  it('accepts null only when listed, and * for any other origin', () => {
    expect(new OriginPolicy(['null']).decide('null')).toBe('allowed');
    const any = new OriginPolicy(['*']);
    expect(any.decide('https://whatever.test')).toBe('allowed');
    expect(any.decide('null')).toBe('refused');
  });

  it('allows only the same origin when no list is configured', () => {
    const same = new OriginPolicy(undefined);
    expect(same.decide('http://gw.test:8000', 'gw.test:8000')).toBe('allowed');
    expect(same.decide('http://other.test:8000', 'gw.test:8000')).toBe('refused');
  });
});

describe('CORS on a real server', () => {
  const settings: CorsSettings = { methods: ['GET', 'POST'], headers: ['Authorization', 'Content-Type'], maxAgeSeconds: 600 };
  const policy = new OriginPolicy(['https://app.example.com']);
  let srv: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    srv = await listen((req, res) => {
      if (applyCors(policy, settings, req, res) !== 'continue') return;
      res.writeHead(200);
      res.end('served');
    });
  });
  afterAll(() => srv.close());

  it('answers a preflight from an allowed origin with 204 and the allow headers', async () => {
    const r = await request(srv.url, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com', 'Access-Control-Request-Method': 'POST' } });
    expect(r.status).toBe(204);
    expect(r.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Authorization, Content-Type',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
  });

  it('answers a preflight or a request from another origin with 403', async () => {
    const pre = await request(srv.url, { method: 'OPTIONS', headers: { Origin: 'https://evil.test', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    expect(pre.headers['x-gangway-error']).toBe('GW_ERR_ORIGIN_REFUSED');
    expect((await request(srv.url, { headers: { Origin: 'https://evil.test' } })).status).toBe(403);
  });

  it('serves allowed cross-origin requests with CORS headers, and same-server requests untouched', async () => {
    const r = await request(srv.url, { headers: { Origin: 'https://app.example.com' } });
    expect([r.status, r.body, r.headers['access-control-allow-origin']]).toEqual([200, 'served', 'https://app.example.com']);
    const plain = await request(srv.url);
    expect([plain.status, plain.headers['access-control-allow-origin']]).toEqual([200, undefined]);
    const notPreflight = await request(srv.url, { method: 'OPTIONS', headers: { Origin: 'https://app.example.com' } });
    expect(notPreflight.body).toBe('served');
  });
});
