import { z } from 'zod';
import net from 'node:net';
import { isUtf8 } from 'node:buffer';
import { DEFAULT_LIMITS, IrcCodecPair, replyFor, type IrcLimits } from '../../../validators/irc';
import { INJECT_ERRORS, InjectionError } from '../inject/injector';
import { IrcSaslLogin, ircInjectSchema } from '../inject/irc-sasl';
import type { BackendLink, Transform } from '../pipe';
import { injectorFor, limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';
import { IrcLineFramer } from './framing';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the IRC validator's limits (validators/irc/README.md). */
  limits: limitsSchema(DEFAULT_LIMITS).default({}),
  /** Credential injection toward the server, with `login: auto | pass | sasl` (src/services/inject/irc-sasl.ts). */
  inject: ircInjectSchema.optional(),
  /**
   * Send `WEBIRC` first so the IRC server sees the client's address instead of Gangway's
   * (the server must list Gangway with the same password).
   */
  webirc: z
    .strictObject({
      password: z.string().min(1),
      /** Gateway name sent to the server. @default "gangway" */
      gateway: z.string().regex(/^[^\s:]+$/, { message: 'expected a name without spaces or ":"' }).default('gangway'),
    })
    .optional(),
  /**
   * Upgrade the link to the server with IRCv3 STARTTLS before anything of the client's is sent
   * (`STARTTLS`, reply 670, TLS handshake checked against `tls`); the session is refused when
   * the server answers otherwise. Ignored on `tls://`.
   * @default false
   */
  starttls: z.boolean().default(false),
});

type IrcProxyProperties = z.infer<typeof properties>;

const CRLF = Buffer.from('\r\n');

/** An address as an IRC parameter: one starting with ":" would read as a trailing parameter. */
function ircAddress(address: string): string {
  const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  return plain.startsWith(':') ? `0${plain}` : plain;
}

/** Strips the line end of a validated line (CRLF, or a bare LF where allowed). */
function withoutLineEnd(raw: Buffer): Buffer {
  let end = raw.length;
  if (raw[end - 1] === 0x0a) end--;
  if (raw[end - 1] === 0x0d) end--;
  return raw.subarray(0, end);
}

/** IRCv3 STARTTLS replies: 670 RPL_STARTTLS, 691 ERR_STARTTLS; 421 (unknown command) and 451 (not registered) from servers without it. */
const STARTTLS_OK = '670';
const STARTTLS_ANSWERS: ReadonlySet<string> = new Set([STARTTLS_OK, '691', '421', '451']);

/**
 * `irc.proxy`: IRCv3 WebSocket (`text.ircv3.net`, `binary.ircv3.net`, or no subprotocol as text):
 * one IRC message per WebSocket message without a line end, in both directions; tags kept. With
 * `webirc`, the server learns the client's real address. With `starttls`, Gangway upgrades the
 * link (IRCv3 STARTTLS) before the client's first line; with `inject`, it logs in first: an
 * IRCv3 SASL PLAIN login to the stored account when the server offers it (`inject.login` `auto`
 * or `sasl`), else `PASS` with the stored password (the client's own PASS lines are dropped).
 * Clients see none of it.
 */
export const ircProxy: WireProtocol<IrcProxyProperties> = {
  type: 'irc.proxy',
  subprotocols: ['text.ircv3.net', 'binary.ircv3.net'],
  properties,
  transform(session, props, metrics, credentials) {
    const pair = new IrcCodecPair(props.limits as Partial<IrcLimits>, { toServer: 'message', toClient: 'stream' });
    const binary = session.protocol === 'binary.ircv3.net';
    const injector = injectorFor('irc', session, props, credentials);
    // IRC negotiates nothing the codecs share: without validateServer, lines are validated only
    // while Gangway reads the server's answer to its own STARTTLS. With inject, Gangway's login
    // (its SASL exchange) reads the server's lines, so they stay validated.
    const lines = props.validateServer || injector !== null ? null : new IrcLineFramer(pair.toClient.maxLineBytes);
    let link: BackendLink | null = null;
    /** Set while Gangway waits for the server's answer to STARTTLS. */
    let starttlsAnswer: ((command: string) => void) | null = null;
    /** Set while Gangway logs in with SASL: it takes the server's answers to its own lines. */
    let sasl: IrcSaslLogin | null = null;
    const webirc = (): Buffer | null => {
      if (!props.webirc) return null;
      const addr = ircAddress(session.remoteAddress);
      return Buffer.from(`WEBIRC ${props.webirc.password} ${props.webirc.gateway} ${addr} ${addr}\r\n`);
    };
    const upgrading = (): boolean => props.starttls && link !== null && !link.secure;
    const transform: Transform = {
      binaryReplies: binary,
      attach(l) {
        link = l;
      },
      preamble() {
        // With STARTTLS the WEBIRC password waits for the encrypted link.
        return upgrading() ? null : webirc();
      },
      fromClient(data) {
        const [frame] = pair.toServer.push(data);
        if (!frame) return null;
        metrics.frame('toServer', frame.kind);
        // The server password is Gangway's: a PASS of the client's own never reaches the server.
        if (injector !== null && frame.command === 'PASS') return null;
        return Buffer.concat([frame.raw, CRLF]);
      },
      fromBackend(chunk, send) {
        if (lines !== null && !upgrading()) {
          // IRCv3 WebSocket: text messages are UTF-8; invalid sequences become U+FFFD.
          for (const line of lines.push(chunk)) send(binary || isUtf8(line) ? line : Buffer.from(line.toString('utf8')), binary);
          return;
        }
        for (const f of pair.toClient.push(chunk)) {
          metrics.frame('toClient', f.kind);
          if (starttlsAnswer !== null && STARTTLS_ANSWERS.has(f.command)) {
            // The answer to Gangway's STARTTLS is Gangway's; after 670 the next bytes are TLS.
            const answer = starttlsAnswer;
            starttlsAnswer = null;
            answer(f.command);
            return;
          }
          if (sasl !== null && sasl.consume(f)) continue;
          send(withoutLineEnd(f.raw), binary);
        }
      },
      clientReply(err) {
        if (err instanceof InjectionError) return [Buffer.from(`ERROR :${err.message.replace(/[\r\n]/g, ' ')}`, 'utf8')];
        const reply = replyFor(err);
        return reply ? [withoutLineEnd(reply)] : [];
      },
      endNotice(reason) {
        // ERROR is what a server sends a client, at any point, just before it closes the
        // connection (Modern IRC Client Protocol, "ERROR message").
        return [Buffer.from(`ERROR :${reason}`, 'utf8')];
      },
      farewell(reason) {
        return Buffer.from(`QUIT :${reason}\r\n`, 'utf8');
      },
    };
    if (props.starttls || injector !== null) {
      transform.start = async () => {
        if (injector !== null) await injector.load();
        const current = link;
        if (current === null) return;
        if (props.starttls && !current.secure) {
          const answer = await new Promise<string>((resolve) => {
            starttlsAnswer = resolve;
            current.write(Buffer.from('STARTTLS\r\n'));
          });
          if (answer !== STARTTLS_OK) {
            throw new InjectionError('irc', INJECT_ERRORS.STARTTLS_REFUSED, `the IRC server answered STARTTLS with ${answer}; this service requires TLS to the server`);
          }
          if (!(await current.startTls())) return;
          const line = webirc();
          if (line) current.write(line);
        }
        if (injector !== null) {
          // Refused here (plaintext link, no credential) before anything of the login is sent.
          const credential = injector.take(current.secure);
          const mode = props.inject?.login;
          if (mode === 'auto' || mode === 'sasl') {
            // Gangway's CAP negotiation ends before the client's first line: a client that
            // negotiates itself opens its own, and registration waits for that one's CAP END.
            const login = new IrcSaslLogin(mode, credential, (line) => current.write(Buffer.from(`${line}\r\n`, 'utf8')));
            sasl = login;
            const outcome = await login.run().finally(() => {
              sasl = null;
            });
            if (outcome.method === 'sasl') {
              session.log.debug({ session: session.id, account: outcome.account }, 'logged in to the IRC server with SASL PLAIN');
              return;
            }
          }
          // RFC 1459 §4.1.1: PASS comes before NICK and USER; the server password is the stored password.
          current.write(Buffer.from(`PASS :${credential.password}\r\n`, 'utf8'));
        }
      };
    }
    return transform;
  },
};
