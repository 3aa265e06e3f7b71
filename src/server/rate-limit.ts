/**
 * Token buckets for the rate limits: one per WebSocket (frames per second) and one per client
 * IP (HTTP requests per second). A bucket holds at most `burst` tokens and refills at `rate`
 * per second; each message takes one.
 *
 * @module
 */

/** A token bucket; time comes from the caller so that one `Date.now()` serves a batch. */
export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.#tokens = burst;
    this.#updatedAt = now;
  }

  /** Takes a token; false when the bucket is empty. */
  take(now = Date.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Seconds until a token is back (for `Retry-After`); 0 when one is there. */
  secondsUntilToken(now = Date.now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) / this.rate;
  }

  /** Whether the bucket is full again: it then says nothing that a new one would not. */
  isFull(now = Date.now()): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate);
    this.#updatedAt = now;
  }
}

/** How often full buckets are forgotten, so that the map only holds addresses that are busy. */
const SWEEP_INTERVAL_MS = 10_000;

/**
 * Per-IP request rate. Memory stays bounded by the addresses seen within a few seconds: a
 * bucket that has refilled is dropped at the next sweep (a new one would be the same).
 */
export class IpRateLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  #sweptAt = Date.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  /** Whether `ip` may make one more request now; when not, the seconds to wait. */
  admit(ip: string, now = Date.now()): { ok: true } | { ok: false; retryAfterSeconds: number } {
    if (now - this.#sweptAt > SWEEP_INTERVAL_MS) this.#sweep(now);
    let bucket = this.#buckets.get(ip);
    if (!bucket) {
      bucket = new TokenBucket(this.rate, this.burst, now);
      this.#buckets.set(ip, bucket);
    }
    if (bucket.take(now)) return { ok: true };
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(bucket.secondsUntilToken(now))) };
  }

  /** Addresses tracked now (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [ip, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(ip);
  }
}
