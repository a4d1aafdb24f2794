/**
 * Helpers the validator tests share: a seeded random source, the ways a test cuts a byte stream
 * into pushes, and catching the validator's error.
 */
import { WireError } from '../../validators/types';

/** Deterministic PRNG (mulberry32): the same seed gives the same numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How a stream is cut into pushes: whole, one byte per push, or random pieces from this seed. */
export type Split = 'whole' | 'bytes' | number;

/** The cuts a stream fed whole is compared with: byte by byte, then five random ones. */
export const OTHER_SPLITS: readonly Split[] = ['bytes', 2, 3, 4, 5, 6];

/**
 * `buf` cut as `split` says; random pieces are 1 to `maxPiece` bytes, each a copy (so a view
 * into an earlier piece cannot hide a bug in what a codec carries over).
 */
export function splitBuffer(buf: Buffer, split: Split, maxPiece: number): Buffer[] {
  if (split === 'whole') return [buf];
  if (split === 'bytes') return Array.from(buf, (_, i) => buf.subarray(i, i + 1));
  const rand = prng(split);
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; ) {
    const len = 1 + Math.floor(rand() * Math.min(maxPiece, buf.length - off));
    out.push(Buffer.from(buf.subarray(off, off + len)));
    off += len;
  }
  return out;
}

/** The WireError `fn` throws; anything else it throws is thrown on, and nothing thrown fails. */
export function caught(fn: () => unknown): WireError {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err;
    throw err;
  }
  throw new Error('expected a WireError, nothing was thrown');
}
