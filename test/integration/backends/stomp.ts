/** Promise wrappers over stompit, as an application using stompit would write them. */
import { connect, Client } from 'stompit';
import { unique, within } from './async';

/** Connection parameters of a STOMP broker. */
export interface StompTarget {
  host: string;
  port: number;
  login: string;
  passcode: string;
  /** The STOMP `host` header (RabbitMQ: the virtual host). */
  virtualHost: string;
}

/** A received message: its headers and UTF-8 body. */
export interface StompMessage {
  headers: Record<string, string>;
  body: string;
}

/** The frame's headers (present at run time; @types/stompit does not declare them). */
function headersOf(frame: object): Record<string, string> {
  const raw: unknown = Reflect.get(frame, 'headers');
  const headers: Record<string, string> = {};
  if (typeof raw === 'object' && raw !== null) {
    for (const [key, value] of Object.entries(raw)) headers[key] = String(value);
  }
  return headers;
}

/**
 * CONNECT with STOMP 1.2; resolves on CONNECTED, rejects on a socket error. The client keeps
 * an `error` listener so that a late error does not crash the process.
 *
 * Not for refused logins: stompit 1.0 destroys the ERROR frame's body stream instead of the
 * client when the ERROR frame carries a short text/plain body (RabbitMQ's "Access refused"),
 * which raises an unhandled `error` on that stream and never reports the refusal.
 */
export function stompConnect(target: StompTarget): Promise<Client> {
  return within(
    new Promise<Client>((resolve, reject) => {
      let connected = false;
      const client = connect(
        {
          host: target.host,
          port: target.port,
          connectHeaders: {
            host: target.virtualHost,
            login: target.login,
            passcode: target.passcode,
            'accept-version': '1.2',
            'heart-beat': '0,0',
          },
        },
        (error: Error | null) => {
          if (error) {
            reject(error);
            return;
          }
          connected = true;
          resolve(client);
        },
      );
      client.on('error', (error: Error) => {
        if (!connected) reject(error);
      });
    }),
    5000,
    `STOMP CONNECT to ${target.host}:${target.port}`,
  );
}

/** Subscribes to `destination`; `next()` resolves with the next message received. */
export function stompSubscribe(client: Client, destination: string): { next(): Promise<StompMessage> } {
  const queue: StompMessage[] = [];
  const waiting: Array<{ resolve: (m: StompMessage) => void; reject: (e: Error) => void }> = [];
  let failure: Error | undefined;
  client.subscribe({ destination, ack: 'auto' }, (error, message) => {
    if (error) {
      failure = error;
      waiting.splice(0).forEach((w) => w.reject(error));
      return;
    }
    message.readString('utf-8', (readError, body) => {
      if (readError || body === undefined) {
        const e = readError ?? new Error('empty STOMP message body');
        waiting.splice(0).forEach((w) => w.reject(e));
        return;
      }
      const received = { headers: headersOf(message), body };
      const waiter = waiting.shift();
      if (waiter) waiter.resolve(received);
      else queue.push(received);
    });
  });
  return {
    next: () => {
      const ready = queue.shift();
      if (ready) return Promise.resolve(ready);
      if (failure) return Promise.reject(failure);
      return within(
        new Promise<StompMessage>((resolve, reject) => waiting.push({ resolve, reject })),
        5000,
        `STOMP MESSAGE on ${destination}`,
      );
    },
  };
}

/** SEND with a receipt, so that the broker has the message when this resolves. */
export function stompSend(client: Client, destination: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => {
      const frame = client.send(
        { ...headers, destination, 'content-type': 'text/plain' },
        { onReceipt: () => resolve(), onError: (error: Error) => reject(error) },
      );
      frame.end(body);
    }),
    5000,
    `STOMP RECEIPT for SEND to ${destination}`,
  );
}

/**
 * Resolves once the broker has processed every frame sent before on this connection (for
 * example a SUBSCRIBE): frames of one connection are handled in order, so a receipt for a SEND
 * to a topic nobody listens to marks the point.
 */
export function stompBarrier(client: Client): Promise<void> {
  return stompSend(client, `/topic/${unique('gangway.barrier')}`, 'barrier');
}

/** DISCONNECT with a receipt and wait for the socket to close. */
export function stompDisconnect(client: Client): Promise<void> {
  return within(
    new Promise<void>((resolve, reject) => client.disconnect((error?: Error | null) => (error ? reject(error) : resolve()))),
    5000,
    'STOMP DISCONNECT',
  );
}
