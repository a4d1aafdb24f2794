/**
 * AMQP 1.0 validator: the streaming codecs, their shared open state and the protocol's error
 * reply. Spec: OASIS AMQP 1.0, part 1 (types), part 2 (transport), part 5 (security),
 * http://docs.oasis-open.org/amqp/core/v1.0/os/amqp-core-overview-v1.0-os.html
 */
import type { CodecPair, ProtocolModule, WireError } from '../types';
import { Amqp10Codec, Amqp10Connection, replyContexts, type Amqp10Frame } from './codec';
import { DEFAULT_LIMITS, type Amqp10Limits } from './limits';

export {
  Amqp10Codec,
  Amqp10Connection,
  FRAME_AMQP,
  FRAME_SASL,
  MIN_MAX_FRAME_SIZE,
  PROTOCOL_AMQP,
  PROTOCOL_SASL,
  PROTOCOL_TLS,
  replyContexts,
} from './codec';
export type { Amqp10EmptyFrame, Amqp10Frame, Amqp10PerformativeFrame, Amqp10ProtocolHeaderFrame, OpenLimits, Progress, ReplyContext } from './codec';
export { CODE, Decoder, type AmqpValue, type Described } from './decoder';
export { ERRORS, type Amqp10ErrorSpec } from './errors';
export { DEFAULT_LIMITS, type Amqp10Limits } from './limits';
export { ERROR_CODE, PERFORMATIVES, PERFORMATIVE_BY_CODE, PERFORMATIVE_BY_SYMBOL, type FieldSpec, type FieldType, type PerformativeSpec } from './performatives';

/** The AMQP 1.0 protocol header (id 0, version 1.0.0). */
export const AMQP_HEADER: Buffer = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00]);
/** Container id the gateway announces when it must open before closing. */
export const GATEWAY_CONTAINER_ID = 'gangway';

function variable(small: number, large: number, body: Buffer): Buffer {
  if (body.length <= 255) return Buffer.concat([Buffer.from([small, body.length]), body]);
  const head = Buffer.alloc(5);
  head[0] = large;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** A described list with a small ulong descriptor: `0x00 0x53 code list8|list32`. */
function composite(code: number, items: readonly Buffer[]): Buffer {
  const body = Buffer.concat(items);
  let list: Buffer;
  if (body.length + 1 <= 255) {
    list = Buffer.concat([Buffer.from([0xc0, body.length + 1, items.length]), body]);
  } else {
    const head = Buffer.alloc(9);
    head[0] = 0xd0;
    head.writeUInt32BE(body.length + 4, 1);
    head.writeUInt32BE(items.length, 5);
    list = Buffer.concat([head, body]);
  }
  return Buffer.concat([Buffer.from([0x00, 0x53, code]), list]);
}

/** An AMQP frame (type 0) on channel 0 around `body`. */
function frame(body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head[4] = 2;
  return Buffer.concat([head, body]);
}

/** An open frame with only the mandatory container-id. */
export function openFrame(containerId: string = GATEWAY_CONTAINER_ID): Buffer {
  return frame(composite(0x10, [variable(0xa1, 0xb1, Buffer.from(containerId, 'utf8'))]));
}

/** A close frame carrying an error (part 2 §2.7.9): condition symbol and description (cut to 1024 bytes). */
export function closeFrame(condition: string, description: string): Buffer {
  let text = Buffer.from(description, 'utf8');
  if (text.length > 1024) {
    let cut = 1024;
    while (cut > 0 && ((text[cut] as number) & 0xc0) === 0x80) cut--;
    text = text.subarray(0, cut);
  }
  const error = composite(0x1d, [variable(0xa3, 0xb3, Buffer.from(condition, 'latin1')), variable(0xa1, 0xb1, text)]);
  return frame(composite(0x18, [error]));
}

function createPair(limits?: Partial<Amqp10Limits>): CodecPair<Amqp10Frame> {
  const conn = new Amqp10Connection(Object.freeze({ ...DEFAULT_LIMITS, ...limits }));
  return { toServer: new Amqp10Codec('toServer', conn), toClient: new Amqp10Codec('toClient', conn) };
}

/**
 * The reply to a violation, sent to the peer that caused it:
 * - a bad, unsupported or TLS protocol header: the AMQP 1.0 header (part 2 §2.2);
 * - a violation during SASL: `null` (SASL has no frame to report a malformed exchange; the
 *   connection is closed with the WebSocket close code alone);
 * - otherwise a close frame with the error, preceded where not yet sent toward that peer by the
 *   AMQP header and an open with container-id `gangway` (part 2 §2.4.1: close follows open).
 */
function reply(err: WireError): Buffer | null {
  if (err.protocol !== 'amqp10') return null;
  if (err.condition === 'protocol-header') return Buffer.from(AMQP_HEADER);
  const ctx = replyContexts.get(err);
  if (ctx !== undefined && (ctx.offender.inSasl || !ctx.offender.amqpHeader)) return null;
  const close = closeFrame(err.condition, err.message);
  if (ctx === undefined || ctx.towardOffender.open) return close;
  const parts: Buffer[] = [];
  if (!ctx.towardOffender.amqpHeader) parts.push(AMQP_HEADER);
  parts.push(openFrame(), close);
  return Buffer.concat(parts);
}

/** The AMQP 1.0 protocol module for the validator registry. */
export const protocol: ProtocolModule<Amqp10Frame, Amqp10Limits> = {
  name: 'amqp10',
  defaultLimits: DEFAULT_LIMITS,
  createPair,
  reply,
};
