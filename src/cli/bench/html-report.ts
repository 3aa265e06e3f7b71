/**
 * `bench-report.html`: one self-contained file that works offline. The table and the run's
 * details are written here as HTML (readable without JavaScript); the charts are drawn by the
 * report's page script (`src/bench-report/main.ts`, with uPlot inside), inlined with its CSS
 * and with the results as JSON.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { type BenchReport, REPORT_DATA_ID } from './results.js';
import { COLUMNS, TABLE_NOTE, describeSettings } from './table.js';

/** The page's built script and style (`dist/pages/bench-report.{js,css}`). */
export interface ReportAssets {
  readonly script: string;
  readonly style: string;
}

/**
 * Reads the page's script and style, built next to the CLI. `script` is the URL of
 * `bench-report.js`; the CSS beside it is optional (a page without styles still works).
 */
export async function readReportAssets(script: URL): Promise<ReportAssets> {
  let code: string;
  try {
    code = await readFile(script, 'utf8');
  } catch {
    throw new Error(
      `the report page is not built (${script.pathname} is missing): run npm run build`,
    );
  }
  const style = await readFile(new URL(script.href.replace(/\.js$/, '.css')), 'utf8').catch(
    () => '',
  );
  return { script: code, style };
}

/** The whole HTML document. */
export function renderHtmlReport(report: BenchReport, assets: ReportAssets): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>tidewire bench · ${escapeHtml(report.date.slice(0, 10))}</title>
<style>${inlineStyle(assets.style)}</style>
</head>
<body>
<main>
<header>
<h1>tidewire bench</h1>
<p class="run">${escapeHtml(describeSettings(report.settings))}.</p>
${verdict(report)}
</header>
<section>
<h2>Results</h2>
<div class="table-wrap">${resultsTable(report)}</div>
<p class="note">${escapeHtml(TABLE_NOTE)}</p>
</section>
<section class="charts">
<figure><figcaption>Latency by percentile <small>(publish to the client's handler; log scale)</small></figcaption><div id="latency-chart" class="chart"></div></figure>
<figure><figcaption>Deliveries over time <small>(share of all expected, from each transport's first publish)</small></figcaption><div id="timeline-chart" class="chart"></div></figure>
</section>
<section>
<h2>Cost</h2>
<div id="bars" class="bars"></div>
<noscript><p class="note">The charts need JavaScript; the table above has every figure.</p></noscript>
</section>
<section>
<h2>Run</h2>
${runDetails(report)}
</section>
</main>
<script type="application/json" id="${REPORT_DATA_ID}">${inlineJson(report)}</script>
<script type="module">${inlineScript(assets.script)}</script>
</body>
</html>
`;
}

function verdict(report: BenchReport): string {
  if (report.ok) {
    return '<p class="verdict ok">Every transport delivered every message to every client, exactly once.</p>';
  }
  const failed = report.transports
    .filter((r) => r.lost > 0 || r.duplicated > 0)
    .map((r) => `${r.transport} (lost ${r.lost}, duplicated ${r.duplicated})`);
  return `<p class="verdict failed">Not every message was delivered exactly once: ${escapeHtml(failed.join(', '))}.</p>`;
}

function resultsTable(report: BenchReport): string {
  const head = COLUMNS.map(
    (c) => `<th class="${c.align}" title="${escapeHtml(c.title)}">${escapeHtml(c.header)}</th>`,
  ).join('');
  const rows = report.transports.map((result) => {
    const cells = COLUMNS.map((c) => `<td class="${c.align}">${escapeHtml(c.cell(result))}</td>`);
    return `<tr data-transport="${escapeHtml(result.transport)}">${cells.join('')}</tr>`;
  });
  return `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function runDetails(report: BenchReport): string {
  const { machine } = report;
  const items: Array<[string, string]> = [
    ['command', report.command],
    ['date', report.date],
    ['tidewire', report.version],
    ['machine', `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}`],
    ['Node', machine.node],
    ['load average at start', machine.loadAverage.toFixed(2)],
  ];
  const entries = items.map(
    ([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd>`,
  );
  return `<dl>${entries.join('')}</dl>`;
}

/** Text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * JSON inside `<script>`: every `<` escaped, so that no string in it (a `</script>`, a
 * `<!--`) can end the element early. `\u003c` reads back as `<` in JSON.
 */
export function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * The bundle inside `<script>`: a `</script` or `<!--` in a string literal would end the
 * element or change how HTML parses it; `<\/` and `<\!` read the same in JavaScript strings.
 * The source map comment goes: the map is not next to the report.
 */
function inlineScript(code: string): string {
  return code
    .replace(/^\/\/# sourceMappingURL=.*$/m, '')
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--');
}

function inlineStyle(css: string): string {
  return css.replace(/\/\*# sourceMappingURL=.*?\*\//g, '').replace(/<\/(style)/gi, '<\\/$1');
}
