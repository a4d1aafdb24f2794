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

/**
 * `payload` as one unmasked WebSocket text frame from a server, header and payload in one buffer
 * (RFC 6455 section 5.2, https://www.rfc-editor.org/rfc/rfc6455#section-5.2): FIN set, no
 * reserved bit (no extension), opcode 1, the length in 7, 16 or 64 bits. The bytes ws writes for
 * `send(payload, { binary: false })`, so one such frame can be written to many clients' sockets.
 */
export function webSocketTextFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x81;
  if (head === 2) frame[1] = n;
  else if (head === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  payload.copy(frame, head);
  return frame;
}
