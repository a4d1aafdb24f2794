import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { DEFAULT_SESSION_LIMITS } from '../../../src/config/defaults';
import { createLogger } from '../../../src/log';
import { Metrics } from '../../../src/metrics';
import { Session } from '../../../src/session';
import { Outbox } from '../../../src/services/stomp-jms/outbox';
import { WebSocketTransport, webSocketFrame } from '../../../src/transports/websocket';

interface Pair {
  readonly session: Session;
  readonly outbox: Outbox;
  readonly client: WebSocket;
  readonly received: string[];
}

describe('stomp.jms outbox', () => {
  let server: WebSocketServer;
  let url: string;
  const clients: WebSocket[] = [];
  const metrics = new Metrics().service('jms');

  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((r) => server.once('listening', () => r()));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    for (const c of clients) c.terminate();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** Sessions with their outboxes, and the ws clients at the other ends, opened one at a time. */
  async function pairs(n: number): Promise<Pair[]> {
    const made: Pair[] = [];
    for (let i = 0; i < n; i++) made.push(await pair());
    return made;
  }

  async function pair(): Promise<Pair> {
    const accepted = new Promise<WebSocket>((r) => server.once('connection', (ws: WebSocket) => r(ws)));
    const client = new WebSocket(url, { perMessageDeflate: false });
    clients.push(client);
    const received: string[] = [];
    client.on('message', (data: Buffer, binary: boolean) => received.push(`${binary ? 'binary' : 'text'}:${data.toString('latin1')}`));
    await new Promise((r) => client.once('open', r));
    const ws = await accepted;
    const session = new Session(new WebSocketTransport(ws), 'jms', '127.0.0.1', DEFAULT_SESSION_LIMITS, metrics, createLogger('silent'));
    ws.on('close', (code: number, reason: Buffer) => session.ended(code, reason.toString()));
    return { session, outbox: new Outbox(session, 100, () => undefined), client, received };
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(check()).toBe(true);
  }

  it('writes a frame handed to many sessions in a row as one WebSocket frame, in order with the others, counted as ws sends are', async () => {
    const open = await pairs(3);
    const own = open.map((_, i) => Buffer.from(`RECEIPT\nreceipt-id:${i}\n\n\0`));
    const shared = [Buffer.from('MESSAGE\nsubscription:sub-0\n\nfirst\0'), Buffer.from(`MESSAGE\nsubscription:sub-0\n\n${'x'.repeat(70_000)}\0`)];
    const last = Buffer.from('MESSAGE\nsubscription:sub-0\n\nlast\0');
    // One tick: an own frame each, then each shared frame to every session, then one more.
    open.forEach((p, i) => p.outbox.push(own[i] as Buffer, null));
    for (const frame of shared) for (const p of open) p.outbox.push(frame, '/topic/t');
    for (const p of open) p.outbox.push(last, '/topic/t');
    await until(() => open.every((p) => p.received.length === 4));
    open.forEach((p, i) => {
      expect(p.received).toEqual([own[i], ...shared, last].map((f) => `text:${f.toString('latin1')}`));
      const bytes = (own[i] as Buffer).length + (shared[0] as Buffer).length + (shared[1] as Buffer).length + last.length;
      expect([p.session.messagesOut, p.session.bytesOut]).toEqual([4, bytes]);
    });
    await until(() => open.every((p) => p.session.buffered === 0));
  });

  it('writes nothing more to the socket once the WebSocket is closing', async () => {
    const open = await pairs(2);
    const frame = Buffer.from('MESSAGE\nsubscription:sub-0\n\nlate\0');
    const writes = open.map((p) => jest.spyOn(p.session.transport.socket() as Duplex, 'write'));
    for (const p of open) p.session.close(1000, 'bye');
    const closing = writes.map((w) => w.mock.calls.length);
    for (const p of open) p.outbox.push(frame, '/topic/t');
    expect(writes.map((w) => w.mock.calls.length)).toEqual(closing);
    await Promise.all(open.map((p) => new Promise((r) => p.client.once('close', r))));
    for (const p of open) expect(p.received).toEqual([]);
  });
});

describe('WebSocket frames written once for many clients', () => {
  it.each([0, 1, 125, 126, 65_535, 65_536, 70_000])('frames %i payload bytes as ws does', (n) => {
    const payload = Buffer.alloc(n, 0x61);
    const frame = webSocketFrame(payload, false);
    const head = n < 126 ? [0x81, n] : n < 0x10000 ? [0x81, 126, n >> 8, n & 0xff] : [0x81, 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
    expect(webSocketFrame(payload, true)[0]).toBe(0x82);
    expect([...frame.subarray(0, head.length)]).toEqual(head);
    expect(frame.subarray(head.length).equals(payload)).toBe(true);
  });
});
