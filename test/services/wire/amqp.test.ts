import { Resources, closed, nextMessage, openClient, service, startGateway, tcpServer, waitFor } from '../../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

const AMQP091 = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
const AMQP10 = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');
const SASL10 = Buffer.from('AMQP\x03\x01\x00\x00', 'latin1');

/** A gateway with amqp.proxy in front of a local TCP server that records what it receives. */
async function setup(): Promise<{ url: string; received: () => Buffer; reply: (b: Buffer) => Promise<void>; frames: Map<string, number>; errors: Map<string, number> }> {
  const chunks: Buffer[] = [];
  const backend = await tcpServer(res, (socket) => socket.on('data', (c: Buffer) => chunks.push(c)));
  const gw = await startGateway(res, { services: [service('amqp', 'amqp.proxy', '/amqp', { connect: `tcp://127.0.0.1:${backend.port}` })] });
  const metrics = gw.gateway.metrics.service('amqp');
  return {
    url: gw.ws('/amqp'),
    received: () => Buffer.concat(chunks),
    reply: async (b) => {
      (await backend.nextSocket()).write(b);
    },
    frames: metrics.frames,
    errors: metrics.errors,
  };
}

describe('amqp.proxy protocol header detection', () => {
  it.each([
    ['AMQP 0-9-1, split 4 + 4', AMQP091, [4]],
    ['AMQP 0-9-1, one byte per message', AMQP091, [1, 2, 3, 4, 5, 6, 7]],
    ['AMQP 1.0, split 5 + 3', AMQP10, [5]],
    ['AMQP 1.0 SASL, split 1 + 6 + 1', SASL10, [1, 7]],
  ])('%s: waits for all 8 bytes, then forwards the header once', async (_name, header, cuts) => {
    const t = await setup();
    const ws = await openClient(res, t.url, 'amqp');
    const points = [0, ...cuts, header.length];
    for (let i = 0; i < points.length - 1; i++) ws.send(header.subarray(points[i], points[i + 1]));
    await waitFor(() => t.received().length >= 8, 5000, 'the header at the back end');
    expect(t.received()).toEqual(header);
    expect(t.frames.get('toServer protocol-header')).toBe(1);
    expect(t.errors.size).toBe(0);

    // The back end's answer is validated with the same protocol and reaches the client as binary.
    await t.reply(header);
    const answer = await nextMessage(ws);
    expect(answer.isBinary).toBe(true);
    expect(answer.data).toEqual(header);
    expect(t.frames.get('toClient protocol-header')).toBe(1);
  });

  it('tells AMQP 1.0 from 0-9-1 by the split header: a 0-9-1 frame after a 1.0 header is refused', async () => {
    const t = await setup();
    const ws = await openClient(res, t.url, 'amqp');
    ws.send(AMQP10.subarray(0, 6));
    ws.send(Buffer.concat([AMQP10.subarray(6), Buffer.from([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 10, 0xce])]));
    const { code } = await closed(ws);
    // Read as AMQP 1.0, the 0-9-1 frame's first bytes are a frame header with data offset 0.
    expect(code).toBe(1002);
    expect([...t.errors.keys()]).toEqual(['GW_ERR_AMQP10_BAD_FRAME_HEADER']);
    // The message holding the header's end and the bad frame was refused whole.
    expect(t.received().length).toBe(0);
  });

  it('refuses a bad header split across messages with the 0-9-1 header and nothing forwarded', async () => {
    const t = await setup();
    const ws = await openClient(res, t.url, 'amqp');
    const replies: { data: Buffer; isBinary: boolean }[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => replies.push({ data, isBinary }));
    ws.send(Buffer.from('AMQ', 'latin1'));
    ws.send(Buffer.from('X\x00\x00\x09\x01', 'latin1'));
    const { code } = await closed(ws);
    expect(code).toBe(1002);
    // One binary message, although the header is UTF-8: AMQP over WebSocket is binary.
    expect(replies).toEqual([{ data: AMQP091, isBinary: true }]);
    expect(t.errors.get('GW_ERR_AMQP091_BAD_PROTOCOL_HEADER')).toBe(1);
    expect(t.received().length).toBe(0);
  });
});
