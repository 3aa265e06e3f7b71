import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './wait.js';

/** The package root (where `dist/` is built). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The minified browser bundles that `tsup` writes (README § Browser). */
export const CLIENT_BUNDLE = path.join(ROOT, 'dist/browser/client.min.js');
export const RECONNECTING_BUNDLE = path.join(ROOT, 'dist/browser/reconnecting.min.js');

/** A build lock older than this was left by a killed process. */
const STALE_LOCK_MS = 120_000;

/**
 * Builds the package with `npx tsup` when `file` is missing. `npm test` builds before vitest,
 * so this only runs when a test file is run on its own. Test files run in parallel workers and
 * tsup starts by cleaning `dist/`: one lock directory (outside `dist/`) makes them build one at
 * a time, and a worker that waited finds the file built and builds nothing.
 */
export async function ensureBuilt(file: string): Promise<void> {
  if (existsSync(file)) return;
  const lock = path.join(
    tmpdir(),
    `tidewire-build-${createHash('sha1').update(ROOT).digest('hex').slice(0, 12)}.lock`,
  );
  await acquire(lock);
  try {
    if (!existsSync(file)) execFileSync('npx', ['tsup'], { cwd: ROOT, stdio: 'ignore' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function acquire(lock: string): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (isStale(lock)) rmSync(lock, { recursive: true, force: true });
    else await sleep(100);
  }
}

function isStale(lock: string): boolean {
  try {
    return Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false; // released meanwhile
  }
}

/**
 * Every minified browser file under `dist/` (the bundles and any chunk they import), by the
 * URL path a static server of the package root would give it: `/dist/browser/client.min.js`.
 */
export function readBrowserFiles(): Map<string, string> {
  const dist = path.join(ROOT, 'dist');
  const files = new Map<string, string>();
  for (const name of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    if (!name.endsWith('.min.js')) continue;
    const urlPath = `/dist/${name.split(path.sep).join('/')}`;
    files.set(urlPath, readFileSync(path.join(dist, name), 'utf8'));
  }
  return files;
}
