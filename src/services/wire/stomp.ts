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
});

type StompProxyProperties = z.infer<typeof properties>;

/** Concatenated wire bytes of validated frames (a view when there is one). */
export function rawOf(frames: readonly { raw: Buffer }[]): Buffer | null {
  if (frames.length === 0) return null;
  if (frames.length === 1) return (frames[0] as { raw: Buffer }).raw;
  return Buffer.concat(frames.map((f) => f.raw));
}

/** `a` followed by `b`: one view when `b` starts where `a` ends in the same memory, else a copy. */
export function joined(a: Buffer, b: Buffer): Buffer {
  if (a.buffer === b.buffer && a.byteOffset + a.length === b.byteOffset) return Buffer.from(a.buffer, a.byteOffset, a.length + b.length);
  return Buffer.concat([a, b]);
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
 * message (text when UTF-8) with the EOLs that follow them; lone heart-beats as they come. With `inject`, the client's CONNECT/STOMP
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
        // One message per frame, with the EOLs that follow it in the same read (brokers end
        // frames with NUL and a newline); heart-beat EOLs on their own go alone.
        let pending: Buffer | null = null;
        for (const f of frames) {
          if (f.kind === 'HEARTBEAT' && pending !== null) {
            pending = joined(pending, f.raw);
            continue;
          }
          if (pending !== null) send(pending, !isUtf8(pending));
          pending = f.raw;
          if (f.command === 'CONNECTED') connected = true;
          // STOMP 1.2 "ERROR": the server must close after ERROR; some (RabbitMQ) keep the
          // connection open after refusing a login, so Gangway ends a refused injected login.
          else if (f.command === 'ERROR' && injector !== null && !connected) {
            send(pending, !isUtf8(pending));
            link?.close(1008, `the broker refused the login: ${f.header('message') ?? 'ERROR'}`);
            return;
          }
        }
        if (pending !== null) send(pending, !isUtf8(pending));
      },
      clientReply(err) {
        const reply = replyFor(err);
        return reply ? [reply] : [];
      },
    };
    if (injector !== null) transform.start = () => injector.load();
    return transform;
  },
};
