import type { BenchTransport } from '../cli/bench/results.js';

/**
 * The colours the charts draw with, read from the page's CSS (bench-report.css) so that the
 * table's swatches, the charts and the bars agree, in the light and the dark scheme alike.
 */
export interface Theme {
  readonly fg: string;
  readonly muted: string;
  readonly grid: string;
  readonly border: string;
  transport(name: BenchTransport): string;
}

export function readTheme(): Theme {
  const style = getComputedStyle(document.documentElement);
  const read = (name: string) => style.getPropertyValue(name).trim();
  return {
    fg: read('--fg'),
    muted: read('--muted'),
    grid: read('--grid'),
    border: read('--border'),
    transport: (name) => read(`--transport-${name}`) || read('--fg'),
  };
}
