/**
 * Holds the bytes of one STOMP frame that spans pushed chunks.
 *
 * Each byte of a spanning frame is copied exactly once (when its chunk ends before the frame
 * does); the storage grows by doubling and never beyond the configured cap. A completed frame
 * takes the storage with it ({@link Accumulator.take}), so the frame's `raw` is not copied again.
 */
export class Accumulator {
  private buf: Buffer = Buffer.alloc(0);
  private len = 0;

  /** @param cap largest number of bytes ever held (the frame limit). */
  constructor(private readonly cap: number) {}

  /** Number of bytes held. */
  get length(): number {
    return this.len;
  }

  /** Copies `src[start, end)`; the caller has checked that the result stays within the cap. */
  append(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    const need = this.len + n;
    if (need > this.buf.length) {
      let size = this.buf.length === 0 ? 256 : this.buf.length * 2;
      while (size < need) size *= 2;
      if (size > this.cap) size = Math.max(this.cap, need);
      const next = Buffer.allocUnsafeSlow(size);
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    src.copy(this.buf, this.len, start, end);
    this.len = need;
  }

  /** The storage itself: the bytes held are its first {@link length}; valid until the next `append` or `take`. */
  get storage(): Buffer {
    return this.buf;
  }

  /** A view of the bytes held, valid until the next `append` or `take`. */
  view(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** Hands the bytes held to the caller and starts empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.alloc(0);
    this.len = 0;
    return out;
  }
}
