import { describe, expect, it } from 'vitest';
import { type DropCounts, reportDrops } from './drop-report.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 2000; !check(); await sleep(5)) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
}

describe('reportDrops', () => {
  it('reports the first drops at the next check, then the growth at most once per interval', async () => {
    let counts: DropCounts = {};
    const lines: Array<{ at: number; fields: object }> = [];
    const stop = reportDrops(
      () => counts,
      (fields) => lines.push({ at: Date.now(), fields }),
      { checkMs: 10, intervalMs: 200 },
    );
    try {
      await sleep(40);
      expect(lines).toEqual([]); // nothing dropped, nothing said
      counts = { origin: 1 };
      await until(() => lines.length === 1);
      expect(lines[0]?.fields).toEqual({ dropped: { origin: 1 }, total: { origin: 1 } });
      counts = { origin: 5, slow_consumer: 2 };
      await until(() => lines.length === 2);
      expect(lines[1]?.fields).toEqual({
        dropped: { origin: 4, slow_consumer: 2 },
        total: { origin: 5, slow_consumer: 2 },
      });
      // Counted at once, said only once the interval had passed.
      expect((lines[1]?.at ?? 0) - (lines[0]?.at ?? 0)).toBeGreaterThanOrEqual(200);
    } finally {
      stop();
    }
  });
});
