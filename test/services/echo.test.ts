import { Resources, closed, nextMessage, openClient, service, startGateway } from '../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

describe('echo', () => {
  it('returns text as text and binary as binary, byte for byte', async () => {
    const gw = await startGateway(res, { services: [service('echo', 'echo', '/echo')] });
    const ws = await openClient(res, gw.ws('/echo'));

    const text = nextMessage(ws);
    ws.send('héllo, wörld ✓');
    const t = await text;
    expect(t.isBinary).toBe(false);
    expect(t.data.toString('utf8')).toBe('héllo, wörld ✓');

    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 10, 13]);
    const binary = nextMessage(ws);
    ws.send(bytes, { binary: true });
    const b = await binary;
    expect(b.isBinary).toBe(true);
    expect(b.data.equals(bytes)).toBe(true);

    const empty = nextMessage(ws);
    ws.send(Buffer.alloc(0), { binary: true });
    const e = await empty;
    expect(e.isBinary).toBe(true);
    expect(e.data.length).toBe(0);

    const session = [...gw.gateway.sessions()][0];
    expect(session?.messagesIn).toBe(3);
    expect(session?.bytesIn).toBe(Buffer.byteLength('héllo, wörld ✓') + bytes.length);
    expect(session?.bytesOut).toBe(session?.bytesIn);

    const done = closed(ws);
    ws.close(1000, 'bye');
    expect(await done).toEqual({ code: 1000, reason: 'bye' });
  });
});
