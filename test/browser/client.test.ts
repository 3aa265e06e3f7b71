import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as Tidewire from '../../src/client/index.js';
import type * as Reconnecting from '../../src/reconnecting/index.js';
import type { Client, ClientOptions, Envelope, TransportName } from '../../src/client/index.js';
import type { HubOptions } from '../../src/server/index.js';
import { type TestBrowser, launchBrowser, skipBrowserTests } from '../support/browser.js';
import {
  CLIENT_BUNDLE,
  RECONNECTING_BUNDLE,
  ensureBuilt,
  readBrowserFiles,
} from '../support/dist.js';
import { type PageAsset, type PageHub, startPageHub } from '../support/page-hub.js';
import { SurvivingBroker } from '../support/surviving-broker.js';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.js';

// The browser build (`dist/browser/client.min.js`, as a page loads it without a bundler) in
// real Chromium against a real hub on the page's own origin: every transport, a hub restart,
// the browser going offline and back, and a proxy that refuses WebSocket upgrades.

/** What the page of `dist/browser/reconnecting.min.js` keeps on `window`. */
interface ReconnectingWindow {
  reconnecting: typeof Reconnecting;
  opens: number;
  messages: string[];
  socket: Reconnecting.ReconnectingWebSocket;
  source: Reconnecting.ReconnectingEventSource;
}

/** One lifecycle event as the page saw it (`at`: the page's `Date.now()`). */
interface Lifecycle {
  type: 'open' | 'close' | 'reconnecting' | 'error' | 'gap';
  at: number;
  transport?: TransportName | undefined;
  delayMs?: number;
  reason?: string;
}

/** What a test's client leaves on `window.state`. */
interface PageState {
  client: Client;
  received: Envelope[];
  lifecycle: Lifecycle[];
  published?: Envelope;
  publishError?: string;
}

/** What the page itself puts on `window` (PAGE below), and `state`. */
interface PageWindow {
  tidewire: typeof Tidewire;
  /** `online` and `offline` events, in order. */
  network: Array<{ type: string; at: number }>;
  /** EventSources constructed, and `fetch`es of `/rt/sse`: which SSE reader is in use. */
  eventSources: number;
  sseFetches: number;
  state: PageState;
}

// The page counts EventSources and SSE fetches by wrapping the real ones (they still do the
// work), so a test can tell the native EventSource from the fetch-based reader.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tidewire client</title>
<script type="module">
  import * as tidewire from '/dist/browser/client.min.js';
  window.network = [];
  for (const type of ['online', 'offline']) {
    addEventListener(type, () => window.network.push({ type, at: Date.now() }));
  }
  window.eventSources = 0;
  window.sseFetches = 0;
  const NativeEventSource = window.EventSource;
  window.EventSource = class extends NativeEventSource {
    constructor(url, init) {
      super(url, init);
      window.eventSources++;
    }
  };
  const nativeFetch = window.fetch;
  window.fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).includes('/rt/sse')) window.sseFetches++;
    return nativeFetch(input, init);
  };
  window.tidewire = tidewire;
</script>
`;

const RECONNECTING_PAGE = `<!doctype html>
<meta charset="utf-8">
<title>tidewire reconnecting</title>
<script type="module">
  import * as reconnecting from '/dist/browser/reconnecting.min.js';
  window.reconnecting = reconnecting;
</script>
`;

const CHANNEL = 'prices';

interface TransportCase {
  readonly name: string;
  readonly transport: TransportName;
  readonly options: ClientOptions;
  /** Which SSE reader the page must use, for the SSE cases. */
  readonly sseReader?: 'EventSource' | 'fetch';
}

const TRANSPORT_CASES: readonly TransportCase[] = [
  { name: 'WebSocket (default transports)', transport: 'websocket', options: {} },
  {
    name: 'SSE over the native EventSource',
    transport: 'sse',
    options: { transports: ['sse'] },
    sseReader: 'EventSource',
  },
  {
    name: 'SSE over fetch (EventSource: false)',
    transport: 'sse',
    options: { transports: ['sse'], EventSource: false },
    sseReader: 'fetch',
  },
  { name: 'long polling', transport: 'long-polling', options: { transports: ['long-polling'] } },
];

/** Waits on the page are bounded well under the test timeout, so a failure says what hung. */
const WAIT = { polling: 20, timeout: 8000 } as const;

describe.skipIf(skipBrowserTests())('the browser client in Chromium', () => {
  let browser: TestBrowser | undefined;
  const assets = new Map<string, PageAsset>([
    ['/', { type: 'text/html', body: PAGE }],
    ['/reconnecting.html', { type: 'text/html', body: RECONNECTING_PAGE }],
  ]);
  const pages: Page[] = [];
  const hubs: PageHub[] = [];
  const proxies: TcpProxy[] = [];
  const brokers: SurvivingBroker[] = [];

  beforeAll(async () => {
    await ensureBuilt(CLIENT_BUNDLE);
    // Served as a static server of the package serves dist/, and read once: a build in another
    // test file may clean dist/ while this one runs. (That the bundle is one file that a page
    // can copy alone is test/integration/bundle-size.test.ts's business.)
    for (const [urlPath, body] of readBrowserFiles()) {
      assets.set(urlPath, { type: 'text/javascript', body });
    }
    browser = await launchBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    const context = browser?.context;
    await Promise.all(pages.splice(0).map((page) => page.close()));
    await context?.setOffline(false);
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await Promise.all(hubs.splice(0).map((pageHub) => pageHub.close()));
    await Promise.all(brokers.splice(0).map((broker) => broker.dispose()));
  });

  async function startHub(hub: HubOptions = {}, port = 0): Promise<PageHub> {
    const pageHub = await startPageHub({ hub, port, assets });
    hubs.push(pageHub);
    return pageHub;
  }

  function newBroker(): SurvivingBroker {
    const broker = new SurvivingBroker();
    brokers.push(broker);
    return broker;
  }

  async function startProxy(pageHub: PageHub): Promise<TcpProxy> {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: pageHub.port });
    proxies.push(proxy);
    return proxy;
  }

  /**
   * A new page at `url`, once its module script has put `global` on `window`. A bundle that
   * fails to load says why (script errors, failed requests) rather than only timing out.
   */
  async function openPage(url: string, global = 'tidewire'): Promise<Page> {
    if (browser === undefined) throw new Error('Chromium did not launch');
    const page = await browser.context.newPage();
    pages.push(page);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(url);
    try {
      await page.waitForFunction((name) => name in window, global, WAIT);
    } catch (error) {
      throw new Error(`${url} did not load: ${problems.join('; ') || String(error)}`, {
        cause: error,
      });
    }
    return page;
  }

  describe.each(TRANSPORT_CASES)('over $name', ({ transport, options, sseReader }) => {
    it('receives what the hub publishes in order, and publish() resolves with the acked envelope', async () => {
      const pageHub = await startHub();
      const page = await openPage(pageHub.url);
      await startClient(page, options);
      expect(await clientInfo(page)).toEqual({ transport, readyState: 1 });

      const expected: Envelope[] = [];
      for (let i = 1; i <= 20; i++) {
        const event = i % 2 === 0 ? 'tick' : 'message';
        expected.push(await pageHub.hub.publish(CHANNEL, { i }, { event }));
      }
      const acked = await page.evaluate(
        (channel) =>
          (window as unknown as PageWindow).state.client.publish(
            channel,
            { from: 'page' },
            { event: 'say' },
          ),
        CHANNEL,
      );
      expect(acked).toMatchObject({ channel: CHANNEL, event: 'say', data: { from: 'page' } });
      expect(typeof acked.id).toBe('string');
      expect(typeof acked.ts).toBe('number');
      expected.push(acked);
      expected.push(await pageHub.hub.publish(CHANNEL, 'last'));

      expect(await receivedUntil(page, expected)).toEqual(expected);
      expect(await clientInfo(page)).toEqual({ transport, readyState: 1 });
      if (sseReader !== undefined)
        expect(await sseReaders(page)).toEqual(expectedReaders(sseReader));
    });

    it('resumes after the hub restarts on the same port, with every envelope once and in order', async () => {
      const broker = newBroker();
      let pageHub = await startHub({ broker });
      const page = await openPage(pageHub.url);
      await startClient(page, { ...options, reconnect: { baseMs: 100, capMs: 400 } });

      const expected: Envelope[] = [];
      for (let i = 1; i <= 5; i++) expected.push(await pageHub.hub.publish(CHANNEL, i));
      await receivedUntil(page, expected);

      const { port } = pageHub;
      await pageHub.close();
      await waitForLifecycle(page, 'close');
      // Published "on another node" while this one is down: the client must fetch them.
      for (let i = 6; i <= 8; i++) {
        expected.push(await broker.publish({ channel: CHANNEL, event: 'message', data: i }));
      }
      // A publish from the page while it is disconnected waits in the outbox.
      await page.evaluate((channel) => {
        const { state } = window as unknown as PageWindow;
        state.client.publish(channel, 'while down').then(
          (envelope) => (state.published = envelope),
          (error: Error) => (state.publishError = error.message),
        );
      }, CHANNEL);

      pageHub = await startHub({ broker }, port);
      const published = await page.waitForFunction(
        () => {
          const { state } = window as unknown as PageWindow;
          return state.published ?? state.publishError;
        },
        undefined,
        WAIT,
      );
      const sent = (await published.jsonValue()) as Envelope | string;
      expect(sent).toMatchObject({ channel: CHANNEL, data: 'while down' });
      expected.push(sent as Envelope);
      for (let i = 9; i <= 12; i++) expected.push(await pageHub.hub.publish(CHANNEL, i));

      expect(await receivedUntil(page, expected)).toEqual(expected);
      const { lifecycle } = await pageState(page);
      expect(lifecycle.filter((event) => event.type === 'gap')).toEqual([]);
      expect(lifecycle.filter((event) => event.type === 'open').length).toBeGreaterThanOrEqual(2);
    }, 30_000);

    it('reconnects as soon as the browser is back online, not at the end of its backoff', async () => {
      const pageHub = await startHub();
      const proxy = await startProxy(pageHub);
      const page = await openPage(proxy.url);
      // Backoff delays of up to 30 s: a prompt reconnect can only come from `online`.
      await startClient(page, { ...options, reconnect: { baseMs: 30_000, capMs: 30_000 } });
      const context = page.context();

      const expected = [await pageHub.hub.publish(CHANNEL, 'before')];
      await receivedUntil(page, expected);

      // Chromium's offline mode fails new requests but leaves open sockets alone: the proxy
      // cuts them, as the network going away would.
      await context.setOffline(true);
      await page.waitForFunction(() => !navigator.onLine, undefined, WAIT);
      proxy.dropAll();
      expected.push(await pageHub.hub.publish(CHANNEL, 'while offline'));
      // Attempts made offline fail at once; wait for a backoff with at least 2 s left.
      const handle = await page.waitForFunction(
        () => {
          const { state } = window as unknown as PageWindow;
          const last = state.lifecycle.at(-1);
          if (last?.type !== 'reconnecting' || last.delayMs === undefined) return false;
          const due = last.at + last.delayMs;
          return due - Date.now() > 2000 && { at: last.at, due };
        },
        undefined,
        { ...WAIT, timeout: 12_000 },
      );
      const backoff = (await handle.jsonValue()) as { at: number; due: number };

      await context.setOffline(false);
      const opened = await waitForLifecycle(page, 'open', backoff.at);
      const { network } = await page.evaluate(() => {
        const { network } = window as unknown as PageWindow;
        return { network };
      });
      expect(network.map((event) => event.type)).toEqual(['offline', 'online']);
      const online = network[1]?.at as number;
      expect(opened.at).toBeGreaterThanOrEqual(online);
      expect(opened.at).toBeLessThan(backoff.due);

      expected.push(await pageHub.hub.publish(CHANNEL, 'after'));
      expect(await receivedUntil(page, expected)).toEqual(expected);
    }, 30_000);
  });

  describe('behind a proxy that refuses WebSocket upgrades', () => {
    it('falls back to SSE, and climbs back to WebSocket once upgrades pass again', async () => {
      const pageHub = await startHub();
      const proxy = await startProxy(pageHub);
      proxy.setMode('refuse-upgrades');
      const page = await openPage(proxy.url);
      await startClient(page, { upgradeIntervalMs: 200 });
      expect(await clientInfo(page)).toEqual({ transport: 'sse', readyState: 1 });
      const { lifecycle } = await pageState(page);
      expect(lifecycle.find((event) => event.type === 'open')?.transport).toBe('sse');

      const expected: Envelope[] = [];
      for (let i = 1; i <= 5; i++) expected.push(await pageHub.hub.publish(CHANNEL, i));
      const acked = await page.evaluate(
        (channel) => (window as unknown as PageWindow).state.client.publish(channel, 'over sse'),
        CHANNEL,
      );
      expected.push(acked);
      await receivedUntil(page, expected);

      proxy.setMode('forward');
      await page.waitForFunction(
        () => (window as unknown as PageWindow).state.client.transport === 'websocket',
        undefined,
        { ...WAIT, timeout: 12_000 },
      );
      await page.waitForFunction(
        () => (window as unknown as PageWindow).state.client.readyState === 1,
        undefined,
        WAIT,
      );
      for (let i = 6; i <= 10; i++) expected.push(await pageHub.hub.publish(CHANNEL, i));
      expect(await receivedUntil(page, expected)).toEqual(expected);
      expect(await clientInfo(page)).toEqual({ transport: 'websocket', readyState: 1 });
    }, 30_000);
  });

  // Built only once tsup has an entry for it (README § Browser); skipped until then.
  describe.skipIf(!existsSync(RECONNECTING_BUNDLE))('dist/browser/reconnecting.min.js', () => {
    it('ReconnectingWebSocket talks to the hub and comes back after a restart', async () => {
      const pageHub = await startHub();
      const page = await openPage(`${pageHub.url}/reconnecting.html`, 'reconnecting');
      await page.evaluate(() => {
        const w = window as unknown as ReconnectingWindow;
        w.opens = 0;
        w.messages = [];
        const socket = new w.reconnecting.ReconnectingWebSocket(
          `${location.origin.replace(/^http/, 'ws')}/rt/ws`,
          [],
          { baseMs: 50, capMs: 200 },
        );
        socket.onopen = () => {
          w.opens++;
          socket.send('ping');
        };
        socket.onmessage = (event: MessageEvent) => w.messages.push(String(event.data));
        w.socket = socket;
      });
      await page.waitForFunction(
        () => (window as unknown as ReconnectingWindow).messages.includes('pong'),
        undefined,
        WAIT,
      );

      await pageHub.close();
      await startHub({}, pageHub.port);
      await page.waitForFunction(
        () => {
          const w = window as unknown as ReconnectingWindow;
          return w.opens === 2 && w.messages.filter((text) => text === 'pong').length === 2;
        },
        undefined,
        WAIT,
      );
      expect(
        await page.evaluate(() => (window as unknown as ReconnectingWindow).socket.readyState),
      ).toBe(1);
    });

    it('ReconnectingEventSource receives what the hub publishes', async () => {
      const pageHub = await startHub();
      const page = await openPage(`${pageHub.url}/reconnecting.html`, 'reconnecting');
      await page.evaluate((channel) => {
        const w = window as unknown as ReconnectingWindow;
        w.opens = 0;
        w.messages = [];
        const source = new w.reconnecting.ReconnectingEventSource(`/rt/sse?channel=${channel}`);
        source.onopen = () => w.opens++;
        source.onmessage = (event: MessageEvent) => w.messages.push(String(event.data));
        w.source = source;
      }, CHANNEL);
      await page.waitForFunction(
        () => (window as unknown as ReconnectingWindow).opens === 1,
        undefined,
        WAIT,
      );
      const envelope = await pageHub.hub.publish(CHANNEL, { price: 1 });
      const handle = await page.waitForFunction(
        () => (window as unknown as ReconnectingWindow).messages[0],
        undefined,
        WAIT,
      );
      expect(JSON.parse((await handle.jsonValue()) as string)).toEqual(envelope);
    });
  });
});

/** Creates the page's client on its own origin and subscribes to CHANNEL; resolves once confirmed. */
async function startClient(page: Page, options: ClientOptions): Promise<void> {
  await page.evaluate(
    async ({ options, channel }) => {
      const w = window as unknown as PageWindow;
      const client = w.tidewire.createClient(location.origin, options);
      const state: PageState = { client, received: [], lifecycle: [] };
      w.state = state;
      const at = Date.now;
      client.on('open', ({ transport }) =>
        state.lifecycle.push({ type: 'open', at: at(), transport }),
      );
      client.on('close', ({ reason, transport }) => {
        state.lifecycle.push({ type: 'close', at: at(), reason, transport });
      });
      client.on('reconnecting', ({ delayMs }) => {
        state.lifecycle.push({ type: 'reconnecting', at: at(), delayMs });
      });
      client.on('error', ({ message }) => {
        state.lifecycle.push({ type: 'error', at: at(), reason: message });
      });
      client.on('gap', ({ channel }) => {
        state.lifecycle.push({ type: 'gap', at: at(), reason: channel });
      });
      const subscription = client.subscribe(channel, (_data, envelope) => {
        state.received.push(envelope);
      });
      await subscription.ready;
    },
    { options, channel: CHANNEL },
  );
}

function pageState(page: Page): Promise<Omit<PageState, 'client'>> {
  return page.evaluate(() => {
    const { received, lifecycle, published, publishError } = (window as unknown as PageWindow)
      .state;
    return { received, lifecycle, published, publishError };
  });
}

function clientInfo(page: Page): Promise<{ transport: string | undefined; readyState: number }> {
  return page.evaluate(() => {
    const { client } = (window as unknown as PageWindow).state;
    return { transport: client.transport, readyState: client.readyState };
  });
}

function sseReaders(page: Page): Promise<{ eventSources: boolean; sseFetches: boolean }> {
  return page.evaluate(() => {
    const { eventSources, sseFetches } = window as unknown as PageWindow;
    return { eventSources: eventSources > 0, sseFetches: sseFetches > 0 };
  });
}

function expectedReaders(reader: 'EventSource' | 'fetch'): {
  eventSources: boolean;
  sseFetches: boolean;
} {
  return { eventSources: reader === 'EventSource', sseFetches: reader === 'fetch' };
}

/**
 * Waits until the page has received the last of `expected` (envelopes of one channel arrive
 * in order, so any repeat or extra would be in by then) and answers everything it received.
 */
async function receivedUntil(page: Page, expected: readonly Envelope[]): Promise<Envelope[]> {
  const lastId = expected.at(-1)?.id;
  await page.waitForFunction(
    (id) => (window as unknown as PageWindow).state.received.some((envelope) => envelope.id === id),
    lastId,
    WAIT,
  );
  return (await pageState(page)).received;
}

/** Waits for a lifecycle event of `type` at or after `since` (page time) and answers it. */
async function waitForLifecycle(
  page: Page,
  type: Lifecycle['type'],
  since = 0,
): Promise<Lifecycle> {
  const handle = await page.waitForFunction(
    ({ type, since }) =>
      (window as unknown as PageWindow).state.lifecycle.find(
        (event) => event.type === type && event.at >= since,
      ),
    { type, since },
    WAIT,
  );
  return (await handle.jsonValue()) as Lifecycle;
}
