import { z } from 'zod';
import { isUtf8 } from 'node:buffer';
import { DEFAULT_LIMITS, StompCodecPair, replyFor, type StompFrame, type StompLimits } from '../../../validators/stomp';
import { limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the STOMP validator's limits (validators/stomp/README.md). */
  limits: limitsSchema(DEFAULT_LIMITS).default({}),
});

type StompProxyProperties = z.infer<typeof properties>;

/** Concatenated wire bytes of validated frames (a view when there is one). */
export function rawOf(frames: readonly { raw: Buffer }[]): Buffer | null {
  if (frames.length === 0) return null;
  if (frames.length === 1) return (frames[0] as { raw: Buffer }).raw;
  return Buffer.concat(frames.map((f) => f.raw));
}

/**
 * `stomp.proxy`: STOMP 1.0–1.2 end to end. Client messages may carry several frames or part of
 * one; each complete, valid frame goes to the broker. Broker frames reach the client one per
 * message (text when UTF-8), heart-beats included.
 */
export const stompProxy: WireProtocol<StompProxyProperties> = {
  type: 'stomp.proxy',
  subprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'],
  properties,
  transform(_session, props, metrics) {
    const pair = new StompCodecPair(props.limits as Partial<StompLimits>);
    const count = (direction: 'toServer' | 'toClient', frames: readonly StompFrame[]): void => {
      for (const f of frames) metrics.frame(direction, f.kind);
    };
    return {
      fromClient(data) {
        const frames = pair.toServer.push(data);
        count('toServer', frames);
        return rawOf(frames);
      },
      fromBackend(chunk, send) {
        const frames = pair.toClient.push(chunk);
        count('toClient', frames);
        for (const f of frames) send(f.raw, !isUtf8(f.raw));
      },
      clientReply(err) {
        const reply = replyFor(err);
        return reply ? [reply] : [];
      },
    };
  },
};
