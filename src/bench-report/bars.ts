import { formatFixed, formatKiB, formatWhole } from '../cli/bench/format.js';
import type { BenchReport, TransportResult } from '../cli/bench/results.js';

/**
 * The cost panels: one small horizontal bar chart per figure, a bar per transport, in plain
 * HTML and CSS (bench-report.css colours each row by its `data-transport`), so that they
 * scale with the page and need no canvas.
 */

interface Panel {
  readonly title: string;
  value(result: TransportResult): number;
  format(value: number): string;
}

const PANELS: readonly Panel[] = [
  {
    title: 'Bytes the hub wrote per delivery',
    value: (r) => r.server.bytesPerDelivery,
    format: formatWhole,
  },
  {
    title: 'Bytes clients sent per delivery',
    value: (r) => r.server.clientBytesPerDelivery,
    format: formatWhole,
  },
  {
    title: 'HTTP requests per delivery',
    value: (r) => r.server.requestsPerDelivery,
    format: (v) => formatFixed(v, 3),
  },
  {
    title: 'Hub CPU per delivery, µs',
    value: (r) => r.server.cpuMicrosPerDelivery,
    format: (v) => formatFixed(v, 1),
  },
  {
    title: 'Hub RSS per connection, KiB',
    value: (r) => r.server.rssPerConnectionBytes,
    format: formatKiB,
  },
  {
    title: 'Hub heap per connection, KiB',
    value: (r) => r.server.heapPerConnectionBytes,
    format: formatKiB,
  },
];

/** Fills `container` with one panel per figure. */
export function renderBars(container: HTMLElement, report: BenchReport): void {
  container.replaceChildren(...PANELS.map((panel) => renderPanel(panel, report.transports)));
}

function renderPanel(panel: Panel, results: readonly TransportResult[]): HTMLElement {
  const section = element('div', 'bar-panel');
  const title = element('h3');
  title.textContent = panel.title;
  section.append(title);
  const values = results.map((result) => panel.value(result));
  // A memory reading can come out below zero (a GC that freed more than connecting took).
  const max = Math.max(...values.map((v) => Math.max(0, v)), Number.MIN_VALUE);
  results.forEach((result, i) => {
    const value = values[i]!;
    const row = element('div', 'bar-row');
    row.dataset.transport = result.transport;
    const label = element('span', 'bar-label');
    label.textContent = result.transport;
    const track = element('span', 'bar-track');
    const bar = element('span', 'bar');
    bar.style.width = `${(100 * Math.max(0, value)) / max}%`;
    track.append(bar);
    const text = element('span', 'bar-value');
    text.textContent = panel.format(value);
    row.append(label, track, text);
    section.append(row);
  });
  return section;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}
