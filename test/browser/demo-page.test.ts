import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, launchBrowser, skipBrowserTests } from '../support/browser.js';
import { killListening, startListening } from '../support/listening-process.js';

// The page of `tidewire serve` in real Chromium, served by the built binary as users run it.

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = `${root}dist/cli/index.js`;

let browser: TestBrowser | undefined;
/** Starts `tidewire serve` on a port of the system's choosing and answers its URL. */
async function serve(): Promise<string> {
  const { url } = await startListening([bin, 'serve', '--port', '0', '--host', '127.0.0.1']);
  return url;
}

describe.skipIf(skipBrowserTests())('the demo page of tidewire serve in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(bin)) execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
    browser = await launchBrowser();
  }, 60_000);

  afterEach(() => killListening());

  afterAll(async () => {
    await browser?.close();
  });

  it('shows the ticker over native EventSource and publishes what the form sends', async () => {
    const url = await serve();
    const page = await (browser as TestBrowser).context.newPage();
    try {
      await page.goto(url);
      await page.locator('#state', { hasText: 'open' }).waitFor({ timeout: 5000 });
      // The ticker publishes on channel `demo` every second.
      await page.locator('#log li', { hasText: '"event":"tick"' }).first().waitFor();

      await page.fill('#text', 'hello from Chromium');
      await page.click('button');
      const published = page.locator('#log li', { hasText: 'hello from Chromium' });
      await published.waitFor({ timeout: 5000 });
      const line = await published.textContent();
      expect(line).toMatch(/^message \{/);
      const envelope = JSON.parse((line as string).slice('message '.length)) as {
        channel: string;
        event: string;
        data: unknown;
      };
      expect(envelope).toMatchObject({
        channel: 'demo',
        event: 'message',
        data: 'hello from Chromium',
      });
      expect(Number(await page.textContent('#count'))).toBeGreaterThanOrEqual(2);
      expect(await page.inputValue('#text')).toBe('');
    } finally {
      await page.close();
    }
  });
});
