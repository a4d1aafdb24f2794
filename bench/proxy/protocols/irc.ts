import net from 'node:net';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Client, type ClientOptions } from 'irc-framework';
import { Failure, unique, webSocketStream, within, type Pair, type Path, type Receive, type Suite } from './pair';

/**
 * IRC with irc-framework: one client sends PRIVMSG to another client's nick on ngIRCd.
 *
 * - direct: irc-framework's TCP transport, with Nagle off once connected ({@link NoDelayTransport}).
 * - proxy: the same TCP transport reading and writing a byte stream carried over a WebSocket
 *   through Gangway's byte `proxy` ({@link StreamTransport}); irc-framework's own WebSocket
 *   transport cannot be used there, as it takes every WebSocket message for whole lines.
 * - protocol: irc-framework's own WebSocket transport (one line per message, `text.ircv3.net`)
 *   to Gangway's `irc.proxy`.
 */

/** The part of irc-framework's TCP transport (src/transports/net.js) used here. */
interface NetTransport extends EventEmitter {
  socket: Duplex | null;
  state: number;
  readonly options: TransportOptions;
  incoming_buffer: Buffer;
  requested_disconnect: boolean;
  connect(): void;
  disposeSocket(): void;
  setEncoding(encoding: string): boolean;
  onSocketError(err: Error): void;
  onSocketClose(): void;
  _onSocketCreate(options: TransportOptions, socket: Duplex): void;
}

/** Client options irc-framework hands to its transport, with the ones this file adds. */
interface TransportOptions extends ClientOptions {
  /** The transport class irc-framework instantiates. */
  transport?: unknown;
  /** irc-framework's WebSocket transport: path and subprotocol. */
  path?: string;
  websocket_protocol?: string;
  /** {@link StreamTransport}: the WebSocket URL of Gangway's byte `proxy`. */
  stream_url?: string;
}

/** net.js's state while connecting. */
const SOCK_CONNECTING = 1;

function load(module: string): unknown {
  const loaded: unknown = require(module);
  if (typeof loaded !== 'function') throw new Error(`${module}: expected a transport class`);
  return loaded;
}

const NetTransportClass = load('irc-framework/src/transports/net') as new (options: TransportOptions) => NetTransport;
const webSocketTransport = load('irc-framework/src/transports/websocket');

/** irc-framework's TCP transport with TCP_NODELAY, as on Gangway's back-end sockets and `ws` clients. */
class NoDelayTransport extends NetTransportClass {
  override connect(): void {
    super.connect();
    if (this.socket instanceof net.Socket) this.socket.setNoDelay(true);
  }
}

/** irc-framework's TCP transport over a WebSocket byte stream instead of a socket (what net.js's `connect` sets up, then its own handlers). */
class StreamTransport extends NetTransportClass {
  override connect(): void {
    this.disposeSocket();
    this.requested_disconnect = false;
    this.incoming_buffer = Buffer.alloc(0);
    this.setEncoding('utf8');
    this.state = SOCK_CONNECTING;
    const url = this.options.stream_url;
    if (url === undefined) throw new Error('StreamTransport: no stream_url');
    webSocketStream(url, ['binary']).then(
      (stream) => {
        this.socket = stream;
        this._onSocketCreate(this.options, stream);
      },
      (err: unknown) => {
        this.onSocketError(err instanceof Error ? err : new Error(String(err)));
        this.onSocketClose();
      },
    );
  }
}

/** ngIRCd's port and the Gangway URLs that reach it. */
export interface IrcTarget {
  readonly port: number;
  /** Gangway's byte `proxy` (ws://…). */
  readonly proxyUrl: string;
  /** Gangway's `irc.proxy`: port and path. */
  readonly protocolPort: number;
  readonly protocolPath: string;
}

async function register(options: TransportOptions): Promise<Client> {
  const irc = new Client();
  const registered = new Promise<void>((resolve, reject) => {
    irc.once('registered', () => resolve());
    irc.once('close', () => reject(new Error(`IRC connection of ${options.nick ?? '?'} closed before registration`)));
  });
  irc.connect({ ...options, nick: unique('b').replace(/-/g, '').slice(0, 20), username: 'bench', gecos: 'Gangway bench', auto_reconnect: false, ping_interval: 0, version: null });
  await within(registered, 5000, 'IRC registration');
  return irc;
}

async function quit(irc: Client): Promise<void> {
  if (!irc.connected) return;
  const closed = new Promise<void>((resolve) => irc.once('close', () => resolve()));
  irc.quit('bench done');
  await within(closed, 5000, 'IRC close');
}

async function openPair(options: TransportOptions, receive: Receive): Promise<Pair> {
  const receiver = await register(options);
  const sender = await register(options).catch(async (err: unknown) => {
    await quit(receiver);
    throw err;
  });
  const to = receiver.user.nick;
  receiver.on('privmsg', (event) => receive(event.message));
  const failure = new Failure();
  for (const irc of [sender, receiver]) irc.on('close', () => failure.record(new Error(`IRC connection of ${irc.user.nick} closed`)));
  return {
    send: (text) => {
      failure.check();
      sender.say(to, text);
    },
    close: () => failure.end(() => [quit(sender), quit(receiver)]),
  };
}

export function ircSuite(target: IrcTarget): Suite {
  const paths: Path[] = [
    { kind: 'direct', label: 'irc-framework → TCP', open: (receive) => openPair({ transport: NoDelayTransport, host: '127.0.0.1', port: target.port }, receive) },
    { kind: 'proxy', label: 'irc-framework TCP stream → ws → Gangway proxy → TCP', open: (receive) => openPair({ transport: StreamTransport, stream_url: target.proxyUrl }, receive) },
    {
      kind: 'protocol',
      label: 'irc-framework → ws (line per message) → Gangway irc.proxy → TCP',
      open: (receive) => openPair({ transport: webSocketTransport, host: '127.0.0.1', port: target.protocolPort, path: target.protocolPath, websocket_protocol: 'text.ircv3.net' }, receive),
    },
  ];
  return {
    name: 'IRC — ngIRCd',
    key: 'irc',
    window: 100,
    note:
      'ngIRCd throttles a client that sends more than 256 B in a second, or leaves commands unread after handling 3 in one pass, with a penalty of 1 s per event; ' +
      'compose/ngircd sets MaxPenaltyTime = 0, which caps that penalty at 0 s, so these figures are not throttled (no compose/ change is needed). The window is 100 lines.',
    server: (comm) => comm === 'ngircd',
    paths,
  };
}
