/**
 * Summaries of latency samples. Percentiles are by nearest rank over every sample (no
 * histogram buckets, no interpolation), as `bench/lib/stats.mjs` computes them: p99 of 40 000
 * deliveries is the 39 600th smallest, a latency some delivery really had.
 *
 * @module
 */
import type { LatencySummary } from './results.js';

/**
 * The percentiles of the latency curves in the report: evenly spaced in "nines"
 * (`-log10(1 - p/100)` from 0 to 3, so 0, …, 90, …, 99, …, 99.9), where a linear axis would
 * squeeze the tail, the part that differs between transports, into its last pixels.
 */
export const LATENCY_CURVE_PERCENTILES: readonly number[] = Array.from({ length: 61 }, (_, i) =>
  roundPercentile(100 * (1 - 10 ** (-i / 20))),
);

/** Nearest-rank percentile of ascending `sorted`, `p` in [0, 100]; NaN with no samples. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  // The epsilon keeps float error from moving an exact rank up: 99.9 % of 1000 is 999, not
  // the 999.0000000000001 that `0.999 * 1000` gives.
  const rank = Math.ceil((p * sorted.length) / 100 - 1e-9);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The first `count` samples, sorted ascending, in a copy (the caller's order stays). */
export function sortedCopy(samples: Float64Array, count = samples.length): Float64Array {
  // A Float64Array sorts numerically (an Array would sort as strings).
  return samples.slice(0, count).sort();
}

/** Summarises ascending `sorted`; every figure is 0 when there are no samples. */
export function summarize(sorted: Float64Array): LatencySummary {
  const count = sorted.length;
  if (count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count,
    min: sorted[0]!,
    mean: sum / count,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[count - 1]!,
  };
}

/** The value of ascending `sorted` at each of `percentiles`; empty with no samples. */
export function percentileCurve(
  sorted: Float64Array,
  percentiles: readonly number[] = LATENCY_CURVE_PERCENTILES,
): number[] {
  if (sorted.length === 0) return [];
  return percentiles.map((p) => percentile(sorted, p));
}

/**
 * The width of the delivery timeline's bins: about 100 bins over the publishing time, at
 * least 100 ms, and at least two publish intervals so that a bin never falls between two
 * publishes (which would draw a saw tooth instead of a rate).
 */
export function timelineBinMs(durationSeconds: number, rate: number): number {
  const ms = Math.max(100, (durationSeconds * 1000) / 100, 2000 / rate);
  // A round width reads better on the axis: 100, 200, 500, 1000, 2000 …
  const steps = [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
  return steps.find((step) => step >= ms) ?? Math.ceil(ms / 60_000) * 60_000;
}

/** Counts per bin; grows as later bins are hit. */
export class BinCounter {
  readonly counts: number[] = [];

  constructor(readonly binMs: number) {}

  /** Counts one event `offsetMs` after the start; events before it count in bin 0. */
  add(offsetMs: number): void {
    const bin = Math.max(0, Math.floor(offsetMs / this.binMs));
    while (this.counts.length <= bin) this.counts.push(0);
    this.counts[bin]! += 1;
  }
}

function roundPercentile(p: number): number {
  return Math.round(p * 1e4) / 1e4;
}
