/**
 * The script of `bench-report.html` (`tidewire bench`): draws the charts from the results
 * that the CLI inlined as JSON next to it. The CLI also inlines this bundle, uPlot and the CSS
 * included, so that the report is one file that works offline.
 *
 * @module
 */
import 'uplot/dist/uPlot.min.css';
import './bench-report.css';
import type uPlot from 'uplot';
import { type BenchReport, REPORT_DATA_ID } from '../cli/bench/results.js';
import { renderBars } from './bars.js';
import { latencyChart, timelineChart } from './charts.js';
import { readTheme } from './theme.js';

const data = document.getElementById(REPORT_DATA_ID)?.textContent;
if (data) start(JSON.parse(data) as BenchReport);

function start(report: BenchReport): void {
  const latency = document.getElementById('latency-chart');
  const timeline = document.getElementById('timeline-chart');
  const bars = document.getElementById('bars');
  let charts: uPlot[] = [];
  const render = () => {
    for (const chart of charts) chart.destroy();
    const theme = readTheme();
    charts = [];
    if (latency) charts.push(mount(latency, (w) => latencyChart(report, theme, latency, w)));
    if (timeline) charts.push(mount(timeline, (w) => timelineChart(report, theme, timeline, w)));
  };
  render();
  if (bars) renderBars(bars, report);
  // The colours come from the scheme; the widths from the page.
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', render);
  let resizeTimer: ReturnType<typeof setTimeout> | undefined;
  let lastWidth = window.innerWidth;
  window.addEventListener('resize', () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 150);
  });
}

/** Empties `container` and builds a chart as wide as it in it. */
function mount(container: HTMLElement, build: (width: number) => uPlot): uPlot {
  container.replaceChildren();
  return build(Math.max(280, container.clientWidth));
}
