/**
 * MESSAGE frames of a shared subscription, encoded once per broker message and written to many
 * subscribers. In STOMP 1.2 (section "MESSAGE", https://stomp.github.io/stomp-specification-1.2.html#MESSAGE)
 * only the `subscription` header differs between the subscribers of one destination, so the
 * frame is encoded in two parts around it and joined per subscription id.
 */
import { escapeHeader, type StompHeader, type StompVersion } from '../../../validators/stomp';

/**
 * A MESSAGE frame without its `subscription` header: `head` is the command and every other
 * header line, `tail` the blank line, the body and the NUL.
 */
export class SplitMessage {
  /** Whole frames by subscription id: clients that all subscribe as `sub-0` share one buffer. */
  private readonly joined = new Map<string, Buffer>();

  private constructor(
    readonly head: Buffer,
    readonly tail: Buffer,
  ) {}

  /** Encodes `headers` (in order, escaped for `version`) and `body`, as `encodeFrame` of validators/stomp would. */
  static encode(headers: readonly StompHeader[], body: Buffer, version: StompVersion): SplitMessage {
    let head = 'MESSAGE\n';
    for (const [name, value] of headers) head += escapeHeader(name, version, true) + ':' + escapeHeader(value, version) + '\n';
    const tail = Buffer.allocUnsafe(body.length + 2);
    tail[0] = 0x0a;
    body.copy(tail, 1);
    tail[tail.length - 1] = 0;
    return new SplitMessage(Buffer.from(head, 'utf8'), tail);
  }

  /**
   * The whole frame for subscription `id`, whose header line is `line` (from
   * {@link subscriptionLine}, for the same version): made once per id, then shared.
   */
  frameFor(id: string, line: Buffer): Buffer {
    let frame = this.joined.get(id);
    if (frame === undefined) {
      frame = Buffer.allocUnsafe(this.head.length + line.length + this.tail.length);
      this.head.copy(frame, 0);
      line.copy(frame, this.head.length);
      this.tail.copy(frame, this.head.length + line.length);
      this.joined.set(id, frame);
    }
    return frame;
  }

  /** Distinct whole frames made so far (for tests). */
  get frames(): number {
    return this.joined.size;
  }
}

/** The `subscription:ID` header line of a MESSAGE frame, escaped for `version`. */
export function subscriptionLine(id: string, version: StompVersion): Buffer {
  return Buffer.from(`subscription:${escapeHeader(id, version)}\n`, 'utf8');
}
