import { BUCKET_US, LatencyHistogram, RANGE_US, percentiles } from '../../../bench/stomp-jms/histogram';

/** The rank ⌊p/100 × n⌋ sample of `samples`, as the histogram defines percentiles. */
function exact(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

describe('bench:stomp-jms latency histogram', () => {
  it('merges processes into the percentiles of all samples, within one bucket', () => {
    const parts = [new LatencyHistogram(), new LatencyHistogram(), new LatencyHistogram()];
    const all: number[] = [];
    for (let i = 0; i < 30_000; i++) {
      const us = Math.floor(Math.random() * (i % 100 === 0 ? 400_000 : 30_000));
      all.push(us);
      (parts[i % 3] as LatencyHistogram).record(us);
    }
    const p = percentiles(parts.map((h) => h.data()));
    expect(Math.abs((p.p50Us as number) - exact(all, 50))).toBeLessThanOrEqual(BUCKET_US);
    expect(Math.abs((p.p99Us as number) - exact(all, 99))).toBeLessThanOrEqual(BUCKET_US);
    expect(p.maxUs).toBe(Math.max(...all));
  });

  it('keeps samples beyond its range exactly', () => {
    const h = new LatencyHistogram();
    h.record(5);
    h.record(RANGE_US + 123);
    expect(percentiles([h.data()])).toEqual({ p50Us: RANGE_US + 123, p99Us: RANGE_US + 123, maxUs: RANGE_US + 123 });
  });

  it('is empty after a reset and has no percentiles without samples', () => {
    const h = new LatencyHistogram();
    h.record(1_000);
    h.reset();
    expect(h.data()).toEqual({ buckets: [], beyond: [], count: 0, maxUs: 0 });
    expect(percentiles([h.data()])).toEqual({ p50Us: null, p99Us: null, maxUs: null });
  });
});
