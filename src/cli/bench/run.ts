/**
 * `tidewire bench` from start to end: every transport in turn, then the table on stdout, the
 * HTML report, the JSON when asked, and whether every message arrived exactly once.
 *
 * @module
 */
import { constants, existsSync } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readReportAssets, renderHtmlReport } from './html-report.js';
import { describeMachine } from './machine.js';
import type { Progress } from './progress.js';
import type { BenchReport, BenchSettings, TransportResult } from './results.js';
import { runTransport } from './run-transport.js';
import { LATENCY_CURVE_PERCENTILES } from './stats.js';
import { TABLE_NOTE, describeRun, markdownTable } from './table.js';

export interface BenchRun {
  readonly settings: BenchSettings;
  /** Where the HTML report goes. */
  readonly out: string;
  /** Where the JSON goes, if anywhere. */
  readonly json: string | undefined;
  /** How the run was started, as the report quotes it. */
  readonly command: string;
  readonly version: string;
  /** The built hub process (`dist/cli/bench-hub.js`) and report script (`dist/pages/…`). */
  readonly hubScript: URL;
  readonly reportScript: URL;
  readonly progress: Progress;
  /** Where the table goes (stdout) and where notes go (stderr). */
  readonly print: (text: string) => void;
  readonly note: (text: string) => void;
}

/** Runs the bench; resolves with the exit code: 0 when every message arrived exactly once. */
export async function runBench(run: BenchRun): Promise<number> {
  const { settings, progress } = run;
  if (!existsSync(run.hubScript)) {
    throw new Error(
      `the bench hub is not built (${fileURLToPath(run.hubScript)}): run npm run build`,
    );
  }
  // Checked before the run: a missing build or a typo in a path should not cost a minute of
  // benchmarking first.
  const assets = await readReportAssets(run.reportScript);
  const out = path.resolve(run.out);
  const json = run.json === undefined ? undefined : path.resolve(run.json);
  for (const file of [out, json]) if (file) await assertWritable(file);
  const date = new Date().toISOString();
  const machine = describeMachine();
  const results: TransportResult[] = [];
  try {
    for (const [i, transport] of settings.transports.entries()) {
      progress.begin(transport, i + 1, settings.transports.length);
      const hubScript = run.hubScript;
      const result = await runTransport({ transport, settings, hubScript, progress });
      progress.end(summarize(result));
      results.push(result);
    }
  } finally {
    // An error message must not land on the end of a half-drawn progress line.
    progress.finish();
  }
  const report: BenchReport = {
    tool: 'tidewire bench',
    version: run.version,
    date,
    command: run.command,
    machine,
    settings,
    latencyCurvePercentiles: LATENCY_CURVE_PERCENTILES,
    transports: results,
    ok: results.every(isExactlyOnce),
  };
  run.print(`${describeRun(report)}\n\n${markdownTable(results)}\n\n${TABLE_NOTE}\n`);
  await writeFile(out, renderHtmlReport(report, assets));
  run.note(`report: ${out}`);
  if (json) {
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
    run.note(`json: ${json}`);
  }
  for (const result of results.filter((r) => !isExactlyOnce(r))) {
    run.note(
      `error: ${result.transport} did not deliver every message exactly once: ${incidents(result)}`,
    );
  }
  return report.ok ? 0 : 1;
}

/** Throws unless `file` can be written: its directory exists and takes files. */
async function assertWritable(file: string): Promise<void> {
  const directory = path.dirname(file);
  try {
    await access(directory, constants.W_OK);
  } catch {
    throw new Error(`cannot write ${file}: ${directory} is not a writable directory`);
  }
}

function isExactlyOnce(result: TransportResult): boolean {
  return result.delivered === result.expected && result.lost === 0 && result.duplicated === 0;
}

/** The progress line that closes a transport's run. */
function summarize(result: TransportResult): string {
  const { latencyMs: latency } = result;
  const verdict = isExactlyOnce(result) ? 'exactly once' : incidents(result);
  return (
    `${result.delivered}/${result.expected} delivered (${verdict}), ` +
    `p50 ${latency.p50.toFixed(2)} ms, p99 ${latency.p99.toFixed(2)} ms`
  );
}

function incidents(result: TransportResult): string {
  const parts = [
    `delivered ${result.delivered} of ${result.expected}`,
    `lost ${result.lost}`,
    `duplicated ${result.duplicated}`,
  ];
  for (const key of ['outOfOrder', 'gaps', 'errors', 'reconnects'] as const) {
    if (result[key] > 0) parts.push(`${key} ${result[key]}`);
  }
  return parts.join(', ');
}
