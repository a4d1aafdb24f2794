import type { WebSocket } from 'ws';
import {
  Resources,
  closed,
  closedPort,
  httpRequest,
  nextMessage,
  openClient,
  parseMetrics,
  refusedUpgrade,
  sample,
  service,
  startGateway,
  tcpEchoServer,
  toBuffer,
  waitFor,
} from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

function json(body: string): Record<string, unknown> {
  return JSON.parse(body) as Record<string, unknown>;
}

/** Sends `data` and waits until the same number of bytes came back. */
async function roundTrip(ws: WebSocket, data: Buffer): Promise<void> {
  let n = 0;
  await new Promise<void>((resolve) => {
    const on = (m: Buffer): void => {
      n += toBuffer(m).length;
      if (n >= data.length) {
        ws.off('message', on);
        resolve();
      }
    };
    ws.on('message', on);
    ws.send(data, { binary: true });
  });
}

describe('management', () => {
  it('answers /health with 200 JSON', async () => {
    const gw = await startGateway(res, { services: [service('mgmt', 'management', '/')] });
    const r = await httpRequest(gw.http('/health'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = json(r.body);
    expect(body.status).toBe('ok');
    expect(typeof body.uptimeSeconds).toBe('number');
  });

  it('answers 405 to a POST', async () => {
    const gw = await startGateway(res, { services: [service('mgmt', 'management', '/')] });
    const r = await httpRequest(gw.http('/health'), { method: 'POST' }, '{}');
    expect(r.status).toBe(405);
    expect(r.body).toBe('POST is not allowed here; use GET\n');
  });

  it('answers /ready with 200 when every back end is reachable', async () => {
    const backend = await tcpEchoServer(res);
    const gw = await startGateway(res, {
      services: [service('mgmt', 'management', '/'), service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.port}` }), service('echo', 'echo', '/echo')],
    });
    const r = await httpRequest(gw.http('/ready'));
    expect(r.status).toBe(200);
    expect(json(r.body)).toEqual({ status: 'ready', listening: true, services: { mgmt: { ok: true }, tcp: { ok: true }, echo: { ok: true } } });
  });

  it('answers /ready with 503 naming the service whose back end is down', async () => {
    const port = await closedPort();
    const gw = await startGateway(res, { services: [service('mgmt', 'management', '/'), service('orders', 'proxy', '/orders', { connect: `tcp://127.0.0.1:${port}` })] });
    const r = await httpRequest(gw.http('/ready'));
    expect(r.status).toBe(503);
    const body = json(r.body);
    expect(body.status).toBe('not ready');
    expect(body.services).toEqual({ mgmt: { ok: true }, orders: { ok: false, detail: `tcp://127.0.0.1:${port}: ECONNREFUSED` } });
  });

  it('exposes /metrics matching the traffic sent', async () => {
    const backend = await tcpEchoServer(res);
    const gw = await startGateway(res, {
      services: [service('mgmt', 'management', '/'), service('echo', 'echo', '/echo'), service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${backend.port}` })],
    });

    // echo: two sessions; the first sends 3 messages (5 + 3 + 1000 bytes) and closes, the second stays open.
    const a = await openClient(res, gw.ws('/echo'));
    for (const m of [Buffer.from('hello'), Buffer.from('abc'), Buffer.alloc(1000, 7)]) {
      const back = nextMessage(a);
      a.send(m);
      await back;
    }
    const aClosed = closed(a);
    a.close();
    await aClosed;
    await openClient(res, gw.ws('/echo'));

    // proxy: one session, 4096 bytes echoed by the TCP back end.
    const p = await openClient(res, gw.ws('/tcp'));
    await roundTrip(p, Buffer.alloc(4096, 1));

    // errors: one path with no service.
    await httpRequest(gw.http('/nothing-here'));
    await waitFor(() => [...gw.gateway.sessions()].length === 2, 5000, 'two open sessions');

    const r = await httpRequest(gw.http('/metrics'));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = parseMetrics(r.body);

    expect(sample(s, 'gangway_sessions', { service: 'echo' })).toBe(1);
    expect(sample(s, 'gangway_sessions', { service: 'tcp' })).toBe(1);
    expect(sample(s, 'gangway_sessions_total', { service: 'echo' })).toBe(2);
    expect(sample(s, 'gangway_sessions_total', { service: 'tcp' })).toBe(1);
    expect(sample(s, 'gangway_bytes_total', { service: 'echo', direction: 'in' })).toBe(1008);
    expect(sample(s, 'gangway_bytes_total', { service: 'echo', direction: 'out' })).toBe(1008);
    expect(sample(s, 'gangway_messages_total', { service: 'echo', direction: 'in' })).toBe(3);
    expect(sample(s, 'gangway_messages_total', { service: 'echo', direction: 'out' })).toBe(3);
    expect(sample(s, 'gangway_bytes_total', { service: 'tcp', direction: 'in' })).toBe(4096);
    expect(sample(s, 'gangway_bytes_total', { service: 'tcp', direction: 'out' })).toBe(4096);
    expect(sample(s, 'gangway_messages_total', { service: 'tcp', direction: 'in' })).toBe(1);
    expect(sample(s, 'gangway_errors_total', { service: '-', code: 'GW_ERR_NOT_FOUND' })).toBe(1);
    expect(sample(s, 'gangway_backend_connect_seconds_count', { service: 'tcp' })).toBe(1);
    const connectSum = sample(s, 'gangway_backend_connect_seconds_sum', { service: 'tcp' }) ?? -1;
    expect(connectSum).toBeGreaterThan(0);
    expect(connectSum).toBeLessThan(10);
    expect(sample(s, 'gangway_backend_connect_seconds_bucket', { service: 'tcp', le: '+Inf' })).toBe(1);
    // Process metrics come with the registry.
    expect(sample(s, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });

  it('counts errors by code in gangway_errors_total', async () => {
    const port = await closedPort();
    const gw = await startGateway(res, {
      services: [service('mgmt', 'management', '/'), service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${port}` }), service('echo', 'echo', '/echo', { subprotocols: ['x'] })],
    });
    for (let i = 0; i < 2; i++) {
      const ws = await openClient(res, gw.ws('/tcp'));
      expect((await closed(ws)).code).toBe(1011);
    }
    const refused = await refusedUpgrade(gw.ws('/echo'), 'y');
    expect(refused.status).toBe(400);
    const s = parseMetrics((await httpRequest(gw.http('/metrics'))).body);
    expect(sample(s, 'gangway_errors_total', { service: 'tcp', code: 'GW_ERR_BACKEND_REFUSED' })).toBe(2);
    expect(sample(s, 'gangway_errors_total', { service: 'echo', code: 'GW_ERR_SUBPROTOCOL' })).toBe(1);
    // Failed connects record no connect time.
    expect(sample(s, 'gangway_backend_connect_seconds_count', { service: 'tcp' })).toBeUndefined();
  });
});
