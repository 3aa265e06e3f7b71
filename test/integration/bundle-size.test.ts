import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_BUNDLE, ROOT, ensureBuilt } from '../support/dist.js';

// The browser bundle's weight against its budget, measured the way `npm run size` measures it
// (gzip at the level of scripts/size-budget.json, the one place for budgets), and its shape:
// one file that a page can load on its own.

interface BudgetConfig {
  gzipLevel: number;
  bundles: Array<{ file: string; entry: string; maxGzipBytes?: number; targetGzipBytes?: number }>;
}

interface SizeReport {
  file: string;
  budget: number | null;
  target: number | null;
  raw: number | null;
  gzip: number | null;
  imports: string[];
  isOver: boolean;
}

const config = JSON.parse(
  readFileSync(path.join(ROOT, 'scripts/size-budget.json'), 'utf8'),
) as BudgetConfig;

const clientBudget = config.bundles.find((bundle) => bundle.file === 'dist/browser/client.min.js');

/** Every file that `file` imports, directly or not (static and dynamic imports). */
function importsOf(file: string, seen = new Set<string>()): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  for (const { fileName } of importedFiles) {
    const imported = path.resolve(path.dirname(file), fileName);
    if (seen.has(imported)) continue;
    seen.add(imported);
    importsOf(imported, seen);
  }
  return [...seen];
}

/** What a page downloads for `file`: its gzip bytes and those of everything it imports. */
function gzipBytes(file: string): number {
  return [file, ...importsOf(file)]
    .map((part) => gzipSync(readFileSync(part), { level: config.gzipLevel }).length)
    .reduce((sum, bytes) => sum + bytes, 0);
}

describe('dist/browser/client.min.js', () => {
  beforeAll(() => ensureBuilt(CLIENT_BUNDLE), 90_000);

  it('has a min+gzip budget', () => {
    expect(clientBudget?.maxGzipBytes).toBeGreaterThan(0);
  });

  it('is one file that imports nothing, so that a page can load it alone', () => {
    const imports = importsOf(CLIENT_BUNDLE).map((file) => path.relative(ROOT, file));
    expect(
      imports,
      'code splitting made a shared chunk: build the browser entries unsplit',
    ).toEqual([]);
  });

  it('fits its min+gzip budget', () => {
    const gzip = gzipBytes(CLIENT_BUNDLE);
    const budget = clientBudget?.maxGzipBytes as number;
    expect(gzip, `client.min.js is ${gzip} B min+gzip, budget ${budget} B`).toBeLessThanOrEqual(
      budget,
    );
  });

  it('is measured the same by npm run size, which fails exactly when it should', () => {
    const run = spawnSync(process.execPath, ['scripts/size.mjs', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const { bundles } = JSON.parse(run.stdout) as { bundles: SizeReport[] };
    const client = bundles.find((report) => report.file === clientBudget?.file);
    const imports = importsOf(CLIENT_BUNDLE).map((file) => path.relative(ROOT, file));
    const parts = [CLIENT_BUNDLE, ...importsOf(CLIENT_BUNDLE)];
    const raw = parts.reduce((sum, part) => sum + readFileSync(part).length, 0);
    const gzip = gzipBytes(CLIENT_BUNDLE);
    const budget = clientBudget?.maxGzipBytes as number;
    expect(client).toEqual({
      file: clientBudget?.file,
      budget,
      target: clientBudget?.targetGzipBytes ?? null,
      raw,
      gzip,
      imports,
      isOver: gzip > budget,
    });
    const isFailed = bundles.some(
      (report) => report.isOver || (report.raw !== null && report.imports.length > 0),
    );
    expect(run.status, run.stderr).toBe(isFailed ? 1 : 0);
  });
});
