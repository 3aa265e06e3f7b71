import { describe, expect, it } from 'vitest';
import { IpRateLimiter, TokenBucket } from './rate-limit.js';

/** Time is injected: every assertion below is exact, whatever the machine's load. */
const T0 = 1_700_000_000_000;

/** How many tokens `bucket` gives at instant `now`, taking until it refuses. */
function drain(bucket: TokenBucket, now: number): number {
  let taken = 0;
  while (bucket.take(now)) taken++;
  return taken;
}

describe('TokenBucket', () => {
  it('starts full: gives exactly `burst` tokens at one instant, then refuses', () => {
    const bucket = new TokenBucket(2, 5, T0);
    expect(drain(bucket, T0)).toBe(5);
    expect(bucket.take(T0)).toBe(false);
  });

  it('refills at `rate` tokens per second, a fraction at a time', () => {
    const bucket = new TokenBucket(4, 4, T0);
    drain(bucket, T0);
    // 4 per second: one token every 250 ms.
    expect(bucket.take(T0 + 249)).toBe(false);
    expect(bucket.take(T0 + 250)).toBe(true);
    expect(bucket.take(T0 + 250)).toBe(false);
    expect(drain(bucket, T0 + 750)).toBe(2);
  });

  it('never holds more than `burst`, however long it rested', () => {
    const bucket = new TokenBucket(10, 3, T0);
    drain(bucket, T0);
    expect(drain(bucket, T0 + 60_000)).toBe(3);
  });

  it('keeps a burst below one token per second apart from the rate', () => {
    // 0.5 per second, burst 1: one request, then one every 2 s.
    const bucket = new TokenBucket(0.5, 1, T0);
    expect(drain(bucket, T0)).toBe(1);
    expect(bucket.take(T0 + 1999)).toBe(false);
    expect(bucket.take(T0 + 2000)).toBe(true);
  });

  it('says how many seconds until the next token, 0 when one is there', () => {
    const bucket = new TokenBucket(2, 2, T0);
    expect(bucket.secondsUntilToken(T0)).toBe(0);
    drain(bucket, T0);
    expect(bucket.secondsUntilToken(T0)).toBeCloseTo(0.5, 9);
    expect(bucket.secondsUntilToken(T0 + 250)).toBeCloseTo(0.25, 9);
    expect(bucket.secondsUntilToken(T0 + 500)).toBe(0);
  });

  it('is full again once it refilled up to its burst, not before', () => {
    const bucket = new TokenBucket(1, 2, T0);
    expect(bucket.isFull(T0)).toBe(true);
    bucket.take(T0);
    expect(bucket.isFull(T0 + 999)).toBe(false);
    expect(bucket.isFull(T0 + 1000)).toBe(true);
  });

  it('refuses a take that fails without spending anything: refusals do not dig a debt', () => {
    const bucket = new TokenBucket(1, 1, T0);
    bucket.take(T0);
    for (let i = 0; i < 100; i++) expect(bucket.take(T0 + 500)).toBe(false);
    expect(bucket.take(T0 + 1000)).toBe(true);
  });
});

describe('IpRateLimiter', () => {
  it('keeps one bucket per address: one address past its rate leaves the others alone', () => {
    const limiter = new IpRateLimiter(1, 2);
    const now = Date.now();
    expect([limiter.admit('a', now), limiter.admit('a', now)]).toEqual([
      { ok: true },
      { ok: true },
    ]);
    expect(limiter.admit('a', now)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.admit('b', now)).toEqual({ ok: true });
    expect(limiter.admit('a', now + 1000)).toEqual({ ok: true });
  });

  it('says when to retry in whole seconds, never 0 (Retry-After)', () => {
    const fast = new IpRateLimiter(50, 1);
    const now = Date.now();
    fast.admit('a', now);
    // 20 ms to wait: Retry-After cannot say less than 1.
    expect(fast.admit('a', now)).toEqual({ ok: false, retryAfterSeconds: 1 });
    const slow = new IpRateLimiter(0.25, 1);
    slow.admit('a', now);
    expect(slow.admit('a', now)).toEqual({ ok: false, retryAfterSeconds: 4 });
    // 1.5 s still to wait: rounded up, so that a client that waits as told is admitted.
    expect(slow.admit('a', now + 2500)).toEqual({ ok: false, retryAfterSeconds: 2 });
  });

  it('forgets addresses whose bucket refilled at the next sweep, so its map stays bounded', () => {
    // The limiter's sweep clock starts at construction: `now` is taken after it.
    const limiter = new IpRateLimiter(1, 1);
    const now = Date.now();
    for (let i = 0; i < 5000; i++) limiter.admit(`10.0.${i >> 8}.${i & 255}`, now);
    expect(limiter.size).toBe(5000);
    // Sweeps run at most every 10 s, on the next request.
    limiter.admit('192.0.2.1', now + 9_000);
    expect(limiter.size).toBe(5001);
    limiter.admit('192.0.2.2', now + 10_001);
    expect(limiter.size).toBe(1);
  });

  it('keeps an address that is still limited across a sweep: waiting out a sweep frees nothing', () => {
    // One request per 100 s.
    const limiter = new IpRateLimiter(0.01, 1);
    const now = Date.now();
    expect(limiter.admit('flooder', now)).toEqual({ ok: true });
    limiter.admit('other', now);
    expect(limiter.admit('flooder', now + 10_001)).toEqual({
      ok: false,
      retryAfterSeconds: 90,
    });
    expect(limiter.size).toBe(2);
  });
});
