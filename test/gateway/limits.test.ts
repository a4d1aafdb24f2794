import { Resources, closed, httpRequest, openClient, parseMetrics, refusedUpgrade, sample, service, startGateway, waitFor } from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

describe('session limits', () => {
  it('closes with 1009 on a message larger than maxMessageBytes, logged and counted as MESSAGE_TOO_LARGE', async () => {
    const gw = await startGateway(res, {
      services: [service('mgmt', 'management', '/'), service('echo', 'echo', '/echo', { limits: { maxMessageBytes: 1024 } })],
    });
    const ws = await openClient(res, gw.ws('/echo'));
    const back = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(Buffer.alloc(1024, 1), { binary: true });
    expect((await back).length).toBe(1024);
    ws.send(Buffer.alloc(1025, 1), { binary: true });
    const { code, reason } = await closed(ws);
    expect(code).toBe(1009);
    // ws closes at once when the frame header announces the size; the close frame carries no reason.
    expect(reason).toBe('');
    // What names the cause for the operator: the session.close line and gangway_errors_total.
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({
      service: 'echo',
      remote: '127.0.0.1',
      closeCode: 1009,
      error: 'GW_ERR_MESSAGE_TOO_LARGE',
      messagesIn: 1,
      bytesIn: 1024,
    });
    const metrics = parseMetrics((await httpRequest(gw.http('/metrics'))).body);
    expect(sample(metrics, 'gangway_errors_total', { service: 'echo', code: 'GW_ERR_MESSAGE_TOO_LARGE' })).toBe(1);
  });

  it('counts the size of a fragmented message across its frames: 1009 once the total passes maxMessageBytes', async () => {
    const gw = await startGateway(res, {
      services: [service('mgmt', 'management', '/'), service('echo', 'echo', '/echo', { limits: { maxMessageBytes: 1024 } })],
    });
    const ws = await openClient(res, gw.ws('/echo'));
    ws.send(Buffer.alloc(600, 1), { binary: true, fin: false });
    ws.send(Buffer.alloc(600, 1), { binary: true, fin: true });
    expect(await closed(ws)).toEqual({ code: 1009, reason: '' });
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ closeCode: 1009, error: 'GW_ERR_MESSAGE_TOO_LARGE', messagesIn: 0 });
    const metrics = parseMetrics((await httpRequest(gw.http('/metrics'))).body);
    expect(sample(metrics, 'gangway_errors_total', { service: 'echo', code: 'GW_ERR_MESSAGE_TOO_LARGE' })).toBe(1);
  });

  it('refuses the upgrade past a service maxConnections with 503 naming the limit', async () => {
    const gw = await startGateway(res, { services: [service('echo', 'echo', '/echo', { limits: { maxConnections: 2 } })] });
    const first = await openClient(res, gw.ws('/echo'));
    await openClient(res, gw.ws('/echo'));
    const r = await refusedUpgrade(gw.ws('/echo'));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.body).toBe('service echo is at its limit of 2 connections\n');
    expect(gw.gateway.metrics.service('echo').errors.get('GW_ERR_TOO_MANY_CONNECTIONS')).toBe(1);

    // A place frees up when a session ends.
    const firstClosed = closed(first);
    first.close();
    await firstClosed;
    await waitFor(() => [...gw.gateway.sessions()].length === 1, 5000, 'the first session to end');
    const again = await openClient(res, gw.ws('/echo'));
    expect(again.readyState).toBe(again.OPEN);
  });

  it('refuses the upgrade past gangway.limits.maxConnections with 503, across services', async () => {
    const gw = await startGateway(res, {
      gangway: { limits: { maxConnections: 1 } },
      services: [service('a', 'echo', '/a'), service('b', 'echo', '/b')],
    });
    await openClient(res, gw.ws('/a'));
    const r = await refusedUpgrade(gw.ws('/b'));
    expect(r.status).toBe(503);
    expect(r.body).toBe('Gangway is at its limit of 1 connections\n');
  });

  it('refuses connections over connectionsPerSecondPerIp with 429 and Retry-After', async () => {
    // 0.5/s: the bucket holds one token (never less than one) and refills it in two seconds.
    const gw = await startGateway(res, { services: [service('echo', 'echo', '/echo', { limits: { connectionsPerSecondPerIp: 0.5 } })] });
    await openClient(res, gw.ws('/echo'));
    const r = await refusedUpgrade(gw.ws('/echo'));
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.body).toBe('too many new connections from 127.0.0.1: limit 0.5/s\n');
    expect(gw.gateway.metrics.service('echo').errors.get('GW_ERR_RATE_LIMITED')).toBe(1);
  });

  it('closes an idle session with 1001 "idle timeout"', async () => {
    const gw = await startGateway(res, { services: [service('echo', 'echo', '/echo', { limits: { idleTimeoutMs: 1000 } })] });
    const ws = await openClient(res, gw.ws('/echo'));
    expect(await closed(ws)).toEqual({ code: 1001, reason: 'idle timeout' });
    expect(gw.gateway.metrics.service('echo').errors.get('GW_ERR_IDLE_TIMEOUT')).toBe(1);
  }, 10_000);

  it('drops a client that does not answer pings (1006) and counts PING_TIMEOUT; a client that answers stays', async () => {
    const gw = await startGateway(res, { services: [service('echo', 'echo', '/echo', { limits: { pingIntervalMs: 1000 } })] });
    const silent = await openClient(res, gw.ws('/echo'), undefined, { autoPong: false });
    const answering = await openClient(res, gw.ws('/echo'));
    let pings = 0;
    silent.on('ping', () => pings++);
    const { code } = await closed(silent);
    expect(code).toBe(1006);
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(answering.readyState).toBe(answering.OPEN);
    expect(gw.gateway.metrics.service('echo').errors.get('GW_ERR_PING_TIMEOUT')).toBe(1);
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ closeCode: 1006, error: 'GW_ERR_PING_TIMEOUT' });
  }, 10_000);
});
