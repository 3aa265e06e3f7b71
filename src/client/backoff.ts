/**
 * Reconnect delays: exponential backoff with full jitter. Every client draws its delay
 * uniformly from zero to the exponential bound, so that clients dropped together (a deploy, a
 * network blip) come back spread over the whole window instead of in waves (PITFALLS #9;
 * "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
 *
 * @module
 */

/** Bounds of the reconnect delay. */
export interface BackoffOptions {
  /** Bound of the first delay, in ms. Default 500. */
  readonly baseMs?: number;
  /** Largest bound, in ms: delays never exceed it. Default 30 000. */
  readonly capMs?: number;
}

/** SPEC.md § Client defaults. */
export const DEFAULT_BACKOFF = { baseMs: 500, capMs: 30_000 } as const;

/**
 * The delay before retry number `attempt` (0 for the first): uniform in
 * `[0, min(capMs, baseMs · 2^attempt))`.
 *
 * @param random - a source of numbers in [0, 1), for tests.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const cap = options.capMs ?? DEFAULT_BACKOFF.capMs;
  // 2^attempt overflows to Infinity past 1023, which min() turns into the cap.
  const bound = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * bound);
}
