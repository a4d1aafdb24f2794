import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WireError, type ErrorSpec } from '../../validators/types';
import {
  protocol,
  ERRORS,
  DEFAULT_LIMITS,
  METHODS,
  PROTOCOL_HEADER,
  type Amqp091Frame,
  type Amqp091MethodFrame,
  type Amqp091HeaderFrame,
  type Amqp091Limits,
} from '../../validators/amqp091';
import { amqp091 as e, tag091, feedBytes, feedSplit, randomCuts } from '../support/amqp-encode';
import { corpus, toServerFrames, toClientFrames } from '../support/corpus/amqp091';
import { caught } from '../support/wire';

// amqplib's generated encoders: an independent oracle for the wire format.
// The package's export map hides lib/, so it is loaded by path.
const defs = require(join(__dirname, '../../node_modules/amqplib/lib/defs.js')) as {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  [name: string]: unknown;
};

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function expectFail(fn: () => unknown, spec: ErrorSpec, message: string | RegExp): WireError {
  const err = caught(fn);
  expect(err).toBeInstanceOf(WireError);
  expect(err.name).toBe('WireError');
  expect(err.protocol).toBe('amqp091');
  expect(err.code).toBe(spec.code);
  expect(err.closeCode).toBe(spec.close);
  expect(err.condition).toBe(spec.condition);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
  return err;
}

const clientHandshake = Buffer.concat(toServerFrames.slice(0, 4)); // header, start-ok, tune-ok, open
const serverHandshake = Buffer.concat(toClientFrames.slice(0, 3)); // start, tune, open-ok

function openClient(limits?: Partial<Amqp091Limits>): ReturnType<typeof protocol.createPair> {
  const pair = protocol.createPair(limits);
  pair.toServer.push(clientHandshake);
  return pair;
}

function openServer(limits?: Partial<Amqp091Limits>): ReturnType<typeof protocol.createPair> {
  const pair = protocol.createPair(limits);
  pair.toClient.push(serverHandshake);
  return pair;
}

function summary(frames: Amqp091Frame[]): string[] {
  return frames.map((f) => `${f.kind}@${f.channel}`);
}

describe('amqp091 catalogue', () => {
  it('has stable codes, close codes and reply conditions', () => {
    const table = Object.values(ERRORS).map((s) => [s.code, s.close, s.condition]);
    expect(table).toEqual([
      ['GW_ERR_AMQP091_BAD_PROTOCOL_HEADER', 1002, 'protocol-header'],
      ['GW_ERR_AMQP091_UNSUPPORTED_VERSION', 1002, 'protocol-header'],
      ['GW_ERR_AMQP091_UNKNOWN_FRAME_TYPE', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_BAD_FRAME_END', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_FRAME_TOO_LARGE', 1009, 'frame-error'],
      ['GW_ERR_AMQP091_BAD_HEARTBEAT', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_CHANNEL_OUT_OF_RANGE', 1008, 'not-allowed'],
      ['GW_ERR_AMQP091_WRONG_CHANNEL', 1002, 'command-invalid'],
      ['GW_ERR_AMQP091_UNKNOWN_METHOD', 1002, 'not-implemented'],
      ['GW_ERR_AMQP091_WRONG_DIRECTION', 1002, 'command-invalid'],
      ['GW_ERR_AMQP091_MALFORMED_PAYLOAD', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_TRAILING_BYTES', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_BAD_FIELD_VALUE', 1002, 'syntax-error'],
      ['GW_ERR_AMQP091_FIELD_TOO_DEEP', 1008, 'syntax-error'],
      ['GW_ERR_AMQP091_HANDSHAKE_ORDER', 1002, 'command-invalid'],
      ['GW_ERR_AMQP091_BAD_TUNE', 1002, 'not-allowed'],
      ['GW_ERR_AMQP091_UNEXPECTED_FRAME', 1002, 'unexpected-frame'],
      ['GW_ERR_AMQP091_BAD_CONTENT_HEADER', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_BODY_OVERFLOW', 1002, 'frame-error'],
      ['GW_ERR_AMQP091_BODY_TOO_LARGE', 1009, 'not-allowed'],
    ]);
  });

  it('documents every code and every limit in the README', () => {
    const readme = readFileSync(join(__dirname, '../../validators/amqp091/README.md'), 'utf8');
    for (const spec of Object.values(ERRORS)) expect(readme).toContain(spec.code);
    for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
      expect(readme).toContain(`\`${name}\``);
      expect(readme).toContain(String(value));
    }
  });

  it('exposes the module for the registry', () => {
    expect(protocol.name).toBe('amqp091');
    expect(protocol.defaultLimits).toBe(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toEqual({ maxFrameSize: 131072, preTuneFrameMax: 4096, channelMax: 2047, maxBodySize: 134217728, maxFieldDepth: 32 });
  });
});

describe('amqp091 valid streams', () => {
  const cases: [string, 'toServer' | 'toClient', Buffer][] = [
    ['client session', 'toServer', corpus.toServer[0] as Buffer],
    ['server session', 'toClient', corpus.toClient[0] as Buffer],
    ['second client session', 'toServer', corpus.toServer[1] as Buffer],
    ['second server session', 'toClient', corpus.toClient[1] as Buffer],
  ];

  it.each(cases)('%s: whole, byte by byte and at random splits give identical frames', (_name, dir, stream) => {
    const whole = protocol.createPair()[dir].push(stream);
    expect(feedBytes(protocol.createPair()[dir], stream)).toEqual(whole);
    for (let seed = 1; seed <= 25; seed++) {
      const codec = protocol.createPair()[dir];
      expect(feedSplit(codec, stream, randomCuts(stream.length, seed))).toEqual(whole);
      expect(codec.buffered).toBe(0);
    }
    expect(Buffer.concat(whole.map((f) => f.raw))).toEqual(stream);
  });

  it('decodes the client session', () => {
    const frames = protocol.createPair().toServer.push(corpus.toServer[0] as Buffer);
    expect(summary(frames)).toEqual([
      'protocol-header@0',
      'connection.start-ok@0',
      'connection.tune-ok@0',
      'connection.open@0',
      'channel.open@1',
      'queue.declare@1',
      'basic.qos@1',
      'basic.publish@1',
      'header@1',
      'body@1',
      'basic.consume@1',
      'heartbeat@0',
      'basic.ack@1',
      'channel.close@1',
      'connection.close@0',
    ]);
    const startOk = frames[1] as Amqp091MethodFrame;
    expect(startOk).toMatchObject({ type: 'method', classId: 10, methodId: 11, className: 'connection', methodName: 'start-ok' });
    expect(startOk.args['mechanism']).toBe('PLAIN');
    expect(startOk.args['response']).toEqual(Buffer.from('\u0000guest\u0000guest'));
    expect(startOk.args['clientProperties']).toEqual({
      product: 'amqplib',
      version: '0.10.4',
      platform: 'Node.JS v20.11.1',
      information: 'https://amqp-node.github.io/amqplib/',
      capabilities: {
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        'basic.nack': true,
        consumer_cancel_notify: true,
        'connection.blocked': true,
        authentication_failure_close: true,
      },
    });
    expect((frames[2] as Amqp091MethodFrame).args).toEqual({ channelMax: 2047, frameMax: 131072, heartbeat: 60 });
    expect((frames[5] as Amqp091MethodFrame).args).toEqual({
      reserved1: 0,
      queue: 'tasks',
      passive: false,
      durable: true,
      exclusive: false,
      autoDelete: false,
      nowait: false,
      arguments: { 'x-queue-type': 'classic', 'x-max-length': 10000 },
    });
    expect((frames[7] as Amqp091MethodFrame).args).toEqual({ reserved1: 0, exchange: '', routingKey: 'tasks', mandatory: true, immediate: false });
    const header = frames[8] as Amqp091HeaderFrame;
    expect(header.bodySize).toBe(11n);
    expect(header.properties).toEqual({
      contentType: 'text/plain',
      deliveryMode: 2,
      headers: { 'x-trace': 'abc', retries: 0 },
      timestamp: new Date(1700000000000),
      messageId: 'm-1',
    });
    expect(frames[9]).toMatchObject({ type: 'body', payload: Buffer.from('hello world') });
    expect((frames[12] as Amqp091MethodFrame).args).toEqual({ deliveryTag: 1n, multiple: false });
  });

  it('decodes the server session, including a body in two frames', () => {
    const frames = protocol.createPair().toClient.push(corpus.toClient[0] as Buffer);
    expect(summary(frames)).toEqual([
      'connection.start@0',
      'connection.tune@0',
      'connection.open-ok@0',
      'channel.open-ok@1',
      'queue.declare-ok@1',
      'basic.qos-ok@1',
      'basic.consume-ok@1',
      'basic.deliver@1',
      'header@1',
      'body@1',
      'body@1',
      'heartbeat@0',
      'channel.close-ok@1',
      'connection.close-ok@0',
    ]);
    const start = frames[0] as Amqp091MethodFrame;
    expect(start.args['versionMajor']).toBe(0);
    expect(start.args['versionMinor']).toBe(9);
    expect(start.args['mechanisms']).toBe('AMQPLAIN PLAIN');
    expect((start.args['serverProperties'] as Record<string, unknown>)['product']).toBe('RabbitMQ');
    expect((frames[7] as Amqp091MethodFrame).args).toEqual({
      consumerTag: 'amq.ctag-Xo6xYqJ3bI1m1Nq9iK2Q0w',
      deliveryTag: 1n,
      redelivered: false,
      exchange: '',
      routingKey: 'tasks',
    });
  });

  it('hands out views inside one chunk and copies only frames spanning chunks', () => {
    const codec = protocol.createPair().toClient;
    const stream = corpus.toClient[0] as Buffer;
    const copy = Buffer.from(stream);
    const whole = codec.push(copy);
    copy.fill(0);
    // Views: clearing the pushed chunk clears every frame's raw bytes.
    for (const f of whole) expect(f.raw.every((b) => b === 0)).toBe(true);
    const split = protocol.createPair().toClient;
    const first = toClientFrames[0] as Buffer;
    const a = split.push(first.subarray(0, 10));
    expect(a).toEqual([]);
    expect(split.buffered).toBe(10);
    const chunk = Buffer.from(first.subarray(10));
    const b = split.push(chunk);
    chunk.fill(0);
    // A copy: the frame that spanned two chunks keeps its bytes.
    expect(b).toHaveLength(1);
    expect(b[0]?.raw).toEqual(first);
    expect(split.buffered).toBe(0);
  });

  it('decodes frames encoded by amqplib', () => {
    const stream = Buffer.concat([
      defs.encodeMethod(defs['ChannelOpen'] as number, 3, { outOfBand: '' }),
      defs.encodeMethod(defs['ExchangeDeclare'] as number, 3, {
        exchange: 'logs',
        type: 'topic',
        ticket: 0,
        passive: false,
        durable: true,
        autoDelete: false,
        internal: false,
        nowait: false,
        arguments: { 'alternate-exchange': 'ae', nested: { n: 1.5, list: [1, 'two', true] } },
      }),
      defs.encodeMethod(defs['BasicPublish'] as number, 3, { exchange: 'logs', routingKey: 'a.b', ticket: 0, mandatory: false, immediate: false }),
      defs.encodeProperties(60, 3, 4, { contentType: 'application/json', headers: { n: 7 }, priority: 5, correlationId: 'c', replyTo: 'amq.rabbitmq.reply-to' }),
      e.body(3, '{"a"'),
      defs.encodeMethod(defs['BasicNack'] as number, 3, { deliveryTag: 42, multiple: true, requeue: false }),
      defs.encodeMethod(defs['ConfirmSelect'] as number, 3, { nowait: false }),
      defs.encodeMethod(defs['TxSelect'] as number, 3, {}),
    ]);
    const pair = openClient();
    const frames = pair.toServer.push(stream);
    expect(summary(frames)).toEqual(['channel.open@3', 'exchange.declare@3', 'basic.publish@3', 'header@3', 'body@3', 'basic.nack@3', 'confirm.select@3', 'tx.select@3']);
    expect((frames[1] as Amqp091MethodFrame).args).toMatchObject({ exchange: 'logs', type: 'topic', durable: true, arguments: { 'alternate-exchange': 'ae', nested: { n: 1.5, list: [1, 'two', true] } } });
    expect((frames[3] as Amqp091HeaderFrame).properties).toEqual({ contentType: 'application/json', headers: { n: 7 }, priority: 5, correlationId: 'c', replyTo: 'amq.rabbitmq.reply-to' });
    expect((frames[5] as Amqp091MethodFrame).args).toEqual({ deliveryTag: 42n, multiple: true, requeue: false });
  });

  it('decodes every field value type of RabbitMQ and the 0-9-1 spec', () => {
    const table = {
      t: true,
      b: tag091('b', -5),
      B: tag091('B', 250),
      s: tag091('s', -300),
      U: tag091('U', -301),
      u: tag091('u', 65000),
      I: tag091('I', -70000),
      i: tag091('i', 4000000000),
      l: tag091('l', -(2n ** 40n)),
      L: tag091('L', 2n ** 63n),
      f: tag091('f', 1.5),
      d: tag091('d', -2.25),
      D: { scale: 2, value: 12345 },
      S: 'grüße',
      x: Buffer.from([0, 1, 2]),
      T: tag091('T', 1700000000n),
      F: { inner: { deeper: 'yes' } },
      A: [1, 'a', [true, null]],
      V: null,
    };
    const pair = openClient();
    const [f] = pair.toServer.push(e.method(1, 'channel.open')) as Amqp091MethodFrame[];
    expect(f?.kind).toBe('channel.open');
    const [q] = pair.toServer.push(e.method(1, 'queue.declare', { queue: 'q', arguments: table })) as Amqp091MethodFrame[];
    expect(q?.args['arguments']).toEqual({
      t: true,
      b: -5,
      B: 250,
      s: -300,
      U: -301,
      u: 65000,
      I: -70000,
      i: 4000000000,
      l: -(2n ** 40n),
      L: 2n ** 63n,
      f: 1.5,
      d: -2.25,
      D: { scale: 2, value: 12345 },
      S: 'grüße',
      x: Buffer.from([0, 1, 2]),
      T: new Date(1700000000000),
      F: { inner: { deeper: 'yes' } },
      A: [1, 'a', [true, null]],
      V: null,
    });
  });

  it('packs consecutive bits into one octet and decodes them', () => {
    const pair = openClient();
    pair.toServer.push(e.method(1, 'channel.open'));
    // queue.declare: passive, durable, exclusive, auto-delete, no-wait in one octet 0b10110.
    const payload = hex('0032 000a 0000 0171 16 00000000');
    const [f] = pair.toServer.push(e.frame(1, 1, payload)) as Amqp091MethodFrame[];
    expect(f?.args).toMatchObject({ passive: false, durable: true, exclusive: true, autoDelete: false, nowait: true });
  });

  it('accepts a server refusing the version with its own protocol header', () => {
    const frames = protocol.createPair().toClient.push(PROTOCOL_HEADER);
    expect(frames).toEqual([{ type: 'protocol-header', kind: 'protocol-header', channel: 0, version: '0.0.9.1', raw: PROTOCOL_HEADER }]);
  });

  it('accepts a secure / secure-ok round during the handshake', () => {
    const pair = protocol.createPair();
    const c = pair.toServer.push(
      Buffer.concat([
        e.protocolHeader(),
        e.method(0, 'connection.start-ok', { mechanism: 'EXTERNAL', response: '', locale: 'en_US' }),
        e.method(0, 'connection.secure-ok', { response: Buffer.from([1, 2, 3]) }),
        e.method(0, 'connection.tune-ok', { channelMax: 0, frameMax: 0, heartbeat: 0 }),
      ]),
    );
    expect(summary(c)).toEqual(['protocol-header@0', 'connection.start-ok@0', 'connection.secure-ok@0', 'connection.tune-ok@0']);
    const s = pair.toClient.push(Buffer.concat([e.method(0, 'connection.start'), e.method(0, 'connection.secure', { challenge: Buffer.from('x') })]));
    expect(summary(s)).toEqual(['connection.start@0', 'connection.secure@0']);
  });

  it('accepts an empty body (body-size 0 has no body frames) and RabbitMQ server-sent methods', () => {
    const pair = openServer();
    const frames = pair.toClient.push(
      Buffer.concat([
        e.method(2, 'basic.deliver', { consumerTag: 'c', deliveryTag: 7n }),
        e.contentHeader(2, 0),
        e.method(2, 'basic.ack', { deliveryTag: 1n }),
        e.method(2, 'basic.cancel', { consumerTag: 'c' }),
        e.method(0, 'connection.blocked', { reason: 'low on memory' }),
        e.method(0, 'connection.unblocked'),
      ]),
    );
    expect(summary(frames)).toEqual(['basic.deliver@2', 'header@2', 'basic.ack@2', 'basic.cancel@2', 'connection.blocked@0', 'connection.unblocked@0']);
  });

  it('interleaves content on different channels', () => {
    const pair = openClient();
    const frames = pair.toServer.push(
      Buffer.concat([
        e.method(1, 'basic.publish', { routingKey: 'a' }),
        e.method(2, 'basic.publish', { routingKey: 'b' }),
        e.contentHeader(2, 1),
        e.contentHeader(1, 2),
        e.body(1, 'x'),
        e.body(2, 'y'),
        e.body(1, 'z'),
      ]),
    );
    expect(summary(frames)).toEqual(['basic.publish@1', 'basic.publish@2', 'header@2', 'header@1', 'body@1', 'body@2', 'body@1']);
  });
});

describe('amqp091 tuning shared by the pair', () => {
  it('allows 4096-byte frames before tuning and rejects larger ones from the header alone', () => {
    const pair = protocol.createPair();
    pair.toServer.push(e.protocolHeader());
    const big = e.method(0, 'connection.start-ok', { mechanism: 'PLAIN', response: Buffer.alloc(4096 - 32), locale: 'en_US' });
    expect(big.length).toBe(4096);
    expect(protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(), big]))).toHaveLength(2);
    const tooBig = e.method(0, 'connection.start-ok', { mechanism: 'PLAIN', response: Buffer.alloc(4096), locale: 'en_US' });
    const err = expectFail(() => pair.toServer.push(tooBig.subarray(0, 7)), ERRORS.FRAME_TOO_LARGE, `frame of ${tooBig.length} bytes is above frame-max 4096`);
    expect(pair.toServer.buffered).toBe(0);
    expect(caught(() => pair.toServer.push(Buffer.from([1])))).toBe(err);
  });

  it('enforces the frame-max the client fixed in Tune-Ok on both directions', () => {
    const pair = protocol.createPair();
    pair.toClient.push(Buffer.concat([e.method(0, 'connection.start'), e.method(0, 'connection.tune', { channelMax: 10, frameMax: 16384, heartbeat: 60 })]));
    pair.toServer.push(
      Buffer.concat([
        e.protocolHeader(),
        e.method(0, 'connection.start-ok', { mechanism: 'PLAIN', response: '\u0000u\u0000p' }),
        e.method(0, 'connection.tune-ok', { channelMax: 10, frameMax: 8192, heartbeat: 60 }),
        e.method(0, 'connection.open', { virtualHost: '/' }),
      ]),
    );
    pair.toClient.push(e.method(0, 'connection.open-ok'));
    pair.toServer.push(Buffer.concat([e.method(1, 'basic.publish'), e.contentHeader(1, 100000)]));
    expect(pair.toServer.push(e.body(1, Buffer.alloc(8192 - 8)))).toHaveLength(1);
    expectFail(() => pair.toServer.push(e.body(1, Buffer.alloc(8192 - 7))), ERRORS.FRAME_TOO_LARGE, 'frame of 8193 bytes is above frame-max 8192');
    pair.toClient.push(Buffer.concat([e.method(10, 'basic.deliver', { deliveryTag: 1n }), e.contentHeader(10, 9000)]));
    expectFail(() => pair.toClient.push(e.body(10, Buffer.alloc(8200))), ERRORS.FRAME_TOO_LARGE, 'frame of 8208 bytes is above frame-max 8192');
  });

  it('enforces the negotiated channel-max', () => {
    const pair = protocol.createPair();
    pair.toClient.push(Buffer.concat([e.method(0, 'connection.start'), e.method(0, 'connection.tune', { channelMax: 10, frameMax: 131072 })]));
    pair.toServer.push(
      Buffer.concat([
        e.protocolHeader(),
        e.method(0, 'connection.start-ok'),
        e.method(0, 'connection.tune-ok', { channelMax: 10, frameMax: 131072 }),
        e.method(0, 'connection.open'),
        e.method(10, 'channel.open'),
      ]),
    );
    expectFail(() => pair.toServer.push(e.method(11, 'channel.open')), ERRORS.CHANNEL_OUT_OF_RANGE, 'channel 11 is above channel-max 10');
  });

  it('caps channels at the gateway limit when channel-max is 0 (no limit)', () => {
    const pair = openClient({ channelMax: 5 });
    expect(pair.toServer.push(e.method(5, 'channel.open'))).toHaveLength(1);
    expectFail(() => pair.toServer.push(e.method(6, 'channel.open')), ERRORS.CHANNEL_OUT_OF_RANGE, 'channel 6 is above channel-max 5');
    const dflt = openClient();
    expectFail(() => dflt.toServer.push(e.method(2048, 'channel.open')), ERRORS.CHANNEL_OUT_OF_RANGE, 'channel 2048 is above channel-max 2047');
  });

  it('caps frames at maxFrameSize whatever was negotiated', () => {
    const pair = protocol.createPair({ maxFrameSize: 5000 });
    pair.toServer.push(
      Buffer.concat([e.protocolHeader(), e.method(0, 'connection.start-ok'), e.method(0, 'connection.tune-ok', { frameMax: 0 }), e.method(0, 'connection.open'), e.method(1, 'basic.publish'), e.contentHeader(1, 10000)]),
    );
    expect(pair.toServer.push(e.body(1, Buffer.alloc(4992)))).toHaveLength(1);
    expectFail(() => pair.toServer.push(e.body(1, Buffer.alloc(4993)).subarray(0, 7)), ERRORS.FRAME_TOO_LARGE, 'frame of 5001 bytes is above frame-max 5000');
  });

  it('rejects frame-max below 4096 and Tune-Ok above the proposal', () => {
    expectFail(() => protocol.createPair().toClient.push(Buffer.concat([e.method(0, 'connection.start'), e.method(0, 'connection.tune', { frameMax: 1024 })])), ERRORS.BAD_TUNE, 'connection.tune frame-max 1024 is below the minimum 4096');
    const pair = protocol.createPair();
    pair.toClient.push(Buffer.concat([e.method(0, 'connection.start'), e.method(0, 'connection.tune', { channelMax: 100, frameMax: 8192 })]));
    pair.toServer.push(Buffer.concat([e.protocolHeader(), e.method(0, 'connection.start-ok')]));
    expectFail(() => pair.toServer.push(e.method(0, 'connection.tune-ok', { channelMax: 100, frameMax: 65536 })), ERRORS.BAD_TUNE, "connection.tune-ok frame-max 65536 exceeds the server's proposal 8192");
    const pair2 = protocol.createPair();
    pair2.toClient.push(Buffer.concat([e.method(0, 'connection.start'), e.method(0, 'connection.tune', { channelMax: 100, frameMax: 8192 })]));
    pair2.toServer.push(Buffer.concat([e.protocolHeader(), e.method(0, 'connection.start-ok')]));
    expectFail(() => pair2.toServer.push(e.method(0, 'connection.tune-ok', { channelMax: 0, frameMax: 8192 })), ERRORS.BAD_TUNE, "connection.tune-ok channel-max 0 exceeds the server's proposal 100");
  });
});

describe('amqp091 violations', () => {
  it('rejects a connection that does not start with "AMQP" at the first wrong byte', () => {
    const codec = protocol.createPair().toServer;
    expectFail(() => codec.push(Buffer.from('GET / HTTP/1.1\r\n')), ERRORS.BAD_PROTOCOL_HEADER, 'expected protocol header "AMQP\\x00\\x00\\x09\\x01", got byte 0x47 at offset 0');
    const slow = protocol.createPair().toServer;
    slow.push(Buffer.from('AM'));
    expectFail(() => slow.push(Buffer.from('X')), ERRORS.BAD_PROTOCOL_HEADER, 'expected protocol header "AMQP\\x00\\x00\\x09\\x01", got byte 0x58 at offset 2');
  });

  it('refuses other AMQP versions by name', () => {
    expectFail(() => protocol.createPair().toServer.push(hex('414d5150 00010000')), ERRORS.UNSUPPORTED_VERSION, 'protocol header announces AMQP 1.0 (AMQP 0.1.0.0); only AMQP 0-9-1 is supported');
    expectFail(() => protocol.createPair().toServer.push(hex('414d5150 03010000')), ERRORS.UNSUPPORTED_VERSION, 'protocol header announces AMQP 1.0 (AMQP 3.1.0.0); only AMQP 0-9-1 is supported');
    expectFail(() => protocol.createPair().toServer.push(hex('414d5150 01010800')), ERRORS.UNSUPPORTED_VERSION, 'protocol header announces AMQP 0-8 (AMQP 1.1.8.0); only AMQP 0-9-1 is supported');
    expectFail(() => feedBytes(protocol.createPair().toServer, hex('414d5150 00000900')), ERRORS.UNSUPPORTED_VERSION, 'protocol header announces AMQP 0.0.9.0 (AMQP 0.0.9.0); only AMQP 0-9-1 is supported');
  });

  it('rejects unknown frame types', () => {
    const pair = openClient();
    expectFail(() => pair.toServer.push(e.frame(4, 0, Buffer.alloc(0))), ERRORS.UNKNOWN_FRAME_TYPE, 'unknown frame type 4');
    expectFail(() => openClient().toServer.push(PROTOCOL_HEADER), ERRORS.UNKNOWN_FRAME_TYPE, 'unknown frame type 0x41 ("A"): a protocol header is only valid at the start of the connection');
  });

  it('rejects a bad frame-end octet', () => {
    expectFail(() => openClient().toServer.push(e.frame(1, 1, e.methodPayload('channel.open'), 0xcd)), ERRORS.BAD_FRAME_END, 'frame-end octet is 0xcd, expected 0xce');
  });

  it('rejects heartbeats off channel 0 or with a payload', () => {
    expectFail(() => openClient().toServer.push(e.heartbeat(1)), ERRORS.BAD_HEARTBEAT, 'heartbeat frame must be on channel 0 with an empty payload (channel 1, size 0)');
    expectFail(() => openClient().toServer.push(e.frame(8, 0, Buffer.from([0]))), ERRORS.BAD_HEARTBEAT, 'heartbeat frame must be on channel 0 with an empty payload (channel 0, size 1)');
  });

  it('keeps connection methods on channel 0 and everything else off it', () => {
    expectFail(() => openClient().toServer.push(e.method(1, 'connection.close')), ERRORS.WRONG_CHANNEL, 'connection.close on channel 1: connection methods belong on channel 0');
    expectFail(() => openClient().toServer.push(e.method(0, 'channel.open')), ERRORS.WRONG_CHANNEL, 'channel.open on channel 0: only connection methods may use channel 0');
  });

  it('rejects unknown classes and methods', () => {
    expectFail(() => openClient().toServer.push(e.frame(1, 1, hex('003c 03e7'))), ERRORS.UNKNOWN_METHOD, 'unknown method 60.999');
    expectFail(() => openClient().toServer.push(e.frame(1, 1, hex('001e 000a 0000'))), ERRORS.UNKNOWN_METHOD, 'unknown method 30.10');
  });

  it('enforces who may send which method', () => {
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(), e.method(0, 'connection.start')])), ERRORS.WRONG_DIRECTION, 'connection.start must not be sent by the client');
    expectFail(() => openServer().toClient.push(e.method(1, 'basic.publish')), ERRORS.WRONG_DIRECTION, 'basic.publish must not be sent by the server');
    expectFail(() => openClient().toServer.push(e.method(1, 'basic.deliver')), ERRORS.WRONG_DIRECTION, 'basic.deliver must not be sent by the client');
  });

  it('rejects truncated arguments and payloads without ids', () => {
    expectFail(() => openClient().toServer.push(e.frame(1, 1, hex('0014'))), ERRORS.MALFORMED_PAYLOAD, 'method frame payload of 2 bytes has no class and method id');
    // queue.declare whose queue name claims 9 bytes with 3 left.
    expectFail(() => openClient().toServer.push(e.frame(1, 1, hex('0032 000a 0000 09 717171'))), ERRORS.MALFORMED_PAYLOAD, 'truncated queue: 9 bytes needed, 3 left');
    // A field table whose size runs past the payload.
    expectFail(() => openClient().toServer.push(e.frame(1, 1, hex('0032 000a 0000 00 00 000000ff 00'))), ERRORS.MALFORMED_PAYLOAD, 'truncated arguments: 255 bytes needed, 1 left');
  });

  it('rejects trailing bytes after arguments and properties', () => {
    expectFail(() => openClient().toServer.push(e.frame(1, 1, Buffer.concat([e.methodPayload('channel.open'), Buffer.from([0])]))), ERRORS.TRAILING_BYTES, '1 bytes after the arguments of channel.open');
    const pair = openClient();
    pair.toServer.push(e.method(1, 'basic.publish'));
    const header = e.contentHeader(1, 1, { contentType: 'a' });
    const padded = e.frame(2, 1, Buffer.concat([header.subarray(7, header.length - 1), Buffer.from([9, 9])]));
    expectFail(() => pair.toServer.push(padded), ERRORS.TRAILING_BYTES, '2 bytes after the content header properties');
  });

  it('rejects unknown field value types', () => {
    const args = Buffer.concat([hex('0000'), e.shortstr('q'), hex('00'), e.longstr(Buffer.concat([e.shortstr('k'), Buffer.from('Z')]))]);
    expectFail(() => openClient().toServer.push(e.frame(1, 1, Buffer.concat([hex('0032000a'), args]))), ERRORS.BAD_FIELD_VALUE, 'arguments: unknown field value type 0x5a');
  });

  it('limits nesting of field tables and arrays', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 32; i++) deep = { d: deep };
    expectFail(() => openClient().toServer.push(e.method(1, 'queue.declare', { arguments: deep })), ERRORS.FIELD_TOO_DEEP, 'arguments nests field tables and arrays deeper than 32');
    expectFail(() => openClient({ maxFieldDepth: 2 }).toServer.push(e.method(1, 'queue.declare', { arguments: { a: [[1]] } })), ERRORS.FIELD_TOO_DEEP, 'arguments nests field tables and arrays deeper than 2');
    expect(openClient({ maxFieldDepth: 2 }).toServer.push(e.method(1, 'queue.declare', { arguments: { a: [1] } }))).toHaveLength(1);
  });

  it('enforces the handshake order', () => {
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(), e.method(0, 'connection.open')])), ERRORS.HANDSHAKE_ORDER, 'connection.open during the handshake: expected connection.start-ok');
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(), e.method(0, 'connection.start-ok'), e.method(1, 'channel.open')])), ERRORS.HANDSHAKE_ORDER, 'channel.open during the handshake: expected connection.tune-ok');
    expectFail(() => protocol.createPair().toClient.push(e.method(0, 'connection.tune')), ERRORS.HANDSHAKE_ORDER, 'connection.tune during the handshake: expected connection.start');
    expectFail(() => openServer().toClient.push(e.method(0, 'connection.start')), ERRORS.HANDSHAKE_ORDER, 'connection.start after the connection is open');
    expectFail(() => openClient().toServer.push(e.method(0, 'connection.tune-ok')), ERRORS.HANDSHAKE_ORDER, 'connection.tune-ok after the connection is open');
  });

  it('enforces content sequencing per channel', () => {
    expectFail(() => openClient().toServer.push(e.contentHeader(1, 1)), ERRORS.UNEXPECTED_FRAME, 'content header on channel 1 without a content method before it');
    expectFail(() => openClient().toServer.push(e.body(1, 'x')), ERRORS.UNEXPECTED_FRAME, 'body frame on channel 1 without a content method before it');
    const a = openClient();
    a.toServer.push(e.method(1, 'basic.publish'));
    expectFail(() => a.toServer.push(e.body(1, 'x')), ERRORS.UNEXPECTED_FRAME, 'body frame on channel 1 without a content header before it');
    const b = openClient();
    b.toServer.push(e.method(1, 'basic.publish'));
    expectFail(() => b.toServer.push(e.method(1, 'basic.ack')), ERRORS.UNEXPECTED_FRAME, 'basic.ack on channel 1 while content header is due');
    const c = openClient();
    c.toServer.push(Buffer.concat([e.method(1, 'basic.publish'), e.contentHeader(1, 5), e.body(1, 'ab')]));
    expectFail(() => c.toServer.push(e.method(1, 'basic.publish')), ERRORS.UNEXPECTED_FRAME, 'basic.publish on channel 1 while content body is due');
  });

  it('rejects frames after Connection.Close and Close-Ok', () => {
    const a = openClient();
    a.toServer.push(e.method(0, 'connection.close', { replyCode: 200 }));
    expect(a.toServer.push(e.heartbeat())).toHaveLength(1);
    expectFail(() => a.toServer.push(e.method(1, 'channel.open')), ERRORS.UNEXPECTED_FRAME, 'channel.open after Connection.Close: only Connection.Close-Ok may follow');
    const b = openServer();
    b.toClient.push(e.method(0, 'connection.close-ok'));
    expectFail(() => b.toClient.push(e.heartbeat()), ERRORS.UNEXPECTED_FRAME, 'frame after the connection was closed (Connection.Close-Ok sent, or a protocol header refusing the connection)');
  });

  it('checks the content header', () => {
    const mk = (): ReturnType<typeof openClient> => {
      const p = openClient();
      p.toServer.push(e.method(1, 'basic.publish'));
      return p;
    };
    expectFail(() => mk().toServer.push(e.contentHeader(1, 1, {}, 50)), ERRORS.BAD_CONTENT_HEADER, "content header class 50 does not match the method's class 60");
    expectFail(() => mk().toServer.push(e.contentHeader(1, 1, {}, 60, 1)), ERRORS.BAD_CONTENT_HEADER, 'content header weight 1 must be 0');
    const flags = e.contentHeader(1, 1);
    flags[7 + 13] = 0x01;
    expectFail(() => mk().toServer.push(flags), ERRORS.BAD_CONTENT_HEADER, 'content header property flags 0x1 set bits basic does not define');
  });

  it('rejects bodies longer than declared', () => {
    const p = openClient();
    p.toServer.push(Buffer.concat([e.method(1, 'basic.publish'), e.contentHeader(1, 3), e.body(1, 'ab')]));
    expectFail(() => p.toServer.push(e.body(1, 'cd')), ERRORS.BODY_OVERFLOW, 'body frame of 2 bytes exceeds the 1 bytes left of the declared body size');
  });

  it('limits the declared body size', () => {
    const p = openClient({ maxBodySize: 10 });
    p.toServer.push(e.method(1, 'basic.publish'));
    expectFail(() => p.toServer.push(e.contentHeader(1, 11)), ERRORS.BODY_TOO_LARGE, 'content body size 11 is above the limit 10');
    const d = openClient();
    d.toServer.push(e.method(1, 'basic.publish'));
    expectFail(() => d.toServer.push(e.contentHeader(1, 2n ** 64n - 1n)), ERRORS.BODY_TOO_LARGE, 'content body size 18446744073709551615 is above the limit 134217728');
  });

  it('stays dead after an error and rethrows the same error', () => {
    const codec = protocol.createPair().toServer;
    const first = caught(() => codec.push(Buffer.from('HTTP')));
    expect(caught(() => codec.push(e.protocolHeader()))).toBe(first);
    expect(caught(() => codec.push(Buffer.alloc(0)))).toBe(first);
    expect(codec.buffered).toBe(0);
  });

  it('fails the same way whole and byte by byte', () => {
    const bad = Buffer.concat([clientHandshake, e.method(1, 'basic.publish'), e.body(1, 'x')]);
    const a = caught(() => protocol.createPair().toServer.push(bad));
    const b = caught(() => feedBytes(protocol.createPair().toServer, bad));
    expect([b.code, b.message]).toEqual([a.code, a.message]);
  });
});

describe('amqp091 reply', () => {
  it('answers a bad protocol header with the 0-9-1 header', () => {
    const err = caught(() => protocol.createPair().toServer.push(Buffer.from('AMQP\u0000\u0001\u0000\u0000', 'latin1')));
    expect(protocol.reply(err)).toEqual(hex('414d5150 00000901'));
  });

  it('answers other errors with a Connection.Close carrying the reply code', () => {
    const err = caught(() => openClient().toServer.push(e.frame(1, 1, e.methodPayload('channel.open'), 0)));
    const reply = protocol.reply(err);
    expect(reply).not.toBeNull();
    const frames = protocol.createPair().toClient.push(reply as Buffer) as Amqp091MethodFrame[];
    expect(frames).toHaveLength(1);
    expect(frames[0]?.kind).toBe('connection.close');
    expect(frames[0]?.channel).toBe(0);
    expect(frames[0]?.args).toEqual({ replyCode: 501, replyText: 'FRAME_ERROR - frame-end octet is 0x00, expected 0xce', classId: 0, methodId: 0 });
  });

  it('maps every condition to its reply code and cuts long texts to a shortstr', () => {
    const codes: Record<string, number> = { 'frame-error': 501, 'syntax-error': 502, 'command-invalid': 503, 'unexpected-frame': 505, 'not-allowed': 530, 'not-implemented': 540 };
    for (const spec of Object.values(ERRORS)) {
      if (spec.condition === 'protocol-header') continue;
      const reply = protocol.reply(new WireError('amqp091', 'toServer', spec, 'é'.repeat(300))) as Buffer;
      const [f] = protocol.createPair().toClient.push(reply) as Amqp091MethodFrame[];
      expect(f?.args['replyCode']).toBe(codes[spec.condition]);
      expect(Buffer.byteLength(f?.args['replyText'] as string)).toBeLessThanOrEqual(255);
      expect(f?.args['replyText']).not.toContain('\ufffd');
    }
  });

  it('has no reply for another protocol', () => {
    expect(protocol.reply(new WireError('stomp', 'toServer', ERRORS.BAD_FRAME_END, 'x'))).toBeNull();
  });
});

describe('amqp091 method table', () => {
  it('knows the methods of connection, channel, exchange, queue, basic, confirm and tx', () => {
    const classes = new Set(METHODS.map((m) => m.className));
    expect([...classes]).toEqual(['connection', 'channel', 'exchange', 'queue', 'basic', 'confirm', 'tx']);
    expect(METHODS).toHaveLength(64);
    for (const m of METHODS) {
      const id = defs[m.name.split(/[.-]/).map((w) => w[0]?.toUpperCase() + w.slice(1)).join('')];
      expect([m.name, id]).toEqual([m.name, (m.classId << 16) | m.methodId]);
    }
  });
});
