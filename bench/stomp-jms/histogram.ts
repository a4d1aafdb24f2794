/**
 * Latency samples of `bench:stomp-jms` as a histogram that subscriber processes send to the
 * orchestrator and that merges without loss: 10 µs buckets up to 10 s, and every sample beyond
 * kept as it is. Percentiles of the merged histogram are those of all samples to within 10 µs.
 */

/** Width of a bucket in microseconds. */
export const BUCKET_US = 10;
/** Samples from here on are kept one by one. */
export const RANGE_US = 10_000_000;

/** A histogram on the wire: non-empty buckets as `[index, count]` pairs, flattened. */
export interface HistogramData {
  readonly buckets: readonly number[];
  readonly beyond: readonly number[];
  readonly count: number;
  readonly maxUs: number;
}

/** Latency percentiles and maximum in microseconds (`null` without samples). */
export interface Percentiles {
  readonly p50Us: number | null;
  readonly p99Us: number | null;
  readonly maxUs: number | null;
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(RANGE_US / BUCKET_US);
  private beyond: number[] = [];
  private count = 0;
  private maxUs = 0;

  record(us: number): void {
    const v = us < 0 ? 0 : us;
    if (v < RANGE_US) this.counts[Math.floor(v / BUCKET_US)]++;
    else this.beyond.push(v);
    this.count++;
    if (v > this.maxUs) this.maxUs = v;
  }

  reset(): void {
    if (this.count > 0) this.counts.fill(0);
    this.beyond = [];
    this.count = 0;
    this.maxUs = 0;
  }

  data(): HistogramData {
    const buckets: number[] = [];
    if (this.count > this.beyond.length) {
      for (let i = 0; i < this.counts.length; i++) if (this.counts[i] !== 0) buckets.push(i, this.counts[i] as number);
    }
    return { buckets, beyond: [...this.beyond], count: this.count, maxUs: this.maxUs };
  }
}

/**
 * Percentiles of the union of `parts`: the sample of rank ⌊p/100 × n⌋ (0-based) in sorted order,
 * as the middle of its bucket (never above the maximum), or exactly when it lies beyond the range.
 */
export function percentiles(parts: readonly HistogramData[]): Percentiles {
  const byBucket = new Map<number, number>();
  const beyond: number[] = [];
  let count = 0;
  let maxUs = 0;
  for (const p of parts) {
    for (let i = 0; i < p.buckets.length; i += 2) {
      const b = p.buckets[i] as number;
      byBucket.set(b, (byBucket.get(b) ?? 0) + (p.buckets[i + 1] as number));
    }
    beyond.push(...p.beyond);
    count += p.count;
    maxUs = Math.max(maxUs, p.maxUs);
  }
  if (count === 0) return { p50Us: null, p99Us: null, maxUs: null };
  const sorted = [...byBucket.entries()].sort((a, b) => a[0] - b[0]);
  beyond.sort((a, b) => a - b);
  const at = (p: number): number => {
    const rank = Math.min(count - 1, Math.floor((p / 100) * count));
    let seen = 0;
    for (const [bucket, n] of sorted) {
      seen += n;
      if (rank < seen) return Math.min(maxUs, bucket * BUCKET_US + BUCKET_US / 2);
    }
    return beyond[rank - seen] as number;
  };
  return { p50Us: at(50), p99Us: at(99), maxUs };
}
