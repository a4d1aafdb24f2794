/**
 * `stomp.proxy` with real clients and real brokers: @stomp/stompjs (over `ws`) through Gangway
 * to ActiveMQ's and RabbitMQ's STOMP ports; raw `ws` clients for framing edge cases and for
 * malformed input, with a TCP tap proving what reached the broker (compose/up: activemq, rabbitmq).
 */
import { Client, type IFrame, type IMessage, type StompHeaders } from '@stomp/stompjs';
import { WebSocket } from 'ws';
import { Resources, service, startGateway, waitFor, type StartedGateway } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { ERRORS } from '../../../validators/stomp';
import { errorCount, frameCount, rawClient, startTap, type RawClient, type Tap } from './support';

interface Broker {
  readonly name: string;
  readonly backend: 'activemq' | 'rabbitmq';
  port(facts: Backends): number;
  /** CONNECT headers: login, passcode and (RabbitMQ) the virtual host. */
  headers(facts: Backends): Record<string, string>;
}

const BROKERS: readonly Broker[] = [
  {
    name: 'ActiveMQ',
    backend: 'activemq',
    port: (f) => f.activemq.stompPort,
    headers: (f) => ({ login: f.activemq.user.username, passcode: f.activemq.user.password }),
  },
  {
    name: 'RabbitMQ',
    backend: 'rabbitmq',
    port: (f) => f.rabbitmq.stompPort,
    headers: (f) => ({ login: f.rabbitmq.guest.username, passcode: f.rabbitmq.guest.password, host: f.rabbitmq.vhost }),
  },
];

const SERVICE = 'stomp';

jest.setTimeout(30_000);

const res = new Resources();
afterEach(() => res.closeAll());

/** One STOMP frame as received in one WebSocket message. */
interface Frame {
  readonly command: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/** Parses a server frame (one per message; a lone EOL is a heart-beat and yields null). */
function parseFrame(data: Buffer): Frame | null {
  const text = data.toString('utf8');
  if (text === '\n' || text === '\r\n') return null;
  const blank = text.indexOf('\n\n');
  const head = text.slice(0, blank).split('\n');
  const headers = new Map<string, string>();
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (!headers.has(line.slice(0, colon))) headers.set(line.slice(0, colon), line.slice(colon + 1));
  }
  const rest = text.slice(blank + 2);
  return { command: head[0] ?? '', headers, body: rest.slice(0, rest.indexOf('\0')) };
}

function frames(client: RawClient): Frame[] {
  return client.messages.map((m) => parseFrame(m.data)).filter((f): f is Frame => f !== null);
}

function connectFrame(broker: Broker, facts: Backends, extra = ''): string {
  const headers = Object.entries(broker.headers(facts))
    .map(([k, v]) => `${k}:${v}\n`)
    .join('');
  return `CONNECT\naccept-version:1.2\n${headers}heart-beat:0,0\n${extra}\n\0`;
}

describe.each(BROKERS)('stomp.proxy to $name', (broker) => {
  let facts: Backends;

  beforeAll(async () => {
    facts = await requireBackend(broker.backend);
  });

  async function gateway(connectPort: number, properties: Record<string, unknown> = {}): Promise<StartedGateway> {
    return startGateway(res, { services: [service(SERVICE, 'stomp.proxy', '/stomp', { connect: `tcp://${facts.host}:${connectPort}`, properties })] });
  }

  /** A stompjs client through Gangway; resolves with it and the CONNECTED frame. */
  async function stompjs(gw: StartedGateway, heartbeat = { incoming: 0, outgoing: 0 }): Promise<{ client: Client; connected: IFrame }> {
    const client = new Client({
      webSocketFactory: () => new WebSocket(gw.ws('/stomp'), ['v12.stomp']),
      connectHeaders: broker.headers(facts),
      heartbeatIncoming: heartbeat.incoming,
      heartbeatOutgoing: heartbeat.outgoing,
      reconnectDelay: 0,
      debug: () => undefined,
    });
    res.add(() => client.deactivate({ force: true }));
    const connected = new Promise<IFrame>((resolve, reject) => {
      client.onConnect = resolve;
      client.onStompError = (frame) => reject(new Error(`STOMP ERROR: ${frame.headers.message ?? ''} ${frame.body}`));
      client.onWebSocketClose = (event: { code?: number }) => reject(new Error(`WebSocket closed with ${event.code ?? 0} before CONNECTED`));
    });
    client.activate();
    return { client, connected: await within(connected, 5000, `STOMP CONNECT through Gangway to ${broker.name}`) };
  }

  /** Subscribes; `next()` resolves with the next message (a queue, so none is lost). */
  function subscribe(client: Client, destination: string, headers: StompHeaders): { next(): Promise<IMessage> } {
    const queue: IMessage[] = [];
    const waiting: ((m: IMessage) => void)[] = [];
    client.subscribe(
      destination,
      (message) => {
        const w = waiting.shift();
        if (w) w(message);
        else queue.push(message);
      },
      headers,
    );
    return {
      next: () => {
        const ready = queue.shift();
        if (ready) return Promise.resolve(ready);
        return within(new Promise<IMessage>((resolve) => waiting.push(resolve)), 5000, `MESSAGE on ${destination}`);
      },
    };
  }

  /** Resolves when the broker's RECEIPT for `id` arrives. */
  function receipt(client: Client, id: string): Promise<IFrame> {
    return within(new Promise<IFrame>((resolve) => client.watchForReceipt(id, resolve)), 5000, `RECEIPT ${id}`);
  }

  /** SEND with a receipt header; resolves on the RECEIPT. */
  async function send(client: Client, destination: string, body: string): Promise<IFrame> {
    const id = unique('send');
    const got = receipt(client, id);
    client.publish({ destination, body, headers: { receipt: id, 'content-type': 'text/plain' } });
    return got;
  }

  it('connects, subscribes, sends, receives, acks and nacks, with receipts, and disconnects (stompjs)', async () => {
    const gw = await gateway(broker.port(facts));
    const { client, connected } = await stompjs(gw);
    expect(connected.command).toBe('CONNECTED');
    expect(connected.headers.version).toBe('1.2');

    const queue = `/queue/${unique('gangway.proxy')}`;
    const subId = unique('sub');
    const subReceipt = unique('subscribed');
    const subscribed = receipt(client, subReceipt);
    const sub = subscribe(client, queue, { id: subId, ack: 'client-individual', receipt: subReceipt });
    await subscribed;

    const first = unique('first');
    const second = unique('second');
    const r1 = await send(client, queue, first);
    expect(r1.command).toBe('RECEIPT');
    await send(client, queue, second);

    const m1 = await sub.next();
    const m2 = await sub.next();
    expect([m1.body, m2.body]).toEqual([first, second]);
    expect(m1.headers.subscription).toBe(subId);
    expect(m1.headers.ack).toBeDefined();

    const acked = unique('acked');
    const ackReceipt = receipt(client, acked);
    m1.ack({ receipt: acked });
    await ackReceipt;
    const nacked = unique('nacked');
    const nackReceipt = receipt(client, nacked);
    m2.nack({ receipt: nacked });
    await nackReceipt;

    if (broker.backend === 'rabbitmq') {
      // RabbitMQ requeues a NACKed message (requeue defaults to true) and delivers it again.
      const again = await sub.next();
      expect(again.body).toBe(second);
      expect(again.headers.redelivered).toBe('true');
      const ackAgain = unique('acked-again');
      const r = receipt(client, ackAgain);
      again.ack({ receipt: ackAgain });
      await r;
    }

    const metrics = gw.gateway.metrics.service(SERVICE).frames;
    expect(metrics.get('toServer CONNECT')).toBe(1);
    expect(metrics.get('toServer SUBSCRIBE')).toBe(1);
    expect(metrics.get('toServer SEND')).toBe(2);
    expect(metrics.get('toServer ACK')).toBe(broker.backend === 'rabbitmq' ? 2 : 1);
    expect(metrics.get('toServer NACK')).toBe(1);
    expect(metrics.get('toClient CONNECTED')).toBe(1);
    expect(metrics.get('toClient MESSAGE')).toBe(broker.backend === 'rabbitmq' ? 3 : 2);
    expect(metrics.get('toClient RECEIPT')).toBeGreaterThanOrEqual(broker.backend === 'rabbitmq' ? 6 : 5);

    // DISCONNECT with a receipt (stompjs waits for it), then the session ends cleanly.
    await within(client.deactivate(), 5000, 'STOMP DISCONNECT');
    await waitFor(() => [...gw.gateway.sessions()].length === 0, 5000, 'the session to end');
    expect(metrics.get('toServer DISCONNECT')).toBe(1);
    expect(metrics.get('toClient RECEIPT')).toBeGreaterThanOrEqual(broker.backend === 'rabbitmq' ? 7 : 6);

    // Nothing acknowledged is delivered again: a new consumer's first message is a fresh one.
    const { client: later } = await stompjs(gw);
    const laterSub = subscribe(later, queue, { id: 'later', ack: 'auto' });
    const fresh = unique('fresh');
    await send(later, queue, fresh);
    expect((await laterSub.next()).body).toBe(fresh);
  });

  it('with validateServer: false, carries a stompjs session the same way; only the handshake is validated', async () => {
    const gw = await gateway(broker.port(facts), { validateServer: false });
    const { client, connected } = await stompjs(gw);
    expect(connected.headers.version).toBe('1.2');
    const queue = `/queue/${unique('gangway.unchecked')}`;
    const subscribed = unique('subscribed');
    const sub = subscribe(client, queue, { id: 'u', ack: 'client-individual', receipt: subscribed });
    await receipt(client, subscribed);
    const bodies = [unique('first'), `${unique('second')}\nwith a line break`];
    for (const body of bodies) await send(client, queue, body);
    const got = [await sub.next(), await sub.next()];
    expect(got.map((m) => m.body)).toEqual(bodies);
    const acked = unique('acked');
    const ackReceipt = receipt(client, acked);
    (got[0] as IMessage).ack({ receipt: acked });
    await ackReceipt;
    await within(client.deactivate(), 5000, 'STOMP DISCONNECT');

    const metrics = gw.gateway.metrics.service(SERVICE);
    expect(metrics.frames.get('toServer SEND')).toBe(2);
    expect(metrics.frames.get('toClient CONNECTED')).toBe(1);
    expect(metrics.frames.get('toClient MESSAGE')).toBeUndefined();
    expect(metrics.frames.get('toClient RECEIPT')).toBeUndefined();
    expect(metrics.errors.size).toBe(0);
  });

  it('passes heart-beats both ways and stays connected past several intervals', async () => {
    const gw = await gateway(broker.port(facts));
    // The client beats every second; the broker is asked for one every 2 s: ActiveMQ's beats
    // come late by up to a second, which stompjs's check (twice the interval) tolerates.
    const { client, connected } = await stompjs(gw, { incoming: 2000, outgoing: 1000 });
    const [serverSends, serverWants] = (connected.headers['heart-beat'] ?? '0,0').split(',').map(Number);
    expect(serverSends).toBeGreaterThan(0);
    expect(serverWants).toBeGreaterThan(0);
    const metrics = gw.gateway.metrics.service(SERVICE);
    const at = (key: string): number => metrics.frames.get(key) ?? 0;
    const fromServerAtStart = at('toClient HEARTBEAT');

    let closedBy: number | undefined;
    client.onWebSocketClose = (event: { code?: number }) => {
      closedBy = event.code ?? 0;
    };
    await waitFor(() => at('toServer HEARTBEAT') >= 4 || closedBy !== undefined, 10_000, 'four heart-beats from the client');
    await waitFor(() => at('toClient HEARTBEAT') - fromServerAtStart >= 3 || closedBy !== undefined, 15_000, `three heart-beats from ${broker.name}`);
    expect(closedBy).toBeUndefined();
    expect(client.connected).toBe(true);
    expect(await errorCount(gw.gateway, SERVICE, 'GW_ERR_STOMP_UNEXPECTED_FRAME')).toBe(0);

    // Still usable after the intervals.
    const queue = `/queue/${unique('gangway.hb')}`;
    const sub = subscribe(client, queue, { id: 'hb', ack: 'auto' });
    const body = unique('after heart-beats');
    await send(client, queue, body);
    expect((await sub.next()).body).toBe(body);
    expect(await frameCount(gw.gateway, SERVICE, 'toServer', 'HEARTBEAT')).toBeGreaterThanOrEqual(4);
  });

  it('forwards a frame split across two messages and two frames in one message', async () => {
    const tap = await startTap(res, { host: facts.host, port: broker.port(facts) });
    const gw = await gateway(tap.port);
    const client = await rawClient(res, gw.ws('/stomp'), 'v12.stomp');
    const sent: string[] = [];
    const send = (text: string): void => {
      sent.push(text);
      client.ws.send(text);
    };
    send(connectFrame(broker, facts));
    await client.until((m) => m.length > 0, 'CONNECTED');
    expect(frames(client)[0]?.command).toBe('CONNECTED');

    const queue = `/queue/${unique('gangway.split')}`;
    send(`SUBSCRIBE\nid:s1\ndestination:${queue}\nack:auto\nreceipt:sub\n\n\0`);
    await client.until(() => frames(client).some((f) => f.command === 'RECEIPT'), 'RECEIPT for SUBSCRIBE');

    const [a, b, c] = [unique('split'), unique('pair-1'), unique('pair-2')];
    const split = `SEND\ndestination:${queue}\ncontent-type:text/plain\n\n${a}\0`;
    const cut = split.indexOf('content-type') + 4;
    send(split.slice(0, cut));
    send(split.slice(cut));
    send(`SEND\ndestination:${queue}\n\n${b}\0SEND\ndestination:${queue}\nreceipt:pair\n\n${c}\0`);

    await client.until(() => frames(client).filter((f) => f.command === 'MESSAGE').length === 3, 'three MESSAGE frames');
    expect(frames(client)
      .filter((f) => f.command === 'MESSAGE')
      .map((f) => f.body)).toEqual([a, b, c]);
    // Every client message went out as one text message per frame from the broker.
    expect(client.messages.every((m) => !m.isBinary)).toBe(true);
    // The broker got exactly the bytes the client sent, split or joined as they were.
    expect((await tap.first()).sent().toString('utf8')).toBe(sent.join(''));
    expect(gw.gateway.metrics.service(SERVICE).frames.get('toServer SEND')).toBe(3);
  });

  describe('malformed input', () => {
    interface Case {
      readonly what: string;
      /** The offending message; `MARK` is replaced by a marker unique to the case. */
      readonly frame: string | Buffer;
      readonly code: string;
      readonly close: number;
      readonly properties?: Record<string, unknown>;
    }
    const CASES: readonly Case[] = [
      { what: 'an unknown command', frame: 'FROB\nx-mark:MARK\n\n\0', code: 'GW_ERR_STOMP_UNKNOWN_COMMAND', close: 1002 },
      { what: 'a SEND without destination', frame: 'SEND\nx-mark:MARK\n\nbody\0', code: 'GW_ERR_STOMP_MISSING_HEADER', close: 1002 },
      { what: 'an undefined escape in 1.2', frame: 'SEND\ndestination:/queue/x\nx-mark:MARK\\q\n\n\0', code: 'GW_ERR_STOMP_BAD_ESCAPE', close: 1002 },
      { what: 'a body on SUBSCRIBE', frame: 'SUBSCRIBE\nid:1\ndestination:/queue/x\n\nMARK\0', code: 'GW_ERR_STOMP_UNEXPECTED_BODY', close: 1002 },
      { what: 'a server command from the client', frame: 'MESSAGE\ndestination:/queue/x\nmessage-id:MARK\nsubscription:1\n\n\0', code: 'GW_ERR_STOMP_COMMAND_NOT_ALLOWED', close: 1008 },
      { what: 'a stray CR', frame: 'SEND\ndestination:/queue/x\rx-mark:MARK\n\n\0', code: 'GW_ERR_STOMP_STRAY_CR', close: 1002 },
      {
        what: 'a frame above maxFrameSize',
        frame: `SEND\ndestination:/queue/x\nx-mark:MARK\n\n${'x'.repeat(5000)}\0`,
        code: 'GW_ERR_STOMP_FRAME_TOO_LARGE',
        close: 1009,
        properties: { limits: { maxFrameSize: 4096 } },
      },
      {
        what: 'header lines that are not UTF-8',
        frame: Buffer.concat([Buffer.from('SEND\ndestination:/queue/x\nx-mark:MARK'), Buffer.from([0xc3, 0x28]), Buffer.from('\n\n\0')]),
        code: 'GW_ERR_STOMP_BAD_UTF8',
        close: 1007,
      },
    ];

    it.each(CASES)('refuses $what with an ERROR frame and close $close; nothing of it reaches the broker', async ({ frame, code, close, properties }) => {
      const tap: Tap = await startTap(res, { host: facts.host, port: broker.port(facts) });
      const gw = await gateway(tap.port, properties);
      const client = await rawClient(res, gw.ws('/stomp'), 'v12.stomp');
      const connect = connectFrame(broker, facts);
      client.ws.send(connect);
      await client.until((m) => m.length > 0, 'CONNECTED');
      expect(frames(client)[0]?.command).toBe('CONNECTED');

      const mark = unique('MARK');
      const bad = typeof frame === 'string' ? Buffer.from(frame.replace('MARK', mark)) : Buffer.from(frame.toString('latin1').replace('MARK', mark), 'latin1');
      client.ws.send(bad, { binary: typeof frame !== 'string' });

      const { code: closeCode } = await within(client.closed, 5000, 'the close');
      expect(closeCode).toBe(close);
      // One log line names the refusal; its reason is the detail the ERROR body carries.
      const refusals = gw.log.records().filter((r) => r.msg === 'input refused');
      expect(refusals).toEqual([expect.objectContaining({ level: 'info', service: SERVICE, code, direction: 'toServer', reason: expect.any(String) })]);
      // The documented reply (validators/stomp/README.md): `message` is the catalogue summary, the
      // body `<code> (<condition>): <detail>`; the last message before the close.
      const spec = Object.values(ERRORS).find((e) => e.code === code);
      const body = `${code} (${spec?.condition ?? ''}): ${String(refusals[0]?.reason)}\n`;
      expect(client.messages[client.messages.length - 1]?.data.toString('utf8')).toBe(
        `ERROR\nmessage:${spec?.summary ?? ''}\ncode:${code}\ncontent-type:text/plain;charset=utf-8\ncontent-length:${Buffer.byteLength(body)}\n\n${body}\0`,
      );

      const conn = await tap.first();
      await within(conn.gangwayClosed, 5000, 'Gangway to close the broker connection');
      expect(conn.sent().toString('utf8')).toBe(connect);
      expect(conn.sent().includes(mark)).toBe(false);
      expect(await errorCount(gw.gateway, SERVICE, code)).toBe(1);
      expect(gw.gateway.metrics.service(SERVICE).errors.get(code)).toBe(1);
    });
  });
});
