/** Limits enforced by the AMQP 1.0 validator; every default lives in {@link DEFAULT_LIMITS}. */
export interface Amqp10Limits {
  /**
   * Largest frame in bytes, whatever max-frame-size the peers announce. Once the receiving peer's
   * open is seen, the smaller of this and its max-frame-size applies.
   * @default 1048576
   */
  readonly maxFrameSize: number;
  /**
   * Largest frame a side may send before its own open (SASL frames and the open itself). The spec
   * guarantees 512 (MIN-MAX-FRAME-SIZE); the default leaves room for opens with many properties.
   * @default 4096
   */
  readonly preOpenFrameSize: number;
  /**
   * Highest channel number accepted, whatever channel-max the receiving peer announces.
   * @default 65535
   */
  readonly channelMax: number;
  /**
   * Deepest nesting of described and compound values (list, map, array) in a performative.
   * @default 32
   */
  readonly maxDepth: number;
  /**
   * Most elements one list, map (keys plus values) or array may declare.
   * @default 65536
   */
  readonly maxElements: number;
  /**
   * Largest delivery: the payloads of one transfer, or of a run of transfers joined by `more`,
   * on one link.
   * @default 134217728
   */
  readonly maxMessageSize: number;
}

/** Default limits of the AMQP 1.0 validator. */
export const DEFAULT_LIMITS: Readonly<Amqp10Limits> = Object.freeze({
  maxFrameSize: 1048576,
  preOpenFrameSize: 4096,
  channelMax: 65535,
  maxDepth: 32,
  maxElements: 65536,
  maxMessageSize: 134217728,
});
