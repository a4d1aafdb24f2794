import { WireError, type Codec, type ProtocolModule } from '../../validators/types';
import { prng } from '../support/wire';

/** A corpus: whole valid streams per direction, as a client and a server would send them. */
export interface Corpus {
  readonly toServer: readonly Buffer[];
  readonly toClient: readonly Buffer[];
  /** Most bytes a codec with the default limits may hold: the limit that bounds what it buffers. */
  readonly maxBuffered: number;
}

export interface FuzzFailure {
  readonly direction: 'toServer' | 'toClient';
  readonly input: string;
  readonly problem: string;
}

export interface FuzzReport {
  readonly protocol: string;
  readonly iterations: number;
  /** Inputs that ended in a WireError, by code. */
  readonly rejected: ReadonlyMap<string, number>;
  /** Inputs accepted whole. */
  readonly accepted: number;
  readonly frames: number;
  readonly maxBuffered: number;
  readonly slowestMs: number;
  readonly failures: readonly FuzzFailure[];
}

/** Bytes that delimit or escape in the five protocols; mutations favour them. */
const INTERESTING = [0x00, 0x0a, 0x0d, 0x3a, 0x5c, 0x3c, 0x3e, 0x26, 0x2f, 0x20, 0x22, 0x27, 0xce, 0xff, 0x7f, 0x80, 0xc0, 0x01, 0x40, 0x41];

/** One random mutation of `input` (or a splice with `other`). */
export function mutate(input: Buffer, other: Buffer, rand: () => number): Buffer {
  const n = input.length;
  const pick = (max: number): number => Math.floor(rand() * max);
  const at = pick(n + 1);
  switch (pick(10)) {
    case 0: {
      const out = Buffer.from(input);
      if (n) out[pick(n)] ^= 1 << pick(8);
      return out;
    }
    case 1: {
      const out = Buffer.from(input);
      if (n) out[pick(n)] = rand() < 0.5 ? (INTERESTING[pick(INTERESTING.length)] as number) : pick(256);
      return out;
    }
    case 2: {
      const ins = Buffer.alloc(1 + pick(8));
      for (let i = 0; i < ins.length; i++) ins[i] = rand() < 0.6 ? (INTERESTING[pick(INTERESTING.length)] as number) : pick(256);
      return Buffer.concat([input.subarray(0, at), ins, input.subarray(at)]);
    }
    case 3:
      return Buffer.concat([input.subarray(0, at), input.subarray(Math.min(n, at + 1 + pick(16)))]);
    case 4: {
      const len = pick(Math.min(64, n - at) + 1);
      return Buffer.concat([input.subarray(0, at + len), input.subarray(at, at + len), input.subarray(at + len)]);
    }
    case 5:
      return input.subarray(0, at);
    case 6:
      return Buffer.concat([input.subarray(0, at), other.subarray(pick(other.length + 1))]);
    case 7: {
      // A length-like field set to an extreme value.
      const out = Buffer.from(input);
      if (n >= 4) out.writeUInt32BE(rand() < 0.5 ? 0xffffffff : pick(0x7fffffff), pick(n - 3));
      return out;
    }
    case 8: {
      // Repeat a slice many times: floods, deep nesting, long lines.
      const len = 1 + pick(Math.min(8, n - at) + 1);
      const slice = input.subarray(at, at + len);
      const reps = 16 + pick(4096);
      return Buffer.concat([input.subarray(0, at), Buffer.alloc(slice.length * reps, slice), input.subarray(at)]);
    }
    default: {
      const out = Buffer.alloc(pick(256));
      for (let i = 0; i < out.length; i++) out[i] = pick(256);
      return rand() < 0.5 ? out : Buffer.concat([input.subarray(0, at), out]);
    }
  }
}

/** Feeds `input` in random pieces; returns what happened, or a failure description. */
function feed(codec: Codec, input: Buffer, rand: () => number, bound: number): { frames: number; code: string | null; maxBuffered: number; problem?: string } {
  let frames = 0;
  let maxBuffered = 0;
  let off = 0;
  try {
    while (off < input.length) {
      const len = rand() < 0.3 ? 1 + Math.floor(rand() * 8) : 1 + Math.floor(rand() * (input.length - off));
      const out = codec.push(input.subarray(off, off + len));
      frames += out.length;
      off += len;
      if (codec.buffered > maxBuffered) maxBuffered = codec.buffered;
      if (codec.buffered > bound) return { frames, code: null, maxBuffered, problem: `buffered ${codec.buffered} bytes, above the limit ${bound}` };
    }
    return { frames, code: null, maxBuffered };
  } catch (err) {
    if (err instanceof WireError) return { frames, code: err.code, maxBuffered };
    return { frames, code: null, maxBuffered, problem: `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` };
  }
}

/** Mutates corpus streams `iterations` times and feeds each to a fresh codec pair. */
export function fuzz(module: ProtocolModule, corpus: Corpus, iterations: number, seed: number): FuzzReport {
  const rand = prng(seed);
  const bound = corpus.maxBuffered;
  const rejected = new Map<string, number>();
  const failures: FuzzFailure[] = [];
  let accepted = 0;
  let frames = 0;
  let maxBuffered = 0;
  let slowestMs = 0;
  for (let i = 0; i < iterations; i++) {
    const direction = rand() < 0.5 ? 'toServer' : 'toClient';
    const streams = corpus[direction].length ? corpus[direction] : corpus.toServer;
    const base = streams[Math.floor(rand() * streams.length)] as Buffer;
    const other = streams[Math.floor(rand() * streams.length)] as Buffer;
    let input = mutate(base, other, rand);
    if (rand() < 0.3) input = mutate(input, other, rand);
    const pair = module.createPair();
    const started = performance.now();
    const result = feed(pair[direction], input, rand, bound);
    const ms = performance.now() - started;
    if (ms > slowestMs) slowestMs = ms;
    frames += result.frames;
    if (result.maxBuffered > maxBuffered) maxBuffered = result.maxBuffered;
    if (result.problem) failures.push({ direction, input: input.toString('base64'), problem: result.problem });
    else if (result.code) rejected.set(result.code, (rejected.get(result.code) ?? 0) + 1);
    else accepted++;
  }
  return { protocol: module.name, iterations, rejected, accepted, frames, maxBuffered, slowestMs, failures };
}
