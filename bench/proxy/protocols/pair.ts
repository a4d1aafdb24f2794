import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, createWebSocketStream } from 'ws';

/**
 * What every protocol's client code gives the measurements: a publisher and a subscriber,
 * connected through one path (direct, Gangway's byte `proxy`, Gangway's protocol proxy, a
 * server's own WebSocket endpoint), carrying text bodies.
 */

/** A publisher and a subscriber of one destination, both connected and subscribed. */
export interface Pair {
  /** Publishes one message with this body (the client library queues it if it must). */
  send(body: string): void;
  /** Closes both connections. */
  close(): Promise<void>;
}

/** Receives each body the subscriber gets; the measurements swap it between phases. */
export type Receive = (body: string) => void;

/** One way of connecting a protocol's clients to its server. */
export interface Path {
  /** `direct`, `proxy` (Gangway's byte pipe), `protocol` (Gangway's protocol proxy) or `native` (the server's own WebSocket). */
  readonly kind: PathKind;
  /** What the row shows: client library, transport and hops. */
  readonly label: string;
  /** Connects a publisher and a subscriber; `receive` is called for each message the subscriber gets. */
  open(receive: Receive): Promise<Pair>;
}

export type PathKind = 'direct' | 'proxy' | 'protocol' | 'native';

/** One protocol against one server: the paths measured side by side. */
export interface Suite {
  /** The table's heading, e.g. `STOMP 1.2 — RabbitMQ`. */
  readonly name: string;
  /** The `--only` key. */
  readonly key: string;
  /** Messages in flight during the throughput phase. */
  readonly window: number;
  /** Anything the table should say about this suite (throttles, client quirks). */
  readonly note?: string;
  /** Tells the server's process by its /proc `comm` and command line, for its CPU figure. */
  readonly server: (comm: string, cmdline: string) => boolean;
  readonly paths: readonly Path[];
}

/**
 * The first error a pair's connections reported on their own (a broker restart, a dropped
 * socket). Sending on a failed pair throws it, so the measurement of that path stops with it.
 */
export class Failure {
  private error: Error | null = null;
  private ending = false;

  /** Keeps `err` unless an earlier error is kept already, or the pair is being closed. */
  record(err: unknown): void {
    if (this.ending) return;
    this.error ??= err instanceof Error ? err : new Error(String(err));
  }

  /** Throws the kept error, if any. */
  check(): void {
    if (this.error !== null) throw this.error;
  }

  /**
   * Closes the pair: runs `closes` (errors from here on are the close's own), waits for all of
   * them (5 s at most each: a connection the server dropped may never finish closing), then
   * throws the error kept before, else the first close that failed.
   */
  async end(closes: () => readonly Promise<unknown>[]): Promise<void> {
    this.ending = true;
    const results = await Promise.allSettled(closes().map((close) => within(close, 5000, 'close')));
    this.check();
    for (const r of results) {
      if (r.status === 'rejected') throw r.reason instanceof Error ? r.reason : new Error(String(r.reason));
    }
  }
}

let made = 0;

/** A name unique to this process (and, with the process id and a random part, to this run). */
export function unique(prefix: string): string {
  made += 1;
  return `${prefix}-${process.pid}-${made}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

/** Opens a `ws` client and resolves once it is open. */
export function openWebSocket(url: string, protocols: readonly string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, [...protocols]);
  return within(
    new Promise<WebSocket>((resolve, reject) => {
      ws.once('open', () => {
        ws.off('error', reject);
        resolve(ws);
      });
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, response) => reject(new Error(`${url}: upgrade refused with ${response.statusCode ?? 0}`)));
    }),
    5000,
    `WebSocket open of ${url}`,
  );
}

/**
 * A byte stream carried over a WebSocket (each write one binary message, each message's bytes
 * read in order): how a client library that speaks the protocol's TCP form uses Gangway's byte
 * `proxy`.
 */
export async function webSocketStream(url: string, protocols: readonly string[]): Promise<Duplex> {
  const ws = await openWebSocket(url, protocols);
  return createWebSocketStream(ws);
}

/** A TCP connection to 127.0.0.1:`port` with Nagle's algorithm off, as Gangway's own back-end sockets. */
export function tcpStream(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
  return within(
    new Promise<net.Socket>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    }),
    5000,
    `TCP connect to 127.0.0.1:${port}`,
  );
}
