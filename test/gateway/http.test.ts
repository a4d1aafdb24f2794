import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resources, httpRequest, openClient, parseRawResponse, rawRequest, refusedUpgrade, service, startGateway, type StartedGateway } from '../support/gateway';

const res = new Resources();
let root: string;
let gw: StartedGateway;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'gangway-http-'));
  writeFileSync(join(root, 'index.html'), '<h1>hi</h1>\n');
  gw = await startGateway(res, {
    services: [
      service('echo', 'echo', '/echo'),
      service('files', 'directory', '/files', { properties: { root } }),
      service('stomp', 'echo', '/stomp', { subprotocols: ['v12.stomp'] }),
    ],
  });
});
afterAll(async () => {
  await res.closeAll();
  rmSync(root, { recursive: true, force: true });
});

const upgrade = (path: string, headers: Record<string, string>): string =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

describe('HTTP routing', () => {
  it('answers 404 with a one-line body for a path no service is mounted at', async () => {
    const r = await httpRequest(gw.http('/nowhere'));
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.body).toBe('no service at /nowhere\n');
  });

  it('answers a WebSocket upgrade on an unknown path with 404', async () => {
    const r = await refusedUpgrade(gw.ws('/nowhere'));
    expect(r.status).toBe(404);
    expect(r.body).toBe('no service at /nowhere\n');
  });

  it('answers 426 with Upgrade: websocket to a plain GET on a WebSocket path', async () => {
    const r = await httpRequest(gw.http('/echo'));
    expect(r.status).toBe(426);
    expect(r.headers.upgrade).toBe('websocket');
    expect(r.body).toBe('/echo is a WebSocket endpoint: send an Upgrade: websocket request\n');
  });

  it('answers 400 to an upgrade on a path that serves HTTP only', async () => {
    const r = await refusedUpgrade(gw.ws('/files/index.html'));
    expect(r.status).toBe(400);
    expect(r.body).toBe('/files/index.html serves HTTP only, not WebSocket\n');
  });

  it.each([
    ['no Sec-WebSocket-Key', { 'Sec-WebSocket-Version': '13' }],
    ['an invalid Sec-WebSocket-Key', { 'Sec-WebSocket-Key': 'not-a-key', 'Sec-WebSocket-Version': '13' }],
    ['an unsupported Sec-WebSocket-Version', { 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '12' }],
    ['no Sec-WebSocket-Version', { 'Sec-WebSocket-Key': KEY }],
  ])('answers 400 with a one-line body to an upgrade with %s', async (_what, headers) => {
    const r = parseRawResponse(await rawRequest(gw.port, upgrade('/echo', headers)));
    expect(r.status).toBe(400);
    expect(r.body).toBe('malformed upgrade: invalid Sec-WebSocket-Key or Sec-WebSocket-Version\n');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)));
  });

  it('answers 400 to an upgrade with a method other than GET', async () => {
    const raw = upgrade('/echo', { 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '13' }).replace(/^GET/, 'POST');
    const r = parseRawResponse(await rawRequest(gw.port, raw));
    expect(r.status).toBe(400);
    expect(r.body).toBe('malformed upgrade: expected GET with Upgrade: websocket\n');
  });

  it('answers 400 to bytes that are not HTTP', async () => {
    const r = parseRawResponse(await rawRequest(gw.port, 'HELLO\0WORLD\r\n\r\n'));
    expect(r.status).toBe(400);
    expect(r.body).toBe('malformed HTTP request\n');
  });

  it('accepts a well-formed raw upgrade with 101 and the right Sec-WebSocket-Accept', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: gw.port }, () => s.write(upgrade('/echo', { 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '13' })));
      s.once('data', (c: Buffer) => {
        resolve(c.toString('latin1'));
        s.destroy();
      });
      s.on('error', reject);
    });
    const r = parseRawResponse(raw);
    expect(r.status).toBe(101);
    // RFC 6455 section 1.3: the accept value for the sample nonce.
    expect(r.headers['sec-websocket-accept']).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('subprotocols', () => {
  it('accepts a client offering a subprotocol the service speaks and agrees on it', async () => {
    const ws = await openClient(res, gw.ws('/stomp'), ['v10.stomp', 'v12.stomp']);
    expect(ws.protocol).toBe('v12.stomp');
    ws.close();
  });

  it('refuses a client offering only other subprotocols with 400 naming them', async () => {
    const r = await refusedUpgrade(gw.ws('/stomp'), ['v10.stomp', 'v11.stomp']);
    expect(r.status).toBe(400);
    expect(r.body).toBe('service stomp does not speak v10.stomp, v11.stomp: it speaks v12.stomp\n');
  });

  it('refuses a subprotocol at a service that speaks none', async () => {
    const r = await refusedUpgrade(gw.ws('/echo'), 'chat');
    expect(r.status).toBe(400);
    expect(r.body).toBe('service echo does not speak chat: it speaks no subprotocol\n');
  });

  it('accepts a client offering none, with no subprotocol agreed', async () => {
    const ws = await openClient(res, gw.ws('/stomp'));
    expect(ws.protocol).toBe('');
    ws.close();
  });
});
