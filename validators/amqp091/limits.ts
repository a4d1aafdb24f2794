/** Limits enforced by the AMQP 0-9-1 validator; every default lives in {@link DEFAULT_LIMITS}. */
export interface Amqp091Limits {
  /**
   * Largest frame in bytes (7-byte header, payload and frame-end), whatever frame-max was negotiated.
   * After tuning, the smaller of this and the negotiated frame-max applies.
   * @default 131072
   */
  readonly maxFrameSize: number;
  /**
   * Largest frame before Connection.Tune / Tune-Ok fix frame-max. The spec guarantees 4096
   * (frame-min-size); RabbitMQ enforces the same before tuning.
   * @default 4096
   */
  readonly preTuneFrameMax: number;
  /**
   * Highest channel number accepted, whatever channel-max was negotiated (RabbitMQ's default channel_max).
   * @default 2047
   */
  readonly channelMax: number;
  /**
   * Largest body size a content header may declare (RabbitMQ's default max_message_size, 128 MiB).
   * @default 134217728
   */
  readonly maxBodySize: number;
  /**
   * Deepest nesting of field tables and field arrays inside one method or content header.
   * @default 32
   */
  readonly maxFieldDepth: number;
}

/** Default limits of the AMQP 0-9-1 validator. */
export const DEFAULT_LIMITS: Readonly<Amqp091Limits> = Object.freeze({
  maxFrameSize: 131072,
  preTuneFrameMax: 4096,
  channelMax: 2047,
  maxBodySize: 134217728,
  maxFieldDepth: 32,
});
