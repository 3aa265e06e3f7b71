import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, backoffDelay } from './backoff.js';

const lowest = () => 0;
const highest = () => 0.999;

describe('backoffDelay', () => {
  it('defaults to a 500 ms base and a 30 s cap (SPEC.md § Client defaults)', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 500, capMs: 30_000 });
    expect(backoffDelay(0, {}, highest)).toBe(499);
    expect(backoffDelay(1, {}, highest)).toBe(999);
    expect(backoffDelay(50, {}, highest)).toBe(29_970);
  });

  it('doubles its bound on every attempt until the cap', () => {
    const bounds = [0, 1, 2, 3, 4, 5, 6, 7].map((attempt) =>
      backoffDelay(attempt, { baseMs: 100, capMs: 10_000 }, highest),
    );
    expect(bounds).toEqual([99, 199, 399, 799, 1598, 3196, 6393, 9990]);
  });

  it('draws from zero up to, never reaching, the bound (full jitter)', () => {
    for (const attempt of [0, 3, 10, 100]) {
      expect(backoffDelay(attempt, { baseMs: 500, capMs: 30_000 }, lowest)).toBe(0);
    }
    const bound = 500 * 2 ** 3;
    expect(backoffDelay(3, {}, highest)).toBeLessThan(bound);
    expect(backoffDelay(3, {}, highest)).toBeGreaterThanOrEqual(bound * 0.999 - 1);
    // The largest value a random source can return still stays under the bound.
    expect(backoffDelay(3, {}, () => 1 - Number.EPSILON)).toBe(bound - 1);
    expect(backoffDelay(3, {}, () => 0.5)).toBe(bound / 2);
  });

  it('spreads delays uniformly over the window with the default random source', () => {
    const bound = 4000;
    const draws = Array.from({ length: 20_000 }, () => backoffDelay(3));
    expect(draws.every((delay) => Number.isInteger(delay) && delay >= 0 && delay < bound)).toBe(
      true,
    );
    const mean = draws.reduce((sum, delay) => sum + delay, 0) / draws.length;
    // Uniform on [0, 4000): mean 2000, standard error 4000 / √12 / √20000 ≈ 8.
    expect(mean).toBeGreaterThan(1900);
    expect(mean).toBeLessThan(2100);
    // Ten buckets of 2000 draws each (σ ≈ 42): no wave, no hole.
    const buckets = new Array<number>(10).fill(0);
    for (const delay of draws) buckets[Math.floor(delay / (bound / 10))]! += 1;
    for (const count of buckets) {
      expect(count).toBeGreaterThan(1700);
      expect(count).toBeLessThan(2300);
    }
    expect(new Set(draws).size).toBeGreaterThan(3000);
  });

  it('never exceeds capMs, even when the cap is below the base', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      expect(backoffDelay(attempt, { baseMs: 500, capMs: 2000 }, highest)).toBeLessThan(2000);
    }
    expect(backoffDelay(0, { baseMs: 500, capMs: 200 }, highest)).toBe(199);
  });

  it('does not overflow on huge attempt numbers', () => {
    for (const attempt of [1023, 1024, 5000, Number.MAX_SAFE_INTEGER, Infinity]) {
      const delay = backoffDelay(attempt, { baseMs: 500, capMs: 30_000 }, highest);
      expect(delay).toBe(29_970);
    }
    expect(backoffDelay(1e9, {}, lowest)).toBe(0);
  });

  it('treats a negative attempt as the first', () => {
    expect(backoffDelay(-5, {}, highest)).toBe(499);
  });
});
