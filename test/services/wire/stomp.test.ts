/**
 * stomp.proxy toward the client, in front of a local TCP server playing the broker: one WebSocket
 * message per frame with the EOLs that follow it in the same read, lone heart-beats alone, and
 * frames split across reads joined before they are sent.
 */
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { Resources, openClient, service, startGateway, tcpServer, toBuffer, waitFor } from '../../support/gateway';
import { joined } from '../../../src/services/wire/stomp';

const res = new Resources();
afterEach(() => res.closeAll());

/** A client of stomp.proxy and the broker-side socket; `received` holds the client's messages as text. */
async function session(): Promise<{ ws: WebSocket; broker: Socket; received: string[] }> {
  let broker: Socket | null = null;
  const backend = await tcpServer(res, (socket) => {
    broker = socket;
  });
  const gw = await startGateway(res, { services: [service('stomp', 'stomp.proxy', '/stomp', { connect: `tcp://127.0.0.1:${backend.port}` })] });
  const ws = await openClient(res, gw.ws('/stomp'), 'v12.stomp');
  const received: string[] = [];
  ws.on('message', (m) => received.push(toBuffer(m as Buffer).toString()));
  ws.send('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
  await waitFor(() => broker !== null, 5000, 'the broker connection');
  return { ws, broker: broker as unknown as Socket, received };
}

describe('stomp.proxy toward the client', () => {
  it('sends each frame with the EOLs after it as one message, and a lone heart-beat alone', async () => {
    const { broker, received } = await session();
    broker.write('CONNECTED\nversion:1.2\n\n\0\nMESSAGE\nsubscription:0\nmessage-id:1\ndestination:/q\n\none\0\r\n\nMESSAGE\nsubscription:0\nmessage-id:2\ndestination:/q\n\ntwo\0');
    await waitFor(() => received.length === 3, 5000, 'three messages');
    broker.write('\n');
    await waitFor(() => received.length === 4, 5000, 'the heart-beat');
    expect(received).toEqual([
      'CONNECTED\nversion:1.2\n\n\0\n',
      'MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/q\n\none\0\r\n\n',
      'MESSAGE\nsubscription:0\nmessage-id:2\ndestination:/q\n\ntwo\0',
      '\n',
    ]);
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

describe('joined', () => {
  it('extends a view over adjacent memory and copies otherwise', () => {
    const whole = Buffer.from('frame\0\n');
    const view = joined(whole.subarray(0, 6), whole.subarray(6));
    expect([view.toString(), view.buffer === whole.buffer]).toEqual(['frame\0\n', true]);
    const copy = joined(Buffer.from('a'), Buffer.from('b'));
    expect(copy.toString()).toBe('ab');
  });
});
