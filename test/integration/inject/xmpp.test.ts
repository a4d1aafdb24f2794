/**
 * STARTTLS by Gangway and SASL injection in `xmpp.proxy` with the real Prosody (compose/up:
 * prosody), on its host that requires encryption (XMPP_SECURE_DOMAIN): @xmpp/client speaks RFC 7395
 * over WebSocket and holds no password; Gangway upgrades its link to Prosody with STARTTLS and
 * logs in with the stored credential, by SCRAM-SHA-1 (the strongest Prosody 0.12 offers, beside
 * PLAIN). On the host that does not require encryption (XMPP_DOMAIN), Prosody offers SCRAM-SHA-1
 * alone over plain TCP, so the tap can read Gangway's SCRAM exchange. A TCP tap records every
 * byte both ways.
 */
import { WebSocket } from 'ws';
import { client, xml, type Client, type Element } from '@xmpp/client';
import { buildConfig } from '../../../src/config/load';
import { Gateway } from '../../../src/gateway';
import { createLogger } from '../../../src/log';
import { SERVICE_TYPES } from '../../../src/services';
import { LogCapture, Resources, service, tcpServer } from '../../support/gateway';
import { requireBackend, type Backends, type Credentials } from '../../support/backends';
import { unique, within } from '../backends/async';
import { envValue, rawClient, startTap, type Tap } from '../proxies/support';
import { expectUpgradedLink, plainBlobs } from './upgrade';

const STREAMS = 'http://etherx.jabber.org/streams';
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const STARTTLS = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
const PROCEED = /<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/;
const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

jest.setTimeout(30_000);

describe('xmpp.proxy: STARTTLS by Gangway and SASL injection with Prosody', () => {
  let facts: Backends;
  let domain: string;
  let alice: Credentials;
  const res = new Resources();
  const clients: Client[] = [];
  const globals = globalThis as { WebSocket?: unknown };
  const previousWebSocket = globals.WebSocket;

  beforeAll(async () => {
    facts = await requireBackend('prosody');
    domain = envValue('XMPP_SECURE_DOMAIN');
    const first = facts.xmpp.users[0];
    if (!first) throw new Error('compose/.env lists no XMPP user');
    alice = first;
    globals.WebSocket = WebSocket;
  });

  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (xmpp) => {
        xmpp.reconnect.stop();
        if (xmpp.status !== 'offline') await within(xmpp.stop(), 5000, 'XMPP stop');
      }),
    );
    await res.closeAll();
  });

  afterAll(() => {
    globals.WebSocket = previousWebSocket;
  });

  async function gateway(properties: Record<string, unknown>, port?: number): Promise<{ url: string; tap: Tap; log: LogCapture }> {
    const tap = await startTap(res, { host: facts.host, port: port ?? facts.xmpp.c2sPort });
    const config = buildConfig(
      { services: [service('xmpp-inject', 'xmpp.proxy', '/xmpp', { connect: `tcp://127.0.0.1:${tap.port}`, properties })] },
      { source: 'test', types: SERVICE_TYPES, env: {} },
    );
    const log = new LogCapture();
    const gw = new Gateway(config, createLogger('debug', log));
    await gw.start();
    res.add(() => gw.stop());
    return { url: `ws://127.0.0.1:${gw.port()}/xmpp`, tap, log };
  }

  function injecting(password: string): Record<string, unknown> {
    return {
      starttls: true,
      tls: { caFile: facts.caFile, serverName: 'localhost' },
      inject: { source: 'service', username: alice.username, password },
    };
  }

  /** @xmpp/client with no password: it answers Gangway's PLAIN-only offer with an empty one. */
  function start(url: string, on = domain): { xmpp: Client; mechanisms: () => string[]; features: Element[]; started: Promise<unknown> } {
    let offered: string[] = [];
    const features: Element[] = [];
    const xmpp = client({
      service: url,
      domain: on,
      resource: unique('inject'),
      credentials: async (authenticate, mechanisms) => {
        offered = mechanisms;
        await authenticate({ username: alice.username, password: '' }, 'PLAIN');
      },
    });
    clients.push(xmpp);
    const events = xmpp as unknown as { on(event: 'element', listener: (element: Element) => void): unknown };
    events.on('element', (element: Element) => {
      if (element.is('features', STREAMS)) features.push(element);
    });
    xmpp.on('error', () => undefined);
    return { xmpp, mechanisms: () => offered, features, started: xmpp.start() };
  }

  test('the client logs in without a password; TLS follows <proceed/>; no plaintext credential on the wire', async () => {
    const { url, tap, log } = await gateway(injecting(alice.password));
    const { xmpp, mechanisms, features, started } = start(url);
    await within(started, 15000, 'XMPP login through Gangway');
    expect(xmpp.jid?.bare().toString()).toBe(`${alice.username}@${domain}`);
    expect(mechanisms()).toEqual(['PLAIN']);
    for (const f of features) expect(f.getChild('starttls')).toBeUndefined();

    // A message to itself proves the stream works end to end.
    const body = unique('self');
    const echoed = within(
      new Promise<Element>((resolve) => xmpp.on('stanza', (s: Element) => {
        if (s.is('message') && s.getChildText('body') === body) resolve(s);
      })),
      5000,
      'the message back',
    );
    await xmpp.send(xml('message', { to: xmpp.jid?.toString(), type: 'chat' }, xml('body', {}, body)));
    await echoed;

    const link = await tap.first();
    expectUpgradedLink(link, { request: STARTTLS, agreement: PROCEED, secrets: [alice.password, ...plainBlobs(alice.username, alice.password)] });
    expect(link.sent().includes(Buffer.from('<auth'))).toBe(false);
    expect(log.text()).not.toContain(alice.password);
    expect(log.text()).toContain('back end link upgraded to TLS');
  });

  test('after STARTTLS Gangway logs in with SCRAM: restricted to SCRAM-SHA-1 it succeeds, to SCRAM-SHA-256 (not offered) it refuses', async () => {
    const scram = await gateway({ ...injecting(alice.password), saslMechanisms: ['SCRAM-SHA-1'] });
    const { xmpp, started } = start(scram.url);
    await within(started, 15000, 'XMPP login through Gangway with SCRAM-SHA-1');
    expect(xmpp.jid?.bare().toString()).toBe(`${alice.username}@${domain}`);
    expectUpgradedLink(await scram.tap.first(), { request: STARTTLS, agreement: PROCEED, secrets: [alice.password, ...plainBlobs(alice.username, alice.password)] });

    const sha256 = await gateway({ ...injecting(alice.password), saslMechanisms: ['SCRAM-SHA-256'] });
    const raw = await rawClient(res, sha256.url, 'xmpp');
    raw.ws.send(`<open xmlns="${FRAMING}" to="${domain}" version="1.0"/>`);
    const close = await within(raw.closed, 10000, 'the close');
    expect(close.code).toBe(1008);
    const text = raw.received().toString();
    expect(text).toContain('<policy-violation');
    // Prosody lists its mechanisms in an order of its own (a Lua table), which differs between runs.
    expect(text).toMatch(/the XMPP server offers (PLAIN, SCRAM-SHA-1|SCRAM-SHA-1, PLAIN), Gangway may use SCRAM-SHA-256; it cannot log in for the client/);
    expect(text).not.toContain('<mechanism>');
  });

  test('over plain TCP (allowPlaintextCredentials) Prosody offers SCRAM-SHA-1 only: the tap shows Gangway\'s SCRAM exchange, no PLAIN, no password', async () => {
    const plain = await gateway({ inject: { source: 'service', username: alice.username, password: alice.password, allowPlaintextCredentials: true } });
    const { xmpp, mechanisms, started } = start(plain.url, facts.xmpp.domain);
    await within(started, 15000, 'XMPP login through Gangway over plain TCP');
    expect(xmpp.jid?.bare().toString()).toBe(`${alice.username}@${facts.xmpp.domain}`);
    expect(mechanisms()).toEqual(['PLAIN']);

    const link = await plain.tap.first();
    const sent = link.sent().toString('latin1');
    const received = link.received().toString('latin1');
    expect(received).toMatch(/<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1<\/mechanism><\/mechanisms>/);
    const auth = new RegExp(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>([A-Za-z0-9+/=]+)</auth>`).exec(sent);
    expect(Buffer.from(auth?.[1] ?? '', 'base64').toString()).toMatch(new RegExp(`^n,,n=${alice.username},r=[A-Za-z0-9+/=]{32}$`));
    // Gangway answered the challenge with its proof; the server's signature came in <success/>.
    const challenge = new RegExp(`<challenge xmlns='${SASL}'>([A-Za-z0-9+/=]+)</challenge>`).exec(received);
    expect(Buffer.from(challenge?.[1] ?? '', 'base64').toString()).toMatch(/^r=[^,]+,s=[^,]+,i=\d+$/);
    const response = new RegExp(`<response xmlns='${SASL}'>([A-Za-z0-9+/=]+)</response>`).exec(sent);
    expect(Buffer.from(response?.[1] ?? '', 'base64').toString()).toMatch(/^c=biws,r=[^,]+,p=[A-Za-z0-9+/=]+$/);
    const success = new RegExp(`<success xmlns='${SASL}'>([A-Za-z0-9+/=]+)</success>`).exec(received);
    expect(Buffer.from(success?.[1] ?? '', 'base64').toString()).toMatch(/^v=[A-Za-z0-9+/=]+$/);
    expect(sent).not.toContain('PLAIN');
    for (const secret of [alice.password, ...plainBlobs(alice.username, alice.password)]) {
      expect(sent).not.toContain(secret);
      expect(received).not.toContain(secret);
    }
    expect(plain.log.text()).not.toContain(alice.password);
  });

  test('a wrong stored password: the client gets SASL <failure/> from the server', async () => {
    const { url } = await gateway(injecting('not-the-password'));
    const { started } = start(url);
    await expect(within(started, 15000, 'XMPP login through Gangway')).rejects.toThrow(/not-authorized/);
  });

  test('the certificate is checked: a wrong serverName fails the upgrade (GW_ERR_BACKEND_TLS)', async () => {
    const { url } = await gateway({ ...injecting(alice.password), tls: { caFile: facts.caFile, serverName: 'wrong.example' } });
    const raw = await rawClient(res, url, 'xmpp');
    raw.ws.send(`<open xmlns="${FRAMING}" to="${domain}" version="1.0"/>`);
    const close = await within(raw.closed, 10000, 'the close');
    expect(close.code).toBe(1011);
    expect(close.reason).toMatch(/TLS/);
    expect(raw.messages).toEqual([]);
  });

  test('without STARTTLS, plaintext injection is refused before any credential is sent', async () => {
    const { url, tap } = await gateway({ inject: { source: 'service', username: alice.username, password: alice.password } });
    const raw = await rawClient(res, url, 'xmpp');
    raw.ws.send(`<open xmlns="${FRAMING}" to="${facts.xmpp.domain}" version="1.0"/>`);
    const close = await within(raw.closed, 5000, 'the close');
    expect(close.code).toBe(1008);
    const text = raw.received().toString();
    expect(text).toMatch(/policy-violation.*unencrypted link/s);
    expect(text).not.toContain('<mechanism>');
    expect((await tap.first()).sent().includes(Buffer.from('<auth'))).toBe(false);
  });

  test('a server that does not offer STARTTLS: stream error policy-violation, nothing sent but the header', async () => {
    const fake = await tcpServer(res, (socket) => {
      socket.on('data', () => {
        socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' id='x' from='${domain}' version='1.0'>`);
        socket.write(`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`);
      });
    });
    const { url, tap } = await gateway(injecting(alice.password), fake.port);
    const raw = await rawClient(res, url, 'xmpp');
    raw.ws.send(`<open xmlns="${FRAMING}" to="${domain}" version="1.0"/>`);
    const close = await within(raw.closed, 5000, 'the close');
    expect(close.code).toBe(1008);
    const text = raw.received().toString();
    expect(text).toContain('<policy-violation');
    expect(text).toContain('does not offer STARTTLS');
    expect(text).not.toContain('<mechanism>');
    const sent = (await tap.first()).sent().toString();
    expect(sent).not.toContain('<starttls');
    expect(sent).not.toContain('<auth');
  });
});
