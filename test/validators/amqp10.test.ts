import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WireError, type ErrorSpec } from '../../validators/types';
import {
  protocol,
  ERRORS,
  DEFAULT_LIMITS,
  AMQP_HEADER,
  closeFrame,
  type Amqp10Frame,
  type Amqp10Limits,
  type Amqp10PerformativeFrame,
  type Described,
} from '../../validators/amqp10';
import { amqp10 as e, CODES, feedBytes, feedSplit, randomCuts } from '../support/amqp-encode';
import { corpus, message, toClientFrames, toServerFrames } from '../support/corpus/amqp10';
import { caught } from '../support/wire';

// rhea's frame encoder: an independent oracle for the wire format.
const rheaFrames = require(join(__dirname, '../../node_modules/rhea/lib/frames.js')) as {
  write_frame(frame: unknown): Buffer;
  amqp_frame(channel: number, performative: unknown, payload?: Buffer): unknown;
  sasl_frame(performative: unknown): unknown;
  [name: string]: unknown;
};
type RheaCtor = new (fields: Record<string, unknown>) => { described(): unknown };
const rhea = (name: string, fields: Record<string, unknown>): unknown => new (rheaFrames[name] as RheaCtor)(fields).described();

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const n = e.null();

function expectFail(fn: () => unknown, spec: ErrorSpec, message: string | RegExp): WireError {
  const err = caught(fn);
  expect(err).toBeInstanceOf(WireError);
  expect(err.protocol).toBe('amqp10');
  expect(err.code).toBe(spec.code);
  expect(err.closeCode).toBe(spec.close);
  expect(err.condition).toBe(spec.condition);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
  return err;
}

const open = (containerId = 'c', extra: Buffer[] = []): Buffer => e.performative(0, CODES.open, [e.string(containerId), ...extra]);
const begin = (channel = 0): Buffer => e.performative(channel, CODES.begin, [n, e.uint(0), e.uint(100), e.uint(100)]);

/** A client that sent the AMQP header (no SASL), open and begin on channel 0. */
function client(limits?: Partial<Amqp10Limits>): ReturnType<typeof protocol.createPair> {
  const pair = protocol.createPair(limits);
  pair.toServer.push(Buffer.concat([e.protocolHeader(0), open(), begin()]));
  return pair;
}

/** Wraps `value` as the only entry of open.properties so any AMQP value can be decoded. */
const inProperties = (value: Buffer): Buffer => open('c', [n, n, n, n, n, n, n, n, e.map([e.symbol('v'), value])]);

function propertyOf(frames: Amqp10Frame[]): unknown {
  const o = frames.find((f) => f.kind === 'open') as Amqp10PerformativeFrame;
  return (o.fields['properties'] as Map<unknown, unknown>).get('v');
}

function decodeValue(value: Buffer, limits?: Partial<Amqp10Limits>): unknown {
  return propertyOf(protocol.createPair(limits).toServer.push(Buffer.concat([e.protocolHeader(0), inProperties(value)])));
}

function failValue(value: Buffer, spec: ErrorSpec, message: string | RegExp, limits?: Partial<Amqp10Limits>): WireError {
  const pair = protocol.createPair(limits);
  pair.toServer.push(e.protocolHeader(0));
  return expectFail(() => pair.toServer.push(inProperties(value)), spec, message);
}

describe('amqp10 catalogue', () => {
  it('has stable codes, close codes and conditions', () => {
    expect(Object.values(ERRORS).map((s) => [s.code, s.close, s.condition])).toEqual([
      ['GW_ERR_AMQP10_BAD_PROTOCOL_HEADER', 1002, 'protocol-header'],
      ['GW_ERR_AMQP10_UNSUPPORTED_VERSION', 1002, 'protocol-header'],
      ['GW_ERR_AMQP10_TLS_NOT_SUPPORTED', 1008, 'protocol-header'],
      ['GW_ERR_AMQP10_UNEXPECTED_HEADER', 1002, 'amqp:connection:framing-error'],
      ['GW_ERR_AMQP10_FRAME_TOO_LARGE', 1009, 'amqp:connection:framing-error'],
      ['GW_ERR_AMQP10_BAD_FRAME_HEADER', 1002, 'amqp:connection:framing-error'],
      ['GW_ERR_AMQP10_UNKNOWN_FRAME_TYPE', 1002, 'amqp:connection:framing-error'],
      ['GW_ERR_AMQP10_WRONG_LAYER', 1002, 'amqp:connection:framing-error'],
      ['GW_ERR_AMQP10_DECODE_ERROR', 1002, 'amqp:decode-error'],
      ['GW_ERR_AMQP10_INVALID_UTF8', 1007, 'amqp:decode-error'],
      ['GW_ERR_AMQP10_INVALID_SYMBOL', 1002, 'amqp:decode-error'],
      ['GW_ERR_AMQP10_TOO_DEEP', 1008, 'amqp:resource-limit-exceeded'],
      ['GW_ERR_AMQP10_TOO_MANY_ELEMENTS', 1008, 'amqp:resource-limit-exceeded'],
      ['GW_ERR_AMQP10_NOT_A_PERFORMATIVE', 1002, 'amqp:decode-error'],
      ['GW_ERR_AMQP10_INVALID_FIELD', 1002, 'amqp:invalid-field'],
      ['GW_ERR_AMQP10_TRAILING_BYTES', 1002, 'amqp:decode-error'],
      ['GW_ERR_AMQP10_ILLEGAL_STATE', 1002, 'amqp:illegal-state'],
      ['GW_ERR_AMQP10_CHANNEL_OUT_OF_RANGE', 1008, 'amqp:not-allowed'],
      ['GW_ERR_AMQP10_FRAME_SIZE_TOO_SMALL', 1002, 'amqp:frame-size-too-small'],
      ['GW_ERR_AMQP10_MESSAGE_TOO_LARGE', 1009, 'amqp:link:message-size-exceeded'],
    ]);
  });

  it('documents every code and every limit in the README', () => {
    const readme = readFileSync(join(__dirname, '../../validators/amqp10/README.md'), 'utf8');
    for (const spec of Object.values(ERRORS)) expect(readme).toContain(spec.code);
    for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
      expect(readme).toContain(`\`${name}\``);
      expect(readme).toContain(String(value));
    }
  });

  it('exposes the module for the registry', () => {
    expect(protocol.name).toBe('amqp10');
    expect(protocol.defaultLimits).toBe(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toEqual({ maxFrameSize: 1048576, preOpenFrameSize: 4096, channelMax: 65535, maxDepth: 32, maxElements: 65536, maxMessageSize: 134217728 });
  });
});

describe('amqp10 valid streams', () => {
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
    expect(frames.map((f) => f.kind)).toEqual([
      'protocol-header',
      'sasl-init',
      'protocol-header',
      'open',
      'begin',
      'attach',
      'attach',
      'flow',
      'transfer',
      'empty',
      'disposition',
      'transfer',
      'transfer',
      'detach',
      'detach',
      'end',
      'close',
    ]);
    expect(frames[0]).toMatchObject({ type: 'protocol-header', protocolId: 3 });
    expect(frames[1]).toMatchObject({ type: 'sasl', descriptor: 0x41, fields: { mechanism: 'PLAIN', initialResponse: Buffer.from('\u0000admin\u0000admin'), hostname: 'broker.example' } });
    const o = frames[3] as Amqp10PerformativeFrame;
    expect(o.fields).toEqual({
      containerId: 'rhea-0c5e1d3e-7f0a-4d8e-9b7a-2b1d6c7e8f90',
      hostname: 'broker.example',
      maxFrameSize: 4294967295,
      channelMax: 65535,
      idleTimeOut: 60000,
      outgoingLocales: null,
      incomingLocales: null,
      offeredCapabilities: null,
      desiredCapabilities: ['ANONYMOUS-RELAY'],
      properties: new Map([
        ['product', 'rhea'],
        ['version', '3.0.5'],
        ['platform', 'node v20.11.1'],
      ]),
    });
    const attach = frames[5] as Amqp10PerformativeFrame;
    expect(attach.fields['name']).toBe('orders-sender');
    expect(attach.fields['role']).toBe(false);
    expect((attach.fields['target'] as Described).descriptor).toBe(0x29n);
    expect(((attach.fields['target'] as Described).value as unknown[])[0]).toBe('orders');
    const transfer = frames[8] as Amqp10PerformativeFrame;
    expect(transfer.fields).toMatchObject({ handle: 0, deliveryId: 0, deliveryTag: Buffer.from([0]), settled: false });
    expect(transfer.payload).toEqual(message('order #1', 'msg-1'));
    expect((frames[10] as Amqp10PerformativeFrame).fields['state']).toEqual({ descriptor: 0x24n, value: [] });
  });

  it('decodes the server session', () => {
    const frames = protocol.createPair().toClient.push(corpus.toClient[0] as Buffer);
    expect(frames.map((f) => f.kind)).toEqual([
      'protocol-header',
      'sasl-mechanisms',
      'sasl-outcome',
      'protocol-header',
      'open',
      'begin',
      'attach',
      'flow',
      'attach',
      'disposition',
      'transfer',
      'empty',
      'detach',
      'detach',
      'end',
      'close',
    ]);
    expect((frames[1] as Amqp10PerformativeFrame).fields).toEqual({ saslServerMechanisms: ['PLAIN', 'ANONYMOUS'] });
    expect((frames[2] as Amqp10PerformativeFrame).fields).toEqual({ code: 0 });
    expect((frames[6] as Amqp10PerformativeFrame).fields['maxMessageSize']).toBe(1048576n);
    expect((frames[13] as Amqp10PerformativeFrame).fields['error']).toEqual({ descriptor: 0x1dn, value: ['amqp:resource-deleted', 'queue orders was deleted'] });
  });

  it('hands out views inside one chunk and copies only frames spanning chunks', () => {
    const stream = corpus.toClient[0] as Buffer;
    const copy = Buffer.from(stream);
    const frames = protocol.createPair().toClient.push(copy);
    copy.fill(0);
    // Views: clearing the pushed chunk clears every frame's raw bytes.
    for (const f of frames) expect(f.raw.every((b) => b === 0)).toBe(true);
    const codec = protocol.createPair().toClient;
    const first = Buffer.concat(toClientFrames.slice(0, 2));
    expect(codec.push(first.subarray(0, 12))).toHaveLength(1);
    expect(codec.buffered).toBe(4);
    const [mech] = codec.push(first.subarray(12));
    first.fill(0);
    // A copy: the frame that spanned two chunks keeps its bytes.
    expect(mech?.raw).toEqual(toClientFrames[1]);
    expect(codec.buffered).toBe(0);
  });

  it('decodes frames encoded by rhea', () => {
    const stream = Buffer.concat([
      hex('414d5150 03010000'),
      rheaFrames.write_frame(rheaFrames.sasl_frame(rhea('sasl_init', { mechanism: 'ANONYMOUS', initial_response: Buffer.from('anon') }))),
      AMQP_HEADER,
      rheaFrames.write_frame(rheaFrames.amqp_frame(0, rhea('open', { container_id: 'rhea-1', hostname: 'h', max_frame_size: 65536, channel_max: 10, properties: { product: 'rhea' }, offered_capabilities: ['A', 'B'] }))),
      rheaFrames.write_frame(rheaFrames.amqp_frame(2, rhea('begin', { next_outgoing_id: 0, incoming_window: 2048, outgoing_window: 4294967295 }))),
      rheaFrames.write_frame(rheaFrames.amqp_frame(2, rhea('flow', { incoming_window: 2048, next_outgoing_id: 0, outgoing_window: 4294967295, handle: 0, delivery_count: 0, link_credit: 500 }))),
      rheaFrames.write_frame(rheaFrames.amqp_frame(2, rhea('transfer', { handle: 0, delivery_id: 0, delivery_tag: Buffer.from('1'), message_format: 0, settled: true }), Buffer.from([0x00, 0x53, 0x77, 0xa1, 0x02, 0x68, 0x69]))),
      rheaFrames.write_frame(rheaFrames.amqp_frame(2, rhea('end', {}))),
      rheaFrames.write_frame(rheaFrames.amqp_frame(0, rhea('close', { error: { condition: 'amqp:internal-error', description: 'bye' } }))),
    ]);
    const frames = protocol.createPair().toServer.push(stream) as Amqp10PerformativeFrame[];
    expect(frames.map((f) => `${f.kind}@${f.channel}`)).toEqual(['protocol-header@0', 'sasl-init@0', 'protocol-header@0', 'open@0', 'begin@2', 'flow@2', 'transfer@2', 'end@2', 'close@0']);
    expect(frames[3]?.fields).toMatchObject({ containerId: 'rhea-1', maxFrameSize: 65536, channelMax: 10, offeredCapabilities: ['A', 'B'], properties: new Map([['product', 'rhea']]) });
    expect(frames[6]?.payload).toEqual(Buffer.from([0x00, 0x53, 0x77, 0xa1, 0x02, 0x68, 0x69]));
    expect((frames[8]?.fields['error'] as Described).value).toEqual(['amqp:internal-error', 'bye']);
  });

  it('decodes every constructor of the type system', () => {
    const cases: [string, Buffer, unknown][] = [
      ['null', n, null],
      ['true', e.bool(true), true],
      ['false', e.bool(false), false],
      ['boolean 0x56', e.boolean56(true), true],
      ['ubyte', e.ubyte(200), 200],
      ['ushort', e.ushort(60000), 60000],
      ['uint', e.uint(70000), 70000],
      ['smalluint', e.uint(7), 7],
      ['uint0', e.uint(0), 0],
      ['ulong', e.ulong(2n ** 63n), 2n ** 63n],
      ['smallulong', e.ulong(9), 9n],
      ['ulong0', e.ulong(0), 0n],
      ['byte', e.byte(-100), -100],
      ['short', e.short(-30000), -30000],
      ['int', e.int(-70000), -70000],
      ['smallint', e.int(-5), -5],
      ['long', e.long(-(2n ** 40n)), -(2n ** 40n)],
      ['smalllong', e.long(-3n), -3n],
      ['float', e.float(1.5), 1.5],
      ['double', e.double(-0.125), -0.125],
      ['decimal32', e.decimal(4, hex('01020304')), hex('01020304')],
      ['decimal64', e.decimal(8, hex('0102030405060708')), hex('0102030405060708')],
      ['decimal128', e.decimal(16, Buffer.alloc(16, 7)), Buffer.alloc(16, 7)],
      ['char', e.char(0x1f600), '\u{1f600}'],
      ['timestamp', e.timestamp(1700000000123), new Date(1700000000123)],
      ['uuid', e.uuid('0c5e1d3e-7f0a-4d8e-9b7a-2b1d6c7e8f90'), '0c5e1d3e-7f0a-4d8e-9b7a-2b1d6c7e8f90'],
      ['vbin8', e.binary(Buffer.from([1, 2])), Buffer.from([1, 2])],
      ['vbin32', e.binary(Buffer.from([3]), true), Buffer.from([3])],
      ['str8', e.string('grüße'), 'grüße'],
      ['str32', e.string('wide', true), 'wide'],
      ['sym8', e.symbol('a:b'), 'a:b'],
      ['sym32', e.symbol('c:d', true), 'c:d'],
      ['list0', e.list([]), []],
      ['list8', e.list([e.uint(1), e.string('x')]), [1, 'x']],
      ['list32', e.list([e.bool(true)], true), [true]],
      ['map8', e.map([e.string('k'), e.int(1)]), new Map([['k', 1]])],
      ['map32', e.map([e.ulong(1), n], true), new Map([[1n, null]])],
      ['array8', e.array(Buffer.from([0x71]), [hex('00000001'), hex('ffffffff')]), [1, -1]],
      ['array32', e.array(Buffer.from([0x40]), [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)], true), [null, null, null]],
      ['array of lists', e.array(Buffer.from([0xc0]), [hex('0201 41'), hex('0100')]), [[true], []]],
      ['array of described', e.array(Buffer.from([0x00, 0x53, 0x24, 0x45]), [Buffer.alloc(0), Buffer.alloc(0)]), [{ descriptor: 0x24n, value: [] }, { descriptor: 0x24n, value: [] }]],
      ['described', e.described(e.symbol('x:y'), e.string('v')), { descriptor: 'x:y', value: 'v' }],
    ];
    for (const [name, encoded, expected] of cases) {
      expect([name, decodeValue(encoded)]).toEqual([name, expected]);
    }
  });

  it('accepts a symbolic descriptor, an extended header, no SASL and empty frames anywhere', () => {
    const symbolic = e.frame(0, 0, Buffer.concat([e.described(e.symbol('amqp:open:list'), e.list([e.string('s')]))]), Buffer.alloc(4, 0xff));
    const frames = protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(0), e.empty(), symbolic, e.empty(3)]));
    expect(frames.map((f) => f.kind)).toEqual(['protocol-header', 'empty', 'open', 'empty']);
    expect((frames[2] as Amqp10PerformativeFrame).fields).toEqual({ containerId: 's' });
  });

  it('accepts a challenge / response round and a failed outcome ending the exchange', () => {
    const pair = protocol.createPair();
    expect(pair.toServer.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslInit, [e.symbol('SCRAM-SHA-1'), e.binary(Buffer.from('n,,n=u,r=x'))]), e.sasl(CODES.saslResponse, [e.binary(Buffer.from('c=biws'))])])).map((f) => f.kind)).toEqual(['protocol-header', 'sasl-init', 'sasl-response']);
    expect(pair.toClient.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslMechanisms, [e.symbol('SCRAM-SHA-1')]), e.sasl(CODES.saslChallenge, [e.binary(Buffer.from('r=xy'))]), e.sasl(CODES.saslOutcome, [e.ubyte(1)])])).map((f) => f.kind)).toEqual(['protocol-header', 'sasl-mechanisms', 'sasl-challenge', 'sasl-outcome']);
    expectFail(() => pair.toClient.push(AMQP_HEADER), ERRORS.ILLEGAL_STATE, 'bytes after the connection was closed');
  });
});

describe('amqp10 frame limits shared by the pair', () => {
  it('limits frames before a side sent its open, from the frame header alone', () => {
    const pair = protocol.createPair();
    pair.toServer.push(e.protocolHeader(0));
    const big = open('x'.repeat(5000));
    const err = expectFail(() => pair.toServer.push(big.subarray(0, 8)), ERRORS.FRAME_TOO_LARGE, `frame of ${big.length} bytes is above the maximum frame size 4096`);
    expect(pair.toServer.buffered).toBe(0);
    expect(caught(() => pair.toServer.push(Buffer.from([0])))).toBe(err);
    const ok = open('x'.repeat(4096 - 25));
    expect(ok.length).toBe(4096);
    expect(protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(0), ok]))).toHaveLength(2);
  });

  it("enforces the receiving peer's max-frame-size in each direction", () => {
    const pair = protocol.createPair();
    pair.toClient.push(Buffer.concat([e.protocolHeader(0), open('server', [n, e.uint(1024)])]));
    pair.toServer.push(Buffer.concat([e.protocolHeader(0), open('client', [n, e.uint(2048)]), begin()]));
    const transfer = (size: number, channel = 0): Buffer => {
      const f = e.performative(channel, CODES.transfer, [e.uint(0)]);
      return e.performative(channel, CODES.transfer, [e.uint(0)], Buffer.alloc(size - f.length));
    };
    expect(pair.toServer.push(transfer(1024))).toHaveLength(1);
    expectFail(() => pair.toServer.push(transfer(1025)), ERRORS.FRAME_TOO_LARGE, 'frame of 1025 bytes is above the maximum frame size 1024');
    pair.toClient.push(begin());
    expect(pair.toClient.push(transfer(2048))).toHaveLength(1);
    expectFail(() => pair.toClient.push(transfer(2049)), ERRORS.FRAME_TOO_LARGE, 'frame of 2049 bytes is above the maximum frame size 2048');
  });

  it('caps frames at maxFrameSize when the peer allows more or was not seen', () => {
    const pair = client({ maxFrameSize: 4096, preOpenFrameSize: 4096 });
    const f = e.performative(0, CODES.transfer, [e.uint(0)]);
    expect(pair.toServer.push(e.performative(0, CODES.transfer, [e.uint(0)], Buffer.alloc(4096 - f.length)))).toHaveLength(1);
    expectFail(() => pair.toServer.push(e.performative(0, CODES.transfer, [e.uint(0)], Buffer.alloc(4097 - f.length))), ERRORS.FRAME_TOO_LARGE, 'frame of 4097 bytes is above the maximum frame size 4096');
  });

  it("enforces the receiving peer's channel-max and the gateway limit", () => {
    const pair = protocol.createPair();
    pair.toClient.push(Buffer.concat([e.protocolHeader(0), open('server', [n, n, e.ushort(3)])]));
    pair.toServer.push(Buffer.concat([e.protocolHeader(0), open('client'), begin(3)]));
    expectFail(() => pair.toServer.push(begin(4)), ERRORS.CHANNEL_OUT_OF_RANGE, 'channel 4 is above channel-max 3');
    const limited = client({ channelMax: 9 });
    expectFail(() => limited.toServer.push(begin(10)), ERRORS.CHANNEL_OUT_OF_RANGE, 'channel 10 is above channel-max 9');
  });

  it('rejects an open announcing max-frame-size below 512', () => {
    const pair = protocol.createPair();
    pair.toServer.push(e.protocolHeader(0));
    expectFail(() => pair.toServer.push(open('c', [n, e.uint(511)])), ERRORS.FRAME_SIZE_TOO_SMALL, 'open max-frame-size 511 is below the minimum 512');
  });

  it('limits a delivery split over transfers with more=true', () => {
    const pair = client({ maxMessageSize: 100 });
    const part = (more: boolean, size: number, handle = 0): Buffer => e.performative(0, CODES.transfer, [e.uint(handle), n, n, n, n, e.bool(more)], Buffer.alloc(size));
    expect(pair.toServer.push(Buffer.concat([part(true, 60), part(false, 40), part(true, 60, 1), part(false, 40, 1)]))).toHaveLength(4);
    pair.toServer.push(part(true, 60));
    expectFail(() => pair.toServer.push(part(false, 41)), ERRORS.MESSAGE_TOO_LARGE, 'delivery of at least 101 bytes on channel 0 handle 0 is above the limit 100');
  });
});

describe('amqp10 violations', () => {
  it('rejects a connection that does not start with "AMQP" at the first wrong byte', () => {
    expectFail(() => protocol.createPair().toServer.push(Buffer.from('G')), ERRORS.BAD_PROTOCOL_HEADER, 'expected protocol header "AMQP\\x00\\x01\\x00\\x00", got byte 0x47 at offset 0');
    expectFail(() => protocol.createPair().toServer.push(Buffer.from('AMQX1234')), ERRORS.BAD_PROTOCOL_HEADER, 'expected protocol header "AMQP\\x00\\x01\\x00\\x00", got byte 0x58 at offset 3');
  });

  it('refuses other versions and protocol ids, and the in-band TLS header', () => {
    expectFail(() => protocol.createPair().toServer.push(hex('414d5150 00000901')), ERRORS.UNSUPPORTED_VERSION, 'protocol header announces protocol id 0 version 0.9.1; only AMQP 1.0.0 (id 0) and SASL (id 3) are supported');
    expectFail(() => protocol.createPair().toServer.push(hex('414d5150 04010000')), ERRORS.UNSUPPORTED_VERSION, 'protocol header announces protocol id 4 version 1.0.0; only AMQP 1.0.0 (id 0) and SASL (id 3) are supported');
    expectFail(() => protocol.createPair().toServer.push(hex('414d5150 02010000')), ERRORS.TLS_NOT_SUPPORTED, 'TLS protocol header (id 2): TLS is terminated by the gateway, not negotiated in-band');
  });

  it('rejects protocol headers out of order', () => {
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), e.protocolHeader(0)])), ERRORS.UNEXPECTED_HEADER, 'AMQP protocol header before the SASL exchange completed (no sasl-init sent)');
    const server = protocol.createPair().toClient;
    server.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslMechanisms, [e.symbol('PLAIN')]), e.sasl(CODES.saslOutcome, [e.ubyte(0)])]));
    expectFail(() => server.push(e.protocolHeader(3)), ERRORS.UNEXPECTED_HEADER, 'SASL protocol header after the security layer was negotiated');
  });

  it('rejects malformed frame headers', () => {
    const pair = (): ReturnType<typeof client> => client();
    expectFail(() => pair().toServer.push(hex('00000007 02000000')), ERRORS.BAD_FRAME_HEADER, 'frame size 7 is below the 8-byte frame header');
    expectFail(() => pair().toServer.push(hex('00000008 01000000')), ERRORS.BAD_FRAME_HEADER, 'data offset 1 is below 2');
    expectFail(() => pair().toServer.push(hex('0000000c 04000000')), ERRORS.BAD_FRAME_HEADER, 'data offset 4 (16 bytes) is beyond the frame size 12');
  });

  it('rejects unknown frame types and frames of the wrong layer', () => {
    expectFail(() => client().toServer.push(hex('00000008 02020000')), ERRORS.UNKNOWN_FRAME_TYPE, 'unknown frame type 0x02');
    expectFail(() => client().toServer.push(e.sasl(CODES.saslInit, [e.symbol('PLAIN')])), ERRORS.WRONG_LAYER, 'SASL frame outside the SASL layer');
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), open()])), ERRORS.WRONG_LAYER, 'AMQP frame during the SASL exchange');
  });

  it('rejects undecodable values', () => {
    failValue(hex('99'), ERRORS.DECODE_ERROR, /^unknown constructor 0x99 at offset \d+$/);
    failValue(e.boolean56(true).fill(2, 1), ERRORS.DECODE_ERROR, 'boolean octet 0x02 is neither 0x00 nor 0x01');
    failValue(e.char(0xd800), ERRORS.DECODE_ERROR, 'char 0xd800 is not a Unicode scalar value');
    failValue(hex('c1 03 03 a101 6b 40'), ERRORS.DECODE_ERROR, 'map count 3 is odd');
    failValue(hex('c0 02 05 40'), ERRORS.DECODE_ERROR, 'list count 5 exceeds its 1 bytes');
    failValue(hex('c0 03 01 40 40'), ERRORS.DECODE_ERROR, 'list elements end 1 bytes before its declared size');
    failValue(hex('c0 ff 01'), ERRORS.DECODE_ERROR, /^list size 255 exceeds the \d+ bytes left$/);
    failValue(hex('e0 06 03 71 00000001'), ERRORS.DECODE_ERROR, 'array of 3 elements (constructor 0x71) exceeds its 4 bytes');
    failValue(hex('e0 02 01 00'), ERRORS.DECODE_ERROR, /^constructor needs 1 bytes, 0 left$/);
    failValue(hex('e0 02 01 ff'), ERRORS.DECODE_ERROR, 'array element constructor 0xff is not a primitive type');
    failValue(hex('a1 09 61'), ERRORS.DECODE_ERROR, /^string needs 9 bytes, \d+ left$/);
  });

  it('rejects strings that are not UTF-8 and symbols that are not ASCII', () => {
    failValue(hex('a1 02 c3 28'), ERRORS.INVALID_UTF8, /^string of 2 bytes at offset \d+ is not valid UTF-8$/);
    failValue(hex('a3 01 80'), ERRORS.INVALID_SYMBOL, /^symbol of 1 bytes at offset \d+ is not ASCII$/);
  });

  it('limits nesting depth and element counts', () => {
    let deep = e.list([]);
    for (let i = 0; i < 40; i++) deep = e.list([deep]);
    failValue(deep, ERRORS.TOO_DEEP, 'list nests deeper than 32');
    let nested = e.list([]);
    for (let i = 0; i < 3; i++) nested = e.list([nested]);
    failValue(nested, ERRORS.TOO_DEEP, 'list nests deeper than 3', { maxDepth: 3 });
    expect(decodeValue(e.list([e.list([])]), { maxDepth: 3 })).toEqual([[]]);
    const many = Buffer.concat([hex('f0 00000005 00011171 40')]);
    failValue(many, ERRORS.TOO_MANY_ELEMENTS, 'array declares 70001 elements, above the limit 65536');
    failValue(e.array(Buffer.from([0x40]), new Array<Buffer>(11).fill(Buffer.alloc(0))), ERRORS.TOO_MANY_ELEMENTS, 'array declares 11 elements, above the limit 10', { maxElements: 10 });
  });

  it('requires a known performative in a described list', () => {
    expectFail(() => client().toServer.push(e.frame(0, 0, e.list([]))), ERRORS.NOT_A_PERFORMATIVE, 'frame body starts with constructor 0x45, expected a described performative');
    expectFail(() => client().toServer.push(e.frame(0, 0, e.composite(0x19, []))), ERRORS.NOT_A_PERFORMATIVE, 'descriptor 0x19 is not a performative (0x10-0x18)');
    expectFail(() => client().toServer.push(e.frame(0, 0, e.composite(0x41, []))), ERRORS.NOT_A_PERFORMATIVE, 'descriptor 0x41 is not a performative (0x10-0x18)');
    expectFail(() => client().toServer.push(e.frame(0, 0, e.described(e.string('amqp:open:list'), e.list([])))), ERRORS.NOT_A_PERFORMATIVE, 'descriptor constructor 0xa1 is neither ulong nor symbol');
    expectFail(() => client().toServer.push(e.frame(0, 0, e.described(e.symbol('amqp:nope:list'), e.list([])))), ERRORS.NOT_A_PERFORMATIVE, 'descriptor amqp:nope:list is not a performative (0x10-0x18)');
    expectFail(() => client().toServer.push(e.frame(0, 0, e.described(e.ulong(0x10), e.map([])))), ERRORS.NOT_A_PERFORMATIVE, 'composite body has constructor 0xc1, expected a list');
  });

  it('checks mandatory fields, field types and field counts', () => {
    const header = (): ReturnType<typeof protocol.createPair> => {
      const p = protocol.createPair();
      p.toServer.push(e.protocolHeader(0));
      return p;
    };
    expectFail(() => header().toServer.push(e.performative(0, CODES.open, [])), ERRORS.INVALID_FIELD, 'open.containerId is mandatory but missing');
    expectFail(() => header().toServer.push(e.performative(0, CODES.open, [n])), ERRORS.INVALID_FIELD, 'open.containerId is mandatory but null');
    expectFail(() => header().toServer.push(e.performative(0, CODES.open, [e.symbol('c')])), ERRORS.INVALID_FIELD, 'open.containerId has constructor 0xa3, expected string');
    expectFail(() => header().toServer.push(open('c', [n, e.ulong(512)])), ERRORS.INVALID_FIELD, 'open.maxFrameSize has constructor 0x80, expected uint');
    expectFail(() => header().toServer.push(open('c', [n, n, n, n, n, n, e.array(Buffer.from([0xa1]), [hex('0141')])])), ERRORS.INVALID_FIELD, 'open.offeredCapabilities has constructor 0xe0, expected symbols');
    expectFail(() => header().toServer.push(open('c', new Array<Buffer>(10).fill(n))), ERRORS.INVALID_FIELD, 'open has 11 fields, at most 10 are defined');
    expectFail(() => client().toServer.push(e.performative(0, CODES.attach, [e.string('l'), e.uint(0)])), ERRORS.INVALID_FIELD, 'attach.role is mandatory but missing');
    expectFail(() => client().toServer.push(e.performative(0, CODES.detach, [e.uint(0), n, e.composite(0x24, [])])), ERRORS.INVALID_FIELD, 'detach.error is not an amqp:error:list with a condition');
    expectFail(() => client().toServer.push(e.performative(0, CODES.transfer, [])), ERRORS.INVALID_FIELD, 'transfer.handle is mandatory but missing');
  });

  it('rejects bytes after a performative other than transfer', () => {
    expectFail(() => client().toServer.push(e.performative(0, CODES.flow, [n, e.uint(1), e.uint(1), e.uint(1)], Buffer.from([0x40]))), ERRORS.TRAILING_BYTES, '1 bytes after the flow performative');
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), e.frame(1, 0, Buffer.concat([e.composite(CODES.saslInit, [e.symbol('PLAIN')]), Buffer.from([1, 2])]))])), ERRORS.TRAILING_BYTES, '2 bytes after the sasl-init SASL frame body');
  });

  it('enforces connection, session and SASL order', () => {
    const header = (): ReturnType<typeof protocol.createPair> => {
      const p = protocol.createPair();
      p.toServer.push(e.protocolHeader(0));
      return p;
    };
    expectFail(() => header().toServer.push(begin()), ERRORS.ILLEGAL_STATE, 'begin before open: open must be the first performative');
    expectFail(() => client().toServer.push(open()), ERRORS.ILLEGAL_STATE, 'second open on the connection');
    expectFail(() => client().toServer.push(begin()), ERRORS.ILLEGAL_STATE, 'begin on channel 0, which already has a session');
    expectFail(() => client().toServer.push(e.performative(1, CODES.detach, [e.uint(0)])), ERRORS.ILLEGAL_STATE, 'detach on channel 1, which has no session (no begin)');
    const ended = client();
    ended.toServer.push(e.performative(0, CODES.end, []));
    expectFail(() => ended.toServer.push(e.performative(0, CODES.end, [])), ERRORS.ILLEGAL_STATE, 'end on channel 0, which has no session (no begin)');
    const closed = client();
    closed.toServer.push(e.performative(0, CODES.close, []));
    expectFail(() => closed.toServer.push(e.empty()), ERRORS.ILLEGAL_STATE, 'bytes after the connection was closed');
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslResponse, [e.binary(Buffer.alloc(1))])])), ERRORS.ILLEGAL_STATE, 'sasl-response from the client: expected sasl-init');
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslMechanisms, [e.symbol('PLAIN')])])), ERRORS.ILLEGAL_STATE, 'sasl-mechanisms from the client: expected sasl-init');
    expectFail(() => protocol.createPair().toClient.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslOutcome, [e.ubyte(0)])])), ERRORS.ILLEGAL_STATE, 'sasl-outcome from the server: expected sasl-mechanisms');
    expectFail(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), e.frame(1, 0, Buffer.alloc(0))])), ERRORS.DECODE_ERROR, 'empty SASL frame: a SASL frame carries exactly one SASL body');
  });

  it('stays dead after an error and fails the same way whole and byte by byte', () => {
    const bad = Buffer.concat([e.protocolHeader(0), open(), e.performative(0, CODES.attach, [e.string('l')])]);
    const codec = protocol.createPair().toServer;
    const first = caught(() => codec.push(bad));
    expect(caught(() => codec.push(e.empty()))).toBe(first);
    const bytewise = caught(() => feedBytes(protocol.createPair().toServer, bad));
    expect([bytewise.code, bytewise.message]).toEqual([first.code, first.message]);
  });
});

describe('amqp10 reply', () => {
  it('answers a bad protocol header with the AMQP 1.0 header', () => {
    const err = caught(() => protocol.createPair().toServer.push(hex('414d5150 00000901')));
    expect(protocol.reply(err)).toEqual(hex('414d5150 00010000'));
  });

  it('has no reply during SASL', () => {
    const err = caught(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(3), e.sasl(CODES.saslResponse, [e.binary(Buffer.alloc(1))])])));
    expect(protocol.reply(err)).toBeNull();
  });

  it('sends header, open and close when nothing was sent toward the offender yet', () => {
    const err = caught(() => protocol.createPair().toServer.push(Buffer.concat([e.protocolHeader(0), open(), e.performative(0, CODES.attach, [])])));
    const reply = protocol.reply(err) as Buffer;
    const frames = protocol.createPair().toClient.push(reply) as Amqp10PerformativeFrame[];
    expect(frames.map((f) => f.kind)).toEqual(['protocol-header', 'open', 'close']);
    expect(frames[1]?.fields).toEqual({ containerId: 'gangway' });
    expect(frames[2]?.fields['error']).toEqual({ descriptor: 0x1dn, value: ['amqp:invalid-field', 'attach.name is mandatory but missing'] });
  });

  it('sends only a close once the open was forwarded to the offender', () => {
    const pair = protocol.createPair();
    pair.toClient.push(Buffer.concat(toClientFrames.slice(0, 5)));
    const err = caught(() => pair.toServer.push(Buffer.concat([...toServerFrames.slice(0, 4), e.performative(0, CODES.flow, [])])));
    const reply = protocol.reply(err) as Buffer;
    expect(reply).toEqual(closeFrame('amqp:invalid-field', 'flow.incomingWindow is mandatory but missing'));
    const reader = protocol.createPair().toClient;
    reader.push(Buffer.concat([AMQP_HEADER, open('s')]));
    const [close] = reader.push(reply) as Amqp10PerformativeFrame[];
    expect(close?.kind).toBe('close');
    expect((close?.fields['error'] as Described).value).toEqual(['amqp:invalid-field', 'flow.incomingWindow is mandatory but missing']);
  });

  it('cuts long descriptions and has no reply for another protocol', () => {
    const f = closeFrame('amqp:decode-error', 'é'.repeat(2000));
    const reader = protocol.createPair().toClient;
    reader.push(Buffer.concat([AMQP_HEADER, open('s')]));
    const [close] = reader.push(f) as Amqp10PerformativeFrame[];
    const text = ((close?.fields['error'] as Described).value as string[])[1] as string;
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(1024);
    expect(text).not.toContain('\ufffd');
    expect(protocol.reply(new WireError('amqp091', 'toServer', ERRORS.DECODE_ERROR, 'x'))).toBeNull();
  });
});
