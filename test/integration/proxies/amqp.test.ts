/**
 * `amqp.proxy` with real protocol engines and RabbitMQ (compose/up: rabbitmq): rhea speaking
 * AMQP 1.0 over its WebSocket transport, amqplib's connection machinery speaking AMQP 0-9-1 over
 * a binary WebSocket stream, and raw `ws` clients sending malformed input while a TCP tap
 * records what reached the broker.
 */
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, createWebSocketStream } from 'ws';
import { create_container, type Connection, type ConnectionDetails, type EventContext } from 'rhea';
import { credentials, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { Resources, service, startGateway, waitFor, type StartedGateway } from '../../support/gateway';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from '../backends/async';
import { ERRORS as AMQP091_ERRORS, connectionClose } from '../../../validators/amqp091';
import { closeFrame } from '../../../validators/amqp10';
import { errorCount, rawClient, startTap, type RawClient } from './support';

jest.setTimeout(30_000);

const SERVICE = 'amqp';
const AMQP091_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
const AMQP10_HEADER = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');
const SASL_HEADER = Buffer.from('AMQP\x03\x01\x00\x00', 'latin1');

const res = new Resources();
afterEach(() => res.closeAll());

let facts: Backends;
beforeAll(async () => {
  facts = await requireBackend('rabbitmq');
});

function gateway(port: number, properties: Record<string, unknown> = {}): Promise<StartedGateway> {
  return startGateway(res, { services: [service(SERVICE, 'amqp.proxy', '/amqp', { connect: `tcp://${facts.host}:${port}`, properties })] });
}

describe('amqp.proxy: AMQP 1.0 with rhea over WebSocket', () => {
  it('sends and receives through RabbitMQ with settlement (accepted)', async () => {
    const gw = await gateway(facts.rabbitmq.amqpPort);
    const container = create_container({ id: unique('gangway-rhea') });
    const transport = container.websocket_connect(WebSocket);
    const details = transport(gw.ws('/amqp'), ['amqp'], {}) as unknown as (counter: number) => ConnectionDetails;
    const amqp: Connection = container.connect({
      // host and port are taken from connection_details; given for the option types only.
      host: '127.0.0.1',
      port: gw.port,
      connection_details: details,
      username: facts.rabbitmq.guest.username,
      password: facts.rabbitmq.guest.password,
      reconnect: false,
    });
    res.add(async () => {
      if (!amqp.is_open()) return;
      const closed = new Promise<void>((resolve) => amqp.once('connection_close', () => resolve()));
      amqp.close();
      await within(closed, 5000, 'AMQP 1.0 close');
    });
    await within(
      new Promise<void>((resolve, reject) => {
        amqp.once('connection_open', () => resolve());
        amqp.once('connection_error', (context: EventContext) => reject(context.connection.error ?? new Error('connection_error')));
        amqp.once('disconnected', (context: EventContext) => reject(context.error ?? new Error('disconnected')));
      }),
      5000,
      'AMQP 1.0 open through Gangway',
    );

    const address = `/queue/${unique('gangway.amqp10')}`;
    const receiver = amqp.open_receiver({ source: address, autoaccept: false });
    await within(new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())), 5000, 'receiver attach');
    const received = new Promise<EventContext>((resolve) => receiver.once('message', resolve));

    const sender = amqp.open_sender(address);
    await within(new Promise<void>((resolve) => sender.once('sendable', () => resolve())), 5000, 'sender credit');
    const accepted = new Promise<string>((resolve, reject) => {
      sender.once('accepted', (context: EventContext) => resolve(JSON.stringify(context.delivery?.remote_state ?? null)));
      sender.once('rejected', (context: EventContext) => reject(new Error(`rejected: ${JSON.stringify(context.delivery?.remote_state)}`)));
    });
    const body = unique('hello through Gangway');
    sender.send({ body, subject: 'gangway-proxy', application_properties: { kept: 'yes' } });
    await within(accepted, 5000, 'the broker accepting the delivery');

    const context = await within(received, 5000, `message on ${address}`);
    expect(context.message?.body).toBe(body);
    expect(context.message?.application_properties).toEqual({ kept: 'yes' });
    // The receiver settles with accepted; the disposition travels through Gangway to the broker.
    context.delivery?.accept();
    const frames = gw.gateway.metrics.service(SERVICE).frames;
    await waitFor(() => (frames.get('toServer disposition') ?? 0) >= 1, 5000, 'the receiver disposition to pass');
    expect(frames.get('toServer protocol-header')).toBe(2);
    expect(frames.get('toServer sasl-init')).toBe(1);
    expect(frames.get('toServer open')).toBe(1);
    expect(frames.get('toServer transfer')).toBe(1);
    expect(frames.get('toClient transfer')).toBe(1);
    expect(frames.get('toClient disposition')).toBeGreaterThanOrEqual(1);
  });
});

/** The part of amqplib's internal `Connection` used here (lib/connection.js). */
interface AmqpConnection {
  open(fields: Record<string, unknown>, done: (err: Error | null) => void): void;
}

/**
 * amqplib's own connection class and channel model. Its public `connect` only dials TCP or TLS,
 * so the engine is given a WebSocket stream directly (the files are outside the package's
 * `exports`, hence the paths).
 */
function amqplibInternals(): { Connection: new (stream: Duplex) => AmqpConnection; ChannelModel: new (c: AmqpConnection) => ChannelModel } {
  const dir = dirname(require.resolve('amqplib'));
  const load = (file: string, name: string): unknown => {
    const mod: unknown = require(join(dir, 'lib', file));
    const value: unknown = typeof mod === 'object' && mod !== null ? Reflect.get(mod, name) : undefined;
    if (typeof value !== 'function') throw new Error(`amqplib lib/${file} has no ${name}`);
    return value;
  };
  return {
    Connection: load('connection.js', 'Connection') as new (stream: Duplex) => AmqpConnection,
    ChannelModel: load('channel_model.js', 'ChannelModel') as new (c: AmqpConnection) => ChannelModel,
  };
}

describe('amqp.proxy: AMQP 0-9-1 with amqplib over a binary WebSocket', () => {
  it.each([true, false])('opens a channel, declares a queue, publishes, consumes and acks (validateServer: %s)', async (validateServer) => {
    const gw = await gateway(facts.rabbitmq.amqpPort, { validateServer });
    const ws = new WebSocket(gw.ws('/amqp'), ['amqp091']);
    await within(new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }), 5000, 'WebSocket open');
    expect(ws.protocol).toBe('amqp091');
    const stream = createWebSocketStream(ws);
    stream.on('error', () => undefined);
    res.add(() => {
      ws.terminate();
    });

    const { Connection, ChannelModel } = amqplibInternals();
    const connection = new Connection(stream);
    const auth = credentials.plain(facts.rabbitmq.guest.username, facts.rabbitmq.guest.password);
    await within(
      new Promise<void>((resolve, reject) =>
        connection.open(
          {
            clientProperties: { product: 'gangway-test' },
            mechanism: auth.mechanism,
            response: auth.response(),
            locale: 'en_US',
            channelMax: 0,
            frameMax: 131072,
            heartbeat: 0,
            virtualHost: facts.rabbitmq.vhost,
            capabilities: '',
            insist: 0,
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      ),
      5000,
      'AMQP 0-9-1 handshake through Gangway',
    );
    const model = new ChannelModel(connection);
    res.add(() => model.close().catch(() => undefined));

    const channel = await model.createChannel();
    const queue = unique('gangway.amqp091');
    const declared = await channel.assertQueue(queue, { exclusive: true });
    expect(declared.queue).toBe(queue);

    const got = new Promise<ConsumeMessage>((resolve) => {
      void channel.consume(queue, (msg) => {
        if (msg) resolve(msg);
      });
    });
    const body = unique('hello 0-9-1');
    channel.sendToQueue(queue, Buffer.from(body), { contentType: 'text/plain', headers: { kept: 'yes' } });
    const msg = await within(got, 5000, `message on ${queue}`);
    expect(msg.content.toString()).toBe(body);
    expect(msg.properties.headers?.kept).toBe('yes');
    channel.ack(msg);

    // The ack has reached the broker once the queue reports nothing unacknowledged.
    await channel.cancel(msg.fields.consumerTag);
    const check = await channel.checkQueue(queue);
    expect(check.messageCount).toBe(0);

    const frames = gw.gateway.metrics.service(SERVICE).frames;
    expect(frames.get('toServer basic.publish')).toBe(1);
    expect(frames.get('toServer basic.ack')).toBe(1);
    // Without validateServer, the broker's frames after Connection.Open-Ok pass unparsed and uncounted.
    expect(frames.get('toClient connection.open-ok')).toBe(1);
    expect(frames.get('toClient basic.deliver')).toBe(validateServer ? 1 : undefined);
    expect(frames.get('toServer queue.declare')).toBe(2);
    await model.close();
    await waitFor(() => [...gw.gateway.sessions()].length === 0, 5000, 'the session to end');
    expect(gw.gateway.metrics.service(SERVICE).errors.size).toBe(0);
  });
});

// --- raw frames for malformed input ------------------------------------------------------

/** An AMQP 0-9-1 frame: type, channel, payload, frame-end. */
function frame091(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
  const head = Buffer.alloc(7);
  head[0] = type;
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([end])]);
}

function method091(classId: number, methodId: number, args: Buffer): Buffer {
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(classId, 0);
  ids.writeUInt16BE(methodId, 2);
  return Buffer.concat([ids, args]);
}

const shortstr = (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
function longstr(s: string): Buffer {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(Buffer.byteLength(s));
  return Buffer.concat([n, Buffer.from(s)]);
}

/** Splits AMQP 0-9-1 bytes from the server into protocol headers and frames. */
function frames091(bytes: Buffer): { type: number; channel: number; payload: Buffer }[] {
  const out: { type: number; channel: number; payload: Buffer }[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.subarray(at, at + 4).toString('latin1') === 'AMQP') {
      out.push({ type: -1, channel: 0, payload: bytes.subarray(at, at + 8) });
      at += 8;
      continue;
    }
    if (at + 7 > bytes.length) break;
    const size = bytes.readUInt32BE(at + 3);
    if (at + 8 + size > bytes.length) break;
    out.push({ type: bytes[at] as number, channel: bytes.readUInt16BE(at + 1), payload: bytes.subarray(at + 7, at + 7 + size) });
    at += 8 + size;
  }
  return out;
}

/** An AMQP 1.0 frame (doff 2). */
function frame10(type: number, body: Buffer, channel = 0, doff = 2): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length);
  head[4] = doff;
  head[5] = type;
  head.writeUInt16BE(channel, 6);
  return Buffer.concat([head, body]);
}

const sym8 = (s: string): Buffer => Buffer.concat([Buffer.from([0xa3, s.length]), Buffer.from(s, 'ascii')]);
const str8 = (s: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([Buffer.from([0xa1, b.length]), b]);
};
const vbin8 = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0xa0, b.length]), b]);

/** A performative: descriptor smallulong `code`, fields in a list8. */
function performative(code: number, fields: Buffer[]): Buffer {
  const items = Buffer.concat(fields);
  return Buffer.concat([Buffer.from([0x00, 0x53, code, 0xc0, items.length + 1, fields.length]), items]);
}

/** Units of an AMQP 1.0 byte stream: protocol headers and frames with their descriptor. */
function units10(bytes: Buffer): { header?: number; descriptor?: number; raw: Buffer }[] {
  const out: { header?: number; descriptor?: number; raw: Buffer }[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    if (bytes.subarray(at, at + 4).toString('latin1') === 'AMQP') {
      out.push({ header: bytes[at + 4] as number, raw: bytes.subarray(at, at + 8) });
      at += 8;
      continue;
    }
    const size = bytes.readUInt32BE(at);
    if (size < 8 || at + size > bytes.length) break;
    const raw = bytes.subarray(at, at + size);
    const body = raw.subarray((raw[4] as number) * 4);
    out.push({ ...(body.length >= 3 && body[0] === 0 && body[1] === 0x53 ? { descriptor: body[2] as number } : {}), raw });
    at += size;
  }
  return out;
}

describe('amqp.proxy: malformed AMQP 0-9-1', () => {
  interface Case {
    readonly what: string;
    /** The offending bytes, carrying a marker unique to the case. */
    readonly bytes: (mark: string) => Buffer;
    readonly code: string;
    readonly close: number;
    /** Expected Connection.Close reply code, or `header` for the protocol header reply. */
    readonly reply: number | 'header';
    /** Whether the valid protocol header (and the server's Connection.Start) come first. */
    readonly afterHeader: boolean;
  }
  const CASES: readonly Case[] = [
    { what: 'a bad protocol header', bytes: (m) => Buffer.from(`AMQX${m}`, 'latin1'), code: 'GW_ERR_AMQP091_BAD_PROTOCOL_HEADER', close: 1002, reply: 'header', afterHeader: false },
    { what: 'an unknown frame type', bytes: (m) => frame091(9, 0, Buffer.from(m)), code: 'GW_ERR_AMQP091_UNKNOWN_FRAME_TYPE', close: 1002, reply: 501, afterHeader: true },
    { what: 'a wrong frame-end octet', bytes: (m) => frame091(1, 0, Buffer.from(m), 0x00), code: 'GW_ERR_AMQP091_BAD_FRAME_END', close: 1002, reply: 501, afterHeader: true },
    {
      what: 'a frame above the pre-tune maximum',
      bytes: (m) => Buffer.concat([Buffer.from([1, 0, 0, 0, 1, 0, 0]), Buffer.from(m)]),
      code: 'GW_ERR_AMQP091_FRAME_TOO_LARGE',
      close: 1009,
      reply: 501,
      afterHeader: true,
    },
    { what: 'a heartbeat with a payload', bytes: (m) => frame091(8, 0, Buffer.from(m)), code: 'GW_ERR_AMQP091_BAD_HEARTBEAT', close: 1002, reply: 501, afterHeader: true },
    {
      what: 'Connection.Start sent by the client',
      bytes: (m) => frame091(1, 0, method091(10, 10, Buffer.concat([Buffer.from([0, 9, 0, 0, 0, 0]), longstr(m), longstr('en_US')]))),
      code: 'GW_ERR_AMQP091_WRONG_DIRECTION',
      close: 1002,
      reply: 503,
      afterHeader: true,
    },
    { what: 'an unknown method', bytes: (m) => frame091(1, 0, method091(10, 99, Buffer.from(m))), code: 'GW_ERR_AMQP091_UNKNOWN_METHOD', close: 1002, reply: 540, afterHeader: true },
    {
      what: 'Connection.Open before Start-Ok',
      bytes: (m) => frame091(1, 0, method091(10, 40, Buffer.concat([shortstr(m), shortstr(''), Buffer.from([0])]))),
      code: 'GW_ERR_AMQP091_HANDSHAKE_ORDER',
      close: 1002,
      reply: 503,
      afterHeader: true,
    },
  ];

  it.each(CASES)('refuses $what ($code); nothing of it reaches RabbitMQ', async ({ bytes, code, close, reply, afterHeader }) => {
    const tap = await startTap(res, { host: facts.host, port: facts.rabbitmq.amqpPort });
    const gw = await gateway(tap.port);
    const client: RawClient = await rawClient(res, gw.ws('/amqp'), 'amqp091');
    if (afterHeader) {
      client.ws.send(AMQP091_HEADER);
      await client.until(() => frames091(client.received()).some((f) => f.type === 1 && f.payload.readUInt32BE(0) === 0x000a000a), 'Connection.Start');
    }
    const before = client.received().length;
    const mark = unique('MARK');
    client.ws.send(bytes(mark));

    const { code: closeCode } = await within(client.closed, 5000, 'the close');
    expect(closeCode).toBe(close);
    const refusals = gw.log.records().filter((r) => r.msg === 'input refused');
    expect(refusals).toEqual([expect.objectContaining({ level: 'info', service: SERVICE, code, direction: 'toServer', reason: expect.any(String) })]);
    // The documented reply (validators/amqp091/README.md), alone after what the broker sent: the
    // protocol header, or Connection.Close with the reply code and `CONDITION - <detail>`.
    const condition = Object.values(AMQP091_ERRORS).find((e) => e.code === code)?.condition ?? '';
    expect(client.received().subarray(before)).toEqual(
      reply === 'header' ? AMQP091_HEADER : connectionClose(reply, `${condition.toUpperCase().replace(/-/g, '_')} - ${String(refusals[0]?.reason)}`),
    );
    expect(client.messages.every((m) => m.isBinary)).toBe(true);

    const conn = await tap.first();
    await within(conn.gangwayClosed, 5000, 'Gangway to close the broker connection');
    expect(conn.sent()).toEqual(afterHeader ? AMQP091_HEADER : Buffer.alloc(0));
    expect(conn.sent().includes(mark)).toBe(false);
    expect(await errorCount(gw.gateway, SERVICE, code)).toBe(1);
  });
});

describe('amqp.proxy: malformed AMQP 1.0', () => {
  const saslInit = (): Buffer =>
    frame10(1, performative(0x41, [sym8('PLAIN'), vbin8(Buffer.from(`\0${facts.rabbitmq.guest.username}\0${facts.rabbitmq.guest.password}`))]));
  const open = frame10(0, performative(0x10, [str8('gangway-raw-test')]));

  interface Case {
    readonly what: string;
    /** The offending bytes, carrying a marker unique to the case. */
    readonly bytes: (mark: string) => Buffer;
    readonly code: string;
    readonly close: number;
    /** The error condition in Gangway's close performative, or `header` for the AMQP 1.0 header reply. */
    readonly condition: string;
    /** Whether SASL and the open exchange happen first. */
    readonly afterOpen: boolean;
  }
  const CASES: readonly Case[] = [
    { what: 'the TLS protocol header', bytes: (m) => Buffer.concat([Buffer.from('AMQP\x02\x01\x00\x00', 'latin1'), Buffer.from(m)]), code: 'GW_ERR_AMQP10_TLS_NOT_SUPPORTED', close: 1008, condition: 'header', afterOpen: false },
    { what: 'an unknown frame type', bytes: (m) => frame10(5, Buffer.from(m)), code: 'GW_ERR_AMQP10_UNKNOWN_FRAME_TYPE', close: 1002, condition: 'amqp:connection:framing-error', afterOpen: true },
    { what: 'a data offset below 2', bytes: (m) => frame10(0, Buffer.from(m), 0, 1), code: 'GW_ERR_AMQP10_BAD_FRAME_HEADER', close: 1002, condition: 'amqp:connection:framing-error', afterOpen: true },
    {
      what: 'a frame above the broker max-frame-size',
      bytes: (m) => Buffer.concat([Buffer.from([0x00, 0x20, 0x00, 0x00, 2, 0, 0, 0]), Buffer.from(m)]),
      code: 'GW_ERR_AMQP10_FRAME_TOO_LARGE',
      close: 1009,
      condition: 'amqp:connection:framing-error',
      afterOpen: true,
    },
    { what: 'a body that is not a performative', bytes: (m) => frame10(0, str8(m)), code: 'GW_ERR_AMQP10_NOT_A_PERFORMATIVE', close: 1002, condition: 'amqp:decode-error', afterOpen: true },
    {
      what: 'a begin with a string for next-outgoing-id',
      bytes: (m) => frame10(0, performative(0x11, [Buffer.from([0x40]), str8(m), Buffer.from([0x43]), Buffer.from([0x43])]), 1),
      code: 'GW_ERR_AMQP10_INVALID_FIELD',
      close: 1002,
      condition: 'amqp:invalid-field',
      afterOpen: true,
    },
    { what: 'a second open', bytes: (m) => frame10(0, performative(0x10, [str8(m)])), code: 'GW_ERR_AMQP10_ILLEGAL_STATE', close: 1002, condition: 'amqp:illegal-state', afterOpen: true },
    {
      what: 'a string that is not UTF-8',
      bytes: (m) => {
        const value = str8(Buffer.concat([Buffer.from(m), Buffer.from([0xc3, 0x28])]));
        const entries = Buffer.concat([sym8('k'), value]);
        const properties = Buffer.concat([Buffer.from([0xc1, entries.length + 1, 2]), entries]);
        const nil = Buffer.from([0x40]);
        const uint0 = Buffer.from([0x43]);
        return frame10(0, performative(0x11, [nil, uint0, uint0, uint0, nil, nil, nil, properties]), 1);
      },
      code: 'GW_ERR_AMQP10_INVALID_UTF8',
      close: 1007,
      condition: 'amqp:decode-error',
      afterOpen: true,
    },
  ];

  it.each(CASES)('refuses $what ($code); nothing of it reaches RabbitMQ', async ({ bytes, code, close, condition, afterOpen }) => {
    const tap = await startTap(res, { host: facts.host, port: facts.rabbitmq.amqpPort });
    const gw = await gateway(tap.port);
    const client = await rawClient(res, gw.ws('/amqp'), 'amqp');
    const valid: Buffer[] = [];
    const send = (b: Buffer): void => {
      valid.push(b);
      client.ws.send(b);
    };
    const seen = (descriptor: number): boolean => units10(client.received()).some((u) => u.descriptor === descriptor);
    if (afterOpen) {
      send(SASL_HEADER);
      await client.until(() => seen(0x40), 'sasl-mechanisms');
      send(saslInit());
      await client.until(() => seen(0x44), 'sasl-outcome');
      send(AMQP10_HEADER);
      send(open);
      await client.until(() => seen(0x10), 'the broker open');
    }
    const before = client.received().length;
    const mark = unique('MARK');
    client.ws.send(bytes(mark));

    const { code: closeCode } = await within(client.closed, 5000, 'the close');
    expect(closeCode).toBe(close);
    const refusals = gw.log.records().filter((r) => r.msg === 'input refused');
    expect(refusals).toEqual([expect.objectContaining({ level: 'info', service: SERVICE, code, direction: 'toServer', reason: expect.any(String) })]);
    // The documented reply (validators/amqp10/README.md), alone after what the broker sent: the
    // AMQP 1.0 header, or (the broker having opened) a close with the condition and the detail.
    expect(client.received().subarray(before)).toEqual(condition === 'header' ? AMQP10_HEADER : closeFrame(condition, String(refusals[0]?.reason)));
    expect(client.messages.every((m) => m.isBinary)).toBe(true);

    const conn = await tap.first();
    await within(conn.gangwayClosed, 5000, 'Gangway to close the broker connection');
    expect(conn.sent()).toEqual(Buffer.concat(valid));
    expect(conn.sent().includes(mark)).toBe(false);
    expect(await errorCount(gw.gateway, SERVICE, code)).toBe(1);
  });
});
