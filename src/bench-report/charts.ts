import uPlot from 'uplot';
import { formatMs } from '../cli/bench/format.js';
import type { BenchReport } from '../cli/bench/results.js';
import type { Theme } from './theme.js';

/**
 * The two uPlot charts of the report: latency by percentile, and deliveries per second over
 * time. Both are built from scratch on every render (a resize, a change of colour scheme):
 * their data is a few hundred points.
 */

const HEIGHT = 320;

/** The percentile axis in "nines": where each tick sits and what it reads. */
const NINES_TICKS: ReadonlyArray<[nines: number, label: string]> = [
  [0, '0'],
  [Math.log10(2), '50'],
  [1, '90'],
  [2, '99'],
  [3, '99.9'],
];

/** `-log10(1 - p/100)`: 90 → 1, 99 → 2, 99.9 → 3. */
function nines(percentile: number): number {
  return -Math.log10(1 - percentile / 100);
}

/** The percentile that `nines` maps back to, for the cursor's readout. */
function percentileOf(ninesValue: number): string {
  const p = 100 * (1 - 10 ** -ninesValue);
  return `p${p < 99 ? p.toFixed(0) : p.toFixed(1)}`;
}

/** Latency (log scale) against percentile (in nines), one curve per transport. */
export function latencyChart(
  report: BenchReport,
  theme: Theme,
  target: HTMLElement,
  width: number,
): uPlot {
  const xs = report.latencyCurvePercentiles.map(nines);
  const series = report.transports.map((result) =>
    result.latencyCurveMs.length > 0 ? [...result.latencyCurveMs] : xs.map(() => null),
  );
  const options: uPlot.Options = {
    width,
    height: HEIGHT,
    scales: { x: { time: false, range: [0, 3] }, y: { distr: 3, log: 10 } },
    axes: [
      axis(theme, {
        label: 'percentile',
        splits: () => NINES_TICKS.map(([at]) => at),
        values: (_, splits) =>
          splits.map((at) => NINES_TICKS.find(([tick]) => tick === at)?.[1] ?? ''),
      }),
      axis(theme, {
        label: 'latency, ms',
        size: 64,
        // Round numbers on a log axis: 0.1, 1, 10, 100, 1000.
        // uPlot hands the log axis's unlabelled minor splits as null, whatever its types say.
        values: (_, splits) =>
          splits.map((ms: number | null) => (ms === null ? '' : String(Number(ms.toPrecision(3))))),
      }),
    ],
    series: [
      { label: 'percentile', value: (_, at) => (at === null ? '–' : percentileOf(at)) },
      ...report.transports.map((result) => ({
        label: result.transport,
        stroke: theme.transport(result.transport),
        width: 2,
        points: { show: false },
        value: (_: uPlot, ms: number | null) => (ms === null ? '–' : `${formatMs(ms)} ms`),
      })),
    ],
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(options, [xs, ...series], target);
}

/**
 * Share of the expected deliveries made so far, from each transport's first publish, with
 * the share of messages published so far as a dashed line: WebSocket and SSE follow it a few
 * ms behind, long polling a little more, short polling in steps of its poll interval (its
 * clients, connected together, poll together), ending after publishing stopped. Cumulative
 * rather than per bin: a step of short polling is a spike of 10× the rate per bin that would
 * flatten every other line.
 */
export function timelineChart(
  report: BenchReport,
  theme: Theme,
  target: HTMLElement,
  width: number,
): uPlot {
  const binMs = report.transports[0]?.timeline.binMs ?? 1000;
  const bins = Math.max(1, ...report.transports.map((r) => r.timeline.counts.length));
  // Point i is the end of bin i: what was delivered by then.
  const xs = [0, ...Array.from({ length: bins }, (_, i) => ((i + 1) * binMs) / 1000)];
  const publishSeconds = report.settings.durationSeconds;
  const percent = (v: number | null) => (v === null ? '–' : `${v.toFixed(1)} %`);
  const options: uPlot.Options = {
    width,
    height: HEIGHT,
    scales: { x: { time: false }, y: { range: [0, 100] } },
    axes: [
      axis(theme, { label: 'seconds since the first publish' }),
      axis(theme, { label: 'delivered so far, %', size: 56 }),
    ],
    series: [
      { label: 's', value: (_, at) => (at === null ? '–' : at.toFixed(2)) },
      {
        label: 'published',
        stroke: theme.muted,
        dash: [6, 4],
        width: 1,
        points: { show: false },
        value: (_: uPlot, v: number | null) => percent(v),
      },
      ...report.transports.map((result) => ({
        label: result.transport,
        stroke: theme.transport(result.transport),
        width: 2,
        points: { show: false },
        value: (_: uPlot, v: number | null) => percent(v),
      })),
    ],
    cursor: { drag: { x: false, y: false } },
  };
  const published = xs.map((x) => Math.min(100, (100 * x) / publishSeconds));
  const lines = report.transports.map((result) => cumulativePercent(result, xs.length));
  return new uPlot(options, [xs, published, ...lines], target);
}

/** Running share of `expected` delivered at the end of each bin, 0 at time 0. */
function cumulativePercent(result: BenchReport['transports'][number], points: number): number[] {
  let delivered = 0;
  return Array.from({ length: points }, (_, i) => {
    if (i > 0) delivered += result.timeline.counts[i - 1] ?? 0;
    return result.expected > 0 ? (100 * delivered) / result.expected : 0;
  });
}

/** An axis in the theme's colours. */
function axis(theme: Theme, extra: uPlot.Axis): uPlot.Axis {
  return {
    stroke: theme.muted,
    grid: { stroke: theme.grid, width: 1 },
    ticks: { stroke: theme.grid, width: 1 },
    labelFont: '600 12px system-ui, sans-serif',
    font: '12px system-ui, sans-serif',
    ...extra,
  };
}
