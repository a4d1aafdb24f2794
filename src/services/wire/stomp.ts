import { z } from 'zod';
import { isUtf8 } from 'node:buffer';
import { DEFAULT_LIMITS, StompCodecPair, encodeFrame, errorFrame, replyFor, type StompFrame, type StompHeader, type StompLimits } from '../../../validators/stomp';
import type { WireFrame } from '../../../validators/types';
import type { Credential } from '../inject/types';
import type { BackendLink, Transform } from '../pipe';
import { BackendValidator, injectorFor, limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';
import { StompFramer } from './framing';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the STOMP validator's limits (validators/stomp/README.md). */
  limits: limitsSchema(DEFAULT_LIMITS).default({}),
  /**
   * Send the whole frames of each read of the broker's stream as one WebSocket message, instead
   * of one message per frame: fewer messages under load, for clients that take several frames per
   * message (stompjs does). @default false
   */
  coalesceFrames: z.boolean().default(false),
});

type StompProxyProperties = z.infer<typeof properties>;

/** The wire bytes of validated frames, `null` for none (see {@link span}). */
export function rawOf(frames: readonly { raw: Buffer }[]): Buffer | null {
  return frames.length === 0 ? null : span(frames, 0, frames.length);
}

/**
 * The wire bytes of `frames[from..to)`: one view when they lie end to end in the same memory (the
 * frames of one read do), else a copy.
 */
export function span(frames: readonly { raw: Buffer }[], from: number, to: number): Buffer {
  const first = (frames[from] as { raw: Buffer }).raw;
  let end = first.byteOffset + first.length;
  for (let i = from + 1; i < to; i++) {
    const raw = (frames[i] as { raw: Buffer }).raw;
    if (raw.buffer !== first.buffer || raw.byteOffset !== end) return Buffer.concat(frames.slice(from, to).map((f) => f.raw));
    end += raw.length;
  }
  return to - from === 1 ? first : Buffer.from(first.buffer, first.byteOffset, end - first.byteOffset);
}

/**
 * CONNECT or STOMP with the client's `login` and `passcode` removed and `credential`'s added
 * after the other headers (negotiation frames are never escaped: STOMP 1.2 §"Value Encoding").
 */
export function withCredential(frame: StompFrame, credential: Credential): Buffer {
  const headers: StompHeader[] = frame.headers.filter(([name]) => name !== 'login' && name !== 'passcode');
  headers.push(['login', credential.username], ['passcode', credential.password]);
  return encodeFrame({ command: frame.command === 'STOMP' ? 'STOMP' : 'CONNECT', headers, body: frame.body }, null);
}

/**
 * `stomp.proxy`: STOMP 1.0–1.2 end to end. Client messages may carry several frames or part of
 * one; each complete, valid frame goes to the broker. Broker frames reach the client one per
 * message with the EOLs that follow them (lone heart-beats alone), or with `coalesceFrames` the
 * whole frames of each read as one message; text when UTF-8. With `validateServer: false`, broker
 * frames after CONNECTED are only cut ({@link StompFramer}), not validated. With `inject`, the
 * client's CONNECT/STOMP goes to the broker with Gangway's `login`/`passcode` instead of the client's.
 */
export const stompProxy: WireProtocol<StompProxyProperties> = {
  type: 'stomp.proxy',
  subprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'],
  properties,
  transform(session, props, metrics, credentials) {
    const pair = new StompCodecPair(props.limits as Partial<StompLimits>);
    // CONNECTED ends the handshake: it fixes the version both codecs follow.
    const server = new BackendValidator(pair.toClient, props.validateServer, (f) => f.command === 'CONNECTED');
    const framer = props.validateServer ? null : new StompFramer(pair.toClient.limits.maxFrameSize);
    const injector = injectorFor('stomp', session, props, credentials);
    let link: BackendLink | null = null;
    let connected = false;
    /** The broker's `message` when it refused an injected login: the session ends after its ERROR. */
    let refusedLogin: string | null = null;
    const count = (direction: 'toServer' | 'toClient', frames: readonly StompFrame[]): void => {
      for (const f of frames) metrics.frame(direction, f.kind);
    };
    /** A read of the broker's stream through the validator; cut after an ERROR refusing an injected login. */
    const validated = (chunk: Buffer): readonly StompFrame[] => {
      const frames = server.push(chunk);
      count('toClient', frames);
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i] as StompFrame;
        if (f.command === 'CONNECTED') connected = true;
        // STOMP 1.2 "ERROR": the server must close after ERROR; some (RabbitMQ) keep the
        // connection open after refusing a login, so Gangway ends a refused injected login.
        else if (f.command === 'ERROR' && injector !== null && !connected) {
          refusedLogin = f.header('message') ?? 'ERROR';
          return frames.slice(0, i + 1);
        }
      }
      return frames;
    };
    const transform: Transform = {
      attach(l) {
        link = l;
      },
      fromClient(data) {
        const frames = pair.toServer.push(data);
        count('toServer', frames);
        if (injector === null || !frames.some((f) => f.command === 'CONNECT' || f.command === 'STOMP')) return rawOf(frames);
        return rawOf(
          frames.map((f) => (f.command === 'CONNECT' || f.command === 'STOMP' ? { raw: withCredential(f, injector.take(link?.secure ?? false)) } : f)),
        );
      },
      fromBackend(chunk, send) {
        const frames: readonly WireFrame[] = framer === null || server.validating ? validated(chunk) : framer.push(chunk);
        // A message starts at `from`: each frame with the EOLs after it in this read (brokers end
        // frames with NUL and a newline), or with coalesceFrames every whole frame of the read.
        let from = 0;
        const flush = (to: number): void => {
          if (to === from) return;
          const message = span(frames, from, to);
          send(message, !isUtf8(message));
          from = to;
        };
        if (!props.coalesceFrames) {
          for (let i = 0; i < frames.length; i++) if ((frames[i] as WireFrame).kind !== 'HEARTBEAT') flush(i);
        }
        flush(frames.length);
        if (refusedLogin !== null) link?.close(1008, `the broker refused the login: ${refusedLogin}`);
      },
      clientReply(err) {
        const reply = replyFor(err);
        return reply ? [reply] : [];
      },
      endNotice(reason, code) {
        // STOMP 1.2 "ERROR": the server may send it at any time, then closes. The client gets
        // whole frames only, so this one starts on a frame boundary.
        return [errorFrame({ message: reason, code, text: `${code}: ${reason}` }, null)];
      },
    };
    if (injector !== null) transform.start = () => injector.load();
    return transform;
  },
};
