import { FRAME_HEADERS, MappingError, headersFromMessage, messageFromHeaders, parseDestination, sendHeaders, type HeaderPair, type JmsDestination } from '../../adapters/jms';
import { readStompDestination, stompDestination } from '../../adapters/stomp';
import { amqp10Address } from '../../adapters/amqp10';
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
      ['x-b', '2'],
      ['x-a', '1'],
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
    const m = { destination: { kind: 'queue', name: 'q' }, properties: new Map([['type', 'spoof'], ['x', '1']]), body: Buffer.alloc(0), type: 'Real' } as const;
    expect(sendHeaders(m, write)).toEqual({ destination: '/queue/q', type: 'Real', x: '1' });
  });

  it('parses only the four destination forms', () => {
    expect(parseDestination('/temp-topic/t')).toEqual({ kind: 'temp-topic', name: 't' });
    expect(parseDestination('/exchange/x/y')).toBeNull();
    expect(parseDestination('/queue/')).toBeNull();
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
