#!/usr/bin/env node
'use strict';
/**
 * Protocol-level readiness probes for the test back ends. Node built-ins only, so it runs
 * before `npm ci`. Each probe logs in (or does the protocol's first exchange) the way a
 * client would, and succeeds only on the expected reply:
 *
 *   openwire HOST PORT                 (connect)         -> the broker's WireFormatInfo
 *   stomp HOST PORT LOGIN PASSCODE     CONNECT           -> CONNECTED
 *   amqp HOST PORT USER PASSWORD       AMQP 0-9-1 header -> Connection.Start, PLAIN Start-Ok -> Tune
 *   webstomp HOST PORT PATH LOGIN PASSCODE
 *                                      HTTP Upgrade (v12.stomp) -> 101, CONNECT in a WebSocket frame -> CONNECTED
 *   xmpp HOST PORT DOMAIN CAFILE USER PASSWORD
 *                                      stream header     -> STARTTLS, certificate verified for DOMAIN,
 *                                                           SASL PLAIN as USER@DOMAIN -> <success/>
 *   irc HOST PORT                      NICK/USER         -> 001 RPL_WELCOME
 *   ircs HOST PORT CAFILE              same over TLS, verifying the server certificate
 *   ircstarttls HOST PORT CAFILE PASS  STARTTLS -> 670, TLS verified, PASS/NICK/USER -> 001
 *   ircsasl HOST PORT CAFILE ACCOUNT PASSWORD
 *                                      STARTTLS, then IRCv3 SASL PLAIN (CAP LS 302 lists sasl,
 *                                      CAP REQ, AUTHENTICATE) -> 903, CAP END/NICK/USER -> 001
 *   redis HOST PORT                    PING              -> +PONG
 *
 * Usage: probe.cjs [--wait SECONDS] KIND ARGS...
 * Without --wait one attempt is made; with it, attempts repeat until one succeeds or the
 * time is up. Exit 0 on success; otherwise exit 1 and print the last failure on stderr.
 */
const net = require('node:net');
const tls = require('node:tls');
const crypto = require('node:crypto');
const fs = require('node:fs');

const ATTEMPT_TIMEOUT_MS = 3000;
/** Thrown by a check that took the socket over: exchange() stops without destroying it. */
const HANDED_OVER = new Error('socket handed over');
const RETRY_DELAY_MS = 250;

/**
 * Opens a connection, writes `greeting`, feeds every received chunk to `check` (which returns
 * true when done, or throws), and resolves or rejects accordingly.
 */
function exchange({ host, port, secure, ca, servername }, onConnect, check) {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const options = { host, port: Number(port) };
    const socket = secure
      ? tls.connect({ ...options, ca: fs.readFileSync(ca), servername })
      : net.connect(options);
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== HANDED_OVER) socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`no expected reply within ${ATTEMPT_TIMEOUT_MS} ms; got ${JSON.stringify(received.toString('latin1').slice(0, 300))}`)),
      ATTEMPT_TIMEOUT_MS,
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      try {
        onConnect(socket);
      } catch (error) {
        finish(error);
      }
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      try {
        if (check(received, socket)) finish();
      } catch (error) {
        finish(error);
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`connection closed; got ${JSON.stringify(received.toString('latin1').slice(0, 300))}`)));
  });
}

/** ActiveMQ OpenWire: the broker speaks first with a WireFormatInfo command ("ActiveMQ" magic). */
function openwire(host, port) {
  return exchange({ host, port }, () => undefined, (buf) => buf.includes(Buffer.from('ActiveMQ', 'latin1')));
}

/** STOMP 1.2 CONNECT, without heart-beats. */
function stompConnectFrame(login, passcode) {
  return `CONNECT\naccept-version:1.2\nhost:/\nlogin:${login}\npasscode:${passcode}\nheart-beat:0,0\n\n\0`;
}

function stomp(host, port, login, passcode) {
  return exchange({ host, port }, (s) => s.write(stompConnectFrame(login, passcode)), (buf) => {
    const text = buf.toString('utf8');
    if (!text.includes('\0')) return false;
    if (text.startsWith('CONNECTED')) return true;
    throw new Error(`STOMP CONNECT refused: ${JSON.stringify(text.slice(0, 300))}`);
  });
}

/** AMQP 0-9-1 (https://www.rabbitmq.com/resources/specs/amqp0-9-1.pdf §4.2): one method frame. */
function amqpMethodFrame(classId, methodId, args) {
  const payload = Buffer.concat([Buffer.from([classId >> 8, classId & 255, methodId >> 8, methodId & 255]), args]);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0);
  header.writeUInt16BE(0, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}

function shortstr(text) {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function longstr(bytes) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

function amqp(host, port, user, password) {
  let sentStartOk = false;
  return exchange({ host, port }, (s) => s.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')), (buf, socket) => {
    let offset = 0;
    while (buf.length - offset >= 7) {
      const size = buf.readUInt32BE(offset + 3);
      if (buf.length - offset < 8 + size) return false;
      const type = buf.readUInt8(offset);
      if (type !== 1) throw new Error(`unexpected AMQP frame type ${type}`);
      const classId = buf.readUInt16BE(offset + 7);
      const methodId = buf.readUInt16BE(offset + 9);
      offset += 8 + size;
      if (classId === 10 && methodId === 10 && !sentStartOk) {
        // Connection.Start -> Connection.Start-Ok (empty client properties, PLAIN, en_US).
        sentStartOk = true;
        const response = Buffer.from(`\0${user}\0${password}`, 'utf8');
        socket.write(amqpMethodFrame(10, 11, Buffer.concat([Buffer.alloc(4), shortstr('PLAIN'), longstr(response), shortstr('en_US')])));
      } else if (classId === 10 && methodId === 30) {
        return true; // Connection.Tune: the login was accepted.
      } else if (classId === 10 && methodId === 50) {
        throw new Error('AMQP Connection.Close: login refused');
      }
    }
    if (buf.length >= 4 && buf.toString('latin1', 0, 4) === 'AMQP') {
      throw new Error('AMQP protocol version refused by the server');
    }
    return false;
  });
}

/** RFC 6455 §5.2: one masked text frame, as a client sends it. */
function wsTextFrame(text) {
  const payload = Buffer.from(text, 'utf8');
  if (payload.length > 0xffff) throw new Error('WebSocket probe frame longer than 65535 bytes');
  const header = payload.length < 126
    ? Buffer.from([0x81, 0x80 | payload.length])
    : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 255]);
  const mask = crypto.randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

/** RFC 6455 §5.2: the server's first frame at the start of `buf` (unmasked), or null while incomplete. */
function wsFirstFrame(buf) {
  if (buf.length < 2) return null;
  let length = buf[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buf.length < 4) return null;
    length = buf.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buf.length < 10) return null;
    length = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  if (buf.length < offset + length) return null;
  return { opcode: buf[0] & 0x0f, payload: buf.subarray(offset, offset + length) };
}

/** STOMP over WebSocket: the upgrade with subprotocol v12.stomp, then a STOMP login in a text frame. */
function webstomp(host, port, path, login, passcode) {
  const request = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Protocol: v12.stomp',
    '',
    '',
  ].join('\r\n');
  let sentConnect = false;
  return exchange({ host, port }, (s) => s.write(request), (buf, socket) => {
    const headerEnd = buf.indexOf('\r\n\r\n');
    const statusLine = buf.toString('latin1', 0, Math.max(buf.indexOf('\r\n'), 0));
    if (statusLine !== '' && !/^HTTP\/1\.1 101 /.test(statusLine)) {
      throw new Error(`WebSocket upgrade refused: ${JSON.stringify(statusLine)}`);
    }
    if (headerEnd < 0) return false;
    if (!sentConnect) {
      sentConnect = true;
      socket.write(wsTextFrame(stompConnectFrame(login, passcode)));
    }
    const frame = wsFirstFrame(buf.subarray(headerEnd + 4));
    if (frame === null) return false;
    if (frame.opcode === 8) {
      const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
      throw new Error(`WebSocket closed by the server (${code}): ${JSON.stringify(frame.payload.subarray(2).toString('utf8').slice(0, 300))}`);
    }
    const text = frame.payload.toString('utf8');
    if (text.startsWith('CONNECTED')) return true;
    throw new Error(`STOMP CONNECT over WebSocket refused: ${JSON.stringify(text.slice(0, 300))}`);
  });
}

/**
 * RFC 6120 §5.4 and §6: stream features must offer STARTTLS; after <proceed/> the TLS handshake
 * must verify the server certificate against the test CA for the XMPP domain; on the restarted
 * stream, SASL PLAIN (RFC 4616) as USER must end in <success/>.
 */
function xmpp(host, port, domain, ca, user, password) {
  const header = `<?xml version='1.0'?><stream:stream to='${domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;
  let asked = false;
  return new Promise((resolve, reject) => {
    exchange({ host, port }, (s) => s.write(header), (buf, socket) => {
      const text = buf.toString('utf8');
      if (text.includes('<stream:error')) throw new Error(`XMPP stream error: ${JSON.stringify(text.slice(0, 300))}`);
      if (!asked) {
        if (!text.includes('</stream:features>')) return false;
        if (!text.includes('urn:ietf:params:xml:ns:xmpp-tls')) throw new Error('XMPP stream features offer no STARTTLS');
        asked = true;
        socket.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        return false;
      }
      if (text.includes('<failure')) throw new Error('XMPP STARTTLS refused');
      if (!text.includes('<proceed')) return false;
      // Hand the socket over to TLS before exchange() destroys it.
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      const secure = tls.connect({ socket, ca: fs.readFileSync(ca), servername: domain });
      let got = '';
      let authenticating = false;
      const done = (error) => {
        clearTimeout(timer);
        secure.destroy();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`no SASL outcome after STARTTLS within ${ATTEMPT_TIMEOUT_MS} ms; got ${JSON.stringify(got.slice(0, 300))}`)), ATTEMPT_TIMEOUT_MS);
      secure.once('secureConnect', () => secure.write(header));
      secure.on('data', (chunk) => {
        got += chunk.toString('utf8');
        if (got.includes('<stream:error')) {
          done(new Error(`XMPP stream error after STARTTLS: ${JSON.stringify(got.slice(0, 300))}`));
        } else if (!authenticating && got.includes('</stream:features>')) {
          if (!/<mechanism>PLAIN<\/mechanism>/.test(got)) {
            done(new Error(`XMPP SASL PLAIN not offered after STARTTLS: ${JSON.stringify(got.slice(0, 300))}`));
            return;
          }
          authenticating = true;
          got = '';
          const response = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
          secure.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${response}</auth>`);
        } else if (authenticating && got.includes('<success')) {
          secure.write('</stream:stream>');
          done();
        } else if (authenticating && got.includes('<failure')) {
          done(new Error(`XMPP SASL PLAIN refused for ${user}@${domain}: ${JSON.stringify(got.slice(0, 300))}`));
        }
      });
      secure.once('error', (error) => done(new Error(`XMPP STARTTLS: ${error.message}`)));
      secure.once('close', () => done(new Error(`XMPP connection closed after STARTTLS; got ${JSON.stringify(got.slice(0, 300))}`)));
      throw HANDED_OVER;
    }).catch((error) => {
      if (error !== HANDED_OVER) reject(error);
    });
  });
}

function irc(host, port, secure, ca) {
  const nick = `probe${process.pid % 100000}`;
  return exchange({ host, port, secure, ca, servername: 'localhost' }, (s) => s.write(`NICK ${nick}\r\nUSER ${nick} 0 * :Gangway probe\r\n`), (buf, socket) => {
    const text = buf.toString('utf8');
    if (/^ERROR /m.test(text)) throw new Error(`IRC error: ${JSON.stringify(text.slice(0, 300))}`);
    if (/^:\S+ 001 /m.test(text)) {
      socket.write('QUIT :probe done\r\n');
      return true;
    }
    return false;
  });
}

/** IRCv3 STARTTLS: 670, then a verified TLS handshake, then a login with the server password. */
function ircStarttls(host, port, ca, password) {
  const nick = `probe${process.pid % 100000}`;
  return ircSecure(
    host,
    port,
    ca,
    (send) => {
      send(`PASS :${password}`);
      send(`NICK ${nick}`);
      send(`USER ${nick} 0 * :Gangway probe`);
    },
    (l) => /^:\S+ 001 /.test(l),
  );
}

/**
 * An IRC session over STARTTLS: 670, then a verified TLS handshake; `start(send)` writes the
 * first lines, and `line(text, send)` sees every line from the server and returns true when
 * done (it throws to fail). Any ERROR line fails.
 */
function ircSecure(host, port, ca, start, line) {
  return new Promise((resolve, reject) => {
    exchange({ host, port }, (s) => s.write('STARTTLS\r\n'), (buf, socket) => {
      const text = buf.toString('utf8');
      if (/^:\S+ 691 /m.test(text) || /^ERROR /m.test(text)) throw new Error(`IRC STARTTLS refused: ${JSON.stringify(text.slice(0, 300))}`);
      if (!/^:\S+ 670 /m.test(text)) return false;
      socket.removeAllListeners('data');
      socket.removeAllListeners('close');
      socket.removeAllListeners('error');
      const secure = tls.connect({ socket, ca: fs.readFileSync(ca), servername: 'localhost' });
      const send = (l) => secure.write(`${l}\r\n`);
      let got = '';
      let pending = '';
      const done = (error) => {
        clearTimeout(timer);
        secure.destroy();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`no expected reply after STARTTLS within ${ATTEMPT_TIMEOUT_MS} ms; got ${JSON.stringify(got.slice(-300))}`)), ATTEMPT_TIMEOUT_MS);
      secure.once('secureConnect', () => start(send));
      secure.on('data', (chunk) => {
        got += chunk.toString('utf8');
        pending += chunk.toString('utf8');
        let end;
        while ((end = pending.indexOf('\n')) >= 0) {
          const l = pending.slice(0, end).replace(/\r$/, '');
          pending = pending.slice(end + 1);
          try {
            if (/^ERROR /.test(l)) throw new Error(`IRC error: ${JSON.stringify(l)}`);
            if (line(l, send)) {
              send('QUIT :probe done');
              done();
              return;
            }
          } catch (error) {
            done(error);
            return;
          }
        }
      });
      secure.once('error', (error) => done(new Error(`IRC STARTTLS: ${error.message}`)));
      throw HANDED_OVER;
    }).catch((error) => {
      if (error !== HANDED_OVER) reject(error);
    });
  });
}

/** IRCv3 SASL 3.1 PLAIN after STARTTLS (https://ircv3.net/specs/extensions/sasl-3.1), then registration without PASS. */
function ircSasl(host, port, ca, account, password) {
  const nick = `probe${process.pid % 100000}`;
  const payload = Buffer.from(`\0${account}\0${password}`, 'utf8').toString('base64');
  let caps = '';
  return ircSecure(host, port, ca, (send) => send('CAP LS 302'), (l, send) => {
    const words = l.split(' ');
    const command = words[1];
    if (command === 'CAP' && words[3] === 'LS') {
      // CAP LS 302 may take several lines: `CAP * LS * :...` until one without the `*`.
      caps += ` ${l.slice(l.indexOf(' :') + 2)}`;
      if (words[4] === '*') return false;
      if (!/ sasl(=|\s|$)/.test(caps)) throw new Error(`the IRC server lists no sasl capability (are services linked?): ${JSON.stringify(caps.trim())}`);
      send('CAP REQ :sasl');
    } else if (command === 'CAP' && words[3] === 'ACK') send('AUTHENTICATE PLAIN');
    else if (command === 'CAP' && words[3] === 'NAK') throw new Error('CAP REQ :sasl refused');
    else if (words[0] === 'AUTHENTICATE' && (words[1] === '+' || words[1] === ':+')) send(`AUTHENTICATE ${payload}`);
    else if (command === '903') {
      send('CAP END');
      send(`NICK ${nick}`);
      send(`USER ${nick} 0 * :Gangway probe`);
    } else if (['902', '904', '905', '906', '908'].includes(command)) throw new Error(`SASL PLAIN login as ${account} refused: ${JSON.stringify(l)}`);
    else if (command === '001') return true;
    return false;
  });
}

function redis(host, port) {
  return exchange({ host, port }, (s) => s.write('PING\r\n'), (buf) => {
    const text = buf.toString('latin1');
    if (!text.includes('\r\n')) return false;
    if (text.startsWith('+PONG\r\n')) return true;
    throw new Error(`Redis PING answered ${JSON.stringify(text.trim())}`);
  });
}

const PROBES = {
  openwire: { args: 2, run: (a) => openwire(a[0], a[1]) },
  stomp: { args: 4, run: (a) => stomp(a[0], a[1], a[2], a[3]) },
  amqp: { args: 4, run: (a) => amqp(a[0], a[1], a[2], a[3]) },
  webstomp: { args: 5, run: (a) => webstomp(a[0], a[1], a[2], a[3], a[4]) },
  xmpp: { args: 6, run: (a) => xmpp(a[0], a[1], a[2], a[3], a[4], a[5]) },
  irc: { args: 2, run: (a) => irc(a[0], a[1], false) },
  ircs: { args: 3, run: (a) => irc(a[0], a[1], true, a[2]) },
  ircstarttls: { args: 4, run: (a) => ircStarttls(a[0], a[1], a[2], a[3]) },
  ircsasl: { args: 5, run: (a) => ircSasl(a[0], a[1], a[2], a[3], a[4]) },
  redis: { args: 2, run: (a) => redis(a[0], a[1]) },
};

async function main(argv) {
  let waitSeconds = 0;
  if (argv[0] === '--wait') {
    waitSeconds = Number(argv[1]);
    argv = argv.slice(2);
  }
  const [kind, ...args] = argv;
  const probe = PROBES[kind];
  if (!probe || args.length !== probe.args || !Number.isFinite(waitSeconds)) {
    process.stderr.write(`usage: probe.cjs [--wait SECONDS] {${Object.keys(PROBES).join('|')}} ARGS...\n`);
    return 2;
  }
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    try {
      await probe.run(args);
      return 0;
    } catch (error) {
      if (Date.now() + RETRY_DELAY_MS >= deadline) {
        process.stderr.write(`${kind} ${args[0]}:${args[1]}: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    }
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
