import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resources, httpRequest, parseRawResponse, rawRequest, service, startGateway, type StartedGateway } from '../support/gateway';

const res = new Resources();
let base: string;
let gw: StartedGateway;

const INDEX = '<!doctype html><title>Gangway</title>\n';

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'gangway-dir-'));
  const root = join(base, 'www');
  mkdirSync(join(root, 'sub'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(root, 'index.html'), INDEX);
  writeFileSync(join(root, 'app.js'), 'export const x = 1;\n');
  writeFileSync(join(root, 'style.css'), 'body { margin: 0 }\n');
  writeFileSync(join(root, 'data.json'), '{"a":1}\n');
  writeFileSync(join(root, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(root, 'blob.unknownext'), 'x');
  writeFileSync(join(root, '.env'), 'SECRET=1\n');
  writeFileSync(join(root, 'sub', 'index.html'), '<p>sub</p>\n');
  writeFileSync(join(base, 'outside', 'secret.txt'), 'outside the root\n');
  symlinkSync(join(base, 'outside', 'secret.txt'), join(root, 'escape.txt'));
  symlinkSync(join(base, 'outside'), join(root, 'escape-dir'));
  symlinkSync(join(root, 'app.js'), join(root, 'inside.js'));
  gw = await startGateway(res, { services: [service('www', 'directory', '/', { properties: { root, maxAgeSeconds: 60 } })] });
});
afterAll(async () => {
  await res.closeAll();
  rmSync(base, { recursive: true, force: true });
});

describe('directory', () => {
  it('serves index.html for /', async () => {
    const r = await httpRequest(gw.http('/'));
    expect(r.status).toBe(200);
    expect(r.body).toBe(INDEX);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(INDEX)));
    expect(r.headers['cache-control']).toBe('max-age=60');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  it.each([
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/logo.png', 'image/png'],
    ['/blob.unknownext', 'application/octet-stream'],
    ['/sub/', 'text/html; charset=utf-8'],
    ['/inside.js', 'text/javascript; charset=utf-8'],
  ])('serves %s as %s', async (path, type) => {
    const r = await httpRequest(gw.http(path));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(type);
  });

  it('sends ETag and Last-Modified, and 304 for If-None-Match or If-Modified-Since', async () => {
    const r = await httpRequest(gw.http('/app.js'));
    const etag = r.headers.etag as string;
    const lastModified = r.headers['last-modified'] as string;
    expect(etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    const mtime = statSync(join(base, 'www', 'app.js')).mtime;
    expect(Date.parse(lastModified)).toBe(Math.floor(mtime.getTime() / 1000) * 1000);

    const byTag = await httpRequest(gw.http('/app.js'), { headers: { 'If-None-Match': etag } });
    expect(byTag.status).toBe(304);
    expect(byTag.body).toBe('');
    expect(byTag.headers.etag).toBe(etag);

    const byDate = await httpRequest(gw.http('/app.js'), { headers: { 'If-Modified-Since': lastModified } });
    expect(byDate.status).toBe(304);

    const stale = await httpRequest(gw.http('/app.js'), { headers: { 'If-None-Match': 'W/"0-0"' } });
    expect(stale.status).toBe(200);
    expect(stale.body).toBe('export const x = 1;\n');

    const older = await httpRequest(gw.http('/app.js'), { headers: { 'If-Modified-Since': new Date(Date.parse(lastModified) - 1000).toUTCString() } });
    expect(older.status).toBe(200);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const r = await httpRequest(gw.http('/'), { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(INDEX)));
    expect(r.body).toBe('');
  });

  it('answers 404 naming the path for a missing file', async () => {
    const r = await httpRequest(gw.http('/missing.txt'));
    expect(r.status).toBe(404);
    expect(r.body).toBe('not found: /missing.txt\n');
  });

  it('answers 405 with Allow to POST', async () => {
    const r = await httpRequest(gw.http('/'), { method: 'POST' }, 'x');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    expect(r.body).toBe('POST is not allowed here; use GET\n');
  });

  it('redirects a folder without a trailing slash with 301', async () => {
    const r = await httpRequest(gw.http('/sub'));
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/sub/');
  });

  it.each([
    ['a hidden file', '/.env'],
    ['a symbolic link to a file outside the root', '/escape.txt'],
    ['a file through a symbolic link to a folder outside the root', '/escape-dir/secret.txt'],
    ['an encoded slash carrying ..', '/..%2f..%2fetc%2fpasswd'],
    ['an encoded slash carrying .. inside a folder', '/sub/..%2f..%2foutside%2fsecret.txt'],
  ])('answers 403 to %s', async (_what, path) => {
    const r = parseRawResponse(await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    expect(r.status).toBe(403);
    expect(r.body).toBe('forbidden path\n');
  });

  it.each([
    ['/../etc/passwd'],
    ['/%2e%2e/%2e%2e/etc/passwd'],
    ['/sub/../../outside/secret.txt'],
  ])('never serves outside the root for the raw path %s (dot segments resolve at the root)', async (path) => {
    const r = parseRawResponse(await rawRequest(gw.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    expect(r.status).toBe(404);
    expect(r.body).toMatch(/^not found: \/(etc\/passwd|outside\/secret\.txt)\n$/);
    expect(r.body).not.toContain('root:');
  });

  it('counts refusals by catalogue code', () => {
    const errors = gw.gateway.metrics.service('www').errors;
    expect(errors.get('GW_ERR_FORBIDDEN_PATH')).toBeGreaterThanOrEqual(5);
    expect(errors.get('GW_ERR_METHOD_NOT_ALLOWED')).toBe(1);
  });
});
