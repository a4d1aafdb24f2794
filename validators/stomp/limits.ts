/** Every limit the STOMP codec enforces, with its default. Documented in this folder's README. */
export interface StompLimits {
  /**
   * Largest frame in bytes, from the first byte of the command through the terminating NUL.
   * Also the most a codec ever buffers.
   * @default 1048576
   */
  readonly maxFrameSize: number;
  /**
   * Largest body in bytes, whether announced by `content-length` or found by scanning for NUL.
   * @default 1048576
   */
  readonly maxBodySize: number;
  /**
   * Most header lines in one frame (repeated names count each time).
   * @default 64
   */
  readonly maxHeaders: number;
  /**
   * Longest header line in bytes, without its end of line.
   * @default 8192
   */
  readonly maxHeaderLineLength: number;
  /**
   * Longest command line in bytes, without its end of line.
   * @default 64
   */
  readonly maxCommandLength: number;
  /**
   * Require a `host` header on CONNECT/STOMP frames that offer STOMP 1.1 or later, as the
   * specification says. Off by default because `@stomp/stompjs` and other common clients omit
   * it and brokers then use their default virtual host.
   * @default false
   */
  readonly requireHost: boolean;
}

/** Limit defaults for STOMP: the one place they are defined. */
export const DEFAULT_LIMITS: Readonly<StompLimits> = Object.freeze({
  maxFrameSize: 1048576,
  maxBodySize: 1048576,
  maxHeaders: 64,
  maxHeaderLineLength: 8192,
  maxCommandLength: 64,
  requireHost: false,
});

/** The defaults overridden by every key of `limits` that is not `undefined`, frozen. */
export function resolveLimits(limits?: Partial<StompLimits>): Readonly<StompLimits> {
  const set = Object.fromEntries(Object.entries(limits ?? {}).filter(([, v]) => v !== undefined)) as Partial<StompLimits>;
  return Object.freeze({ ...DEFAULT_LIMITS, ...set });
}
