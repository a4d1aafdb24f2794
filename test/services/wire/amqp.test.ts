import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Resources, closed, nextMessage, openClient, service, startGateway, tcpServer, waitFor } from '../../support/gateway';

const res = new Resources();
afterEach(() => res.closeAll());

const AMQP091 = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
const AMQP10 = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');
const SASL10 = Buffer.from('AMQP\x03\x01\x00\x00', 'latin1');

/** A gateway with amqp.proxy in front of a local TCP server that records what it receives. */
async function setup(properties: Record<string, unknown> = {}): Promise<{ url: string; received: () => Buffer; reply: (b: Buffer) => Promise<void>; frames: Map<string, number>; errors: Map<string, number> }> {
  const chunks: Buffer[] = [];
  const backend = await tcpServer(res, (socket) => socket.on('data', (c: Buffer) => chunks.push(c)));
  const gw = await startGateway(res, { services: [service('amqp', 'amqp.proxy', '/amqp', { connect: `tcp://127.0.0.1:${backend.port}`, properties })] });
  const metrics = gw.gateway.metrics.service('amqp');
  let broker: Promise<Socket> | null = null;
  return {
    url: gw.ws('/amqp'),
    received: () => Buffer.concat(chunks),
    reply: async (b) => {
      broker ??= backend.nextSocket();
      (await broker).write(b);
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

/** An AMQP 1.0 frame of `type` on channel 0 (data offset 2) around `body`. */
function frame10(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head[4] = 2;
  head[5] = type;
  return Buffer.concat([head, body]);
}

/** An open performative carrying only its container-id. */
function open10(containerId: string): Buffer {
  const id = Buffer.concat([Buffer.from([0xa1, containerId.length]), Buffer.from(containerId)]);
  return frame10(0, Buffer.concat([Buffer.from([0x00, 0x53, 0x10, 0xc0, id.length + 1, 1]), id]));
}

/** A frame of a type AMQP 1.0 does not define: the validator refuses it in either direction. */
const UNKNOWN_TYPE = frame10(5, Buffer.from('not a frame'));

describe('amqp.proxy validateServer', () => {
  /** A client past the AMQP 1.0 handshake (header and open both ways); its messages, in order. */
  async function opened(properties: Record<string, unknown>): Promise<{ ws: WebSocket; messages: Buffer[]; t: Awaited<ReturnType<typeof setup>> }> {
    const t = await setup(properties);
    const ws = await openClient(res, t.url, 'amqp');
    const messages: Buffer[] = [];
    ws.on('message', (d: Buffer) => messages.push(d));
    ws.send(Buffer.concat([AMQP10, open10('client')]));
    await waitFor(() => t.received().length > 8, 5000, 'the client open at the back end');
    await t.reply(Buffer.concat([AMQP10, open10('broker')]));
    await waitFor(() => Buffer.concat(messages).length === 8 + open10('broker').length, 5000, 'the broker header and open');
    return { ws, messages, t };
  }

  it('by default refuses a malformed broker frame after the handshake with 1014; the client never gets it', async () => {
    const { ws, messages, t } = await opened({});
    await t.reply(UNKNOWN_TYPE);
    expect((await closed(ws)).code).toBe(1014);
    expect(Buffer.concat(messages)).toEqual(Buffer.concat([AMQP10, open10('broker')]));
    expect([...t.errors]).toEqual([['GW_ERR_AMQP10_UNKNOWN_FRAME_TYPE', 1]]);
  });

  it('with validateServer: false, passes the broker bytes after its open as read, and still refuses the client', async () => {
    const { ws, messages, t } = await opened({ validateServer: false });
    const before = messages.length;
    await t.reply(UNKNOWN_TYPE);
    await waitFor(() => messages.length > before, 5000, 'the unchecked bytes');
    expect(Buffer.concat(messages.slice(before))).toEqual(UNKNOWN_TYPE);
    expect(t.frames.get('toClient open')).toBe(1);
    expect(t.errors.size).toBe(0);

    // The client's stream is still validated; the reply knows the broker already opened: a close alone.
    const sent = t.received().length;
    ws.send(UNKNOWN_TYPE);
    expect((await closed(ws)).code).toBe(1002);
    const reply = Buffer.concat(messages.slice(before + 1));
    expect(reply.readUInt32BE(0)).toBe(reply.length);
    expect(reply.subarray(8, 11)).toEqual(Buffer.from([0x00, 0x53, 0x18]));
    expect(reply.includes(Buffer.from('amqp:connection:framing-error'))).toBe(true);
    expect([...t.errors]).toEqual([['GW_ERR_AMQP10_UNKNOWN_FRAME_TYPE', 1]]);
    expect(t.received().length).toBe(sent);
  });

  it('with validateServer: false, still validates the handshake: a malformed frame before the broker open is refused', async () => {
    const t = await setup({ validateServer: false });
    const ws = await openClient(res, t.url, 'amqp');
    ws.send(AMQP10);
    await waitFor(() => t.received().length === 8, 5000, 'the header at the back end');
    await t.reply(Buffer.concat([AMQP10, UNKNOWN_TYPE]));
    expect((await closed(ws)).code).toBe(1014);
    expect([...t.errors]).toEqual([['GW_ERR_AMQP10_UNKNOWN_FRAME_TYPE', 1]]);
  });
});
