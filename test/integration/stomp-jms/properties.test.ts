/**
 * Typed custom properties through `stomp.jms`: @stomp/stompjs sends typed properties
 * (`jms-property-types`), the broker holds them as its own AMQP types (read straight from the
 * broker with amqplib / rhea, and off the wire through a TCP relay), and typed AMQP properties
 * published by amqplib / rhea reach stompjs with their type listed. Over ActiveMQ (STOMP: strings
 * only) the list travels along and types them again on delivery.
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { connect as amqpConnect } from 'amqplib';
import { create_container, types, type Connection, type EventContext, type Message } from 'rhea';
import { requireBackend, type Backends } from '../../support/backends';
import { brokerTargets, JmsClient, startJmsGateway, unique, within, type JmsGateway, type Received } from './support';

jest.setTimeout(60000);

/** What a client sends: one property of each JMS type, and the list that types them. */
const SENT: Record<string, string> = {
  'p.bool': 'true',
  'p.byte': '-7',
  'p.short': '300',
  'p.int': '70000',
  // Beyond 2^53: only a 64-bit integer holds it exactly.
  'p.long': '9007199254740993',
  'p.float': '1.5',
  'p.double': '2.25',
  'p.text': 'hello',
  'jms-property-types': 'p.bool=boolean,p.byte=byte,p.short=short,p.int=int,p.long=long,p.float=float,p.double=double',
};

/** The `jms-property-types` of a received message as a map. */
function typesOf(m: Received | undefined): Record<string, string> {
  const list = m?.headers['jms-property-types'] ?? '';
  return Object.fromEntries(list.split(',').map((e) => e.split('=') as [string, string]));
}

/** A TCP relay to the broker that keeps every byte the broker sends. */
interface WireTap {
  readonly port: number;
  fromBroker(): Buffer;
  close(): Promise<void>;
}

async function wireTap(host: string, port: number): Promise<WireTap> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(port, host);
    sockets.add(client).add(upstream);
    upstream.on('data', (d: Buffer) => {
      chunks.push(d);
      client.write(d);
    });
    client.pipe(upstream);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return {
    port: address.port,
    fromBroker: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The AMQP 0-9-1 field-table type tag of header `key` (AMQP 0-9-1 section 4.2.5.5: a shortstr
 * name, then the tag), and the bytes after it.
 */
function fieldTag(wire: Buffer, key: string): [tag: string, value: Buffer] {
  const name = Buffer.concat([Buffer.from([Buffer.byteLength(key)]), Buffer.from(key)]);
  const at = wire.indexOf(name);
  if (at < 0) throw new Error(`${key} is not on the wire`);
  const tagAt = at + name.length;
  return [String.fromCharCode(wire[tagAt] as number), wire.subarray(tagAt + 1)];
}

/** AMQP 1.0 type constructors (AMQP 1.0 part 1, section 1.6) of the types a JMS property has. */
const AMQP10_TYPES: Readonly<Record<number, string>> = {
  0x41: 'boolean',
  0x42: 'boolean',
  0x56: 'boolean',
  0x51: 'byte',
  0x61: 'short',
  0x54: 'int',
  0x71: 'int',
  0x55: 'long',
  0x81: 'long',
  0x72: 'float',
  0x82: 'double',
  0xa1: 'string',
  0xb1: 'string',
};

/** The AMQP 1.0 type of application property `key` (a str8 key, then the value's constructor), and the bytes after it. */
function amqp10Type(wire: Buffer, key: string): [type: string, value: Buffer] {
  const name = Buffer.concat([Buffer.from([0xa1, Buffer.byteLength(key)]), Buffer.from(key)]);
  const at = wire.indexOf(name);
  if (at < 0) throw new Error(`${key} is not on the wire`);
  const code = wire[at + name.length] as number;
  return [AMQP10_TYPES[code] ?? `0x${code.toString(16)}`, wire.subarray(at + name.length + 1)];
}

describe('typed properties through stomp.jms', () => {
  let facts: Backends;
  const clients: JmsClient[] = [];
  const gateways: JmsGateway[] = [];
  const taps: WireTap[] = [];

  beforeAll(async () => {
    facts = await requireBackend('rabbitmq');
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    await Promise.all(taps.splice(0).map((t) => t.close()));
  });

  async function gatewayTo(target: 'activemq' | 'rabbitmq' | 'rabbitmq10'): Promise<JmsGateway> {
    const g = await startJmsGateway(brokerTargets(target === 'activemq' ? await requireBackend('activemq') : facts)[target]);
    gateways.push(g);
    return g;
  }

  async function open(g: JmsGateway): Promise<JmsClient> {
    const c = await JmsClient.open(g.url);
    clients.push(c);
    return c;
  }

  async function tap(): Promise<WireTap> {
    const t = await wireTap(facts.host, facts.rabbitmq.amqpPort);
    taps.push(t);
    return t;
  }

  const rabbit = (): { username: string; password: string } => facts.rabbitmq.gangway;

  describe('AMQP 0-9-1 (amqplib)', () => {
    it('stores what a STOMP client sends as headers of their own field-table types', async () => {
      const g = await gatewayTo('rabbitmq');
      const queue = unique('gw.typed');
      await (await open(g)).send(`/queue/${queue}`, 'typed', SENT);
      const t = await tap();
      const conn = await amqpConnect({ hostname: '127.0.0.1', port: t.port, username: rabbit().username, password: rabbit().password });
      try {
        const ch = await conn.createChannel();
        const m = await ch.get(queue, { noAck: true });
        if (m === false) throw new Error(`nothing on ${queue}`);
        expect(m.content.toString()).toBe('typed');
        const headers: Record<string, unknown> = m.properties.headers ?? {};
        expect(headers).toMatchObject({ 'p.bool': true, 'p.byte': -7, 'p.short': 300, 'p.int': 70000, 'p.float': 1.5, 'p.double': 2.25, 'p.text': 'hello' });
        expect(headers).not.toHaveProperty('jms-property-types');
      } finally {
        await conn.close();
      }
      const wire = t.fromBroker();
      const tags = Object.fromEntries(['p.bool', 'p.byte', 'p.short', 'p.int', 'p.long', 'p.float', 'p.double', 'p.text'].map((k) => [k, fieldTag(wire, k)[0]]));
      expect(tags).toEqual({ 'p.bool': 't', 'p.byte': 'b', 'p.short': 's', 'p.int': 'I', 'p.long': 'l', 'p.float': 'f', 'p.double': 'd', 'p.text': 'S' });
      // Exact on the wire, where amqplib's JavaScript number would round it.
      expect(fieldTag(wire, 'p.long')[1].readBigInt64BE(0)).toBe(9007199254740993n);
    });

    it('gives a STOMP client the headers amqplib publishes typed, with their types listed', async () => {
      const g = await gatewayTo('rabbitmq');
      const queue = unique('gw.typedin');
      const inbox = await (await open(g)).subscribe(`/queue/${queue}`);
      const conn = await amqpConnect({ hostname: facts.host, port: facts.rabbitmq.amqpPort, username: rabbit().username, password: rabbit().password });
      try {
        const ch = await conn.createConfirmChannel();
        const headers = {
          'p.bool': false,
          'p.short': { '!': 'short', value: 7 },
          'p.int': { '!': 'int', value: -70000 },
          'p.long': { '!': 'long', value: 2 ** 40 },
          'p.float': { '!': 'float', value: 0.5 },
          'p.double': { '!': 'double', value: 2.5 },
          'p.text': 'words',
        };
        ch.sendToQueue(queue, Buffer.from('from amqplib'), { headers });
        await ch.waitForConfirms();
      } finally {
        await conn.close();
      }
      const [m] = await inbox.count(1);
      expect(m?.body).toBe('from amqplib');
      expect(m?.headers).toMatchObject({ 'p.bool': 'false', 'p.short': '7', 'p.int': '-70000', 'p.long': '1099511627776', 'p.float': '0.5', 'p.double': '2.5', 'p.text': 'words' });
      // amqplib decodes every numeric type to a number: integers come as int or long, the rest as double.
      expect(typesOf(m)).toEqual({ 'p.bool': 'boolean', 'p.short': 'int', 'p.int': 'int', 'p.long': 'long', 'p.float': 'double', 'p.double': 'double' });
    });
  });

  describe('AMQP 1.0 (rhea)', () => {
    /** A rhea connection to RabbitMQ, through `port`. */
    async function amqp10(port: number): Promise<Connection> {
      const conn = create_container({ id: unique('gw-typed') }).connect({ host: '127.0.0.1', port, username: rabbit().username, password: rabbit().password, reconnect: false });
      await within(
        new Promise<void>((resolve, reject) => {
          conn.once('connection_open', () => resolve());
          conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
        }),
        5000,
        'AMQP 1.0 open',
      );
      return conn;
    }

    async function close(conn: Connection): Promise<void> {
      if (!conn.is_open()) return;
      const closed = new Promise<void>((resolve) => conn.once('connection_close', () => resolve()));
      conn.close();
      await within(closed, 5000, 'AMQP 1.0 close');
    }

    it('stores what a STOMP client sends as application properties of their own AMQP types', async () => {
      const g = await gatewayTo('rabbitmq10');
      const queue = unique('gw.typed10');
      await (await open(g)).send(`/queue/${queue}`, 'typed', SENT);
      const t = await tap();
      const conn = await amqp10(t.port);
      let message: Message | undefined;
      try {
        // `/amq/queue/NAME`: the queue the binding declared, as it is.
        const receiver = conn.open_receiver({ source: { address: `/amq/queue/${queue}` }, credit_window: 1 });
        message = (await within(new Promise<EventContext>((resolve) => receiver.once('message', resolve)), 5000, `message on ${queue}`)).message;
      } finally {
        await close(conn);
      }
      expect(message?.application_properties).toMatchObject({ 'p.bool': true, 'p.byte': -7, 'p.short': 300, 'p.int': 70000, 'p.float': 1.5, 'p.double': 2.25, 'p.text': 'hello' });
      expect(message?.application_properties).not.toHaveProperty('jms-property-types');
      const wire = t.fromBroker();
      const kinds = Object.fromEntries(['p.bool', 'p.byte', 'p.short', 'p.int', 'p.long', 'p.float', 'p.double', 'p.text'].map((k) => [k, amqp10Type(wire, k)[0]]));
      expect(kinds).toEqual({ 'p.bool': 'boolean', 'p.byte': 'byte', 'p.short': 'short', 'p.int': 'int', 'p.long': 'long', 'p.float': 'float', 'p.double': 'double', 'p.text': 'string' });
      expect(amqp10Type(wire, 'p.long')[1].readBigInt64BE(0)).toBe(9007199254740993n);
    });

    it('gives a STOMP client the application properties rhea sends typed, with their types listed', async () => {
      const g = await gatewayTo('rabbitmq10');
      const queue = unique('gw.typedin10');
      const inbox = await (await open(g)).subscribe(`/queue/${queue}`);
      const conn = await amqp10(facts.rabbitmq.amqpPort);
      try {
        const sender = conn.open_sender({ target: { address: `/amq/queue/${queue}` } });
        await within(new Promise<void>((resolve) => sender.once('sendable', () => resolve())), 5000, 'sender credit');
        const accepted = new Promise<void>((resolve, reject) => {
          sender.once('accepted', () => resolve());
          sender.once('rejected', () => reject(new Error('rejected')));
        });
        sender.send({
          body: 'from rhea',
          application_properties: {
            'p.bool': types.wrap_boolean(true),
            'p.byte': types.wrap_byte(3),
            'p.int': types.wrap_int(-70000),
            'p.long': types.wrap_long(2 ** 40),
            'p.float': types.wrap_float(0.5),
            'p.double': types.wrap_double(2.5),
            'p.text': 'words',
          },
        });
        await within(accepted, 5000, 'settlement');
      } finally {
        await close(conn);
      }
      const [m] = await inbox.count(1);
      expect(m?.body).toBe('from rhea');
      expect(m?.headers).toMatchObject({ 'p.bool': 'true', 'p.byte': '3', 'p.int': '-70000', 'p.long': '1099511627776', 'p.float': '0.5', 'p.double': '2.5', 'p.text': 'words' });
      // rhea decodes every numeric type to a number: integers come as int or long, the rest as double.
      expect(typesOf(m)).toEqual({ 'p.bool': 'boolean', 'p.byte': 'int', 'p.int': 'int', 'p.long': 'long', 'p.float': 'double', 'p.double': 'double' });
    });
  });

  describe('ActiveMQ (STOMP)', () => {
    it('keeps the types of a STOMP client’s properties from sender to subscriber', async () => {
      const g = await gatewayTo('activemq');
      const queue = `/queue/${unique('gw.typedamq')}`;
      const inbox = await (await open(g)).subscribe(queue);
      await (await open(g)).send(queue, 'typed', SENT);
      const [m] = await inbox.count(1);
      const { 'jms-property-types': _list, ...values } = SENT;
      expect(m?.headers).toMatchObject(values);
      expect(typesOf(m)).toEqual({ 'p.bool': 'boolean', 'p.byte': 'byte', 'p.short': 'short', 'p.int': 'int', 'p.long': 'long', 'p.float': 'float', 'p.double': 'double' });
    });
  });

  it('refuses a property whose value does not fit its listed type with ERROR naming it', async () => {
    const g = await gatewayTo('rabbitmq');
    const c = await open(g);
    await expect(c.send(`/queue/${unique('gw.typedbad')}`, 'x', { qty: 'many', 'jms-property-types': 'qty=int' })).rejects.toThrow(/qty: expected an integer -2147483648–2147483647 \(int in jms-property-types\), got "many"/);
    expect(await c.closed()).toBe(1008);
  });
});
