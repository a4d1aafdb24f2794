/**
 * AMQP 0-9-1 validator: the streaming codecs, their shared negotiated state and the protocol's
 * error reply. Spec: https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf and amqp0-9-1.xml,
 * with RabbitMQ's errata and extensions.
 */
import type { CodecPair, ProtocolModule, WireError } from '../types';
import { Amqp091Codec, Amqp091Connection, FRAME_END, FRAME_METHOD, PROTOCOL_HEADER, type Amqp091Frame } from './codec';
import { REPLY_CODES } from './errors';
import { DEFAULT_LIMITS, type Amqp091Limits } from './limits';

export {
  Amqp091Codec,
  Amqp091Connection,
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_MIN_SIZE,
  PROTOCOL_HEADER,
} from './codec';
export type {
  Amqp091BodyFrame,
  Amqp091Frame,
  Amqp091HeaderFrame,
  Amqp091HeartbeatFrame,
  Amqp091MethodFrame,
  Amqp091ProtocolHeaderFrame,
  Tune,
} from './codec';
export { ERRORS, REPLY_CODES, type Amqp091ErrorSpec } from './errors';
export { FieldReader, type Decimal, type FieldTable, type FieldValue } from './fields';
export { DEFAULT_LIMITS, type Amqp091Limits } from './limits';
export { BASIC_PROPERTIES, CLASS_IDS, METHOD_BY_ID, METHOD_BY_NAME, METHODS, type ArgType, type MethodSpec, type Sender } from './methods';

/**
 * A Connection.Close (class 10, method 50) on channel 0 carrying `replyCode` and `replyText`
 * (truncated to the 255 bytes a shortstr holds); class and method id are 0.
 */
export function connectionClose(replyCode: number, replyText: string): Buffer {
  let text = Buffer.from(replyText, 'utf8');
  if (text.length > 255) {
    let cut = 255;
    // Do not cut a UTF-8 sequence in half: back off over continuation bytes.
    while (cut > 0 && ((text[cut] as number) & 0xc0) === 0x80) cut--;
    text = text.subarray(0, cut);
  }
  const size = 4 + 2 + 1 + text.length + 4;
  const frame = Buffer.alloc(7 + size + 1);
  frame[0] = FRAME_METHOD;
  frame.writeUInt16BE(0, 1);
  frame.writeUInt32BE(size, 3);
  frame.writeUInt16BE(10, 7);
  frame.writeUInt16BE(50, 9);
  frame.writeUInt16BE(replyCode, 11);
  frame[13] = text.length;
  text.copy(frame, 14);
  frame[frame.length - 1] = FRAME_END;
  return frame;
}

/** Creates both codecs of one connection, sharing tuned frame-max and channel-max. */
function createPair(limits?: Partial<Amqp091Limits>): CodecPair<Amqp091Frame> {
  const conn = new Amqp091Connection(Object.freeze({ ...DEFAULT_LIMITS, ...limits }));
  return { toServer: new Amqp091Codec('toServer', conn), toClient: new Amqp091Codec('toClient', conn) };
}

/**
 * The reply to a violation: the AMQP 0-9-1 protocol header for a bad or unsupported protocol
 * header (§4.2.2), otherwise a Connection.Close with the reply code named by the error's condition
 * and the text `CONDITION - message`.
 */
function reply(err: WireError): Buffer | null {
  if (err.protocol !== 'amqp091') return null;
  if (err.condition === 'protocol-header') return Buffer.from(PROTOCOL_HEADER);
  const code = REPLY_CODES[err.condition] ?? REPLY_CODES['internal-error'] ?? 541;
  return connectionClose(code, `${err.condition.toUpperCase().replace(/-/g, '_')} - ${err.message}`);
}

/** The AMQP 0-9-1 protocol module for the validator registry. */
export const protocol: ProtocolModule<Amqp091Frame, Amqp091Limits> = {
  name: 'amqp091',
  defaultLimits: DEFAULT_LIMITS,
  createPair,
  reply,
};
