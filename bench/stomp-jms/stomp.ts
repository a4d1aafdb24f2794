/**
 * The STOMP side of a `bench:stomp-jms` subscriber: finds server frames in the byte stream of
 * WebSocket payloads (STOMP 1.2, https://stomp.github.io/stomp-specification-1.2.html#STOMP_Frames)
 * and reads no more of them than the benchmark needs: the command's first letter, and of a
 * MESSAGE the publisher's stamp at the start of its body. A frame may span payloads (RabbitMQ's
 * Web-STOMP does not align WebSocket messages with STOMP frames) and a payload may hold several.
 * Bodies must hold no NUL (the benchmark's do not): frames end at the first one.
 */

const NUL = 0x00;
const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const ZERO = 0x30;
const NINE = 0x39;
const LFLF = Buffer.from('\n\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** What a {@link StompScanner} reports. */
export interface StompEvents {
  /** A MESSAGE frame, with the publisher's stamp in microseconds (-1 when its body has none). */
  message(stampUs: number): void;
  /** A RECEIPT, ERROR or CONNECTED frame, whole, as text. */
  other(frame: string): void;
}

/**
 * The stamp of a MESSAGE frame `view[start, end)`: the decimal digits that open its body up to
 * `:` (see `stampNow`), or -1.
 */
function stampOf(view: Buffer, start: number, end: number): number {
  let sep = view.indexOf(LFLF, start);
  let body = sep + 2;
  if (sep < 0 || sep >= end) {
    sep = view.indexOf(CRLFCRLF, start);
    body = sep + 4;
    if (sep < 0 || sep >= end) return -1;
  }
  let n = 0;
  let i = body;
  for (; i < end; i++) {
    const c = view[i] as number;
    if (c === COLON) break;
    if (c < ZERO || c > NINE) return -1;
    n = n * 10 + (c - ZERO);
  }
  return i > body && i < end ? n : -1;
}

export class StompScanner {
  /** Copies of the bytes of a frame not yet ended by its NUL. */
  private carry: Buffer[] = [];

  constructor(private readonly on: StompEvents) {}

  /** Scans bytes `[start, end)` of `buf`; `buf` need only be valid during the call. */
  scan(buf: Buffer, start: number, end: number): void {
    const view = buf.subarray(start, end);
    let i = 0;
    if (this.carry.length > 0) {
      const nul = view.indexOf(NUL);
      if (nul < 0) {
        this.carry.push(Buffer.from(view));
        return;
      }
      this.carry.push(view.subarray(0, nul + 1));
      const frame = Buffer.concat(this.carry);
      this.carry = [];
      this.frame(frame, 0, frame.length - 1);
      i = nul + 1;
    }
    const n = view.length;
    while (i < n) {
      // The EOLs that may follow a frame, and heart-beats.
      const c = view[i] as number;
      if (c === LF || c === CR) {
        i++;
        continue;
      }
      const nul = view.indexOf(NUL, i);
      if (nul < 0) {
        this.carry.push(Buffer.from(view.subarray(i)));
        return;
      }
      this.frame(view, i, nul);
      i = nul + 1;
    }
  }

  /** One frame, `view[start, nul)`. */
  private frame(view: Buffer, start: number, nul: number): void {
    if (view[start] === 0x4d /* M */) this.on.message(stampOf(view, start, nul));
    else this.on.other(view.toString('utf8', start, nul));
  }
}
