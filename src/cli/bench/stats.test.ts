import { describe, expect, it } from 'vitest';
import {
  BinCounter,
  LATENCY_CURVE_PERCENTILES,
  percentile,
  percentileCurve,
  sortedCopy,
  summarize,
  timelineBinMs,
} from './stats.js';

const ascending = (values: number[]) => sortedCopy(Float64Array.from(values));

describe('percentile', () => {
  it('takes the nearest rank: a value some sample really had', () => {
    const sorted = ascending(Array.from({ length: 100 }, (_, i) => i + 1)); // 1 … 100
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 95)).toBe(95);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 99.5)).toBe(100);
    expect(percentile(sorted, 100)).toBe(100);
  });

  it('gives the smallest sample at 0 and the one sample of a single-sample set', () => {
    expect(percentile(ascending([3, 1, 2]), 0)).toBe(1);
    expect(percentile(ascending([7]), 50)).toBe(7);
    expect(percentile(ascending([7]), 99)).toBe(7);
  });

  it('rounds the rank up: p50 of four samples is the second', () => {
    expect(percentile(ascending([10, 20, 30, 40]), 50)).toBe(20);
    expect(percentile(ascending([10, 20, 30, 40]), 51)).toBe(30);
  });

  it('is NaN without samples', () => {
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
  });
});

describe('sortedCopy', () => {
  it('sorts numerically, not as text, and leaves the samples as they were', () => {
    const samples = Float64Array.from([10, 9, 100, 1.5]);
    expect([...sortedCopy(samples)]).toEqual([1.5, 9, 10, 100]);
    expect([...samples]).toEqual([10, 9, 100, 1.5]);
  });

  it('takes only the first `count` samples (the rest of a buffer is unused)', () => {
    expect([...sortedCopy(Float64Array.from([3, 2, 1, 0, 0]), 3)]).toEqual([1, 2, 3]);
  });
});

describe('summarize', () => {
  it('gives count, min, mean, percentiles and max', () => {
    const summary = summarize(ascending([4, 1, 3, 2]));
    expect(summary).toEqual({ count: 4, min: 1, mean: 2.5, p50: 2, p95: 4, p99: 4, max: 4 });
  });

  it('orders its percentiles: min ≤ p50 ≤ p95 ≤ p99 ≤ max', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 10);
    const { min, p50, p95, p99, max } = summarize(ascending(samples));
    expect([min, p50, p95, p99, max]).toEqual([0, 49.9, 94.9, 98.9, 99.9]);
  });

  it('is all zeros without samples (JSON has no NaN)', () => {
    expect(summarize(new Float64Array(0))).toEqual({
      count: 0,
      min: 0,
      mean: 0,
      p50: 0,
      p95: 0,
      p99: 0,
      max: 0,
    });
  });
});

describe('LATENCY_CURVE_PERCENTILES', () => {
  it('runs from 0 to 99.9, evenly in nines, through 50-ish, 90 and 99', () => {
    expect(LATENCY_CURVE_PERCENTILES[0]).toBe(0);
    expect(LATENCY_CURVE_PERCENTILES.at(-1)).toBe(99.9);
    expect(LATENCY_CURVE_PERCENTILES).toContain(90);
    expect(LATENCY_CURVE_PERCENTILES).toContain(99);
    const sorted = [...LATENCY_CURVE_PERCENTILES].sort((a, b) => a - b);
    expect(LATENCY_CURVE_PERCENTILES).toEqual(sorted);
  });
});

describe('percentileCurve', () => {
  it('reads the sorted samples at each percentile; nothing without samples', () => {
    const sorted = ascending(Array.from({ length: 1000 }, (_, i) => i));
    expect(percentileCurve(sorted, [0, 50, 90, 99, 99.9])).toEqual([0, 499, 899, 989, 998]);
    expect(percentileCurve(new Float64Array(0))).toEqual([]);
  });
});

describe('timelineBinMs', () => {
  it('gives about 100 bins over the run, in round widths', () => {
    expect(timelineBinMs(10, 20)).toBe(100);
    expect(timelineBinMs(60, 20)).toBe(1000);
    expect(timelineBinMs(30, 20)).toBe(500);
  });

  it('never splits the time between two publishes over bins', () => {
    expect(timelineBinMs(2, 1)).toBe(2000);
    expect(timelineBinMs(10, 4)).toBe(500);
  });
});

describe('BinCounter', () => {
  it('counts per bin, growing as later bins are hit, early events in bin 0', () => {
    const bins = new BinCounter(100);
    for (const at of [-5, 0, 99.9, 100, 350]) bins.add(at);
    expect(bins.counts).toEqual([3, 1, 0, 1]);
  });
});
