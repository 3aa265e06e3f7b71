import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** The Chromium the browser tests drive: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** CI sets `TIDEWIRE_REQUIRE_BROWSER=1` so that a missing Chromium fails instead of skipping. */
const isBrowserRequired = process.env.TIDEWIRE_REQUIRE_BROWSER === '1';

const NOT_FOUND = `Chromium not found at ${CHROMIUM_PATH}`;
const INSTALL_HINT = 'install it with `apt-get install -y chromium`';

let hasWarned = false;

/**
 * Whether browser tests should be skipped: Chromium is missing and not required. Says why
 * once (per test file) on stderr, so a skip is never silent. With `TIDEWIRE_REQUIRE_BROWSER=1`
 * this answers false and `launchBrowser()` fails instead.
 *
 * @example
 * describe.skipIf(skipBrowserTests())('in Chromium', () => { ... });
 */
export function skipBrowserTests(): boolean {
  if (existsSync(CHROMIUM_PATH) || isBrowserRequired) return false;
  if (!hasWarned) {
    hasWarned = true;
    console.warn(`${NOT_FOUND}: browser tests skipped; ${INSTALL_HINT}`);
  }
  return true;
}

/** A running headless Chromium with one persistent context; `close()` removes every file it made. */
export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

// No downloads, no updates, no sync: the tests talk to 127.0.0.1 only. `--user-data-dir`
// is refused here by Playwright: the profile is launchPersistentContext's first argument.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Chromium with a fresh profile. Everything it writes (profile, Playwright's
 * `playwright-artifacts-*`, Chromium's own temp files) goes under one private temp directory
 * that `close()` removes, so parallel test files share nothing and leave nothing behind.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    const why = isBrowserRequired ? ' and TIDEWIRE_REQUIRE_BROWSER=1 forbids skipping' : '';
    throw new Error(`${NOT_FOUND}${why}; ${INSTALL_HINT}`);
  }
  const root = await mkdtemp(path.join(tmpdir(), 'tidewire-browser-'));
  const profile = path.join(root, 'profile');
  const artifactsDir = path.join(root, 'artifacts');
  const tmp = path.join(root, 'tmp');
  await Promise.all([mkdir(artifactsDir), mkdir(tmp)]);
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      artifactsDir,
      env: { ...process.env, TMPDIR: tmp },
      timeout: 10_000,
    });
    return {
      context,
      async close() {
        await context.close().catch(() => undefined);
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}
