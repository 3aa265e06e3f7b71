import { describe, expect, it } from 'vitest';
import { DeliveryLog } from './delivery-log.js';

const MS = 1_000_000n; // ns

describe('DeliveryLog', () => {
  it('counts every message once per client and takes latency from the stamps', () => {
    const log = new DeliveryLog(2, 3, 100);
    log.start(0n);
    for (const client of [0, 1]) {
      for (const seq of [0, 1, 2])
        log.record(client, seq, BigInt(seq) * 50n * MS, (BigInt(seq) * 50n + 2n) * MS);
    }
    const figures = log.figures();
    expect(figures).toMatchObject({
      expected: 6,
      delivered: 6,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      strays: 0,
    });
    expect(figures.latencyMs).toMatchObject({ count: 6, min: 2, p50: 2, max: 2 });
    expect(figures.lastAtNs).toBe(102n * MS);
    // Arrivals at 2, 52 and 102 ms, twice: bins of 100 ms.
    expect(figures.timeline).toEqual({ binMs: 100, counts: [4, 2] });
  });

  it('tells lost, duplicated and out-of-order deliveries apart', () => {
    const log = new DeliveryLog(2, 3, 100);
    log.start(0n);
    log.record(0, 0, 0n, MS);
    log.record(0, 2, 0n, MS);
    log.record(0, 1, 0n, MS); // after 2: out of order
    log.record(0, 2, 0n, MS); // again
    log.record(1, 0, 0n, MS); // client 1 misses 1 and 2
    const figures = log.figures();
    expect(figures).toMatchObject({
      expected: 6,
      delivered: 4,
      lost: 2,
      duplicated: 1,
      outOfOrder: 1,
    });
    expect(figures.latencyMs.count).toBe(4);
  });

  it('counts what is no message of the run as a stray, not as a delivery', () => {
    const log = new DeliveryLog(1, 2, 100);
    log.record(0, 2, 0n, MS);
    log.record(0, -1, 0n, MS);
    log.record(0, 0.5, 0n, MS);
    log.stray();
    expect(log.figures()).toMatchObject({ delivered: 0, lost: 2, strays: 4, lastAtNs: undefined });
  });
});
