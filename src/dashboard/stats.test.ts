import { describe, expect, it } from 'vitest';
import { measureClockOffset } from './clock.js';
import { LatencyWindow } from './latency-window.js';
import { SequenceCheck } from './sequence-check.js';

describe('LatencyWindow', () => {
  it('answers nearest-rank percentiles of the samples inside the window only', () => {
    const window = new LatencyWindow(10_000);
    expect(window.percentile(0.5, 0)).toBeUndefined();
    // 1000 ms samples that age out, then 1..100 ms.
    for (let i = 0; i < 50; i++) window.add(0, 1000);
    for (let ms = 1; ms <= 100; ms++) window.add(20_000 + ms, ms);
    const now = 20_200;
    expect(window.percentile(0.5, now)).toBe(50);
    expect(window.percentile(0.99, now)).toBe(99);
    expect(window.percentile(1, now)).toBe(100);
    expect(window.percentile(0, now)).toBe(1);
    expect(window.percentile(0.5, 40_000)).toBeUndefined();
  });
});

describe('SequenceCheck', () => {
  it('counts the ticks skipped and repeated within a run, and starts over on a new run', () => {
    const check = new SequenceCheck();
    expect([1, 2, 3].map((n) => check.take('a', n))).toEqual([true, true, true]);
    expect(check.take('a', 6)).toBe(true);
    expect(check.missed).toBe(2);
    expect(check.take('a', 5)).toBe(false);
    expect(check.take('a', 6)).toBe(false);
    expect(check.duplicated).toBe(2);
    expect(check.take('b', 40)).toBe(true);
    expect(check.take('b', 41)).toBe(true);
    expect(check).toMatchObject({ missed: 2, duplicated: 2 });
  });
});

describe('measureClockOffset', () => {
  it('trusts the sample with the shortest round trip', async () => {
    // The page's clock runs 5 s behind. The slow samples read the server's time lopsidedly
    // (at the very start of a long wait), so trusting one of them would be 100+ ms off.
    const waits = [
      { before: 0, after: 300 },
      { before: 1, after: 1 },
      { before: 0, after: 200 },
    ];
    let call = 0;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const offset = await measureClockOffset('/clock', waits.length, async () => {
      const { before, after } = waits[call++] as { before: number; after: number };
      await sleep(before);
      const serverNow = Date.now() + 5000;
      await sleep(after);
      return serverNow;
    });
    expect(Math.abs(offset - 5000)).toBeLessThan(50);
  });
});
