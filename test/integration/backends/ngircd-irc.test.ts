/**
 * irc-framework → ngIRCd, plain and implicit TLS (compose/up: ngircd). The TLS port's
 * certificate is verified against the test CA, trusted through NODE_EXTRA_CA_CERTS
 * (`. compose/env.sh`): irc-framework takes no CA option.
 */
import { Client, type JoinEvent, type MessageEvent } from 'irc-framework';
import { requireBackend, type Backends } from '../../support/backends';
import { unique, within } from './async';

describe.each([
  ['plain', false],
  ['TLS', true],
])('ngIRCd over %s (irc-framework)', (_transport, tls) => {
  let facts: Backends;
  const clients: Client[] = [];

  beforeAll(async () => {
    facts = await requireBackend('ngircd');
  });

  afterEach(async () => {
    await Promise.all(
      clients.splice(0).map((irc) => {
        const closed = new Promise<void>((resolve) => irc.once('close', () => resolve()));
        irc.quit('test done');
        return within(closed, 5000, 'IRC close');
      }),
    );
  });

  /** Connects and resolves once the server sent 001 (registration complete). */
  function register(nick: string): Promise<Client> {
    const irc = new Client();
    clients.push(irc);
    const registered = new Promise<Client>((resolve, reject) => {
      irc.once('registered', () => resolve(irc));
      irc.once('close', () => reject(new Error(`IRC connection of ${nick} closed before registration`)));
    });
    irc.connect({
      host: facts.host,
      port: tls ? facts.irc.tlsPort : facts.irc.port,
      tls,
      nick,
      username: 'gangway',
      gecos: 'Gangway test',
      auto_reconnect: false,
      ping_interval: 0,
    });
    return within(registered, 5000, `IRC registration of ${nick}`);
  }

  function joined(irc: Client, nick: string, channel: string): Promise<JoinEvent> {
    return within(
      new Promise<JoinEvent>((resolve) => {
        irc.on('join', (event) => {
          if (event.nick === nick && event.channel === channel) resolve(event);
        });
      }),
      5000,
      `${nick} joining ${channel}`,
    );
  }

  it('lets two clients talk in one channel', async () => {
    const nickA = unique('a').slice(0, 20);
    const nickB = unique('b').slice(0, 20);
    const channel = `#${unique('gw')}`;
    const body = unique('hello IRC');
    const a = await register(nickA);
    const b = await register(nickB);

    const aJoined = joined(a, nickA, channel);
    a.join(channel);
    await aJoined;
    // a sees b arrive: b's JOIN reached the channel before a speaks.
    const bSeenByA = joined(a, nickB, channel);
    b.join(channel);
    await bSeenByA;

    const received = within(
      new Promise<MessageEvent>((resolve) => {
        b.on('privmsg', (event) => {
          if (event.message === body) resolve(event);
        });
      }),
      5000,
      `message in ${channel}`,
    );
    a.say(channel, body);
    const message = await received;

    expect(message.nick).toBe(nickA);
    expect(message.target).toBe(channel);
    expect(message.hostname).toBe(facts.host);
  });
});
