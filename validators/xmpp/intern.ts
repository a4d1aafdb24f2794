/**
 * Decoded strings for short byte spans, cached by content: element and attribute names,
 * prefixes, namespace URIs and short attribute values repeat on every stanza of a stream, so each
 * is decoded once and afterwards found by hashing and comparing its bytes.
 *
 * The cache is a pure function of the bytes (a hit returns exactly what `toString('utf8')` of the
 * same bytes returns), so one table serves every connection. A slot holds one span; a colliding
 * span replaces it, which bounds memory and turns a flood of distinct spans into plain decoding.
 */

/** Longest span cached; longer spans are decoded directly. */
const MAX_SPAN = 64;

/** A direct-mapped table from byte spans to their UTF-8 decoding. */
export class SpanCache {
  private readonly mask: number;
  private readonly bytes: Uint8Array;
  private readonly lengths: Int32Array;
  private readonly strings: string[];

  /** `slots` must be a power of two. */
  constructor(slots: number) {
    this.mask = slots - 1;
    this.bytes = new Uint8Array(slots * MAX_SPAN);
    this.lengths = new Int32Array(slots).fill(-1);
    this.strings = new Array<string>(slots).fill('');
  }

  /** `buf.toString('utf8', start, end)`, from the cache when the span was seen before. */
  get(buf: Buffer, start: number, end: number): string {
    const len = end - start;
    if (len > MAX_SPAN) return buf.toString('utf8', start, end);
    if (len === 0) return '';
    // The hash samples a few bytes; the full comparison below decides.
    let h = Math.imul(len, 0x9e3779b1) ^ (buf[start] as number);
    h = Math.imul(h ^ ((buf[end - 1] as number) << 8), 0x85ebca6b);
    h = Math.imul(h ^ ((buf[start + (len >> 1)] as number) << 16) ^ ((buf[end - 2 >= start ? end - 2 : start] as number) << 4), 0xc2b2ae35);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const base = slot * MAX_SPAN;
    const bytes = this.bytes;
    if (this.lengths[slot] === len) {
      let i = 0;
      while (i < len && bytes[base + i] === buf[start + i]) i++;
      if (i === len) return this.strings[slot] as string;
    }
    const s = buf.toString('utf8', start, end);
    for (let i = 0; i < len; i++) bytes[base + i] = buf[start + i] as number;
    this.lengths[slot] = len;
    this.strings[slot] = s;
    return s;
  }
}

/** Names: elements, attributes, prefixes. */
export const NAMES = new SpanCache(1024);
/** Attribute values without references or normalized whitespace, namespace URIs among them. */
export const VALUES = new SpanCache(1024);
