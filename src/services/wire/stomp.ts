import { z } from 'zod';
import { isUtf8 } from 'node:buffer';
import { DEFAULT_LIMITS, StompCodecPair, encodeFrame, replyFor, type StompFrame, type StompHeader, type StompLimits } from '../../../validators/stomp';
import type { Credential } from '../inject/types';
import type { BackendLink, Transform } from '../pipe';
import { injectorFor, limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';

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
 * An ERROR frame from Gangway itself, as the validator's replies are made: `message` and `code`
 * headers, the code and reason as the plain-text body.
 */
export function errorFrame(message: string, code: string): Buffer {
  const body = Buffer.from(`${code}: ${message}\n`, 'utf8');
  const headers: StompHeader[] = [
    ['message', message],
    ['code', code],
    ['content-type', 'text/plain;charset=utf-8'],
    ['content-length', String(body.length)],
  ];
  return encodeFrame({ command: 'ERROR', headers, body }, null);
}

/**
 * `stomp.proxy`: STOMP 1.0–1.2 end to end. Client messages may carry several frames or part of
 * one; each complete, valid frame goes to the broker. Broker frames reach the client one per
 * message with the EOLs that follow them (lone heart-beats alone), or with `coalesceFrames` the
 * whole frames of each read as one message; text when UTF-8. With `inject`, the client's CONNECT/STOMP
 * goes to the broker with Gangway's `login`/`passcode` instead of the client's.
 */
export const stompProxy: WireProtocol<StompProxyProperties> = {
  type: 'stomp.proxy',
  subprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp'],
  properties,
  transform(session, props, metrics, credentials) {
    const pair = new StompCodecPair(props.limits as Partial<StompLimits>);
    const injector = injectorFor('stomp', session, props, credentials);
    let link: BackendLink | null = null;
    let connected = false;
    const count = (direction: 'toServer' | 'toClient', frames: readonly StompFrame[]): void => {
      for (const f of frames) metrics.frame(direction, f.kind);
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
        const frames = pair.toClient.push(chunk);
        count('toClient', frames);
        // A message starts at `from`: each frame with the EOLs after it in this read (brokers end
        // frames with NUL and a newline), or with coalesceFrames every whole frame of the read.
        let from = 0;
        const flush = (to: number): void => {
          if (to === from) return;
          const message = span(frames, from, to);
          send(message, !isUtf8(message));
          from = to;
        };
        for (let i = 0; i < frames.length; i++) {
          const f = frames[i] as StompFrame;
          if (f.kind !== 'HEARTBEAT' && !props.coalesceFrames) flush(i);
          if (f.command === 'CONNECTED') connected = true;
          // STOMP 1.2 "ERROR": the server must close after ERROR; some (RabbitMQ) keep the
          // connection open after refusing a login, so Gangway ends a refused injected login.
          else if (f.command === 'ERROR' && injector !== null && !connected) {
            flush(i + 1);
            link?.close(1008, `the broker refused the login: ${f.header('message') ?? 'ERROR'}`);
            return;
          }
        }
        flush(frames.length);
      },
      clientReply(err) {
        const reply = replyFor(err);
        return reply ? [reply] : [];
      },
      endNotice(reason, code) {
        // STOMP 1.2 "ERROR": the server may send it at any time, then closes. The client gets
        // whole frames only, so this one starts on a frame boundary.
        return [errorFrame(reason, code)];
      },
    };
    if (injector !== null) transform.start = () => injector.load();
    return transform;
  },
};
