import { z } from 'zod';
import { protocol as amqp091, DEFAULT_LIMITS as AMQP091_LIMITS } from '../../../validators/amqp091';
import { protocol as amqp10, DEFAULT_LIMITS as AMQP10_LIMITS } from '../../../validators/amqp10';
import type { CodecPair, ProtocolModule, WireFrame } from '../../../validators/types';
import { rawOf } from './stomp';
import { limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the AMQP 0-9-1 validator's limits (validators/amqp091/README.md). */
  amqp091Limits: limitsSchema(AMQP091_LIMITS).default({}),
  /** Overrides of the AMQP 1.0 validator's limits (validators/amqp10/README.md). */
  amqp10Limits: limitsSchema(AMQP10_LIMITS).default({}),
});

type AmqpProxyProperties = z.infer<typeof properties>;

const HEADER_BYTES = 8;

/** AMQP 1.0 protocol ids: 0 AMQP, 2 TLS, 3 SASL, each version 1.0.0. */
function isAmqp10(header: Buffer): boolean {
  return header[5] === 1 && header[6] === 0 && header[7] === 0 && header[4] !== 1;
}

/**
 * `amqp.proxy`: AMQP 0-9-1 and AMQP 1.0 over binary WebSocket messages (stream semantics, any
 * split), told apart by the client's protocol header. Complete, valid frames only are forwarded
 * in both directions.
 */
export const amqpProxy: WireProtocol<AmqpProxyProperties> = {
  type: 'amqp.proxy',
  subprotocols: ['amqp', 'amqp091'],
  properties,
  transform(_session, props, metrics) {
    let pair: CodecPair | null = null;
    let module: ProtocolModule | null = null;
    let head: Buffer | null = null;
    const choose = (header: Buffer): CodecPair => {
      module = (isAmqp10(header) ? amqp10 : amqp091) as ProtocolModule;
      const limits = module === (amqp10 as ProtocolModule) ? props.amqp10Limits : props.amqp091Limits;
      return module.createPair(limits);
    };
    const count = (direction: 'toServer' | 'toClient', frames: readonly WireFrame[]): void => {
      for (const f of frames) metrics.frame(direction, f.kind);
    };
    return {
      fromClient(data) {
        let input = data;
        if (!pair) {
          input = head ? Buffer.concat([head, data]) : data;
          if (input.length < HEADER_BYTES) {
            head = Buffer.from(input);
            return null;
          }
          head = null;
          pair = choose(input);
        }
        const frames = pair.toServer.push(input);
        count('toServer', frames);
        return rawOf(frames);
      },
      fromBackend(chunk, send) {
        pair ??= choose(Buffer.alloc(HEADER_BYTES));
        const frames = pair.toClient.push(chunk);
        count('toClient', frames);
        const out = rawOf(frames);
        if (out) send(out, true);
      },
      clientReply(err) {
        const reply = (module ?? (amqp091 as ProtocolModule)).reply(err);
        return reply ? [reply] : [];
      },
      backendReply(err) {
        return (module ?? (amqp091 as ProtocolModule)).reply(err);
      },
    };
  },
};
