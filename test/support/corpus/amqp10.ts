/**
 * Realistic AMQP 1.0 streams, one per direction, each valid on its own: a rhea-style client against
 * an ActiveMQ-style broker (SASL PLAIN, open, begin, a sender and a receiver link, flow, transfers,
 * disposition, detach, end, close).
 */
import { amqp10 as e, CODES } from '../amqp-encode';

const n = e.null();

/** A message: header, properties, application-properties, amqp-value body. */
export function message(body: string, id: string): Buffer {
  return Buffer.concat([
    e.composite(CODES.header, [e.bool(true)]),
    e.composite(CODES.properties, [e.string(id), n, n, e.string('queue://orders'), n, n, e.symbol('text/plain')]),
    e.described(e.ulong(CODES.applicationProperties), e.map([e.string('region'), e.string('eu'), e.string('attempt'), e.int(1)])),
    e.described(e.ulong(CODES.amqpValue), e.string(body)),
  ]);
}

const source = (address: string): Buffer => e.composite(CODES.source, [e.string(address), e.uint(0), e.symbol('session-end'), e.uint(0), e.bool(false)]);
const target = (address: string): Buffer => e.composite(CODES.target, [e.string(address), e.uint(0), e.symbol('session-end'), e.uint(0), e.bool(false)]);

/** Client → server, one Buffer per unit. */
export const toServerFrames: Buffer[] = [
  e.protocolHeader(3),
  e.sasl(CODES.saslInit, [e.symbol('PLAIN'), e.binary(Buffer.from('\u0000admin\u0000admin')), e.string('broker.example')]),
  e.protocolHeader(0),
  e.performative(0, CODES.open, [
    e.string('rhea-0c5e1d3e-7f0a-4d8e-9b7a-2b1d6c7e8f90'),
    e.string('broker.example'),
    e.uint(4294967295),
    e.ushort(65535),
    e.uint(60000),
    n,
    n,
    n,
    e.symbols(['ANONYMOUS-RELAY']),
    e.map([e.symbol('product'), e.string('rhea'), e.symbol('version'), e.string('3.0.5'), e.symbol('platform'), e.string('node v20.11.1')]),
  ]),
  e.performative(0, CODES.begin, [n, e.uint(0), e.uint(2048), e.uint(4294967295)]),
  e.performative(0, CODES.attach, [e.string('orders-sender'), e.uint(0), e.bool(false), e.ubyte(2), e.ubyte(0), source('orders-sender'), target('orders'), n, n, e.uint(0)]),
  e.performative(0, CODES.attach, [e.string('orders-receiver'), e.uint(1), e.bool(true), e.ubyte(2), e.ubyte(0), source('orders'), target('orders-receiver')]),
  e.performative(0, CODES.flow, [e.uint(0), e.uint(2048), e.uint(1), e.uint(4294967295), e.uint(1), e.uint(0), e.uint(500), n, e.bool(false)]),
  e.performative(0, CODES.transfer, [e.uint(0), e.uint(0), e.binary(Buffer.from([0])), e.uint(0), e.bool(false), e.bool(false)], message('order #1', 'msg-1')),
  e.empty(),
  e.performative(0, CODES.disposition, [e.bool(true), e.uint(0), e.uint(0), e.bool(true), e.composite(CODES.accepted, [])]),
  e.performative(0, CODES.transfer, [e.uint(0), e.uint(1), e.binary(Buffer.from([1])), e.uint(0), e.bool(false), e.bool(true)], message('order #2 (part one) ', 'msg-2').subarray(0, 40)),
  e.performative(0, CODES.transfer, [e.uint(0), n, n, n, n, e.bool(false)], message('order #2 (part one) ', 'msg-2').subarray(40)),
  e.performative(0, CODES.detach, [e.uint(0), e.bool(true)]),
  e.performative(0, CODES.detach, [e.uint(1), e.bool(true)]),
  e.performative(0, CODES.end, []),
  e.performative(0, CODES.close, []),
];

/** Server → client, one Buffer per unit. */
export const toClientFrames: Buffer[] = [
  e.protocolHeader(3),
  e.sasl(CODES.saslMechanisms, [e.symbols(['PLAIN', 'ANONYMOUS'])]),
  e.sasl(CODES.saslOutcome, [e.ubyte(0)]),
  e.protocolHeader(0),
  e.performative(0, CODES.open, [
    e.string('localhost'),
    n,
    e.uint(131072),
    e.ushort(32767),
    e.uint(30000),
    n,
    n,
    e.symbols(['sole-connection-for-container', 'DELAYED_DELIVERY', 'SHARED-SUBS', 'ANONYMOUS-RELAY']),
    n,
    e.map([e.symbol('product'), e.string('apache-activemq-artemis'), e.symbol('version'), e.string('2.31.2')]),
  ]),
  e.performative(0, CODES.begin, [e.ushort(0), e.uint(1), e.uint(2147483647), e.uint(2147483647), e.uint(65535)]),
  e.performative(0, CODES.attach, [e.string('orders-sender'), e.uint(0), e.bool(true), e.ubyte(2), e.ubyte(0), source('orders-sender'), target('orders'), n, n, n, e.ulong(1048576n)]),
  e.performative(0, CODES.flow, [e.uint(0), e.uint(2147483647), e.uint(1), e.uint(2147483647), e.uint(0), e.uint(0), e.uint(1000)]),
  e.performative(0, CODES.attach, [e.string('orders-receiver'), e.uint(1), e.bool(false), e.ubyte(2), e.ubyte(0), source('orders'), target('orders-receiver'), n, n, e.uint(0)]),
  e.performative(0, CODES.disposition, [e.bool(true), e.uint(0), n, e.bool(true), e.composite(CODES.accepted, [])]),
  e.performative(0, CODES.transfer, [e.uint(1), e.uint(0), e.binary(Buffer.from('tag-0')), e.uint(0), e.bool(false)], message('order #1', 'msg-1')),
  e.empty(),
  e.performative(0, CODES.detach, [e.uint(0), e.bool(true)]),
  e.performative(0, CODES.detach, [e.uint(1), e.bool(true), e.composite(CODES.error, [e.symbol('amqp:resource-deleted'), e.string('queue orders was deleted')])]),
  e.performative(0, CODES.end, []),
  e.performative(0, CODES.close, []),
];

const error = (condition: string, description: string): Buffer => e.composite(CODES.error, [e.symbol(condition), e.string(description)]);

/** Client → server: SASL ANONYMOUS, two sessions, a receiver with batched dispositions, close with an error. */
export const toServerFrames2: Buffer[] = [
  e.protocolHeader(3),
  e.sasl(CODES.saslInit, [e.symbol('ANONYMOUS'), e.binary(Buffer.from('anonymous@rhea'))]),
  e.protocolHeader(0),
  e.performative(0, CODES.open, [e.string('rhea-5e8f'), e.string('localhost'), e.uint(65536), e.ushort(7), e.uint(30000)]),
  e.performative(0, CODES.begin, [n, e.uint(0), e.uint(100), e.uint(100)]),
  e.performative(1, CODES.begin, [n, e.uint(0), e.uint(100), e.uint(100), e.uint(31)]),
  e.performative(1, CODES.attach, [e.string('events-receiver'), e.uint(0), e.bool(true), e.ubyte(0), e.ubyte(0), e.composite(CODES.source, [e.string('topic://events'), e.uint(0), e.symbol('link-detach'), e.uint(0), e.bool(false), n, e.symbol('move'), e.map([e.symbol('jms-selector'), e.described(e.ulong(0x0000468c00000004n), e.string("region = 'eu'"))])]), e.composite(CODES.target, [])]),
  e.performative(1, CODES.flow, [e.uint(0), e.uint(100), e.uint(0), e.uint(100), e.uint(0), e.uint(0), e.uint(10), n, e.bool(false), e.bool(true)]),
  e.empty(),
  e.performative(1, CODES.disposition, [e.bool(true), e.uint(0), e.uint(3), e.bool(true), e.composite(CODES.accepted, []), e.bool(true)]),
  e.performative(1, CODES.disposition, [e.bool(true), e.uint(4), n, e.bool(true), e.composite(CODES.rejected, [error('amqp:invalid-field', 'bad payload')])]),
  e.performative(1, CODES.disposition, [e.bool(true), e.uint(5), n, e.bool(true), e.composite(CODES.modified, [e.bool(true), e.bool(false), e.map([])])]),
  e.performative(1, CODES.detach, [e.uint(0), e.bool(true)]),
  e.performative(1, CODES.end, []),
  e.performative(0, CODES.end, []),
  e.performative(0, CODES.close, [error('amqp:connection:forced', 'client shutting down')]),
];

/** Server → client: plain AMQP (no SASL), a delivery split over three transfers, close with an error. */
export const toClientFrames2: Buffer[] = [
  e.protocolHeader(0),
  e.performative(0, CODES.open, [e.string('broker-1'), n, e.uint(512), e.ushort(0)]),
  e.performative(0, CODES.begin, [e.ushort(1), e.uint(0), e.uint(5000), e.uint(5000)]),
  e.performative(0, CODES.attach, [e.string('events-receiver'), e.uint(0), e.bool(false), e.ubyte(0), e.ubyte(0), e.composite(CODES.source, [e.string('topic://events')]), e.composite(CODES.target, []), n, n, e.uint(0)]),
  e.performative(0, CODES.transfer, [e.uint(0), e.uint(0), e.binary(Buffer.from([0, 0, 0, 1])), e.uint(0), e.bool(false), e.bool(true)], message('large event body '.repeat(12), 'ev-1').subarray(0, 150)),
  e.performative(0, CODES.transfer, [e.uint(0), n, n, n, n, e.bool(true)], message('large event body '.repeat(12), 'ev-1').subarray(150, 300)),
  e.performative(0, CODES.transfer, [e.uint(0), n, n, n, n, e.bool(false)], message('large event body '.repeat(12), 'ev-1').subarray(300)),
  e.performative(0, CODES.transfer, [e.uint(0), e.uint(1), e.binary(Buffer.from([0, 0, 0, 2])), e.uint(0), e.bool(true), e.bool(false), n, e.composite(CODES.received, [e.uint(0), e.ulong(0)])], message('small', 'ev-2')),
  e.performative(0, CODES.disposition, [e.bool(false), e.uint(0), e.uint(1), e.bool(true), e.composite(CODES.released, [])]),
  e.performative(0, CODES.detach, [e.uint(0), e.bool(true)]),
  e.performative(0, CODES.end, [error('amqp:session:unattached-handle', 'handle 9 is not attached')]),
  e.performative(0, CODES.close, [error('amqp:connection:forced', 'broker shutdown')]),
];

export const corpus: { toServer: Buffer[]; toClient: Buffer[] } = {
  toServer: [Buffer.concat(toServerFrames), Buffer.concat(toServerFrames2)],
  toClient: [Buffer.concat(toClientFrames), Buffer.concat(toClientFrames2)],
};
