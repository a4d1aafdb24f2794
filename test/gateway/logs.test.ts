import { Resources, closed, closedPort, httpRequest, nextMessage, openClient, service, startGateway, tcpEchoServer, waitFor } from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

describe('session logs', () => {
  it('writes one session.open and one session.close line per session with its figures', async () => {
    const gw = await startGateway(res, { services: [service('echo', 'echo', '/echo')] });
    const a = await openClient(res, gw.ws('/echo'));
    const b = await openClient(res, gw.ws('/echo'));
    for (const text of ['one', 'three']) {
      const back = nextMessage(a);
      a.send(text);
      await back;
    }
    const back = nextMessage(b);
    b.send(Buffer.alloc(10), { binary: true });
    await back;
    const aClosed = closed(a);
    const bClosed = closed(b);
    a.close(1000, 'done');
    b.close(4000, 'app');
    await Promise.all([aClosed, bClosed]);
    await waitFor(() => gw.log.events('session.close').length === 2, 5000, 'two session.close lines');

    const opens = gw.log.events('session.open');
    const closes = gw.log.events('session.close');
    expect(opens).toHaveLength(2);
    expect(closes).toHaveLength(2);
    for (const o of opens) {
      expect(o).toMatchObject({ level: 'info', service: 'echo', remote: '127.0.0.1', msg: 'session open' });
      expect(closes.filter((c) => c.session === o.session)).toHaveLength(1);
    }
    expect(new Set(opens.map((o) => o.session)).size).toBe(2);
    const [ca, cb] = [closes.find((c) => c.closeCode === 1000), closes.find((c) => c.closeCode === 4000)];
    expect(ca).toMatchObject({ level: 'info', service: 'echo', remote: '127.0.0.1', bytesIn: 8, bytesOut: 8, messagesIn: 2, messagesOut: 2, reason: 'done' });
    expect(cb).toMatchObject({ service: 'echo', bytesIn: 10, bytesOut: 10, messagesIn: 1, messagesOut: 1, reason: 'app' });
    for (const c of closes) {
      expect(typeof c.durationMs).toBe('number');
      expect(c.durationMs as number).toBeGreaterThanOrEqual(0);
      expect(c.error).toBeUndefined();
    }
  });

  it('names the error code in session.close when an error ended the session', async () => {
    const port = await closedPort();
    const gw = await startGateway(res, { services: [service('tcp', 'proxy', '/tcp', { connect: `tcp://127.0.0.1:${port}` })] });
    const ws = await openClient(res, gw.ws('/tcp'));
    await closed(ws);
    await waitFor(() => gw.log.events('session.close').length === 1, 5000, 'the session.close line');
    expect(gw.log.events('session.close')[0]).toMatchObject({ service: 'tcp', closeCode: 1011, error: 'GW_ERR_BACKEND_REFUSED', reason: `back end tcp://127.0.0.1:${port} refused: ECONNREFUSED` });
  });

  it('never prints the password of a connect URI: not in logs, close reasons or /ready', async () => {
    const port = await closedPort();
    const backend = await tcpEchoServer(res);
    const gw = await startGateway(
      res,
      {
        services: [
          service('mgmt', 'management', '/'),
          service('down', 'proxy', '/down', { connect: `tcp://user:secretpass@127.0.0.1:${port}` }),
          service('up', 'proxy', '/up', { connect: `tcp://user:secretpass@127.0.0.1:${backend.port}`, limits: { connectTimeoutMs: 5000 } }),
        ],
      },
      { level: 'trace' },
    );
    const down = await openClient(res, gw.ws('/down'));
    const downClose = await closed(down);
    expect(downClose.code).toBe(1011);
    expect(downClose.reason).toContain('ECONNREFUSED');

    const up = await openClient(res, gw.ws('/up'));
    const echoed = nextMessage(up);
    up.send('ping');
    expect((await echoed).data.toString()).toBe('ping');
    const upClosed = closed(up);
    up.close();
    await upClosed;

    const ready = await httpRequest(gw.http('/ready'));
    expect(ready.status).toBe(503);
    expect(ready.body).toContain('"down"');
    await gw.gateway.stop();
    await waitFor(() => gw.log.events('session.close').length === 2, 5000, 'both session.close lines');

    const everything = [gw.log.text(), downClose.reason, ready.body].join('\n');
    // The lines that mention the back end were written (so the check below looked at them).
    expect(gw.log.records().some((r) => typeof r.reason === 'string' && r.reason.includes(`127.0.0.1:${port}`))).toBe(true);
    expect(everything).not.toContain('secretpass');
    expect(everything).toContain('tcp://***@127.0.0.1:');
    expect(everything).not.toContain('user:');
  });
});
