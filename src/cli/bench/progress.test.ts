import { describe, expect, it } from 'vitest';
import { type ProgressStream, createProgress } from './progress.js';

function stream(isTTY: boolean): ProgressStream & { text: string } {
  return {
    isTTY,
    columns: 100,
    text: '',
    write(chunk: string) {
      this.text += chunk;
    },
  };
}

function run(out: ProgressStream): void {
  const progress = createProgress(out);
  progress.begin('sse', 2, 4);
  progress.phase('connecting', 200, 'clients');
  progress.update(100);
  progress.phase('publishing', 40_000, 'deliveries');
  progress.update(40_000);
  progress.end('40000/40000 delivered');
  progress.finish();
}

describe('createProgress', () => {
  it('writes one plain line per phase when not on a terminal', () => {
    const out = stream(false);
    run(out);
    expect(out.text).toBe(
      '[2/4] sse: connecting (200 clients)\n' +
        '[2/4] sse: publishing (40000 deliveries)\n' +
        '[2/4] sse: 40000/40000 delivered\n',
    );
  });

  it('redraws one line in place on a terminal, and leaves it clean', () => {
    const out = stream(true);
    run(out);
    expect(out.text).toContain('\r[2/4] sse');
    // Drawn when the phase begins; updates within 100 ms of a redraw wait for the next.
    expect(out.text).toMatch(/publishing +░{30} +0% {2}0\/40000 deliveries/);
    expect(out.text.endsWith('[2/4] sse: 40000/40000 delivered\n')).toBe(true);
    for (const line of out.text.split('\r'))
      expect(line.replace('\u001b[K', '').length).toBeLessThan(100);
  });

  it('fits the bar to a narrow terminal', () => {
    const out = { ...stream(true), columns: 80 };
    run(out);
    const lines = out.text.split('\r').map((line) => line.replace('\u001b[K', ''));
    expect(lines.every((line) => line.length < 80)).toBe(true);
    expect(out.text).toMatch(/publishing +░{8,} +0% {2}0\/40000 deliveries/);
  });
});
