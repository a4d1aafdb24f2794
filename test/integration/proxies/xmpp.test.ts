/**
 * `xmpp.proxy` with the real Prosody (compose/up: prosody): @xmpp/client speaks RFC 7395 over
 * WebSocket to Gangway, Gangway speaks an RFC 6120 stream over plain TCP to Prosody's c2s port
 * through a tap that records every byte Gangway sent. Prosody does not offer SASL PLAIN on an
 * unencrypted stream: the clients log in with SCRAM-SHA-1.
 */
import { WebSocket } from 'ws';
import { client, xml, type Client, type Element } from '@xmpp/client';
import { buildConfig } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import { SERVICE_TYPES } from '../../../src/services';
import type { ServiceType } from '../../../src/services/types';
import { wireProxyType } from '../../../src/services/wire/factory';
import { xmppProxy } from '../../../src/services/wire/xmpp';
import { escapeXml } from '../../../validators/xmpp';
import { requireBackend, type Backends, type Credentials } from '../../support/backends';
import { LogCapture, Resources, service } from '../../support/gateway';
import { unique, within } from '../backends/async';
import { errorCount, rawClient, startTap, type RawClient, type Tap, type TapConnection } from './support';

// SCRAM logins from @xmpp/client take about a second each (Prosody's 10,000 PBKDF2 iterations),
// and more on a server that has just started.
jest.setTimeout(30000);

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const STREAMS = 'http://etherx.jabber.org/streams';
const STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
const MAX_STANZA_BYTES = 16384;

const TYPES = new Map<string, ServiceType>([...SERVICE_TYPES, ['xmpp.proxy', wireProxyType(xmppProxy) as ServiceType]]);

interface Started {
  readonly gateway: Gateway;
  readonly url: string;
  readonly tap: Tap;
  readonly log: LogCapture;
}

describe('xmpp.proxy with Prosody', () => {
  let facts: Backends;
  let started: Started;
  const res = new Resources();
  const clients: Client[] = [];
  const globals = globalThis as { WebSocket?: unknown };
  const previousWebSocket = globals.WebSocket;

  beforeAll(async () => {
    facts = await requireBackend('prosody');
    // @xmpp/websocket uses the global WebSocket, which Node 20 does not have.
    globals.WebSocket = WebSocket;
    const tap = await startTap(res, { host: facts.host, port: facts.xmpp.c2sPort });
    const config = buildConfig(
      {
        services: [
          service('xmpp', 'xmpp.proxy', '/xmpp', {
            connect: `tcp://127.0.0.1:${tap.port}`,
            properties: { limits: { maxStanzaBytes: MAX_STANZA_BYTES } },
          }),
        ],
      },
      { source: 'test', types: TYPES, env: {} },
    );
    const log = new LogCapture();
    const gateway = new Gateway(config, createLogger('info', log), TYPES);
    await gateway.start();
    res.add(() => gateway.stop());
    started = { gateway, url: `ws://127.0.0.1:${gateway.port()}/xmpp`, tap, log };
  });

  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (xmpp) => {
        xmpp.reconnect.stop();
        if (xmpp.status !== 'offline') await within(xmpp.stop(), 5000, 'XMPP stop');
      }),
    );
  });

  afterAll(async () => {
    await res.closeAll();
    globals.WebSocket = previousWebSocket;
  });

  function user(index: number): Credentials {
    const found = facts.xmpp.users[index];
    if (!found) throw new Error(`compose/.env lists fewer than ${index + 1} XMPP users`);
    return found;
  }

  interface LoggedIn {
    readonly xmpp: Client;
    readonly mechanisms: string[];
    readonly features: Element[];
  }

  /** Logs in through Gangway with SCRAM-SHA-1 and waits until online (resource bound). */
  async function login(account: Credentials): Promise<LoggedIn> {
    let offered: string[] = [];
    const features: Element[] = [];
    const xmpp = client({
      service: started.url,
      domain: facts.xmpp.domain,
      resource: unique('gangway'),
      credentials: async (authenticate, mechanisms) => {
        offered = mechanisms;
        await authenticate({ username: account.username, password: account.password }, 'SCRAM-SHA-1');
      },
    });
    clients.push(xmpp);
    // Every element the client reads (test/support/types models stanzas only).
    const events = xmpp as unknown as { on(event: 'element', listener: (element: Element) => void): unknown };
    events.on('element', (element: Element) => {
      if (element.is('features', STREAMS)) features.push(element);
    });
    const errors: Error[] = [];
    xmpp.on('error', (error: Error) => errors.push(error));
    await within(xmpp.start(), 15000, `XMPP login of ${account.username} through Gangway`);
    expect(errors).toEqual([]);
    return { xmpp, mechanisms: offered, features };
  }

  /** Resolves with the first stanza accepted by `match`. */
  function nextStanza(xmpp: Client, what: string, match: (stanza: Element) => boolean): Promise<Element> {
    return within(
      new Promise<Element>((resolve) => {
        const listener = (stanza: Element): void => {
          if (match(stanza)) {
            xmpp.off('stanza', listener);
            resolve(stanza);
          }
        };
        xmpp.on('stanza', listener);
      }),
      5000,
      what,
    );
  }

  it('logs in with SCRAM over a plain link, binds a resource and sends a chat message between two users', async () => {
    const before = started.tap.connections.length;
    const alice = await login(user(0));
    const bob = await login(user(1));
    const body = unique('hello through Gangway');
    const aliceJid = alice.xmpp.jid?.toString() ?? '';
    const bobJid = bob.xmpp.jid?.toString() ?? '';

    expect(alice.mechanisms).toContain('SCRAM-SHA-1');
    expect(alice.mechanisms).not.toContain('PLAIN');
    expect(alice.xmpp.jid?.bare().toString()).toBe(`${user(0).username}@${facts.xmpp.domain}`);
    expect(alice.xmpp.jid?.resource).toMatch(/^gangway-/);
    // Features before and after the SASL restart; STARTTLS never reaches the client.
    expect(alice.features.length).toBe(2);
    for (const f of alice.features) expect(f.getChild('starttls')).toBeUndefined();
    expect(alice.features[0]?.getChild('mechanisms', 'urn:ietf:params:xml:ns:xmpp-sasl')).toBeDefined();
    expect(alice.features[1]?.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind')).toBeDefined();

    // Prosody keeps offline messages: match this run's message by its unique body.
    const received = nextStanza(bob.xmpp, 'chat message', (s) => s.is('message') && s.getChildText('body') === body);
    await alice.xmpp.send(xml('message', { to: bobJid, type: 'chat' }, xml('body', {}, body)));
    const message = await received;
    expect(message.attrs.type).toBe('chat');
    expect(message.attrs.from).toBe(aliceJid);

    // What Gangway sent Prosody on alice's link: two stream headers (the restart), SCRAM, no TLS.
    const link = started.tap.connections[before] as TapConnection;
    const sent = link.sent().toString('utf8');
    expect(sent.match(/<stream:stream /g)?.length).toBe(2);
    expect(sent).toContain("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'");
    expect(sent).toContain('mechanism="SCRAM-SHA-1"');
    expect(sent).not.toContain('starttls');
    expect(sent).not.toContain('urn:ietf:params:xml:ns:xmpp-framing');
    expect(sent).toContain(body);
  });

  it('joins a MUC room and delivers a groupchat message to the other occupant', async () => {
    const alice = await login(user(0));
    const bob = await login(user(1));
    const room = `${unique('gangway-room')}@${facts.xmpp.mucDomain}`;
    const body = unique('hello room through Gangway');

    async function join(xmpp: Client, nick: string): Promise<void> {
      // Self-presence carries status code 110 (XEP-0045 §7.2.3).
      const joined = nextStanza(xmpp, `join ${room} as ${nick}`, (s) =>
        s.is('presence') && s.attrs.from === `${room}/${nick}` &&
        (s.getChild('x', MUC_USER)?.getChildren('status').some((status) => status.attrs.code === '110') ?? false));
      await xmpp.send(xml('presence', { to: `${room}/${nick}` }, xml('x', { xmlns: MUC })));
      const presence = await joined;
      expect(presence.attrs.type).toBeUndefined();
    }

    await join(alice.xmpp, 'alice');
    await join(bob.xmpp, 'bob');
    const received = nextStanza(bob.xmpp, 'groupchat message', (s) => s.is('message') && s.getChildText('body') === body);
    await alice.xmpp.send(xml('message', { to: room, type: 'groupchat' }, xml('body', {}, body)));
    const message = await received;
    expect(message.attrs.type).toBe('groupchat');
    expect(message.attrs.from).toBe(`${room}/alice`);
  });

  it('closes the stream both ways when the client sends <close/>', async () => {
    const before = started.tap.connections.length;
    const alice = await login(user(2));
    await within(alice.xmpp.stop(), 5000, 'XMPP stop');
    const link = started.tap.connections[before] as TapConnection;
    await within(link.gangwayClosed, 5000, 'Gangway to end the link');
    expect(link.sent().toString('utf8').endsWith('</stream:stream>')).toBe(true);
  });

  /** A raw RFC 7395 session with its stream open (Prosody's <open/> received) and its tap link. */
  async function openSession(): Promise<{ client: RawClient; link: TapConnection }> {
    const before = started.tap.connections.length;
    const raw = await rawClient(res, started.url, 'xmpp');
    raw.ws.send(`<open xmlns="${FRAMING}" to="${facts.xmpp.domain}" version="1.0"/>`);
    await raw.until((m) => m.some((x) => x.data.toString().includes('<features ')), 'the server to open the stream');
    expect(raw.messages[0]?.data.toString()).toMatch(new RegExp(`^<open xmlns="${FRAMING}" from="${facts.xmpp.domain}" id="[^"]+" version="1.0"`));
    const link = started.tap.connections[before] as TapConnection;
    return { client: raw, link };
  }

  interface BadInput {
    readonly what: string;
    /** WebSocket messages; `MARK` is replaced by a marker unique to the case. */
    readonly messages: readonly string[];
    readonly code: string;
    readonly condition: string;
    readonly close: number;
  }

  const BAD_INPUTS: readonly BadInput[] = [
    {
      what: 'a DTD with an entity declaration',
      messages: [`<!DOCTYPE message [<!ENTITY x "MARK">]><message xmlns='jabber:client' to='bob@localhost'><body>&x;</body></message>`],
      code: 'GW_ERR_XMPP_DTD', condition: 'restricted-xml', close: 1008,
    },
    {
      what: 'a comment',
      messages: [`<message xmlns='jabber:client' to='bob@localhost'><!-- MARK --><body>hi</body></message>`],
      code: 'GW_ERR_XMPP_COMMENT', condition: 'restricted-xml', close: 1008,
    },
    {
      what: 'an undeclared entity reference',
      messages: [`<message xmlns='jabber:client' to='bob@localhost'><body>MARK &nbsp;</body></message>`],
      code: 'GW_ERR_XMPP_ENTITY_REFERENCE', condition: 'restricted-xml', close: 1008,
    },
    {
      what: 'a stanza split over two WebSocket messages',
      messages: [`<message xmlns='jabber:client' to='bob@localhost'><body>MARK`, `</body></message>`],
      code: 'GW_ERR_XMPP_WEBSOCKET_FRAMING', condition: 'bad-format', close: 1002,
    },
    {
      what: 'two stanzas in one WebSocket message',
      messages: [`<message xmlns='jabber:client' to='bob@localhost'><body>MARK-1</body></message><message xmlns='jabber:client' to='bob@localhost'><body>MARK-2</body></message>`],
      code: 'GW_ERR_XMPP_WEBSOCKET_FRAMING', condition: 'bad-format', close: 1002,
    },
    {
      what: 'STARTTLS over WebSocket',
      messages: [`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls' id='MARK'/>`],
      code: 'GW_ERR_XMPP_STARTTLS_OVER_WEBSOCKET', condition: 'policy-violation', close: 1008,
    },
    {
      what: 'an oversize stanza',
      messages: [`<message xmlns='jabber:client' to='bob@localhost'><body>MARK ${'x'.repeat(MAX_STANZA_BYTES)}</body></message>`],
      code: 'GW_ERR_XMPP_STANZA_TOO_LARGE', condition: 'policy-violation', close: 1009,
    },
    {
      what: 'mismatched tags',
      messages: [`<message xmlns='jabber:client' to='bob@localhost'><body>MARK</bdy></message>`],
      code: 'GW_ERR_XMPP_MISMATCHED_TAG', condition: 'not-well-formed', close: 1002,
    },
    {
      what: 'a second <open/> without a restart',
      messages: [`<open xmlns='${FRAMING}' to='localhost' version='1.0' id='MARK'/>`],
      code: 'GW_ERR_XMPP_UNEXPECTED_STREAM_HEADER', condition: 'bad-format', close: 1002,
    },
  ];

  it.each(BAD_INPUTS)('refuses $what with <$condition/> and close $close; nothing of it reaches Prosody', async (bad) => {
    const marker = unique('GWMARK');
    const errorsBefore = await errorCount(started.gateway, 'xmpp', bad.code);
    const refusalsBefore = started.log.records().filter((r) => r.msg === 'input refused').length;
    const { client: raw, link } = await openSession();
    const seen = raw.messages.length;
    for (const m of bad.messages) raw.ws.send(m.replaceAll('MARK', marker));

    const { code } = await within(raw.closed, 5000, 'close');
    expect(code).toBe(bad.close);
    const refusals = started.log.records().filter((r) => r.msg === 'input refused').slice(refusalsBefore);
    expect(refusals).toEqual([expect.objectContaining({ level: 'info', service: 'xmpp', code: bad.code, direction: 'toServer', reason: expect.any(String) })]);
    // The documented reply (RFC 7395 §3.6, validators/xmpp/README.md): the stream error with the
    // condition and the detail as its text, then <close/>, as two text messages.
    const replies = raw.messages.slice(seen);
    expect(replies.map((m) => m.isBinary)).toEqual([false, false]);
    expect(replies.map((m) => m.data.toString())).toEqual([
      `<error xmlns="${STREAMS}"><${bad.condition} xmlns="${STREAM_ERRORS}"/><text xmlns="${STREAM_ERRORS}">${escapeXml(String(refusals[0]?.reason))}</text></error>`,
      `<close xmlns="${FRAMING}"/>`,
    ]);
    expect(await errorCount(started.gateway, 'xmpp', bad.code)).toBe(errorsBefore + 1);

    await within(link.gangwayClosed, 5000, 'Gangway to end the link to Prosody');
    const sent = link.sent().toString('utf8');
    expect(sent.startsWith("<?xml version='1.0'?><stream:stream ")).toBe(true);
    expect(sent).not.toContain(marker);
  });
});
