/** Every limit the IRC codec enforces, with its default. Documented in this folder's README. */
export interface IrcLimits {
  /**
   * Longest message in bytes without its tags section, counting the CRLF (RFC 1459 §2.3,
   * RFC 2812 §2.3). In message framing, where no CRLF is sent, the message may be 2 bytes
   * shorter than this.
   * @default 512
   */
  readonly maxMessageBytes: number;
  /**
   * Longest tags section from a server, counting the leading `@` and the trailing space
   * (IRCv3 message-tags, "Size limit").
   * @default 8191
   */
  readonly maxTagBytes: number;
  /**
   * Most tag data from a client, without the leading `@` and the trailing space (IRCv3
   * message-tags: clients must not send more than 4094 bytes of tag data).
   * @default 4094
   */
  readonly maxClientTagBytes: number;
  /**
   * Most parameters in one message (RFC 2812 §2.3.1).
   * @default 15
   */
  readonly maxParams: number;
  /**
   * Accept a bare LF as the end of a line in stream framing, as IRC servers and clients do.
   * A bare CR is never a line end.
   * @default true
   */
  readonly allowBareLf: boolean;
  /**
   * Refuse messages that are not valid UTF-8. Tags must be UTF-8 in any case; with this off,
   * the rest of a message that is not UTF-8 is decoded as Latin-1 (legacy networks).
   * @default true
   */
  readonly requireUtf8: boolean;
}

/** Limit defaults for IRC: the one place they are defined. */
export const DEFAULT_LIMITS: Readonly<IrcLimits> = Object.freeze({
  maxMessageBytes: 512,
  maxTagBytes: 8191,
  maxClientTagBytes: 4094,
  maxParams: 15,
  allowBareLf: true,
  requireUtf8: true,
});

/** The defaults overridden by every key of `limits` that is not `undefined`, frozen. */
export function resolveLimits(limits?: Partial<IrcLimits>): Readonly<IrcLimits> {
  const set = Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== undefined)) as Partial<IrcLimits>;
  return Object.freeze({ ...DEFAULT_LIMITS, ...set });
}
