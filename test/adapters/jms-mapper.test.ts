import {
  FRAME_HEADERS,
  MappingError,
  PROPERTY_TYPES_HEADER,
  headersFromMessage,
  messageFromHeaders,
  parseDestination,
  propertyOf,
  sendHeaders,
  stringProperty,
  type HeaderPair,
  type JmsDestination,
  type JmsMessage,
  type JmsProperty,
} from '../../adapters/jms';
import { readStompDestination, stompDestination } from '../../adapters/stomp';
import { amqp10Address } from '../../adapters/amqp10';
import { applicationProperties, propertiesOf } from '../../adapters/amqp10/properties';
import { headerValue } from '../../adapters/amqp091';
import { message as amqpMessage } from 'rhea';
import { bindingForScheme, BINDINGS } from '../../adapters';

const read = (text: string): JmsDestination => {
  const d = parseDestination(text);
  if (!d) throw new MappingError('destination', `bad ${text}`);
  return d;
};
const write = (d: JmsDestination): string => `/${d.kind}/${d.name}`;

describe('STOMP ⇄ JMS mapper', () => {
  it('reads every JMS header field and keeps custom properties in order', () => {
    const headers: HeaderPair[] = [
      ['destination', '/queue/orders'],
      ['correlation-id', 'c1'],
      ['reply-to', '/temp-queue/replies'],
      ['type', 'Order'],
      ['priority', '7'],
      ['expires', '1700000000000'],
      ['persistent', 'true'],
      ['content-type', 'application/json'],
      ['receipt', 'r1'],
      ['content-length', '2'],
      ['x-b', '2'],
      ['x-a', '1'],
      ['x-a', 'ignored repeat'],
    ];
    const m = messageFromHeaders(headers, Buffer.from('{}'), read);
    expect(m.destination).toEqual({ kind: 'queue', name: 'orders' });
    expect(m.replyTo).toEqual({ kind: 'temp-queue', name: 'replies' });
    expect(m).toMatchObject({ correlationId: 'c1', type: 'Order', priority: 7, expires: 1700000000000, persistent: true, contentType: 'application/json' });
    expect([...m.properties]).toEqual([
      ['x-b', { type: 'string', value: '2' }],
      ['x-a', { type: 'string', value: '1' }],
    ]);
  });

  it('drops broker control headers from clients unless asked to keep them', () => {
    const h: HeaderPair[] = [
      ['destination', '/queue/q'],
      ['activemq.prefetchSize', '1'],
      ['x-queue-mode', 'lazy'],
      ['app', 'kept'],
    ];
    expect([...messageFromHeaders(h, Buffer.alloc(0), read).properties.keys()]).toEqual(['app']);
    expect([...messageFromHeaders(h, Buffer.alloc(0), read, { keepControlHeaders: true }).properties.keys()]).toEqual(['activemq.prefetchSize', 'x-queue-mode', 'app']);
  });

  it.each([
    ['priority', '10', /priority: expected 0–9/],
    ['priority', 'high', /priority: expected an integer/],
    ['expires', '-1', /expires: expected 0–/],
  ])('refuses %s:%s naming the header', (name, value, message) => {
    const h: HeaderPair[] = [
      ['destination', '/queue/q'],
      [name, value],
    ];
    expect(() => messageFromHeaders(h, Buffer.alloc(0), read)).toThrow(message);
    try {
      messageFromHeaders(h, Buffer.alloc(0), read);
    } catch (err) {
      expect(err).toBeInstanceOf(MappingError);
      expect((err as MappingError).header).toBe(name);
    }
  });

  it('requires a destination', () => {
    expect(() => messageFromHeaders([['x', 'y']], Buffer.alloc(0), read)).toThrow('destination: required');
  });

  it('writes MESSAGE headers in order with content-length, redelivered only when set', () => {
    const m = messageFromHeaders(
      [
        ['destination', '/topic/prices'],
        ['correlation-id', 'c'],
        ['x-desk', 'fx'],
      ],
      Buffer.from('abc'),
      read,
    );
    expect(headersFromMessage(m, write, 'ID:1')).toEqual([
      ['destination', '/topic/prices'],
      ['message-id', 'ID:1'],
      ['correlation-id', 'c'],
      ['content-length', '3'],
      ['x-desk', 'fx'],
    ]);
    expect(headersFromMessage({ ...m, redelivered: true }, write, 'ID:1')).toContainEqual(['redelivered', 'true']);
    for (const [name] of headersFromMessage(m, write, 'ID:1').slice(0, 4)) expect(FRAME_HEADERS.has(name)).toBe(true);
  });

  it('builds SEND headers for a STOMP broker without overriding JMS fields by properties', () => {
    const m: JmsMessage = {
      destination: { kind: 'queue', name: 'q' },
      properties: new Map([
        ['type', stringProperty('spoof')],
        ['x', stringProperty('1')],
        ['toString', stringProperty('kept')],
      ]),
      body: Buffer.alloc(0),
      type: 'Real',
    };
    expect(sendHeaders(m, write)).toEqual({ destination: '/queue/q', type: 'Real', x: '1', toString: 'kept' });
  });

  it('parses only the four destination forms', () => {
    expect(parseDestination('/temp-topic/t')).toEqual({ kind: 'temp-topic', name: 't' });
    expect(parseDestination('/exchange/x/y')).toBeNull();
    expect(parseDestination('/queue/')).toBeNull();
  });
});

describe('typed custom properties', () => {
  const typed = (extra: HeaderPair[], types: string, options: { lenientTypes?: boolean } = {}): JmsMessage =>
    messageFromHeaders([['destination', '/queue/q'], ...extra, [PROPERTY_TYPES_HEADER, types]], Buffer.alloc(0), read, options);

  it('types the properties jms-property-types lists; the others stay strings and the list is no property', () => {
    const m = typed(
      [
        ['qty', '5'],
        ['price', '1.25'],
        ['urgent', 'true'],
        ['big', '9223372036854775807'],
        ['tiny', '-128'],
        ['small', '+32767'],
        ['ratio', '0.5'],
        ['label', 'x'],
        ['note', '42'],
      ],
      'qty=int, price=double,urgent=boolean,big=long,tiny=byte,small=short,ratio=float,label=string',
    );
    expect([...m.properties]).toEqual<[string, JmsProperty][]>([
      ['qty', { type: 'int', value: 5 }],
      ['price', { type: 'double', value: 1.25 }],
      ['urgent', { type: 'boolean', value: true }],
      ['big', { type: 'long', value: 9223372036854775807n }],
      ['tiny', { type: 'byte', value: -128 }],
      ['small', { type: 'short', value: 32767 }],
      ['ratio', { type: 'float', value: 0.5 }],
      ['label', { type: 'string', value: 'x' }],
      ['note', { type: 'string', value: '42' }],
    ]);
  });

  it('reads floating point as Java writes it: exponents, NaN and the infinities', () => {
    const m = typed(
      [
        ['a', '1.0E10'],
        ['b', 'NaN'],
        ['c', '-Infinity'],
        ['d', 'Infinity'],
        ['e', '-.5e-3'],
      ],
      'a=double,b=double,c=float,d=double,e=float',
    );
    expect([...m.properties.values()].map((p) => p.value)).toEqual([1e10, Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, -0.0005]);
  });

  it.each([
    ['qty=integer', PROPERTY_TYPES_HEADER, /jms-property-types: expected NAME=TYPE entries .* got "qty=integer"/],
    ['qty', PROPERTY_TYPES_HEADER, /got "qty"/],
    ['=int', PROPERTY_TYPES_HEADER, /got "=int"/],
    ['qty=int,,', PROPERTY_TYPES_HEADER, /got ""/],
    ['missing=int', PROPERTY_TYPES_HEADER, /"missing" is not a custom property header of the frame/],
    ['priority=int', PROPERTY_TYPES_HEADER, /"priority" is not a custom property header/],
    ['text=int', 'text', /text: expected an integer -2147483648–2147483647 \(int in jms-property-types\), got "abc"/],
    ['b128=byte', 'b128', /b128: expected an integer -128–127/],
    ['s40k=short', 's40k', /s40k: expected an integer -32768–32767/],
    ['i2g=int', 'i2g', /i2g: expected an integer -2147483648–2147483647/],
    ['l2e63=long', 'l2e63', /l2e63: expected an integer -9223372036854775808–9223372036854775807/],
    ['upper=boolean', 'upper', /upper: expected true or false .*got "TRUE"/],
    ['huge=float', 'huge', /huge: expected a number within ±3.4028235e38/],
    ['huger=double', 'huger', /huger: expected a finite number/],
    ['hex=double', 'hex', /hex: expected a finite number.*got "0x10"/],
    ['half=int', 'half', /half: expected an integer/],
  ])('refuses jms-property-types:%s from a client naming %s', (types, header, message) => {
    const extra: HeaderPair[] = [
      ['priority', '4'],
      ['text', 'abc'],
      ['b128', '128'],
      ['s40k', '40000'],
      ['i2g', '2147483648'],
      ['l2e63', '9223372036854775808'],
      ['upper', 'TRUE'],
      ['huge', '1e39'],
      ['huger', '1e400'],
      ['hex', '0x10'],
      ['half', '1.5'],
      ['qty', '1'],
    ];
    expect(() => typed(extra, types)).toThrow(message);
    try {
      typed(extra, types);
    } catch (err) {
      expect(err).toBeInstanceOf(MappingError);
      expect((err as MappingError).header).toBe(header);
    }
    // From a broker the entry that does not fit is left out: its property stays a string.
    const lenient = typed(extra, types, { lenientTypes: true });
    const notStrings = [...lenient.properties].filter(([, p]) => p.type !== 'string').map(([name]) => name);
    expect(notStrings).toEqual(types === 'qty=int,,' ? ['qty'] : []);
  });

  const message = (properties: [string, JmsProperty][]): JmsMessage => ({ destination: { kind: 'topic', name: 't' }, properties: new Map(properties), body: Buffer.from('b') });

  it('writes typed properties as text in order, then jms-property-types listing those that are not strings', () => {
    const m = message([
      ['qty', { type: 'int', value: 5 }],
      ['label', stringProperty('x')],
      ['big', { type: 'long', value: -9223372036854775808n }],
      ['ok', { type: 'boolean', value: false }],
      ['f', { type: 'float', value: Number.NaN }],
      ['a,b', { type: 'int', value: 1 }],
      [PROPERTY_TYPES_HEADER, stringProperty('spoof')],
    ]);
    expect(headersFromMessage(m, write, 'ID:1').slice(3)).toEqual([
      ['qty', '5'],
      ['label', 'x'],
      ['big', '-9223372036854775808'],
      ['ok', 'false'],
      ['f', 'NaN'],
      ['a,b', '1'],
      [PROPERTY_TYPES_HEADER, 'qty=int,big=long,ok=boolean,f=float'],
    ]);
    expect(sendHeaders(m, write)).toEqual({ destination: '/topic/t', qty: '5', label: 'x', big: '-9223372036854775808', ok: 'false', f: 'NaN', 'a,b': '1', [PROPERTY_TYPES_HEADER]: 'qty=int,big=long,ok=boolean,f=float' });
    expect(headersFromMessage(message([['s', stringProperty('only strings')]]), write, 'ID:1').map(([k]) => k)).not.toContain(PROPERTY_TYPES_HEADER);
  });

  it('reads back exactly what it writes', () => {
    const properties: [string, JmsProperty][] = [
      ['b', { type: 'boolean', value: true }],
      ['y', { type: 'byte', value: 127 }],
      ['s', { type: 'short', value: -32768 }],
      ['i', { type: 'int', value: 2147483647 }],
      ['l', { type: 'long', value: 9007199254740993n }],
      ['f', { type: 'float', value: 1.5 }],
      ['d', { type: 'double', value: 1e-300 }],
      ['x', stringProperty('text, with=signs')],
    ];
    const again = messageFromHeaders(headersFromMessage(message(properties), write, 'ID:1'), Buffer.from('b'), read);
    expect([...again.properties]).toEqual(properties);
  });

  it('infers the type of a value a broker client library decoded', () => {
    expect(propertyOf('a')).toEqual({ type: 'string', value: 'a' });
    expect(propertyOf(false)).toEqual({ type: 'boolean', value: false });
    expect(propertyOf(5)).toEqual({ type: 'int', value: 5 });
    expect(propertyOf(-(2 ** 31))).toEqual({ type: 'int', value: -(2 ** 31) });
    expect(propertyOf(2 ** 31)).toEqual({ type: 'long', value: 2147483648n });
    expect(propertyOf(-(2 ** 63))).toEqual({ type: 'long', value: -(2n ** 63n) });
    expect(propertyOf(2 ** 63)).toEqual({ type: 'double', value: 2 ** 63 });
    expect(propertyOf(2.5)).toEqual({ type: 'double', value: 2.5 });
    expect(propertyOf(Number.NaN)).toEqual({ type: 'double', value: Number.NaN });
    expect(propertyOf(Buffer.from('bytes'))).toEqual({ type: 'string', value: 'bytes' });
    for (const v of [null, undefined, [1], { a: 1 }]) expect(propertyOf(v)).toBeUndefined();
  });
});

describe('typed properties on AMQP', () => {
  const all: [string, JmsProperty][] = [
    ['b', { type: 'boolean', value: true }],
    ['y', { type: 'byte', value: -5 }],
    ['s', { type: 'short', value: 300 }],
    ['i', { type: 'int', value: 70000 }],
    ['l', { type: 'long', value: -9223372036854775807n }],
    ['f', { type: 'float', value: 0.25 }],
    ['d', { type: 'double', value: 2.5 }],
    ['x', stringProperty('text')],
  ];

  it('writes each AMQP 0-9-1 header in amqplib typed form', () => {
    expect(all.map(([, p]) => headerValue(p))).toEqual([true, { '!': 'byte', value: -5 }, { '!': 'short', value: 300 }, { '!': 'int', value: 70000 }, { '!': 'long', value: -9223372036854775807n }, { '!': 'float', value: 0.25 }, { '!': 'double', value: 2.5 }, 'text']);
  });

  it('writes each AMQP 1.0 application property as its own AMQP type, and reads numbers back by value', () => {
    const encoded = applicationProperties(new Map(all));
    expect(Object.values(encoded).map((t) => t.type.name)).toEqual(['True', 'Byte', 'Short', 'Int', 'Long', 'Float', 'Double', 'Str8']);
    const decoded = amqpMessage.decode(amqpMessage.encode({ application_properties: encoded, body: 'x' }));
    const back = propertiesOf(decoded.application_properties);
    expect([...back]).toEqual<[string, JmsProperty][]>([
      ['b', { type: 'boolean', value: true }],
      ['y', { type: 'int', value: -5 }],
      ['s', { type: 'int', value: 300 }],
      ['i', { type: 'int', value: 70000 }],
      // rhea hands a long beyond ±2^53 over as its bytes: it cannot be told from binary.
      ['l', { type: 'string', value: Buffer.from('8000000000000001', 'hex').toString('utf8') }],
      ['f', { type: 'double', value: 0.25 }],
      ['d', { type: 'double', value: 2.5 }],
      ['x', stringProperty('text')],
    ]);
    expect([...propertiesOf({ at: new Date(1700000000000), none: null })]).toEqual([['at', { type: 'long', value: 1700000000000n }]]);
  });
});

describe('broker destination names', () => {
  it('names Gangway temporary destinations as ordinary ActiveMQ destinations and others as remote ones', () => {
    expect(stompDestination({ kind: 'temp-queue', name: 'gangway.temp.a.b.c' })).toBe('/queue/gangway.temp.a.b.c');
    expect(stompDestination({ kind: 'temp-queue', name: 'ID:x-1' })).toBe('/remote-temp-queue/ID:x-1');
    expect(readStompDestination('/queue/gangway.temp.a.b.c')).toEqual({ kind: 'temp-queue', name: 'gangway.temp.a.b.c' });
    expect(readStompDestination('/remote-temp-queue/ID:x-1')).toEqual({ kind: 'temp-queue', name: 'ID:x-1' });
    expect(readStompDestination('/topic/prices')).toEqual({ kind: 'topic', name: 'prices' });
  });

  it('addresses AMQP 1.0 nodes as /queue/ and /topic/', () => {
    expect(amqp10Address({ kind: 'temp-topic', name: 't' })).toBe('/topic/t');
    expect(amqp10Address({ kind: 'temp-queue', name: 'q' })).toBe('/queue/q');
  });

  it('chooses the binding by connect URI scheme', () => {
    expect(bindingForScheme('stomp:')).toBe('stomp');
    expect(bindingForScheme('amqp:')).toBe('amqp091');
    expect(bindingForScheme('amqp10')).toBe('amqp10');
    expect(bindingForScheme('http:')).toBeUndefined();
    expect([...BINDINGS.keys()]).toEqual(['stomp', 'amqp091', 'amqp10']);
  });
});
