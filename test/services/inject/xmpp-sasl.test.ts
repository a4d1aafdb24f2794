/**
 * XMPP SASL performed by Gangway with the injected credential, without a back end: the
 * `xmpp.proxy` transform with an injector, a fake link to the server that records what Gangway
 * writes, and a SCRAM server written from the RFC (test/security/sasl/server.ts) answering it;
 * then @xmpp/client through Gangway to an in-process XMPP server offering SCRAM-SHA-256, which
 * the Prosody of compose/ does not (it offers SCRAM-SHA-1 and PLAIN).
 */
import { WebSocket, type RawData } from 'ws';
import { client } from '@xmpp/client';
import { xmppProxy, createXmppTransform, type FrameCounter } from '../../../src/services/wire/xmpp';
import { INJECT_ERRORS, InjectionError, Injector } from '../../../src/services/inject/injector';
import { injectSchema, type Credential } from '../../../src/services/inject/types';
import { XMPP_SASL_MECHANISMS, chooseMechanism, offeredMechanisms, type XmppSaslMechanism } from '../../../src/services/inject/xmpp-sasl';
import type { BackendLink, Transform } from '../../../src/services/pipe';
import type { WireError } from '../../../validators/types';
import { Resources, closed, openClient, service, startGateway, tcpServer, toBuffer, waitFor, type StartedGateway } from '../../support/gateway';
import { TestScramServer } from '../../security/sasl/server';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const CRED: Credential = { username: 'alice', password: 'alice-test' };
const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='s1' version='1.0'>";

function features(...mechanisms: string[]): string {
  return `<stream:features><mechanisms xmlns='${SASL}'>${mechanisms.map((m) => `<mechanism>${m}</mechanism>`).join('')}</mechanisms></stream:features>`;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** The transform with a fake link: what it wrote to the server, what it refused, what the client got. */
async function session(
  credential: Credential = CRED,
  saslMechanisms?: readonly XmppSaslMechanism[],
): Promise<{ t: Transform; written: string[]; refused: WireError[]; toClient: string[]; server(text: string): string[]; client(text: string): string | null }> {
  const injector = new Injector('xmpp', injectSchema.parse({ source: 'service', username: credential.username, password: credential.password }), { lookup: () => Promise.resolve(credential) }, 'xmpp', null);
  const counter: FrameCounter = { frame: () => undefined };
  const t = createXmppTransform({}, counter, { injector, saslMechanisms });
  const written: string[] = [];
  const refused: WireError[] = [];
  const toClient: string[] = [];
  const link: BackendLink = {
    secure: true,
    write: (data) => written.push(data.toString('utf8')),
    startTls: () => Promise.resolve(true),
    refuse: (err) => refused.push(err),
    close: () => undefined,
  };
  t.attach?.(link);
  await t.start?.();
  return {
    t,
    written,
    refused,
    toClient,
    server(text) {
      const before = toClient.length;
      t.fromBackend(Buffer.from(text), (m) => toClient.push(m.toString('utf8')));
      return toClient.slice(before);
    },
    client(text) {
      const out = t.fromClient(Buffer.from(text), false);
      return out === null ? null : out.toString('utf8');
    },
  };
}

/** Opens the stream and lets the server offer `mechanisms`; the features the client saw. */
function opened(s: Awaited<ReturnType<typeof session>>, ...mechanisms: string[]): string[] {
  s.client(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
  return s.server(HEADER + features(...mechanisms));
}

/** The client's PLAIN `<auth/>` with no password, as @xmpp/client sends it through Gangway. */
const CLIENT_AUTH = `<auth xmlns="${SASL}" mechanism="PLAIN">${b64('\0alice\0')}</auth>`;

/** The mechanism and decoded data of an `<auth/>` Gangway wrote. */
function authOf(text: string | null): { mechanism: string; data: string } {
  const m = /^<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='([^']+)'>([^<]*)<\/auth>$/.exec(text ?? '');
  if (!m) throw new Error(`not an <auth/>: ${text}`);
  return { mechanism: m[1] as string, data: unb64(m[2] as string) };
}

function responseOf(text: string | undefined): string {
  const m = /^<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>([^<]+)<\/response>$/.exec(text ?? '');
  if (!m) throw new Error(`not a <response/> with data: ${text}`);
  return unb64(m[1] as string);
}

/** Runs the exchange up to Gangway's client-final response; the server that answers it. */
async function throughResponse(s: Awaited<ReturnType<typeof session>>, hash: 'sha1' | 'sha256', password = CRED.password): Promise<{ server: TestScramServer; serverFinal: string }> {
  const auth = authOf(s.client(CLIENT_AUTH));
  const server = new TestScramServer(hash, password);
  expect(s.server(`<challenge xmlns='${SASL}'>${b64(server.first(auth.data))}</challenge>`)).toEqual([]);
  await waitFor(() => s.written.length > 0 || s.refused.length > 0, 5000, 'the response');
  const serverFinal = server.final(responseOf(s.written.shift()));
  return { server, serverFinal };
}

describe('mechanism choice', () => {
  it('reads the offered mechanisms, null without SASL', () => {
    expect(offeredMechanisms(Buffer.from(features('PLAIN', 'SCRAM-SHA-1')))).toEqual(['PLAIN', 'SCRAM-SHA-1']);
    expect(offeredMechanisms(Buffer.from("<features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>"))).toBeNull();
  });

  it.each([
    [['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'], XMPP_SASL_MECHANISMS, CRED, 'SCRAM-SHA-256'],
    [['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS'], XMPP_SASL_MECHANISMS, CRED, 'SCRAM-SHA-1'],
    [['PLAIN'], XMPP_SASL_MECHANISMS, CRED, 'PLAIN'],
    [['PLAIN', 'SCRAM-SHA-256'], ['PLAIN', 'SCRAM-SHA-1'], CRED, 'PLAIN'],
    [['PLAIN', 'SCRAM-SHA-256'], ['SCRAM-SHA-1'], CRED, null],
    [['PLAIN', 'SCRAM-SHA-256'], XMPP_SASL_MECHANISMS, { username: 'alice', password: 'pässword' }, 'PLAIN'],
    [['SCRAM-SHA-256'], XMPP_SASL_MECHANISMS, { username: 'alice', password: 'pässword' }, null],
    [['DIGEST-MD5', 'ANONYMOUS'], XMPP_SASL_MECHANISMS, CRED, null],
  ] as const)('offered %j, allowed %j: %j', (offered, allowed, credential, expected) => {
    expect(chooseMechanism(offered, allowed, credential)).toBe(expected);
  });

  it('saslMechanisms is checked at load and only with inject', () => {
    const inject = { source: 'service', username: 'u', password: 'p' };
    expect(xmppProxy.properties.safeParse({ inject, saslMechanisms: ['SCRAM-SHA-256'] }).success).toBe(true);
    expect(xmppProxy.properties.safeParse({ inject, saslMechanisms: [] }).success).toBe(false);
    expect(xmppProxy.properties.safeParse({ inject, saslMechanisms: ['DIGEST-MD5'] }).success).toBe(false);
    const alone = xmppProxy.properties.safeParse({ saslMechanisms: ['PLAIN'] });
    expect(alone.success).toBe(false);
    expect(alone.error?.issues[0]?.path).toEqual(['saslMechanisms']);
    expect(alone.error?.issues[0]?.message).toMatch(/only with inject/);
  });
});

describe.each([
  ['SCRAM-SHA-256', 'sha256'],
  ['SCRAM-SHA-1', 'sha1'],
] as const)('%s by Gangway', (mechanism, hash) => {
  const offer = mechanism === 'SCRAM-SHA-256' ? ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'] : ['PLAIN', 'SCRAM-SHA-1'];

  it('the client sees PLAIN only; Gangway answers the challenge; the client gets <success/> once the signature verified', async () => {
    const s = await session();
    const [, shown] = opened(s, ...offer);
    expect(shown).toContain(`<mechanisms xmlns='${SASL}'><mechanism>PLAIN</mechanism></mechanisms>`);
    const auth = authOf(s.client(CLIENT_AUTH));
    expect(auth.mechanism).toBe(mechanism);
    expect(auth.data).toMatch(/^n,,n=alice,r=[A-Za-z0-9+/]{32}$/);

    const server = new TestScramServer(hash, CRED.password);
    expect(s.server(`<challenge xmlns='${SASL}'>${b64(server.first(auth.data))}</challenge>`)).toEqual([]);
    await waitFor(() => s.written.length > 0, 5000, 'the response');
    const final = responseOf(s.written.shift());
    expect(final).not.toContain(CRED.password);
    const serverFinal = server.final(final);
    expect(server.proofOk).toBe(true);
    expect(s.server(`<success xmlns='${SASL}'>${b64(serverFinal)}</success>`)).toEqual([`<success xmlns="${SASL}"/>`]);
    expect(s.refused).toEqual([]);
    // The stream restarts as after any SASL success.
    expect(s.client(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`)).toContain('<stream:stream');
  });

  it('a server-final message in a challenge is verified and answered with an empty response', async () => {
    const s = await session();
    opened(s, ...offer);
    const { serverFinal } = await throughResponse(s, hash);
    expect(s.server(`<challenge xmlns='${SASL}'>${b64(serverFinal)}</challenge>`)).toEqual([]);
    expect(s.written).toEqual([`<response xmlns='${SASL}'/>`]);
    expect(s.server(`<success xmlns='${SASL}'/>`)).toEqual([`<success xmlns="${SASL}"/>`]);
    expect(s.refused).toEqual([]);
  });

  it('a wrong server signature: GW_ERR_INJECT_SERVER_SIGNATURE, and the client never sees <success/>', async () => {
    const s = await session();
    opened(s, ...offer);
    const { serverFinal } = await throughResponse(s, hash);
    const sig = Buffer.from(serverFinal.slice(2), 'base64');
    sig[3] = (sig[3] as number) ^ 0x80;
    expect(s.server(`<success xmlns='${SASL}'>${b64(`v=${sig.toString('base64')}`)}</success>`)).toEqual([]);
    expect(s.refused).toHaveLength(1);
    const err = s.refused[0] as InjectionError;
    expect(err).toBeInstanceOf(InjectionError);
    expect(err.code).toBe(INJECT_ERRORS.SERVER_SIGNATURE.code);
    expect(err.closeCode).toBe(1014);
    expect(err.condition).toBe('remote-connection-failed');
    expect(err.message).toMatch(/failed SCRAM verification/);
    expect(err.message).not.toContain(CRED.password);
  });

  it("a server that holds another password: its proof check fails; <failure/> reaches the client as the server sent it", async () => {
    const s = await session();
    opened(s, ...offer);
    const { server } = await throughResponse(s, hash, 'not-the-password');
    expect(server.proofOk).toBe(false);
    const failure = `<failure xmlns='${SASL}'><not-authorized/><text>Invalid username or password</text></failure>`;
    expect(s.server(failure)).toEqual([failure]);
    expect(s.refused).toEqual([]);
    // The client may try again: Gangway starts a new exchange.
    expect(authOf(s.client(CLIENT_AUTH)).mechanism).toBe(mechanism);
  });
});

describe('the server breaks the exchange: GW_ERR_INJECT_SASL_EXCHANGE', () => {
  async function refusedBy(steps: (s: Awaited<ReturnType<typeof session>>) => Promise<void>): Promise<InjectionError> {
    const s = await session();
    opened(s, 'SCRAM-SHA-256');
    await steps(s);
    await waitFor(() => s.refused.length > 0, 5000, 'the refusal');
    expect(s.toClient.some((m) => m.includes('<success'))).toBe(false);
    const err = s.refused[0] as InjectionError;
    expect(err.code).toBe(INJECT_ERRORS.SASL_EXCHANGE.code);
    expect(err.closeCode).toBe(1014);
    return err;
  }

  it('<success/> before any challenge', async () => {
    const err = await refusedBy(async (s) => {
      s.client(CLIENT_AUTH);
      s.server(`<success xmlns='${SASL}'/>`);
    });
    expect(err.message).toMatch(/<success\/> before the SCRAM exchange finished/);
  });

  it('<success/> without the server signature', async () => {
    const err = await refusedBy(async (s) => {
      await throughResponse(s, 'sha256');
      s.server(`<success xmlns='${SASL}'/>`);
    });
    expect(err.message).toMatch(/without the SCRAM server signature/);
  });

  it('a challenge that is not base64', async () => {
    const err = await refusedBy(async (s) => {
      s.client(CLIENT_AUTH);
      s.server(`<challenge xmlns='${SASL}'>not base64!</challenge>`);
    });
    expect(err.message).toMatch(/<challenge\/> does not hold base64/);
  });

  it("a nonce that does not extend Gangway's (refused once the proof would be computed)", async () => {
    const err = await refusedBy(async (s) => {
      s.client(CLIENT_AUTH);
      s.server(`<challenge xmlns='${SASL}'>${b64('r=someone-elses,s=QSXCR+Q6sek8bf92,i=4096')}</challenge>`);
    });
    expect(err.message).toMatch(/nonce does not extend/);
  });

  it('too many iterations', async () => {
    const err = await refusedBy(async (s) => {
      const auth = authOf(s.client(CLIENT_AUTH));
      const server = new TestScramServer('sha256', CRED.password, { iterations: 10_000_000 });
      s.server(`<challenge xmlns='${SASL}'>${b64(server.first(auth.data))}</challenge>`);
    });
    expect(err.message).toMatch(/10000000 iterations, outside 4096\.\.600000/);
  });

  it('a second challenge while the proof is computed', async () => {
    const err = await refusedBy(async (s) => {
      const auth = authOf(s.client(CLIENT_AUTH));
      const challenge = `<challenge xmlns='${SASL}'>${b64(new TestScramServer('sha256', CRED.password).first(auth.data))}</challenge>`;
      s.server(challenge + challenge);
    });
    expect(err.message).toMatch(/a challenge while the proof is computed/);
  });
});

describe('PLAIN and refusals', () => {
  it('PLAIN when it is the only mechanism offered: the credential in <auth/>, the server answer passed on', async () => {
    const s = await session();
    opened(s, 'PLAIN');
    const auth = authOf(s.client(CLIENT_AUTH));
    expect(auth).toEqual({ mechanism: 'PLAIN', data: `\0${CRED.username}\0${CRED.password}` });
    expect(s.server(`<success xmlns='${SASL}'/>`)).toEqual([`<success xmlns='${SASL}'/>`]);
  });

  it('saslMechanisms [PLAIN] keeps Gangway to PLAIN where SCRAM is offered', async () => {
    const s = await session(CRED, ['PLAIN']);
    opened(s, 'SCRAM-SHA-256', 'PLAIN');
    expect(authOf(s.client(CLIENT_AUTH)).mechanism).toBe('PLAIN');
  });

  it('a non-ASCII password goes with PLAIN where the server offers it, SCRAM-SHA-256 notwithstanding', async () => {
    const s = await session({ username: 'alice', password: 'pässword' });
    opened(s, 'SCRAM-SHA-256', 'PLAIN');
    expect(authOf(s.client(CLIENT_AUTH)).mechanism).toBe('PLAIN');
  });

  it('no usable mechanism: GW_ERR_INJECT_UNSUPPORTED_LOGIN when the features arrive, naming what is offered and allowed', async () => {
    const s = await session({ username: 'alice', password: 'pässword' });
    expect(opened(s, 'SCRAM-SHA-1')).toEqual([expect.stringContaining('<open')]);
    const err = s.refused[0] as InjectionError;
    expect(err.code).toBe(INJECT_ERRORS.UNSUPPORTED_LOGIN.code);
    expect(err.message).toBe(
      'the XMPP server offers SCRAM-SHA-1, Gangway may use SCRAM-SHA-256, SCRAM-SHA-1, PLAIN; SCRAM needs a user name and password of printable ASCII; it cannot log in for the client',
    );
    expect(err.message).not.toContain('pässword');

    const t = await session(CRED, ['SCRAM-SHA-256']);
    opened(t, 'SCRAM-SHA-1', 'PLAIN');
    expect(t.refused[0]?.message).toBe('the XMPP server offers SCRAM-SHA-1, PLAIN, Gangway may use SCRAM-SHA-256; it cannot log in for the client');
  });

  it('a client <auth/> before the server offered SASL is refused', async () => {
    const s = await session();
    s.client(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
    let thrown: unknown;
    try {
      s.client(CLIENT_AUTH);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(InjectionError);
    expect((thrown as InjectionError).code).toBe(INJECT_ERRORS.UNSUPPORTED_LOGIN.code);
  });
});

/**
 * An XMPP server on port 0 that speaks just enough for a login (RFC 6120 §4, §6, §7): SASL with
 * `mechanisms` (SCRAM by {@link TestScramServer}), then resource binding. `tamper` flips a bit of
 * its SCRAM signature. Everything Gangway sent it is kept.
 */
async function fakeXmppServer(res: Resources, mechanisms: readonly string[], tamper = false): Promise<{ port: number; received: () => string; scram: () => TestScramServer | null }> {
  let all = '';
  let scram: TestScramServer | null = null;
  const server = await tcpServer(res, (socket) => {
    let buffer = '';
    let authenticated = false;
    const header = (id: string): string =>
      `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' id='${id}' version='1.0'>`;
    const steps: [RegExp, (m: RegExpExecArray) => string][] = [
      [/^<\?xml[^>]*\?><stream:stream[^>]*>/, () =>
        authenticated
          ? `${header('s2')}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`
          : header('s1') + features(...mechanisms)],
      [/^<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='([^']+)'>([^<]*)<\/auth>/, (m) => {
        if (m[1] === 'PLAIN') return `<failure xmlns='${SASL}'><not-authorized/></failure>`;
        scram = new TestScramServer(m[1] === 'SCRAM-SHA-256' ? 'sha256' : 'sha1', CRED.password);
        return `<challenge xmlns='${SASL}'>${b64(scram.first(unb64(m[2] as string)))}</challenge>`;
      }],
      [/^<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>([^<]*)<\/response>/, (m) => {
        const s = scram as TestScramServer;
        let final = s.final(unb64(m[1] as string));
        if (!s.proofOk) return `<failure xmlns='${SASL}'><not-authorized/></failure>`;
        if (tamper) {
          const signature = Buffer.from(final.slice(2), 'base64');
          signature[0] = (signature[0] as number) ^ 1;
          final = `v=${signature.toString('base64')}`;
        }
        authenticated = true;
        return `<success xmlns='${SASL}'>${b64(final)}</success>`;
      }],
      [/^<iq\b[^>]*\bid=["']([^"']+)["'][^>]*>[\s\S]*?<\/iq>/, (m) =>
        `<iq type='result' id='${m[1] as string}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/fake</jid></bind></iq>`],
      [/^<\/stream:stream>/, () => '</stream:stream>'],
    ];
    socket.on('data', (chunk: Buffer) => {
      all += chunk.toString('utf8');
      buffer += chunk.toString('utf8');
      for (let progress = true; progress; ) {
        progress = false;
        for (const [pattern, answer] of steps) {
          const m = pattern.exec(buffer);
          if (!m) continue;
          buffer = buffer.slice(m[0].length);
          socket.write(answer(m));
          progress = true;
        }
      }
    });
  });
  return { port: server.port, received: () => all, scram: () => scram };
}

describe('xmpp.proxy end to end with a SCRAM-SHA-256 server (in process)', () => {
  const res = new Resources();
  const globals = globalThis as { WebSocket?: unknown };
  const previousWebSocket = globals.WebSocket;
  beforeAll(() => {
    globals.WebSocket = WebSocket;
  });
  afterEach(() => res.closeAll());
  afterAll(() => {
    globals.WebSocket = previousWebSocket;
  });

  async function gateway(port: number): Promise<StartedGateway> {
    const inject = { source: 'service', username: CRED.username, password: CRED.password, allowPlaintextCredentials: true };
    return startGateway(res, { services: [service('xmpp', 'xmpp.proxy', '/xmpp', { connect: `tcp://127.0.0.1:${port}`, properties: { inject } })] }, { level: 'debug' });
  }

  it('@xmpp/client with no password logs in; Gangway chose SCRAM-SHA-256 over SCRAM-SHA-1 and PLAIN; no password on the wire', async () => {
    const fake = await fakeXmppServer(res, ['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256']);
    const gw = await gateway(fake.port);
    let offered: string[] = [];
    const xmpp = client({
      service: gw.ws('/xmpp'),
      domain: 'localhost',
      credentials: async (authenticate, mechanisms) => {
        offered = mechanisms;
        await authenticate({ username: CRED.username, password: '' }, 'PLAIN');
      },
    });
    xmpp.on('error', () => undefined);
    res.add(async () => {
      xmpp.reconnect.stop();
      if (xmpp.status !== 'offline') await xmpp.stop();
    });
    await xmpp.start();
    expect(xmpp.jid?.toString()).toBe('alice@localhost/fake');
    expect(offered).toEqual(['PLAIN']);
    const received = fake.received();
    expect(received).toMatch(/<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>/);
    expect(fake.scram()?.proofOk).toBe(true);
    expect(fake.scram()?.username).toBe(CRED.username);
    expect(received).not.toContain('PLAIN');
    expect(received).not.toContain(CRED.password);
    expect(received).not.toContain(b64(`\0${CRED.username}\0${CRED.password}`));
    expect(gw.log.text()).not.toContain(CRED.password);
  });

  it('a server whose signature does not verify: no <success/> for the client, stream error remote-connection-failed, close 1014', async () => {
    const fake = await fakeXmppServer(res, ['SCRAM-SHA-256'], true);
    const gw = await gateway(fake.port);
    const ws = await openClient(res, gw.ws('/xmpp'), 'xmpp');
    const messages: string[] = [];
    ws.on('message', (data: RawData) => messages.push(toBuffer(data).toString('utf8')));
    const close = closed(ws);
    ws.send(`<open xmlns="${FRAMING}" to="localhost" version="1.0"/>`);
    await waitFor(() => messages.some((m) => m.includes('<mechanisms')), 5000, 'the features');
    ws.send(CLIENT_AUTH);
    expect((await close).code).toBe(1014);
    expect(fake.scram()?.proofOk).toBe(true);
    const text = messages.join('');
    expect(text).not.toContain('<success');
    expect(text).toContain('<remote-connection-failed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    expect(text).toContain('the XMPP server failed SCRAM verification: the server signature does not match');
    expect(gw.log.text()).toContain(INJECT_ERRORS.SERVER_SIGNATURE.code);
    await waitFor(() => fake.received().endsWith('</stream:stream>'), 5000, 'the stream close toward the server');
  });
});
