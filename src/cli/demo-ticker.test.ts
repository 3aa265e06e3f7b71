import { describe, expect, it } from 'vitest';
import { type DemoTick, startDemoTicker } from './demo-ticker.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 2000; !check(); await sleep(5)) {
    if (Date.now() > deadline) throw new Error('timed out');
  }
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string | undefined }> = [];
  return {
    lines,
    logger: {
      info: (_fields: object, message?: string) => lines.push({ level: 'info', message }),
      warn: (_fields: object, message?: string) => lines.push({ level: 'warn', message }),
      error: (_fields: object, message?: string) => lines.push({ level: 'error', message }),
    },
  };
}

describe('startDemoTicker', () => {
  it('publishes event "tick" on "demo" with one run, n from 1 and a 2-decimal price', async () => {
    const ticks: DemoTick[] = [];
    const { logger } = recordingLogger();
    const stop = startDemoTicker(
      (channel, data, options) => {
        expect([channel, options.event]).toEqual(['demo', 'tick']);
        ticks.push(data);
        return Promise.resolve();
      },
      logger,
      5,
    );
    try {
      await until(() => ticks.length >= 5);
    } finally {
      stop();
    }
    expect(ticks.map((tick) => tick.n).slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(ticks.map((tick) => tick.run)).size).toBe(1);
    for (const { price } of ticks) expect(Math.round(price * 100) / 100).toBe(price);
  });

  it('skips ticks while a publish is on its way and retries a failed one with the same n', async () => {
    const sent: number[] = [];
    let outcome: 'slow' | 'fail' | 'ok' = 'slow';
    let release: () => void = () => {};
    const { logger, lines } = recordingLogger();
    const stop = startDemoTicker(
      (_channel, data) => {
        sent.push(data.n);
        if (outcome === 'slow') return new Promise<void>((resolve) => (release = resolve));
        if (outcome === 'fail') return Promise.reject(new Error('broker away'));
        return Promise.resolve();
      },
      logger,
      5,
    );
    try {
      await sleep(40);
      expect(sent).toEqual([1]); // one publish at a time
      outcome = 'fail';
      release();
      await until(() => sent.length >= 5);
      outcome = 'ok';
      await until(() => sent.length >= 8);
    } finally {
      stop();
    }
    const firstOk = sent.lastIndexOf(2);
    expect(sent.slice(0, firstOk + 1).every((n, i) => n === (i === 0 ? 1 : 2))).toBe(true);
    expect(sent.slice(firstOk)).toEqual(sent.slice(firstOk).map((_, i) => 2 + i));
    // Once when it starts failing, once when it is back: not once per tick.
    expect(lines.map((line) => line.level)).toEqual(['warn', 'info']);
  });
});
