import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { client, xml, type Client } from '@xmpp/client';
import { Failure, tcpStream, unique, webSocketStream, within, type Pair, type Path, type Receive, type Suite } from './pair';

/**
 * XMPP with @xmpp/client: one user sends `<message type="chat">` stanzas to another user's full
 * JID. Every path logs in with SCRAM-SHA-1 on an unencrypted stream (what Gangway's
 * `xmpp.proxy` does toward Prosody), so no path pays for TLS.
 *
 * - protocol and native: @xmpp/client's own WebSocket transport (RFC 7395) to Gangway's
 *   `xmpp.proxy` and to Prosody's mod_websocket.
 * - direct and proxy: @xmpp/client's TCP transport (RFC 6120 stream) with its socket replaced by
 *   {@link StreamSocket}: a TCP connection (direct) or a byte stream carried over a WebSocket
 *   through Gangway's byte `proxy`. Because that socket is not a `net.Socket`, @xmpp/client
 *   does not start TLS on it (its STARTTLS step checks for one).
 */

/** Where the stream transport connects: `tcp://127.0.0.1:PORT`, or `tcp+ws://…` for a WebSocket carrying the TCP stream. */
interface StreamParameters {
  readonly service: string;
}

/** The socket @xmpp/connection drives (`connect`, `write`, `end`; `connect`, `data`, `close`, `error` events) over any byte stream. */
class StreamSocket extends EventEmitter {
  /** Read by @xmpp/connection's `isSecure()`. */
  readonly secure = false;
  private stream: Duplex | null = null;

  connect(params: StreamParameters): void {
    const url = new URL(params.service);
    const dial = url.protocol === 'tcp:' ? tcpStream(Number(url.port)) : webSocketStream(params.service.replace(/^tcp\+/, ''), ['binary']);
    dial.then(
      (stream) => {
        this.stream = stream;
        stream.on('data', (chunk: Buffer) => this.emit('data', chunk));
        stream.on('error', (err: Error) => this.emit('error', err));
        stream.on('close', () => this.emit('close', false));
        this.emit('connect');
      },
      (err: unknown) => this.emit('error', err),
    );
  }

  write(data: string, done: (err?: Error | null) => void): void {
    if (this.stream === null) done(new Error('not connected'));
    else this.stream.write(data, done);
  }

  end(): void {
    this.stream?.end();
  }
}

/** What @xmpp/client-core reads of a transport: only members of its prototype. */
interface Transport {
  readonly prototype: object;
}

/**
 * Puts a transport in front of the client's own: @xmpp/client's TCP transport (found among the
 * client's transports, so no package beyond @xmpp/client is imported) with {@link StreamSocket}
 * for services `tcp://` and `tcp+ws://`.
 */
function useStreamTransport(xmpp: Client): void {
  const transports: unknown = Reflect.get(xmpp, 'transports');
  if (!Array.isArray(transports)) throw new Error('@xmpp/client: no transports list (has its layout changed?)');
  const tcp = (transports as Transport[]).find((t) => {
    const params: unknown = Reflect.apply(Reflect.get(t.prototype, 'socketParameters') as (s: string) => unknown, t.prototype, ['xmpp://127.0.0.1:5222']);
    return params !== undefined;
  });
  if (!tcp) throw new Error('@xmpp/client: no TCP transport');
  const prototype: object = Object.create(tcp.prototype, {
    socketParameters: { value: (service: string): StreamParameters | undefined => (/^tcp(\+ws)?:\/\//.test(service) ? { service } : undefined) },
    Socket: { value: StreamSocket },
  });
  transports.unshift({ prototype });
}

/** An XMPP account on Prosody. */
export interface XmppAccount {
  readonly username: string;
  readonly password: string;
}

/** Prosody's domain, two accounts and every URL that reaches it. */
export interface XmppTarget {
  readonly domain: string;
  readonly sender: XmppAccount;
  readonly receiver: XmppAccount;
  readonly c2sPort: number;
  readonly proxyUrl: string;
  readonly protocolUrl: string;
  readonly nativeUrl: string;
}

/** Logs in; errors after that go to `failure`. */
async function login(service: string, domain: string, account: XmppAccount, streamed: boolean, failure: Failure): Promise<Client> {
  const xmpp = client({
    service,
    domain,
    resource: unique('bench'),
    timeout: 10_000,
    credentials: (authenticate) => authenticate({ username: account.username, password: account.password }, 'SCRAM-SHA-1'),
  });
  if (streamed) useStreamTransport(xmpp);
  const errors: Error[] = [];
  xmpp.on('error', (err: Error) => errors.push(err));
  try {
    await within(xmpp.start(), 15_000, `XMPP login of ${account.username} at ${service}`);
  } catch (err) {
    xmpp.reconnect.stop();
    throw errors[0] ?? err;
  }
  xmpp.on('error', (err: Error) => failure.record(err));
  xmpp.on('offline', () => failure.record(new Error(`XMPP connection of ${account.username} went offline`)));
  return xmpp;
}

async function logout(xmpp: Client): Promise<void> {
  xmpp.reconnect.stop();
  if (xmpp.status !== 'offline') await within(xmpp.stop(), 5000, 'XMPP stop');
}

async function openPair(target: XmppTarget, service: string, streamed: boolean, receive: Receive): Promise<Pair> {
  const failure = new Failure();
  const receiver = await login(service, target.domain, target.receiver, streamed, failure);
  const sender = await login(service, target.domain, target.sender, streamed, failure).catch(async (err: unknown) => {
    await logout(receiver);
    throw err;
  });
  const to = receiver.jid?.toString();
  if (to === undefined) throw new Error('XMPP: the receiver has no JID after login');
  receiver.on('stanza', (stanza) => {
    if (!stanza.is('message')) return;
    const text = stanza.getChildText('body');
    if (text !== null) receive(text);
  });
  return {
    send: (text) => {
      failure.check();
      sender.send(xml('message', { to, type: 'chat' }, xml('body', {}, text))).catch((err: unknown) => failure.record(err));
    },
    close: () => failure.end(() => [logout(sender), logout(receiver)]),
  };
}

export function xmppSuite(target: XmppTarget): Suite {
  const paths: Path[] = [
    { kind: 'direct', label: '@xmpp/client → TCP', open: (receive) => openPair(target, `tcp://127.0.0.1:${target.c2sPort}`, true, receive) },
    { kind: 'proxy', label: '@xmpp/client TCP stream → ws → Gangway proxy → TCP', open: (receive) => openPair(target, `tcp+${target.proxyUrl}`, true, receive) },
    { kind: 'protocol', label: '@xmpp/client → ws (RFC 7395) → Gangway xmpp.proxy → TCP', open: (receive) => openPair(target, target.protocolUrl, false, receive) },
    { kind: 'native', label: '@xmpp/client → ws (RFC 7395) → Prosody mod_websocket', open: (receive) => openPair(target, target.nativeUrl, false, receive) },
  ];
  return { name: 'XMPP — Prosody', key: 'xmpp', window: 1000, server: (comm, cmdline) => comm.startsWith('lua') && cmdline.includes('prosody'), paths };
}
