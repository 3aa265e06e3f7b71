/**
 * Latencies of the last `spanMs`, for live percentiles: a panel shows how its transport does
 * now, not since the page opened (a poll panel's first seconds would weigh forever).
 */
export class LatencyWindow {
  readonly #spanMs: number;
  readonly #times: number[] = [];
  readonly #latencies: number[] = [];

  constructor(spanMs: number) {
    this.#spanMs = spanMs;
  }

  /** Records one delivery's latency, `latencyMs`, received at `atMs`. */
  add(atMs: number, latencyMs: number): void {
    this.#times.push(atMs);
    this.#latencies.push(latencyMs);
  }

  /** The `fraction` percentile (0.5 for p50) of what arrived in the window ending at `nowMs`. */
  percentile(fraction: number, nowMs: number): number | undefined {
    this.#forgetBefore(nowMs - this.#spanMs);
    if (this.#latencies.length === 0) return undefined;
    const sorted = [...this.#latencies].sort((a, b) => a - b);
    // Nearest rank: the smallest value with at least `fraction` of the samples at or below it.
    const rank = Math.max(1, Math.ceil(fraction * sorted.length));
    return sorted[rank - 1];
  }

  #forgetBefore(cutoffMs: number): void {
    let stale = 0;
    while (stale < this.#times.length && (this.#times[stale] as number) < cutoffMs) stale += 1;
    if (stale === 0) return;
    this.#times.splice(0, stale);
    this.#latencies.splice(0, stale);
  }
}
