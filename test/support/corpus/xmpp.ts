/**
 * Valid XMPP streams for fuzzing and tests, in RFC 6120 TCP framing (the default of
 * `protocol.createPair()`; {@link options} states it explicitly). `toServer[i]` and `toClient[i]`
 * are the two directions of one session; each stream is also valid fed alone into a fresh pair.
 */

/** Options to pass to `protocol.createPair()` for these streams (the defaults). */
export const options = { framing: 'tcp' } as const;

const STREAMS = 'http://etherx.jabber.org/streams';
const DECL = "<?xml version='1.0'?>";

function clientHeader(decl = true): string {
  return `${decl ? DECL : ''}<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='${STREAMS}' version='1.0' xml:lang='en'>`;
}

function serverHeader(id: string): string {
  return `${DECL}<stream:stream xmlns='jabber:client' xmlns:stream='${STREAMS}' id='${id}' from='localhost' version='1.0' xml:lang='en'>`;
}

const utf8 = (parts: readonly string[]): Buffer => Buffer.from(parts.join(''), 'utf8');

/** A Prosody session driven by @xmpp/client over TCP: STARTTLS, SASL PLAIN, bind, chat, MUC. */
export const prosodySession = {
  toServer: utf8([
    clientHeader(),
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    clientHeader(),
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGFsaWNlAHMzY3IzdA==</auth>",
    clientHeader(),
    "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>laptop</resource></bind></iq>",
    "<iq type='set' id='sess_1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
    "<iq type='get' id='roster_1'><query xmlns='jabber:iq:roster'/></iq>",
    "<presence><show>chat</show><status>Working &amp; online</status><priority>5</priority></presence>",
    "<message to='bob@localhost' type='chat' id='m1' xml:lang='de'><body>Hallo Bob &lt;3 — grüße 😀 &#x1F44B;</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    ' ',
    "<presence to='room@conference.localhost/alice'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='20'/></x></presence>",
    "<message to='room@conference.localhost' type='groupchat' id='g1'><body>hello room</body></message>",
    "\n<presence type='unavailable'/>",
    '</stream:stream>',
  ]),
  toClient: utf8([
    serverHeader('b7f0c1a2'),
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
    "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    serverHeader('4d3c2b1a'),
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
    serverHeader('9e8d7c6b'),
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><sm xmlns='urn:xmpp:sm:3'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>",
    "<iq type='result' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/laptop</jid></bind></iq>",
    "<iq type='result' id='sess_1'/>",
    "<iq type='result' id='roster_1'><query xmlns='jabber:iq:roster' ver='1'><item jid='bob@localhost' subscription='both' name='Bob &quot;the builder&quot;'><group>Friends</group></item></query></iq>",
    "<presence from='alice@localhost/laptop' to='alice@localhost/laptop'><show>chat</show><status>Working &amp; online</status><priority>5</priority></presence>",
    "<message from='bob@localhost/phone' to='alice@localhost/laptop' type='chat' id='x9'><body>Hey Alice!</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    "<presence from='room@conference.localhost/alice' to='alice@localhost/laptop'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator'/><status code='110'/><status code='201'/></x></presence>",
    "<message from='room@conference.localhost' to='alice@localhost/laptop' type='groupchat'><subject/></message>",
    "<message from='room@conference.localhost/alice' to='alice@localhost/laptop' type='groupchat' id='g1'><body>hello room</body><stanza-id xmlns='urn:xmpp:sid:0' id='5f1e' by='room@conference.localhost'/></message>",
    "<presence from='alice@localhost/laptop' to='alice@localhost/laptop' type='unavailable'/>",
    '</stream:stream>',
  ]),
};

/** SCRAM over an already encrypted link, stream management, CDATA, a stream error from the server. */
const scramSession = {
  toServer: utf8([
    clientHeader(false),
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1hbGljZSxyPWZ5a28rZDJsYmJGZ09OUnY5cWt4ZGF3TA==</auth>",
    "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdMM3JmY05IWUpZMVpWdldWczdqLHA9djBYOHYzQnoyVDBDSkdiSlF5RjBFWkhVNEdzPQ==</response>",
    '\n',
    clientHeader(false),
    "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
    "<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
    "<message to='bob@localhost' type='chat'><body><![CDATA[if (a < b && c > d) { return \"<ok>\"; }]]></body></message>",
    "<r xmlns='urn:xmpp:sm:3'/>",
    "<a xmlns='urn:xmpp:sm:3' h='1'/>",
    "<inactive xmlns='urn:xmpp:csi:0'/>",
    '\r\n \t',
  ]),
  toClient: utf8([
    serverHeader('s1'),
    "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>",
    "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==</challenge>",
    "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9</success>",
    serverHeader('s2'),
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
    "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@localhost/4f2a</jid></bind></iq>",
    "<enabled xmlns='urn:xmpp:sm:3' id='sm-1' resume='true' max='300'/>",
    "<r xmlns='urn:xmpp:sm:3'/>",
    ' ',
    "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Too many stanzas</text></stream:error>",
    '</stream:stream>',
  ]),
};

/** A stream using a prefixed content namespace declaration style and double quotes (ejabberd-like). */
const doubleQuoted = {
  toServer: utf8([
    `<?xml version="1.0" encoding="UTF-8"?>\n<stream:stream xmlns:stream="${STREAMS}" xmlns="jabber:client" to="example.org" version="1.0">`,
    '<iq type="get" id="p1" to="example.org"><ping xmlns="urn:xmpp:ping"/></iq>',
    '<presence><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://xmpp.js.org" ver="q07IKJEyjvHSyhy//CH0CxmKi8w="/></presence>',
    '<message to="carol@example.org"><body>tab\there &#9; &#169; &#xA9;</body><x:data xmlns:x="jabber:x:data" x:type="form"/></message>',
    '</stream:stream>\n',
  ]),
  toClient: utf8([
    `<?xml version="1.0"?><stream:stream xmlns="jabber:client" xmlns:stream="${STREAMS}" id="e1" from="example.org" version="1.0">`,
    '<iq type="result" id="p1" from="example.org"/>',
    '</stream:stream>',
  ]),
};

/** Realistic valid TCP-framing streams per direction. */
export const corpus: { toServer: Buffer[]; toClient: Buffer[] } = {
  toServer: [prosodySession.toServer, scramSession.toServer, doubleQuoted.toServer],
  toClient: [prosodySession.toClient, scramSession.toClient, doubleQuoted.toClient],
};
