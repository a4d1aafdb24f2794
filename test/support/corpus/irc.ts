/**
 * Valid IRC streams for fuzzing and tests: registrations, channel traffic and numerics with
 * IRCv3 tags, in the shapes irc-framework and common servers produce. `toServer[i]` and
 * `toClient[i]` are the two directions of one session.
 */

function lines(...msgs: string[]): Buffer {
  return Buffer.from(msgs.map((m) => m + '\r\n').join(''), 'utf8');
}

/** irc-framework registering with CAP 302 and SASL-less capabilities, then chatting. */
const ircFramework = {
  toServer: lines(
    'CAP LS 302',
    'NICK alice',
    'USER alice 0 * :Alice Liddell',
    'CAP REQ :message-tags server-time echo-message',
    'CAP END',
    'JOIN #gangway',
    'MODE #gangway',
    'WHO #gangway',
    '@+typing=active TAGMSG #gangway',
    '@label=abc123;+draft/reply=msg\\:42 PRIVMSG #gangway :hello, world: ünïcödé ✓',
    'PRIVMSG bob :\u0001ACTION waves\u0001',
    'NOTICE #gangway :notice text',
    'PONG :irc.example.net',
    'PART #gangway :see you',
    'QUIT :Leaving',
  ),
  toClient: lines(
    ':irc.example.net NOTICE * :*** Looking up your hostname...',
    ':irc.example.net CAP * LS :account-notify away-notify echo-message message-tags multi-prefix sasl=PLAIN,EXTERNAL server-time',
    ':irc.example.net CAP alice ACK :message-tags server-time echo-message',
    ':irc.example.net 001 alice :Welcome to the Example IRC Network alice!alice@198.51.100.7',
    ':irc.example.net 002 alice :Your host is irc.example.net, running version ngircd-26.1',
    ':irc.example.net 003 alice :This server has been started Mon Jan 01 2024 at 00:00:00 (UTC)',
    ':irc.example.net 004 alice irc.example.net ngircd-26.1 abBcCFiIoqrRswx abehiIklmMnoOPqQrRstvVz',
    ':irc.example.net 005 alice RFC2812 IRCD=ngIRCd CHARSET=UTF-8 CASEMAPPING=ascii PREFIX=(qaohv)~&@%+ CHANTYPES=#&+ CHANMODES=beI,k,l,imMnOPQRstVz CHANLIMIT=#&+:10 :are supported on this server',
    ':irc.example.net 375 alice :- irc.example.net message of the day',
    ':irc.example.net 372 alice :- Welcome!',
    ':irc.example.net 376 alice :End of MOTD command',
    '@time=2024-05-01T12:00:00.000Z :alice!alice@198.51.100.7 JOIN #gangway',
    ':irc.example.net 353 alice = #gangway :@bob alice',
    ':irc.example.net 366 alice #gangway :End of NAMES list',
    '@time=2024-05-01T12:00:01.500Z;msgid=Zx9\\s1;+example.com/flag :bob!~bob@gateway/web/gangway PRIVMSG #gangway :hi alice \u{1F44B}',
    '@+typing=active :bob!~bob@gateway/web/gangway TAGMSG #gangway',
    'PING :irc.example.net',
    ':alice!alice@198.51.100.7 QUIT :Quit: Leaving',
    'ERROR :Closing connection',
  ),
};

/** A minimal bot that ends lines with a bare LF, and a server that does the same. */
const lfBot = {
  toServer: Buffer.from('NICK bot\nUSER bot 8 * :Gangway Bot\nJOIN #ops,#dev key1\nPRIVMSG #ops :deploy done\nQUIT\n', 'utf8'),
  toClient: Buffer.from(
    ':srv 001 bot :Welcome\n:srv 433 * bot :Nickname is already in use\n:srv 221 bot +i\n:bot!bot@127.0.0.1 JOIN :#ops\n',
    'utf8',
  ),
};

/** Fifteen parameters, an empty trailing parameter, and a long tags section from the server. */
const edges = {
  toServer: lines('PRIVMSG #a :', 'MODE #chan +ovovovovovovov a b c d e f g h i j k l', 'AUTHENTICATE PLAIN', 'AUTHENTICATE +'),
  toClient: lines(
    `@batch=ref1;${Array.from({ length: 40 }, (_, i) => `example.org/t${i}=v${i}`).join(';')} :server.example 005 nick A B C D E F G H I J K L M :end`,
    ':server.example BATCH +ref1 chathistory #a',
    '@batch=ref1;time=2024-01-01T00:00:00Z :x!y@z PRIVMSG #a :history',
    ':server.example BATCH -ref1',
  ),
};

const sessions = [ircFramework, lfBot, edges];

export const corpus: { toServer: Buffer[]; toClient: Buffer[] } = {
  toServer: sessions.map((s) => s.toServer),
  toClient: sessions.map((s) => s.toClient),
};
