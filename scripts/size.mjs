#!/usr/bin/env node
/**
 * `npm run size`: the size of the browser bundles that pages load (README § Browser), raw and
 * min+gzip, against the budgets in `size-budget.json` (the one place that the bundle-size test
 * reads too). A bundle must be one file: one that imports others (a shared chunk that code
 * splitting made) counts them in its size and fails, since a page that copies the file alone
 * breaks. Exits 1 when a budgeted bundle is over its budget, not one file, or not built.
 *
 * A bundle may also have a target (`targetGzipBytes`): where it is meant to get, reported but
 * not enforced, while the budget stops it from growing.
 *
 * Usage: node scripts/size.mjs [--json] [--modules]
 *   --json     one JSON report on stdout instead of the table
 *   --modules  also lists the modules that weigh most in each bundle (esbuild's metafile,
 *              minified bytes before gzip), to see where bytes could go
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = JSON.parse(readFileSync(new URL('size-budget.json', import.meta.url), 'utf8'));

/** Measures one bundle of the config, with the files it imports; `null` sizes when not built. */
async function measure(bundle) {
  const file = path.join(root, bundle.file);
  const budget = bundle.maxGzipBytes ?? null;
  const target = bundle.targetGzipBytes ?? null;
  if (!existsSync(file)) {
    return { file: bundle.file, budget, target, raw: null, gzip: null, imports: [], isOver: false };
  }
  const imports = await importsOf(bundle.file);
  let raw = 0;
  let gzip = 0;
  for (const part of [bundle.file, ...imports]) {
    const bytes = readFileSync(path.join(root, part));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: config.gzipLevel }).length;
  }
  return {
    file: bundle.file,
    budget,
    target,
    raw,
    gzip,
    imports,
    isOver: budget !== null && gzip > budget,
  };
}

/** The files a built bundle imports, statically or not, as paths from the package root. */
async function importsOf(file) {
  // esbuild comes with tsup, which builds the bundles.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    metafile: true,
    write: false,
    logLevel: 'silent',
    absWorkingDir: root,
  });
  return Object.keys(result.metafile.inputs).filter((input) => input !== file);
}

/** The modules of `entry` by their minified bytes in the bundle, largest first. */
async function topModules(entry) {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    metafile: true,
    write: false,
    absWorkingDir: root,
  });
  const [output] = Object.values(result.metafile.outputs);
  return Object.entries(output.inputs)
    .map(([module, { bytesInOutput }]) => ({ module, bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
}

function formatBytes(bytes) {
  return bytes === null ? '-' : `${bytes.toLocaleString('en-US')} B`;
}

function verdict(report) {
  if (report.raw === null) return report.budget === null ? 'not built' : 'NOT BUILT: npm run build';
  const notes = [];
  if (report.imports.length > 0) {
    notes.push(`NOT ONE FILE: imports ${report.imports.join(', ')} (counted in its size)`);
  }
  if (report.budget === null) notes.push('no budget');
  else if (report.isOver) notes.push(`OVER BUDGET by ${formatBytes(report.gzip - report.budget)}`);
  else notes.push(`ok, ${formatBytes(report.budget - report.gzip)} to spare`);
  // The budget stops growth; the target is where the bundle is meant to get (a goal, not a gate).
  if (report.target !== null && report.gzip > report.target) {
    notes.push(
      `target ${formatBytes(report.target)}: ${formatBytes(report.gzip - report.target)} to go`,
    );
  }
  return notes.join('; ');
}

function printTable(reports) {
  const rows = [
    ['bundle', 'raw', 'min+gzip', 'budget', ''],
    ...reports.map((report) => [
      report.file,
      formatBytes(report.raw),
      formatBytes(report.gzip),
      formatBytes(report.budget),
      verdict(report),
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === 0 || column === row.length - 1
        ? cell.padEnd(widths[column])
        : cell.padStart(widths[column]),
    );
    console.log(cells.join('  ').trimEnd());
  }
}

const args = new Set(process.argv.slice(2));
const reports = await Promise.all(config.bundles.map(measure));
const isFailed = reports.some(
  (report) =>
    report.isOver ||
    (report.raw !== null && report.imports.length > 0) ||
    (report.budget !== null && report.raw === null),
);
const withModules = args.has('--modules');
const modules = {};
if (withModules) {
  for (const bundle of config.bundles) {
    if (existsSync(path.join(root, bundle.entry)))
      modules[bundle.file] = await topModules(bundle.entry);
  }
}

if (args.has('--json')) {
  console.log(JSON.stringify({ gzipLevel: config.gzipLevel, bundles: reports, modules }, null, 2));
} else {
  printTable(reports.filter((report) => report.raw !== null || report.budget !== null));
  for (const [file, list] of Object.entries(modules)) {
    console.log(`\n${file}: modules by minified bytes (before gzip)`);
    for (const { module, bytes } of list.slice(0, 15)) {
      console.log(`${formatBytes(bytes).padStart(10)}  ${module}`);
    }
  }
}
process.exitCode = isFailed ? 1 : 0;
