/**
 * The results table: one row per transport, the same columns in the terminal (a Markdown
 * table, aligned, so that it reads as is and pastes into a README) and in the HTML report.
 *
 * @module
 */
import { formatFixed, formatKiB, formatMs, formatWhole } from './format.js';
import type { BenchReport, BenchSettings, TransportResult } from './results.js';

export interface Column {
  readonly header: string;
  /** What the column means, for the legend and the HTML header's title. */
  readonly title: string;
  readonly align: 'left' | 'right';
  cell(result: TransportResult): string;
}

export const COLUMNS: readonly Column[] = [
  {
    header: 'transport',
    title: 'the one transport every client used',
    align: 'left',
    cell: (r) => r.transport,
  },
  {
    header: 'delivered',
    title: 'distinct messages received, over clients × messages published',
    align: 'right',
    cell: (r) => `${r.delivered}/${r.expected}`,
  },
  {
    header: 'lost',
    title: 'messages a client never received',
    align: 'right',
    cell: (r) => String(r.lost),
  },
  {
    header: 'dup',
    title: 'messages a client received again',
    align: 'right',
    cell: (r) => String(r.duplicated),
  },
  {
    header: 'deliveries/s',
    title: 'deliveries from the first publish to the last delivery, per second',
    align: 'right',
    // A decimal where whole numbers would round a slow run to 0.
    cell: (r) => formatFixed(r.deliveriesPerSecond, r.deliveriesPerSecond < 100 ? 1 : 0),
  },
  latencyColumn('p50'),
  latencyColumn('p95'),
  latencyColumn('p99'),
  latencyColumn('max'),
  {
    header: 'bytes/msg',
    title: 'bytes the hub wrote to clients (HTTP and frames), per delivery',
    align: 'right',
    cell: (r) => formatWhole(r.server.bytesPerDelivery),
  },
  {
    header: 'client bytes/msg',
    title: 'bytes clients sent to the hub (poll requests, pongs), per delivery',
    align: 'right',
    cell: (r) => formatWhole(r.server.clientBytesPerDelivery),
  },
  {
    header: 'requests/msg',
    title: 'HTTP requests and WebSocket upgrades the hub served, per delivery',
    align: 'right',
    cell: (r) => formatFixed(r.server.requestsPerDelivery, 3),
  },
  {
    header: 'CPU %',
    title: 'CPU time of the hub process over the wall time, 100 = one core',
    align: 'right',
    cell: (r) => formatFixed(r.server.cpuPercent, 1),
  },
  {
    header: 'CPU µs/msg',
    title: 'CPU time of the hub process per delivery',
    align: 'right',
    cell: (r) => formatFixed(r.server.cpuMicrosPerDelivery, 1),
  },
  {
    header: 'RSS KiB/conn',
    title: "growth of the hub's resident memory per connected client",
    align: 'right',
    cell: (r) => formatKiB(r.server.rssPerConnectionBytes),
  },
  {
    header: 'heap KiB/conn',
    title: "growth of the hub's V8 heap (after a full GC) per connected client",
    align: 'right',
    cell: (r) => formatKiB(r.server.heapPerConnectionBytes),
  },
];

function latencyColumn(key: 'p50' | 'p95' | 'p99' | 'max'): Column {
  const what = key === 'max' ? 'highest' : `${key.slice(1)}th percentile of`;
  return {
    header: `${key} ms`,
    title: `${what} latency, publish to the client's handler`,
    align: 'right',
    cell: (r) => formatMs(r.latencyMs[key]),
  };
}

/** The results as a Markdown table whose columns line up in a terminal. */
export function markdownTable(results: readonly TransportResult[]): string {
  const rows = results.map((result) => COLUMNS.map((column) => column.cell(result)));
  const widths = COLUMNS.map((column, i) =>
    Math.max(column.header.length, 3, ...rows.map((row) => row[i]!.length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => pad(cell, widths[i]!, COLUMNS[i]!.align)).join(' | ')} |`;
  const rule = COLUMNS.map((column, i) =>
    column.align === 'right' ? `${'-'.repeat(widths[i]! - 1)}:` : '-'.repeat(widths[i]!),
  );
  return [
    line(COLUMNS.map((column) => column.header)),
    `| ${rule.join(' | ')} |`,
    ...rows.map(line),
  ].join('\n');
}

function pad(text: string, width: number, align: Column['align']): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/** One sentence that says what was run, above the table. */
export function describeRun(report: Pick<BenchReport, 'machine' | 'settings'>): string {
  const { machine, settings } = report;
  return (
    `${describeSettings(settings)}; ${machine.cpu}, ${machine.cores} cores, ` +
    `Node ${machine.node}, load average ${machine.loadAverage.toFixed(2)} at start.`
  );
}

/** The settings in words: `200 clients per transport, 20 msg/s for 10 s (200 messages) …`. */
export function describeSettings(settings: BenchSettings): string {
  return (
    `${settings.clients} clients per transport, ${settings.rate} msg/s for ` +
    `${settings.durationSeconds} s (${settings.messages} messages of ${settings.sizeBytes} bytes), ` +
    `short polls every ${settings.pollIntervalMs} ms`
  );
}

/** What the columns mean, under the table. */
export const TABLE_NOTE =
  "Latency: from the hub's stamp just before publish to the client's handler. bytes/msg, " +
  "client bytes/msg and requests/msg: what went through the hub's sockets while publishing, " +
  "per delivery. CPU: the hub's process. Memory: the hub's growth from no client to all " +
  'connected, after a full GC, per client.';
