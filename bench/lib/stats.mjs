/**
 * Summaries of latency samples. Percentiles are by nearest rank over every sample (no
 * histogram buckets, no interpolation): p99 of 200 000 deliveries is the 198 000th smallest.
 */

/** The percentiles the reports show. */
export const PERCENTILES = [50, 95, 99];

/**
 * Summarises the first `count` values of `samples` (a typed array or an array).
 *
 * @returns `{ count, min, mean, p50, p95, p99, max }`, or `{ count: 0 }` with no samples.
 */
export function summarize(samples, count = samples.length) {
  if (count === 0) return { count: 0 };
  // A Float64Array sorts numerically and in place; copy so the caller's order stays.
  const sorted = Float64Array.from(samples.slice(0, count)).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const summary = { count, min: sorted[0], mean: sum / count };
  for (const p of PERCENTILES) summary[`p${p}`] = percentile(sorted, p);
  summary.max = sorted[count - 1];
  return summary;
}

/** Nearest-rank percentile of ascending `sorted`; `p` in (0, 100]. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
