/**
 * stomp.proxy toward the client, in front of a local TCP server playing the broker: one WebSocket
 * message per frame with the EOLs after it (or, with coalesceFrames, per read), lone heart-beats
 * alone, and a frame split across reads sent once complete; the broker's stream validated, or
 * with validateServer: false validated through CONNECTED and then only cut into frames.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Resources, closed, openClient, service, socketClosed, startGateway, tcpServer, toBuffer, waitFor, type StartedGateway } from '../../support/gateway';
import { span } from '../../../src/services/wire/stomp';

const res = new Resources();
afterEach(() => res.closeAll());

const CONNECTED = 'CONNECTED\nversion:1.2\n\n\0\n';

/** A client of stomp.proxy and the broker-side socket; `received` holds the client's messages as text. */
async function session(properties: Record<string, unknown> = {}): Promise<{ ws: WebSocket; broker: Socket; received: string[]; gw: StartedGateway }> {
  let broker: Socket | null = null;
  const backend = await tcpServer(res, (socket) => {
    broker = socket;
  });
  const gw = await startGateway(res, { services: [service('stomp', 'stomp.proxy', '/stomp', { connect: `tcp://127.0.0.1:${backend.port}`, properties })] });
  const ws = await openClient(res, gw.ws('/stomp'), 'v12.stomp');
  const received: string[] = [];
  ws.on('message', (m) => received.push(toBuffer(m as Buffer).toString()));
  ws.send('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
  await waitFor(() => broker !== null, 5000, 'the broker connection');
  return { ws, broker: broker as unknown as Socket, received, gw };
}

describe('stomp.proxy toward the client', () => {
  const READ = 'CONNECTED\nversion:1.2\n\n\0\nMESSAGE\nsubscription:0\nmessage-id:1\ndestination:/q\n\none\0\r\n\nMESSAGE\nsubscription:0\nmessage-id:2\ndestination:/q\n\ntwo\0';

  it('sends each frame with the EOLs after it as one message, and a lone heart-beat alone', async () => {
    const { broker, received } = await session();
    broker.write(`\n${READ}`);
    await waitFor(() => received.length === 4, 5000, 'four messages');
    broker.write('\n');
    await waitFor(() => received.length === 5, 5000, 'the heart-beat');
    expect(received).toEqual([
      '\n',
      'CONNECTED\nversion:1.2\n\n\0\n',
      'MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/q\n\none\0\r\n\n',
      'MESSAGE\nsubscription:0\nmessage-id:2\ndestination:/q\n\ntwo\0',
      '\n',
    ]);
  });

  it('with coalesceFrames, sends the whole frames of one read as one message', async () => {
    const { broker, received } = await session({ coalesceFrames: true });
    broker.write(READ);
    await waitFor(() => received.length === 1, 5000, 'one message');
    broker.write('\n');
    await waitFor(() => received.length === 2, 5000, 'the heart-beat');
    expect(received).toEqual([READ, '\n']);
  });

  it('sends a frame split across reads once it is complete', async () => {
    const { broker, received } = await session();
    broker.write('CONNECTED\nversion:1.2\n\n\0\nMESSAGE\nsubscription:0\nmessage-id:1\ndes');
    await waitFor(() => received.length === 1, 5000, 'CONNECTED');
    await new Promise((r) => setTimeout(r, 50));
    broker.write('tination:/q\n\nbody\0\n');
    await waitFor(() => received.length === 2, 5000, 'the MESSAGE');
    expect(received[1]).toBe('MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/q\n\nbody\0\n');
  });
});

describe('stomp.proxy validateServer', () => {
  // Valid framing, but no destination or subscription: the STOMP validator refuses it from a broker.
  const BAD_MESSAGE = 'MESSAGE\nmessage-id:1\n\nbad\0';

  it('by default refuses a malformed broker frame: never sent on, 1014, the broker connection ended, logged with its code', async () => {
    const { ws, broker, received, gw } = await session();
    broker.write(CONNECTED);
    await waitFor(() => received.length === 1, 5000, 'CONNECTED');
    broker.write(BAD_MESSAGE);
    expect(await closed(ws)).toEqual({ code: 1014, reason: 'back end sent malformed data' });
    await socketClosed(broker);
    expect(received).toEqual([CONNECTED]);
    const metrics = gw.gateway.metrics.service('stomp');
    expect([...metrics.errors]).toEqual([['GW_ERR_STOMP_MISSING_HEADER', 1]]);
    expect(metrics.frames.get('toClient MESSAGE')).toBeUndefined();
    const refusals = gw.log.records().filter((r) => r.msg === 'input refused');
    expect(refusals).toEqual([expect.objectContaining({ level: 'info', service: 'stomp', code: 'GW_ERR_STOMP_MISSING_HEADER', direction: 'toClient' })]);
    expect(refusals[0]?.reason).toMatch(/destination/);
  });

  it('with validateServer: false, cuts the broker frames after CONNECTED without checking them', async () => {
    const { ws, broker, received, gw } = await session({ validateServer: false });
    broker.write(CONNECTED);
    await waitFor(() => received.length === 1, 5000, 'CONNECTED');
    // Two frames in one read, the second with a NUL in its content-length body, then one split across reads.
    const binary = 'MESSAGE\ncontent-length:3\n\na\0b\0\n';
    broker.write(`${BAD_MESSAGE}\n${binary}FROB\nx:`);
    await waitFor(() => received.length === 3, 5000, 'two frames');
    await new Promise((r) => setTimeout(r, 50));
    broker.write('y\n\n\0');
    await waitFor(() => received.length === 4, 5000, 'the split frame');
    expect(received).toEqual([CONNECTED, `${BAD_MESSAGE}\n`, binary, 'FROB\nx:y\n\n\0']);
    expect(ws.readyState).toBe(ws.OPEN);
    // Only the validated handshake's read is counted (CONNECTED and the EOL after it); nothing was refused.
    const metrics = gw.gateway.metrics.service('stomp');
    expect([...metrics.frames].filter(([key]) => key.startsWith('toClient'))).toEqual([['toClient CONNECTED', 1], ['toClient HEARTBEAT', 1]]);
    expect(metrics.errors.size).toBe(0);
  });

  it('with validateServer: false, still validates the handshake: a CONNECTED with a version not offered is refused', async () => {
    const { ws, broker, received, gw } = await session({ validateServer: false });
    broker.write('CONNECTED\nversion:1.1\n\n\0\n');
    expect((await closed(ws)).code).toBe(1014);
    expect(received).toEqual([]);
    expect([...gw.gateway.metrics.service('stomp').errors.keys()]).toEqual(['GW_ERR_STOMP_UNSUPPORTED_VERSION']);
  });

  it('with validateServer: false, still refuses a broker frame above maxFrameSize', async () => {
    const { ws, broker, received, gw } = await session({ validateServer: false, limits: { maxFrameSize: 64 } });
    broker.write(CONNECTED);
    await waitFor(() => received.length === 1, 5000, 'CONNECTED');
    broker.write(`MESSAGE\n\n${'x'.repeat(64)}`);
    expect((await closed(ws)).code).toBe(1014);
    expect(received).toEqual([CONNECTED]);
    expect([...gw.gateway.metrics.service('stomp').errors]).toEqual([['GW_ERR_STOMP_FRAME_TOO_LARGE', 1]]);
  });
});

describe('span', () => {
  const frames = (whole: Buffer, ...cuts: number[]): { raw: Buffer }[] => [0, ...cuts].map((at, i) => ({ raw: whole.subarray(at, [...cuts, whole.length][i]) }));

  it('is one view over frames that lie end to end, and a copy otherwise', () => {
    const whole = Buffer.from('A\0B\0\nC\0');
    const view = span(frames(whole, 2, 5), 0, 3);
    expect([view.toString(), view.buffer === whole.buffer, view.byteOffset === whole.byteOffset]).toEqual(['A\0B\0\nC\0', true, true]);
    expect(span(frames(whole, 2, 5), 1, 2).toString()).toBe('B\0\n');
    const apart = span([{ raw: Buffer.from('A\0') }, { raw: Buffer.from('B\0') }], 0, 2);
    expect(apart.toString()).toBe('A\0B\0');
  });
});
