/**
 * @xmpp/client → Prosody over c2s with STARTTLS and SASL PLAIN (compose/up: prosody).
 * The test CA is trusted through NODE_EXTRA_CA_CERTS (`. compose/env.sh`): @xmpp/client's
 * STARTTLS takes no TLS options.
 */
import { client, xml, type Client, type Element } from '@xmpp/client';
import { requireBackend, type Backends, type Credentials } from '../../support/backends';
import { unique, within } from './async';

const MUC = 'http://jabber.org/protocol/muc';
const MUC_USER = 'http://jabber.org/protocol/muc#user';

describe('Prosody over XMPP with STARTTLS (@xmpp/client)', () => {
  let facts: Backends;
  const clients: Client[] = [];

  beforeAll(async () => {
    facts = await requireBackend('prosody');
  });

  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map(async (xmpp) => {
        xmpp.reconnect.stop();
        if (xmpp.status !== 'offline') await within(xmpp.stop(), 5000, 'XMPP stop');
      }),
    );
  });

  function user(index: number): Credentials {
    const found = facts.xmpp.users[index];
    if (!found) throw new Error(`compose/.env lists fewer than ${index + 1} XMPP users`);
    return found;
  }

  /** Logs in with PLAIN (offered only once the stream is encrypted) and waits until online. */
  async function login(account: Credentials): Promise<{ xmpp: Client; mechanisms: string[] }> {
    let offered: string[] = [];
    const xmpp = client({
      service: `xmpp://${facts.host}:${facts.xmpp.c2sPort}`,
      domain: facts.xmpp.domain,
      resource: unique('test'),
      credentials: async (authenticate, mechanisms) => {
        offered = mechanisms;
        await authenticate({ username: account.username, password: account.password }, 'PLAIN');
      },
    });
    clients.push(xmpp);
    const errors: Error[] = [];
    xmpp.on('error', (error) => errors.push(error));
    await within(xmpp.start(), 10000, `XMPP login of ${account.username}`);
    expect(errors).toEqual([]);
    return { xmpp, mechanisms: offered };
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

  it('logs in over STARTTLS and sends a chat message between two users', async () => {
    const alice = await login(user(0));
    const bob = await login(user(1));
    const body = unique('hello XMPP');
    const bobJid = bob.xmpp.jid?.toString() ?? '';

    expect(alice.xmpp.isSecure()).toBe(true);
    expect(alice.mechanisms).toContain('PLAIN');
    expect(alice.xmpp.jid?.bare().toString()).toBe(`${user(0).username}@${facts.xmpp.domain}`);

    // Prosody keeps offline messages: match this run's message by its unique body.
    const received = nextStanza(bob.xmpp, 'chat message', (s) => s.is('message') && s.getChildText('body') === body);
    await alice.xmpp.send(xml('message', { to: bobJid, type: 'chat' }, xml('body', {}, body)));
    const message = await received;

    expect(message.attrs.type).toBe('chat');
    expect(message.attrs.from).toBe(alice.xmpp.jid?.toString());
  });

  it('exchanges a groupchat message in a MUC room', async () => {
    const alice = await login(user(0));
    const bob = await login(user(1));
    const room = `${unique('room')}@${facts.xmpp.mucDomain}`;
    const body = unique('hello room');

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

  it('refuses a wrong password', async () => {
    const account = user(2);
    await expect(login({ username: account.username, password: `not-${account.password}` })).rejects.toThrow(/not-authorized/);
  });
});
