import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestBrowser, launchBrowser, skipBrowserTests } from '../support/browser.js';
import { ensureCliBuilt, serveCli } from '../support/cli.js';
import { ROOT } from '../support/dist.js';
import { killListening } from '../support/listening-process.js';

// The dashboard at `/` of `tidewire serve`, in real Chromium, served by the built binary as
// users run it: four real clients, the buttons that break their links, and the look that
// every tab follows through the hub.

/** Where the screenshots go; CI keeps this directory as its artifacts. */
const ARTIFACTS = path.join(ROOT, 'artifacts');
const TRANSPORTS = ['websocket', 'sse', 'long-polling', 'polling'] as const;
type Transport = (typeof TRANSPORTS)[number];

let browser: TestBrowser | undefined;

async function serve(): Promise<string> {
  const { url } = await serveCli([]);
  return url;
}

/** Waits until the page's `<html>` has `attribute` = `value` (theme and full screen live there). */
async function waitForRoot(page: Page, attribute: string, value: string): Promise<void> {
  await page.waitForSelector(`html[${attribute}="${value}"]`, { timeout: 10_000 });
}

/** Opens the dashboard in a new tab and fails the test on any error the page throws. */
async function openDashboard(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await (browser as TestBrowser).context.newPage();
  await page.setViewportSize({ width: 1440, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(url);
  return { page, errors };
}

function panel(page: Page, transport: Transport) {
  return page.locator(`.panel[data-transport="${transport}"]`);
}

async function stat(page: Page, transport: Transport, name: string): Promise<number> {
  const text = await panel(page, transport).locator(`[data-stat="${name}"]`).textContent();
  return Number((text ?? '').replace(/[^\d.]/g, ''));
}

/** Waits until `transport`'s panel has received more than `count` ticks. */
async function receivesBeyond(page: Page, transport: Transport, count: number): Promise<void> {
  await page.waitForFunction(
    ([selector, least]) => {
      const text = document.querySelector(selector)?.textContent ?? '';
      return Number(text.replace(/\D/g, '')) > least;
    },
    [`.panel[data-transport="${transport}"] [data-stat="messages"]`, count] as const,
    { timeout: 10_000 },
  );
}

async function waitForState(
  page: Page,
  transport: Transport,
  state: string,
  timeout = 15_000,
): Promise<void> {
  await page.waitForSelector(`.panel[data-transport="${transport}"][data-state="${state}"]`, {
    timeout,
  });
}

/** Every panel says 0 missed, and so does the total. */
async function expectNothingMissed(page: Page): Promise<void> {
  for (const transport of TRANSPORTS) expect(await stat(page, transport, 'missed')).toBe(0);
  expect(await page.textContent('#missed-total')).toBe('0');
}

describe.skipIf(skipBrowserTests())('the dashboard of tidewire serve in Chromium', () => {
  beforeAll(async () => {
    await ensureCliBuilt();
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  }, 60_000);

  afterEach(() => killListening());

  afterAll(async () => {
    await browser?.close();
  });

  it('shows four transports receiving, reconnects dropped panels with nothing missed', async () => {
    const url = await serve();
    const { page, errors } = await openDashboard(url);
    try {
      expect(await page.locator('.panel').count()).toBe(4);
      // Every panel receives; short polling asks every 2 s, so it is the slowest.
      for (const transport of TRANSPORTS) {
        await waitForState(page, transport, 'open');
        await receivesBeyond(page, transport, 5);
      }
      // Charts are drawn, one canvas per panel.
      await page.waitForFunction(
        () => document.querySelectorAll('.panel .chart canvas').length === 4,
      );
      for (const transport of TRANSPORTS) {
        expect(await stat(page, transport, 'requests')).toBeGreaterThan(0);
        expect(await stat(page, transport, 'bytes')).toBeGreaterThan(0);
      }
      // Long polling asks once per answer; WebSocket and SSE asked once.
      expect(await stat(page, 'websocket', 'requests')).toBe(1);
      expect(await stat(page, 'sse', 'requests')).toBe(1);
      expect(await stat(page, 'long-polling', 'requests')).toBeGreaterThan(3);

      // Drop one panel: it reconnects, resumes, and misses nothing.
      const before = await stat(page, 'websocket', 'messages');
      await panel(page, 'websocket').getByRole('button', { name: 'Drop' }).click();
      await page.waitForSelector(
        '.panel[data-transport="websocket"] [data-stat="reconnects"]:text-is("1")',
        { timeout: 15_000 },
      );
      await waitForState(page, 'websocket', 'open');
      await receivesBeyond(page, 'websocket', before + 10);
      expect(await panel(page, 'websocket').locator('.log').textContent()).toContain('resumed');
      expect(await stat(page, 'websocket', 'requests')).toBe(2);
      // Short polling has no request open most of the time: its next poll fails instead.
      await panel(page, 'polling').getByRole('button', { name: 'Drop' }).click();
      await page.waitForSelector(
        '.panel[data-transport="polling"] [data-stat="reconnects"]:text-is("1")',
        { timeout: 15_000 },
      );
      await expectNothingMissed(page);
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png') });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('resumes every panel after the server drops everyone and after a network pause', async () => {
    const url = await serve();
    const { page, errors } = await openDashboard(url);
    try {
      for (const transport of TRANSPORTS) await receivesBeyond(page, transport, 3);

      await page.click('#drop-all');
      await page.waitForFunction(() =>
        /closed \d+ connection/.test(document.getElementById('notice')?.textContent ?? ''),
      );
      // The streams reconnect; polls have no link to lose (a held one is answered early).
      for (const transport of ['websocket', 'sse'] as const) {
        await page.waitForFunction(
          (selector) => Number(document.querySelector(selector)?.textContent) >= 1,
          `.panel[data-transport="${transport}"] [data-stat="reconnects"]`,
          { timeout: 15_000 },
        );
      }

      await page.click('#pause');
      expect(await page.getAttribute('#pause', 'aria-pressed')).toBe('true');
      // Offline: every panel loses its link and retries in vain.
      for (const transport of TRANSPORTS) {
        await page.waitForSelector(
          `.panel[data-transport="${transport}"]:not([data-state="open"])`,
          { timeout: 15_000 },
        );
      }
      const duringPause = await stat(page, 'websocket', 'messages');
      await page.waitForTimeout(1500);
      await page.click('#pause');
      // Back online: each reconnects at once (not at the end of its backoff) and gets what
      // was published while it was away.
      for (const transport of TRANSPORTS) {
        await waitForState(page, transport, 'open', 5000);
      }
      await receivesBeyond(page, 'websocket', duringPause + 15);
      for (const transport of TRANSPORTS) {
        const received = await stat(page, transport, 'messages');
        await receivesBeyond(page, transport, received + 1);
      }
      await expectNothingMissed(page);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);

  it('switches theme and full screen in one tab and every other tab follows', async () => {
    const url = await serve();
    const first = await openDashboard(url);
    const second = await openDashboard(url);
    const { page: a } = first;
    const { page: b } = second;
    try {
      for (const page of [a, b]) {
        expect(await page.getAttribute('html', 'data-theme')).toBe('light');
        await receivesBeyond(page, 'websocket', 2);
      }
      await a.click('#theme');
      expect(await a.getAttribute('html', 'data-theme')).toBe('dark');
      await waitForRoot(b, 'data-theme', 'dark');
      expect(await b.textContent('#theme')).toBe('Light theme');

      await b.click('#fullscreen');
      await waitForRoot(a, 'data-fullscreen', 'true');
      expect(await a.isHidden('.about')).toBe(true);

      // A tab opened later starts from the look the others share.
      const third = await openDashboard(url);
      await waitForRoot(third.page, 'data-theme', 'dark');
      await waitForRoot(third.page, 'data-fullscreen', 'true');
      await receivesBeyond(third.page, 'polling', 5);
      await third.page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dark.png') });
      await third.page.close();

      await a.click('#fullscreen');
      await waitForRoot(b, 'data-fullscreen', 'false');
      expect([...first.errors, ...second.errors, ...third.errors]).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});
