import { z } from 'zod';
import net from 'node:net';
import { DEFAULT_LIMITS, IrcCodecPair, replyFor, type IrcLimits } from '../../../validators/irc';
import { limitsSchema, wirePropertiesShape, type WireProtocol } from './factory';

const properties = z.strictObject({
  ...wirePropertiesShape,
  /** Overrides of the IRC validator's limits (validators/irc/README.md). */
  limits: limitsSchema(DEFAULT_LIMITS).default({}),
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

/**
 * `irc.proxy`: IRCv3 WebSocket (`text.ircv3.net`, `binary.ircv3.net`, or no subprotocol as text):
 * one IRC message per WebSocket message without a line end, in both directions; tags kept. With
 * `webirc`, the server learns the client's real address.
 */
export const ircProxy: WireProtocol<IrcProxyProperties> = {
  type: 'irc.proxy',
  subprotocols: ['text.ircv3.net', 'binary.ircv3.net'],
  properties,
  transform(session, props, metrics) {
    const pair = new IrcCodecPair(props.limits as Partial<IrcLimits>, { toServer: 'message', toClient: 'stream' });
    const binary = session.protocol === 'binary.ircv3.net';
    return {
      preamble() {
        if (!props.webirc) return null;
        const addr = ircAddress(session.remoteAddress);
        return Buffer.from(`WEBIRC ${props.webirc.password} ${props.webirc.gateway} ${addr} ${addr}\r\n`);
      },
      fromClient(data) {
        const [frame] = pair.toServer.push(data);
        if (!frame) return null;
        metrics.frame('toServer', frame.kind);
        return Buffer.concat([frame.raw, CRLF]);
      },
      fromBackend(chunk, send) {
        for (const f of pair.toClient.push(chunk)) {
          metrics.frame('toClient', f.kind);
          send(withoutLineEnd(f.raw), binary);
        }
      },
      clientReply(err) {
        const reply = replyFor(err);
        return reply ? [withoutLineEnd(reply)] : [];
      },
      farewell() {
        return Buffer.from('QUIT :Gangway refused the client input\r\n');
      },
    };
  },
};
