/**
 * `stomp.jms` at the frame level, with a bare `ws` client: version and heart-beat negotiation,
 * frames split across WebSocket messages and several frames in one message, wire errors.
 */
import WebSocket, { type RawData } from 'ws';
import { requireBackend } from '../../support/backends';
import { brokerTargets, startJmsGateway, unique, within, type JmsGateway } from './support';

jest.setTimeout(30000);

interface RawClient {
  readonly ws: WebSocket;
  /** Frames received (each WebSocket message is one frame or heart-beat). */
  readonly frames: string[];
  next(match: (f: string) => boolean, what: string): Promise<string>;
  closed: Promise<number>;
}

async function raw(url: string, protocol: string): Promise<RawClient> {
  const ws = new WebSocket(url, [protocol]);
  const frames: string[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data: RawData) => {
    frames.push(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    frames,
    closed,
    next: (match, what) =>
      within(
        new Promise<string>((resolve) => {
          const check = (): void => {
            const f = frames.find(match);
            if (f !== undefined) resolve(f);
            else waiters.push(check);
          };
          check();
        }),
        10000,
        what,
      ),
  };
}

describe('stomp.jms frames', () => {
  let gw: JmsGateway;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    const facts = await requireBackend('rabbitmq');
    gw = await startJmsGateway(brokerTargets(facts).rabbitmq, { heartBeat: [10000, 20000] });
  });

  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.terminate();
  });

  afterAll(async () => {
    await gw.stop();
  });

  async function client(protocol = 'v12.stomp'): Promise<RawClient> {
    const c = await raw(gw.url, protocol);
    sockets.push(c.ws);
    return c;
  }

  it('negotiates the highest common version and heart-beats (server offer 10000,20000; client 5000,30000)', async () => {
    const c = await client();
    c.ws.send('CONNECT\naccept-version:1.1,1.2\nheart-beat:5000,30000\n\n\0');
    const connected = await c.next((f) => f.startsWith('CONNECTED'), 'CONNECTED');
    expect(connected).toContain('\nversion:1.2\n');
    // Gangway sends every max(10000, 30000) ms and expects every max(20000, 5000) ms.
    expect(connected).toContain('\nheart-beat:30000,20000\n');
  });

  it('caps the version at the WebSocket subprotocol (v10.stomp → STOMP 1.0)', async () => {
    const c = await client('v10.stomp');
    c.ws.send('CONNECT\naccept-version:1.0,1.1,1.2\n\n\0');
    const connected = await c.next((f) => f.startsWith('CONNECTED'), 'CONNECTED');
    expect(connected).not.toContain('version:');
    expect(connected).toContain('\nsession:');
  });

  it('reads a frame split over WebSocket messages and several frames in one message', async () => {
    const c = await client();
    const queue = `/queue/${unique('gw.wire')}`;
    c.ws.send('CONN');
    c.ws.send('ECT\naccept-version:1.2\nheart-beat:0,0\n\n\0');
    await c.next((f) => f.startsWith('CONNECTED'), 'CONNECTED');
    c.ws.send(`SUBSCRIBE\nid:0\ndestination:${queue}\nreceipt:s\n\n\0SEND\ndestination:${queue}\ncontent-length:5\nreceipt:p\n\nab\0cd\0SEND\ndestination:${queue}\n\nsecond\0`);
    const first = await c.next((f) => f.startsWith('MESSAGE') && f.includes('ab\0cd'), 'MESSAGE with a NUL in its body');
    expect(first).toContain('\ncontent-length:5\n');
    expect(first).toContain('\nsubscription:0\n');
    await c.next((f) => f.startsWith('MESSAGE') && f.includes('\n\nsecond\0'), 'second MESSAGE');
    expect(c.frames.filter((f) => f.startsWith('RECEIPT')).map((f) => /receipt-id:(\w+)/.exec(f)?.[1])).toEqual(['s', 'p']);
  });

  it('answers a malformed frame with the codec ERROR and its close code', async () => {
    const c = await client();
    c.ws.send('CONNECT\naccept-version:1.2\n\n\0');
    await c.next((f) => f.startsWith('CONNECTED'), 'CONNECTED');
    c.ws.send('FROB\n\n\0');
    const error = await c.next((f) => f.startsWith('ERROR'), 'ERROR');
    expect(error).toContain('code:GW_ERR_STOMP_UNKNOWN_COMMAND');
    expect(await c.closed).toBe(1002);
  });

  it('answers a SEND to an unknown transaction with ERROR naming it', async () => {
    const c = await client();
    c.ws.send('CONNECT\naccept-version:1.2\n\n\0');
    await c.next((f) => f.startsWith('CONNECTED'), 'CONNECTED');
    c.ws.send(`SEND\ndestination:/queue/${unique('gw.wire')}\ntransaction:nope\nreceipt:x\n\nbody\0`);
    const error = await c.next((f) => f.startsWith('ERROR'), 'ERROR');
    expect(error).toContain('message:unknown transaction');
    expect(error).toContain('receipt-id:x');
    expect(error).toContain('code:GW_ERR_STOMP_JMS_BAD_FRAME');
    expect(await c.closed).toBe(1008);
  });
});
