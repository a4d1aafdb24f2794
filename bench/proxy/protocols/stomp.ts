import net from 'node:net';
import { WebSocket } from 'ws';
import { Client, StompSocketState, type IStompSocket, type IStompSocketMessageEvent } from '@stomp/stompjs';
import { Failure, unique, within, type Pair, type Path, type Receive, type Suite } from './pair';

/**
 * STOMP 1.2 with @stomp/stompjs on every path, so the client library is the same everywhere:
 * over `ws` to Gangway (byte `proxy` and `stomp.proxy`) and to RabbitMQ's Web-STOMP, and over a
 * plain TCP socket for the direct path ({@link TcpStompSocket}, in this process: no extra hop).
 * Publisher and subscriber are two connections; the destination is a fresh `/topic/…`.
 */

const SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

/**
 * stompjs's socket interface over a TCP connection: what stompjs writes goes to the socket,
 * each chunk read is handed to stompjs's parser, which takes frames split or joined anywhere.
 * Nagle's algorithm is off, as on Gangway's back-end sockets and on `ws` clients.
 */
class TcpStompSocket implements IStompSocket {
  readonly url: string;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: Error) => void) | null = null;
  onmessage: ((event: IStompSocketMessageEvent) => void) | null = null;
  onopen: (() => void) | null = null;
  binaryType = 'arraybuffer';
  readyState: number = StompSocketState.CONNECTING;
  private readonly socket: net.Socket;

  constructor(port: number) {
    this.url = `tcp://127.0.0.1:${port}`;
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('connect', () => {
      this.readyState = StompSocketState.OPEN;
      this.onopen?.();
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.onmessage?.({ data: chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer });
    });
    this.socket.on('error', (err) => this.onerror?.(err));
    this.socket.on('close', (hadError) => {
      this.readyState = StompSocketState.CLOSED;
      this.onclose?.({ code: hadError ? 1006 : 1000, reason: '' });
    });
  }

  send(data: string | ArrayBufferLike | ArrayBufferView): void {
    if (typeof data === 'string') this.socket.write(data);
    else if (ArrayBuffer.isView(data)) this.socket.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    else this.socket.write(Buffer.from(data));
  }

  close(): void {
    this.readyState = StompSocketState.CLOSING;
    this.socket.end();
  }

  terminate(): void {
    this.socket.destroy();
  }
}

/** Connects a stompjs client through `factory`; resolves once CONNECTED arrived. Later errors and closes go to `failure`. */
async function connect(factory: () => IStompSocket, headers: Record<string, string>, failure: Failure): Promise<Client> {
  const client = new Client({
    webSocketFactory: factory,
    connectHeaders: headers,
    heartbeatIncoming: 0,
    // Web-STOMP closes a WebSocket whose client has been silent for 60 s (its idle timeout), and a
    // subscriber only receives: every client beats.
    heartbeatOutgoing: 20_000,
    reconnectDelay: 0,
    debug: () => undefined,
  });
  const connected = new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (frame) => reject(new Error(`STOMP ERROR: ${frame.headers.message ?? ''} ${frame.body}`));
    client.onWebSocketClose = () => reject(new Error('connection closed before CONNECTED'));
  });
  client.activate();
  try {
    await within(connected, 5000, 'STOMP CONNECT');
  } catch (err) {
    await client.deactivate({ force: true });
    throw err;
  }
  client.onStompError = (frame) => failure.record(new Error(`STOMP ERROR: ${frame.headers.message ?? ''} ${frame.body}`));
  client.onWebSocketClose = () => failure.record(new Error('STOMP connection closed'));
  return client;
}

async function openPair(factory: () => IStompSocket, headers: Record<string, string>, receive: Receive): Promise<Pair> {
  const failure = new Failure();
  const subscriber = await connect(factory, headers, failure);
  const publisher = await connect(factory, headers, failure).catch(async (err: unknown) => {
    await subscriber.deactivate({ force: true });
    throw err;
  });
  const destination = `/topic/${unique('gangway.bench')}`;
  const receiptId = unique('subscribed');
  const subscribed = new Promise<void>((resolve) => subscriber.watchForReceipt(receiptId, () => resolve()));
  subscriber.subscribe(destination, (message) => receive(message.body), { receipt: receiptId });
  await within(subscribed, 5000, `SUBSCRIBE to ${destination}`);
  return {
    send: (text) => {
      failure.check();
      publisher.publish({ destination, body: text });
    },
    close: () => failure.end(() => [publisher.deactivate(), subscriber.deactivate()]),
  };
}

/** A STOMP broker and the URLs that reach it. */
export interface StompTarget {
  /** `RabbitMQ` or `ActiveMQ`. */
  readonly broker: string;
  readonly port: number;
  /** CONNECT headers: login, passcode and (RabbitMQ) the virtual host. */
  readonly headers: Record<string, string>;
  /** Gangway's byte `proxy` to the broker's STOMP port. */
  readonly proxyUrl: string;
  /** Gangway's `stomp.proxy` to the broker's STOMP port. */
  readonly protocolUrl: string;
  /** Tells the broker's process (see {@link Suite.server}). */
  readonly server: Suite['server'];
  /** The broker's own STOMP over WebSocket endpoint, if it has one. */
  readonly nativeUrl: string | null;
}

export function stompSuite(target: StompTarget): Suite {
  const ws = (url: string) => (): IStompSocket => new WebSocket(url, SUBPROTOCOLS);
  const paths: Path[] = [
    { kind: 'direct', label: 'stompjs → TCP', open: (receive) => openPair(() => new TcpStompSocket(target.port), target.headers, receive) },
    { kind: 'proxy', label: 'stompjs → ws → Gangway proxy → TCP', open: (receive) => openPair(ws(target.proxyUrl), target.headers, receive) },
    { kind: 'protocol', label: 'stompjs → ws → Gangway stomp.proxy → TCP', open: (receive) => openPair(ws(target.protocolUrl), target.headers, receive) },
  ];
  const nativeUrl = target.nativeUrl;
  if (nativeUrl !== null) {
    paths.push({ kind: 'native', label: `stompjs → ws → ${target.broker} Web-STOMP`, open: (receive) => openPair(ws(nativeUrl), target.headers, receive) });
  }
  return { name: `STOMP 1.2 — ${target.broker}`, key: `stomp-${target.broker.toLowerCase()}`, window: 1000, server: target.server, paths };
}
