/**
 * `xmpp.proxy` translation on byte fixtures (taken from Prosody 0.12 and @xmpp/client 0.14
 * traffic), then the service end to end in-process: a `ws` client, Gangway, and a TCP server on
 * port 0 playing the XMPP server.
 */
import type net from 'node:net';
import { WebSocket } from 'ws';
import { ConfigError, buildConfig, type GatewayConfig } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import { SERVICE_TYPES } from '../../../src/services';
import type { Transform } from '../../../src/services/pipe';
import type { ServiceType } from '../../../src/services/types';
import { wireProxyType } from '../../../src/services/wire/factory';
import { BACKEND_STREAM_CONDITION, createXmppTransform, xmppProxy, type FrameCounter } from '../../../src/services/wire/xmpp';
import { ERRORS } from '../../../validators/xmpp';
import { LogCapture, Resources, closed, openClient, service, socketClosed, tcpServer, waitFor } from '../../support/gateway';
import { caught } from '../../support/wire';

const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const STREAMS = 'http://etherx.jabber.org/streams';
const STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
const OPEN = `<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`;
const HEADER_TO_SERVER = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";

// Prosody's side of a SCRAM-SHA-1 login over plain TCP, with resource binding and the close.
const S_HEADER =
  "<?xml version='1.0'?><stream:stream id='89b45b4b' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client' version='1.0'>";
const S_FEATURES =
  "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";
const S_CHALLENGE = "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1mOWM1YTYy</challenge>";
const S_SUCCESS = "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1sNWRrRHpw</success>";
const S_HEADER2 =
  "<?xml version='1.0'?><stream:stream id='ac971d7f' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client' version='1.0'>";
const S_FEATURES2 =
  "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><sub xmlns='urn:xmpp:features:pre-approval'/></stream:features>";
const S_BIND = "<iq id='6ulvsyxeav' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/cap</jid></bind></iq>";
const S_CLOSE = '</stream:stream>';
const SERVER_LOGIN = [S_HEADER, S_FEATURES, S_CHALLENGE, S_SUCCESS, S_HEADER2, S_FEATURES2, S_BIND, S_CLOSE];

// What the client gets for those, one RFC 7395 message each.
const C_OPEN = `<open xmlns="${FRAMING}" from="localhost" id="89b45b4b" version="1.0" xml:lang="en"/>`;
const C_FEATURES = `<features xmlns="${STREAMS}"><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></features>`;
const C_OPEN2 = `<open xmlns="${FRAMING}" from="localhost" id="ac971d7f" version="1.0" xml:lang="en"/>`;
const C_FEATURES2 = `<features xmlns="${STREAMS}"><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><sub xmlns='urn:xmpp:features:pre-approval'/></features>`;
const C_BIND = `<iq xmlns="jabber:client" id='6ulvsyxeav' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/cap</jid></bind></iq>`;
const C_CLOSE = `<close xmlns="${FRAMING}"/>`;
const CLIENT_LOGIN = [C_OPEN, C_FEATURES, S_CHALLENGE, S_SUCCESS, C_OPEN2, C_FEATURES2, C_BIND, C_CLOSE];

// @xmpp/client's side.
const C_AUTH = '<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="SCRAM-SHA-1">biwsbj1hbGljZSxy</auth>';
const C_RESPONSE = '<response xmlns="urn:ietf:params:xml:ns:xmpp-sasl">Yz1iaXdzLHI9</response>';
const C_BIND_SET = '<iq type="set" id="6ulvsyxeav" xmlns="jabber:client"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>cap</resource></bind></iq>';

class Tally implements FrameCounter {
  readonly frames: string[] = [];

  frame(direction: 'toServer' | 'toClient', kind: string): void {
    this.frames.push(`${direction} ${kind}`);
  }
}

/** A transform with what it sent the client. */
function harness(limits = {}): { t: Transform; out: string[]; tally: Tally; client(text: string): string | null; server(text: string | Buffer): string[] } {
  const tally = new Tally();
  const t = createXmppTransform(limits, tally);
  const out: string[] = [];
  return {
    t,
    out,
    tally,
    client(text) {
      const bytes = t.fromClient(Buffer.from(text), false);
      return bytes === null ? null : bytes.toString('utf8');
    },
    server(data) {
      const before = out.length;
      t.fromBackend(typeof data === 'string' ? Buffer.from(data) : data, (m, binary) => {
        expect(binary).toBe(false);
        out.push(m.toString('utf8'));
      });
      return out.slice(before);
    },
  };
}


/** A deterministic sequence of chunk sizes (1..max). */
function* splits(seed: number, max: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield 1 + (x % max);
  }
}

describe('xmpp.proxy translation, client → server', () => {
  it('turns <open/> into a stream header, copying to, from, version and xml:lang, escaped', () => {
    const h = harness();
    expect(h.client(OPEN)).toBe(HEADER_TO_SERVER);
    const h2 = harness();
    expect(h2.client(`<open xmlns='${FRAMING}' to="a&amp;b'c" from='alice@localhost' xml:lang='en' version='1.0' id='ignored'/>`)).toBe(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a&amp;b&apos;c' from='alice@localhost' version='1.0' xml:lang='en'>",
    );
  });

  it('turns <close/> into </stream:stream>', () => {
    const h = harness();
    h.client(OPEN);
    expect(h.client(`<close xmlns="${FRAMING}"/>`)).toBe('</stream:stream>');
  });

  it('forwards stanzas and nonzas as validated, without a leading XML declaration', () => {
    const h = harness();
    h.client(OPEN);
    expect(h.client(C_AUTH)).toBe(C_AUTH);
    expect(h.client(`<?xml version='1.0'?>\n<message xmlns='jabber:client' to='bob@localhost'><body>hi</body></message>\n`)).toBe(
      "<message xmlns='jabber:client' to='bob@localhost'><body>hi</body></message>",
    );
    expect(h.client('  <presence/>  ')).toBe('<presence/>');
    expect(h.tally.frames).toEqual(['toServer open', 'toServer auth', 'toServer message', 'toServer presence']);
  });

  it('refuses STARTTLS, binary messages, a second <open/> and input after <close/>', () => {
    const starttls = harness();
    starttls.client(OPEN);
    const e1 = caught(() => starttls.client("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"));
    expect([e1.code, e1.closeCode, e1.condition]).toEqual(['GW_ERR_XMPP_STARTTLS_OVER_WEBSOCKET', 1008, 'policy-violation']);

    const binary = harness();
    const e2 = caught(() => binary.t.fromClient(Buffer.from(OPEN), true));
    expect([e2.code, e2.closeCode, e2.condition]).toEqual([ERRORS.WEBSOCKET_FRAMING.code, 1002, 'bad-format']);

    const twice = harness();
    twice.client(OPEN);
    expect(caught(() => twice.client(OPEN)).code).toBe('GW_ERR_XMPP_UNEXPECTED_STREAM_HEADER');

    const after = harness();
    after.client(OPEN);
    after.client(`<close xmlns="${FRAMING}"/>`);
    expect(caught(() => after.client('<presence/>')).code).toBe('GW_ERR_XMPP_STREAM_CLOSED');
  });

  it('answers refused client input with the RFC 7395 stream error and <close/>, as two messages', () => {
    const h = harness();
    h.client(OPEN);
    const err = caught(() => h.client("<message><!-- x --><body/></message>"));
    const replies = (h.t.clientReply?.(err) ?? []).map((b) => b.toString('utf8'));
    expect(replies).toEqual([
      `<error xmlns="${STREAMS}"><restricted-xml xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">${err.message.replace(/"/g, '&quot;')}</text></error>`,
      `<close xmlns="${FRAMING}"/>`,
    ]);
    expect(err.closeCode).toBe(1008);
  });

  it('refuses an oversize message before it is forwarded (limits from the service)', () => {
    const h = harness({ maxStanzaBytes: 100 });
    h.client(OPEN);
    expect(h.client(`<message><body>${'x'.repeat(68)}</body></message>`)).toHaveLength(100);
    const err = caught(() => h.client(`<message><body>${'x'.repeat(69)}</body></message>`));
    expect([err.code, err.closeCode, err.condition]).toEqual(['GW_ERR_XMPP_STANZA_TOO_LARGE', 1009, 'policy-violation']);
  });
});

describe('xmpp.proxy translation, server → client', () => {
  it('translates a whole login (header, features without STARTTLS, SASL, restart, bind, close)', () => {
    const h = harness();
    expect(h.client(OPEN)).toBe(HEADER_TO_SERVER);
    expect(h.server(S_HEADER + S_FEATURES)).toEqual([C_OPEN, C_FEATURES]);
    expect(h.client(C_AUTH)).toBe(C_AUTH);
    expect(h.server(S_CHALLENGE)).toEqual([S_CHALLENGE]);
    expect(h.client(C_RESPONSE)).toBe(C_RESPONSE);
    expect(h.server(S_SUCCESS)).toEqual([S_SUCCESS]);
    // <success/> armed the restart in both codecs: the client's new <open/> and the server's new header pass.
    expect(h.client(OPEN)).toBe(HEADER_TO_SERVER);
    expect(h.server(S_HEADER2 + S_FEATURES2)).toEqual([C_OPEN2, C_FEATURES2]);
    expect(h.client(C_BIND_SET)).toBe(C_BIND_SET);
    expect(h.server(S_BIND)).toEqual([C_BIND]);
    expect(h.client(`<close xmlns="${FRAMING}"/>`)).toBe('</stream:stream>');
    expect(h.server(S_CLOSE)).toEqual([C_CLOSE]);
    expect(h.tally.frames.filter((f) => f.startsWith('toClient'))).toEqual([
      'toClient stream:stream', 'toClient features', 'toClient challenge', 'toClient success',
      'toClient stream:stream', 'toClient features', 'toClient iq', 'toClient /stream:stream',
    ]);
  });

  it.each([1, 2, 3, 7, 64])('gives the same messages when the server stream arrives in chunks of %i bytes', (size) => {
    const h = harness();
    h.client(OPEN);
    const stream = Buffer.from(SERVER_LOGIN.join(''));
    // <success/> arms the restart in both codecs, so the server's new header passes whenever it comes.
    for (let i = 0; i < stream.length; i += size) h.server(stream.subarray(i, i + size));
    expect(h.out).toEqual(CLIENT_LOGIN);
  });

  it('gives the same messages for random splits of the server stream', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const h = harness();
      h.client(OPEN);
      const stream = Buffer.from(SERVER_LOGIN.join(''));
      const sizes = splits(seed, 40);
      let i = 0;
      while (i < stream.length) {
        const n = sizes.next().value as number;
        h.server(stream.subarray(i, i + n));
        i += n;
      }
      expect(h.out).toEqual(CLIENT_LOGIN);
    }
  });

  it('inserts xmlns="jabber:client" after the element name of stanzas that inherit it, and only there', () => {
    const h = harness();
    h.client(OPEN);
    h.server(S_HEADER);
    expect(h.server("<message from='bob@localhost/x' type='chat'><body>stream: live</body></message>")).toEqual([
      `<message xmlns="jabber:client" from='bob@localhost/x' type='chat'><body>stream: live</body></message>`,
    ]);
    expect(h.server('<presence/>')).toEqual(['<presence xmlns="jabber:client"/>']);
    expect(h.server("<presence\nfrom='a@localhost'/>")).toEqual(["<presence xmlns=\"jabber:client\"\nfrom='a@localhost'/>"]);
    // Already explicit: the bytes are left exactly as they were.
    expect(h.server("<iq xmlns='jabber:client' type='result' id='1'/>")).toEqual(["<iq xmlns='jabber:client' type='result' id='1'/>"]);
    expect(h.server("<r xmlns='urn:xmpp:sm:3'/>")).toEqual(["<r xmlns='urn:xmpp:sm:3'/>"]);
    // Non-ASCII attribute values before the insertion point are not disturbed.
    expect(h.server("<message from='zoë@localhost'><body>é</body></message>")).toEqual([
      `<message xmlns="jabber:client" from='zoë@localhost'><body>é</body></message>`,
    ]);
  });

  it('declares header prefixes a stanza uses on the stanza itself', () => {
    const h = harness();
    h.client(OPEN);
    h.server("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:example:x' from='localhost' version='1.0'>");
    expect(h.server("<message><x:data a='1'/></message>")).toEqual([`<message xmlns="jabber:client" xmlns:x="urn:example:x"><x:data a='1'/></message>`]);
    expect(h.server("<message><body x:a='1'>b</body></message>")).toEqual([`<message xmlns="jabber:client" xmlns:x="urn:example:x"><body x:a='1'>b</body></message>`]);
    expect(h.server("<message xmlns:x='urn:other'><x:data/></message>")).toEqual([`<message xmlns="jabber:client" xmlns:x='urn:other'><x:data/></message>`]);
  });

  it('renames <stream:error> and keeps its children', () => {
    const h = harness();
    h.client(OPEN);
    h.server(S_HEADER);
    const error = "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>";
    expect(h.server(error + S_CLOSE)).toEqual([
      `<error xmlns="${STREAMS}"><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></error>`,
      C_CLOSE,
    ]);
  });

  it('removes <starttls> with its children wherever it stands among the features, and keeps the children namespaces', () => {
    const h = harness();
    h.client(OPEN);
    h.server(S_HEADER);
    const tls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
    expect(h.server(`<stream:features>${tls}</stream:features>`)).toEqual([`<features xmlns="${STREAMS}"></features>`]);
    expect(h.server(`<stream:features>\n ${tls}\n <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>\n</stream:features>`)).toEqual([
      `<features xmlns="${STREAMS}">\n \n <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>\n</features>`,
    ]);
    // A prefixed STARTTLS element and one in CDATA text; a child that inherited jabber:client keeps it.
    expect(h.server(`<stream:features><t:starttls xmlns:t='urn:ietf:params:xml:ns:xmpp-tls'/><x xmlns='urn:y'><![CDATA[<starttls/>]]></x><legacy/></stream:features>`)).toEqual([
      `<features xmlns="${STREAMS}"><x xmlns='urn:y'><![CDATA[<starttls/>]]></x><legacy xmlns="jabber:client"/></features>`,
    ]);
    expect(h.server('<stream:features/>')).toEqual([`<features xmlns="${STREAMS}"/>`]);
    // Features in the stream namespace as default namespace: children already inherit it.
    expect(h.server(`<features xmlns='${STREAMS}'><sm xmlns='urn:xmpp:sm:3'/></features>`)).toEqual([`<features xmlns="${STREAMS}"><sm xmlns='urn:xmpp:sm:3'/></features>`]);
  });

  it('drops whitespace keep-alives', () => {
    const h = harness();
    h.client(OPEN);
    expect(h.server(`${S_HEADER}\n`)).toEqual([C_OPEN]);
    expect(h.server(' ')).toEqual([]);
    expect(h.server('\n\n<presence/>\t')).toEqual(['<presence xmlns="jabber:client"/>']);
    expect(h.tally.frames).toContain('toClient whitespace');
  });

  it('refuses a malformed server stream: the client gets a stream error and <close/>, the server a stream error and </stream:stream>', () => {
    const h = harness();
    h.client(OPEN);
    h.server(S_HEADER);
    const err = caught(() => h.server('<message><!-- x --></message>'));
    expect(err.code).toBe('GW_ERR_XMPP_COMMENT');
    expect(err.direction).toBe('toClient');
    expect(h.out.slice(1)).toEqual([
      `<error xmlns="${STREAMS}"><${BACKEND_STREAM_CONDITION} xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">the XMPP server sent data Gangway refused (GW_ERR_XMPP_COMMENT)</text></error>`,
      C_CLOSE,
    ]);
    const reply = h.t.backendReply?.(err)?.toString('utf8') ?? '';
    expect(reply).toMatch(new RegExp(`^<stream:error><restricted-xml xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">.+</text></stream:error></stream:stream>$`));
  });

  it('sends the server no stream error when no stream to it is open', () => {
    const h = harness();
    const err = caught(() => h.server('garbage'));
    expect(err.code).toBe('GW_ERR_XMPP_STRAY_TEXT');
    expect(h.t.backendReply?.(err) ?? null).toBeNull();
    const closedFirst = harness();
    closedFirst.client(OPEN);
    closedFirst.client(`<close xmlns="${FRAMING}"/>`);
    const err2 = caught(() => closedFirst.server('<message/>'));
    expect(closedFirst.t.backendReply?.(err2) ?? null).toBeNull();
  });
});

describe('xmpp.proxy service', () => {
  const res = new Resources();
  afterEach(() => res.closeAll());
  const types = new Map<string, ServiceType>([...SERVICE_TYPES, ['xmpp.proxy', wireProxyType(xmppProxy) as ServiceType]]);

  async function start(onSocket: (socket: net.Socket) => void): Promise<{ url: string; server: Awaited<ReturnType<typeof tcpServer>> }> {
    const server = await tcpServer(res, onSocket);
    const config = buildConfig(
      { services: [service('xmpp', 'xmpp.proxy', '/xmpp', { connect: `tcp://127.0.0.1:${server.port}`, properties: { limits: { maxDepth: 4 } } })] },
      { source: 'test', types, env: {} },
    );
    const gateway = new Gateway(config, createLogger('info', new LogCapture()), types);
    await gateway.start();
    res.add(() => gateway.stop());
    return { url: `ws://127.0.0.1:${gateway.port()}/xmpp`, server };
  }

  /** A fake XMPP server: records what Gangway sent, answers the first header with S_HEADER + S_FEATURES. */
  function fakeServer(received: Buffer[]): (socket: net.Socket) => void {
    return (socket) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        if (Buffer.concat(received).toString().includes('<stream:stream') && received.length === 1) socket.write(S_HEADER + S_FEATURES);
      });
    };
  }

  it('speaks the xmpp subprotocol and translates both ways through real sockets', async () => {
    const received: Buffer[] = [];
    const { url } = await start(fakeServer(received));
    const ws = await openClient(res, url, 'xmpp');
    expect(ws.protocol).toBe('xmpp');
    const messages: { text: string; isBinary: boolean }[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => messages.push({ text: data.toString(), isBinary }));
    ws.send(OPEN);
    await waitFor(() => messages.length === 2, 5000, 'open and features');
    expect(messages).toEqual([{ text: C_OPEN, isBinary: false }, { text: C_FEATURES, isBinary: false }]);
    expect(Buffer.concat(received).toString()).toBe(HEADER_TO_SERVER);
  });

  it('refuses bad client input with the stream error, <close/> and the catalogue close code; the server gets none of it, then a clean stream close', async () => {
    const received: Buffer[] = [];
    const { url, server } = await start(fakeServer(received));
    const ws = await openClient(res, url, 'xmpp');
    const messages: string[] = [];
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    ws.send(OPEN);
    await waitFor(() => messages.length === 2, 5000, 'open and features');
    ws.send('<message><a><b><c><d><e>MARKER-DEPTH</e></d></c></b></a></message>');
    const { code } = await closed(ws);
    expect(code).toBe(1009);
    expect(messages.slice(2)).toEqual([
      expect.stringMatching(new RegExp(`^<error xmlns="${STREAMS}"><policy-violation xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">.*maxDepth.*</text></error>$`)),
      C_CLOSE,
    ]);
    await socketClosed(server.sockets[0] as net.Socket);
    expect(Buffer.concat(received).toString()).toBe(`${HEADER_TO_SERVER}</stream:stream>`);
  });

  it('closes 1014 when the server stream is refused, after telling the client and the server', async () => {
    const received: Buffer[] = [];
    const { url, server } = await start((socket) => {
      socket.on('data', (chunk: Buffer) => {
        received.push(chunk);
        if (received.length === 1) socket.write(`${S_HEADER}<message><!DOCTYPE x></message>`);
      });
    });
    const ws = await openClient(res, url, 'xmpp');
    const messages: string[] = [];
    ws.on('message', (data: Buffer) => messages.push(data.toString()));
    ws.send(OPEN);
    const { code } = await closed(ws);
    expect(code).toBe(1014);
    // Frames completed in the push that hits the error are not forwarded: the <open/> arrives only
    // when the header came in an earlier TCP read.
    if (messages[0] === C_OPEN) messages.shift();
    expect(messages).toEqual([
      `<error xmlns="${STREAMS}"><${BACKEND_STREAM_CONDITION} xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">the XMPP server sent data Gangway refused (GW_ERR_XMPP_DTD)</text></error>`,
      C_CLOSE,
    ]);
    await socketClosed(server.sockets[0] as net.Socket);
    const toServer = Buffer.concat(received).toString();
    expect(toServer.startsWith(HEADER_TO_SERVER)).toBe(true);
    expect(toServer.slice(HEADER_TO_SERVER.length)).toMatch(/^<stream:error><restricted-xml xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text [^>]+>.+<\/text><\/stream:error><\/stream:stream>$/);
  });

  it('refuses a client that does not offer the xmpp subprotocol', async () => {
    const { url } = await start(() => undefined);
    const ws = new WebSocket(url, 'other');
    const status = await new Promise<number>((resolve) => {
      ws.on('error', () => undefined);
      ws.once('open', () => resolve(101));
      ws.once('unexpected-response', (_req, response) => resolve(response.statusCode ?? 0));
    });
    ws.terminate();
    expect(status).not.toBe(101);
  });
});

describe('validateServer at load', () => {
  const load = (type: string, properties: Record<string, unknown>): unknown =>
    buildConfig({ services: [service('svc', type, '/svc', { connect: 'tcp://127.0.0.1:5222', properties })] }, { source: 'test.yaml', types: SERVICE_TYPES, env: {} });

  it('refuses validateServer: false on xmpp.proxy, naming the key and why', () => {
    expect(() => load('xmpp.proxy', { validateServer: false })).toThrow(
      new ConfigError('test.yaml', [
        {
          path: 'services[0].properties.validateServer',
          message: "xmpp.proxy always validates the back end's stream (it translates the server's XML stream into RFC 7395 messages, one element each); remove validateServer or set it to true, got boolean false",
        },
      ]),
    );
    expect(() => load('xmpp.proxy', { validateServer: true })).not.toThrow();
  });

  it('takes validateServer on the other protocol proxies, true by default, and refuses a value that is not a boolean', () => {
    for (const type of ['stomp.proxy', 'amqp.proxy', 'irc.proxy']) {
      expect((load(type, {}) as GatewayConfig).services[0]?.properties).toMatchObject({ validateServer: true });
      expect((load(type, { validateServer: false }) as GatewayConfig).services[0]?.properties).toMatchObject({ validateServer: false });
      expect(() => load(type, { validateServer: 'no' })).toThrow('test.yaml: services[0].properties.validateServer: expected boolean, got "no"');
    }
  });
});
