import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SSE, formatEvent } from '../../src/sse/index.js';
import { type TestBrowser, launchBrowser, skipBrowserTests } from '../support/browser.js';
import { waitFor } from '../support/wait.js';

// The `SSE` class against Chromium's native EventSource: event types, multi-line data, ids,
// and the browser's own reconnect with `Last-Event-ID` (WHATWG HTML § 9.2).

/** One event as the page's listener saw it. */
interface Received {
  type: string;
  data: string;
  lastEventId: string;
}

/** What the page's recorder keeps on `window`. */
interface RecorderWindow {
  received: Received[];
  opens: number;
  errors: number;
  source: EventSource;
}

/** One request for `/stream`, as the server saw it. */
interface StreamRequest {
  lastEventId: string | undefined;
  res: http.ServerResponse;
}

/** Raw events, written with `formatEvent` as is: string data becomes one `data:` line a line. */
const RAW_EVENTS =
  formatEvent({ retry: 200 }) +
  formatEvent({ id: 'raw-1', event: 'multi', data: 'line1\nline2\r\nline3' }) +
  formatEvent({ id: 'raw-2', event: 'multi', data: 'cr1\rcr2' }) +
  formatEvent({ id: 'raw-3', event: 'multi', data: 'trailing\n' });

/**
 * One origin: a blank page at `/`, the `SSE` stream at `/stream` and raw multi-line events at
 * `/raw`. Records every `/stream` request; `holdStreams()` makes the next ones wait (after
 * being recorded) until `release()`, so a test can send while a client is provably away.
 */
class PageServer {
  readonly requests: StreamRequest[] = [];
  readonly #server: http.Server;
  readonly #sse: SSE;
  #held: Array<() => void> | undefined;

  private constructor(sse: SSE) {
    this.#sse = sse;
    this.#server = http.createServer((req, res) => this.#route(req, res));
  }

  static async start(sse: SSE): Promise<PageServer> {
    const server = new PageServer(sse);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  holdStreams(): void {
    this.#held = [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const init of held) init();
  }

  async close(): Promise<void> {
    this.#held = undefined;
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><title>tidewire sse</title>');
    } else if (pathname === '/stream') {
      const header = req.headers['last-event-id'];
      // Node reads header bytes as latin1; the browser sent UTF-8.
      const lastEventId =
        typeof header === 'string' ? Buffer.from(header, 'latin1').toString('utf8') : undefined;
      this.requests.push({ lastEventId, res });
      if (this.#held === undefined) this.#sse.init(req, res);
      else this.#held.push(() => this.#sse.init(req, res));
    } else if (pathname === '/raw') {
      // Left open: an ended stream would make the browser reconnect and repeat the events.
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(RAW_EVENTS);
    } else {
      res.writeHead(404).end();
    }
  }
}

/** Opens an EventSource in the page: `message` through `onmessage`, `types` through listeners. */
async function openSource(page: Page, url: string, types: readonly string[]): Promise<void> {
  await page.evaluate(
    ({ url, types }) => {
      const recorder = window as unknown as RecorderWindow;
      recorder.received = [];
      recorder.opens = 0;
      recorder.errors = 0;
      const record = (event: MessageEvent<string>): void => {
        const { type, data, lastEventId } = event;
        recorder.received.push({ type, data, lastEventId });
      };
      const source = new EventSource(url);
      recorder.source = source;
      source.onopen = () => recorder.opens++;
      source.onerror = () => recorder.errors++;
      source.onmessage = record;
      for (const type of types) {
        source.addEventListener(type, (event) => record(event as MessageEvent<string>));
      }
    },
    { url, types },
  );
}

/** Waits until the page has recorded at least `count` events, then answers them all. */
async function receivedAtLeast(page: Page, count: number): Promise<Received[]> {
  await page.waitForFunction(
    (n) => (window as unknown as RecorderWindow).received.length >= n,
    count,
    { polling: 20, timeout: 5000 },
  );
  return page.evaluate(() => (window as unknown as RecorderWindow).received);
}

function recorderState(page: Page): Promise<{ opens: number; errors: number }> {
  return page.evaluate(() => {
    const { opens, errors } = window as unknown as RecorderWindow;
    return { opens, errors };
  });
}

/** An id the `SSE` instance assigned: `<epoch>-<seq>`; answers the epoch. */
function epochOf(id: string | undefined): string {
  const match = /^([0-9a-z]{8})-0$/.exec(id ?? '');
  if (match?.[1] === undefined) throw new Error(`not the id of the initial content: ${id}`);
  return match[1];
}

describe.skipIf(skipBrowserTests())('SSE in Chromium (native EventSource)', () => {
  let browser: TestBrowser | undefined;
  const pages: Page[] = [];
  const instances: SSE[] = [];
  const servers: PageServer[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.close()));
    for (const sse of instances.splice(0)) sse.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  /** A fresh `SSE`, its server, and a page open at its origin. */
  async function setup(
    initial?: unknown,
    options?: ConstructorParameters<typeof SSE>[1],
  ): Promise<{ sse: SSE; server: PageServer; page: Page }> {
    const sse = new SSE(initial, options);
    instances.push(sse);
    const server = await PageServer.start(sse);
    servers.push(server);
    if (browser === undefined) throw new Error('Chromium did not launch');
    const page = await browser.context.newPage();
    pages.push(page);
    await page.goto(`${server.url}/`);
    return { sse, server, page };
  }

  describe('event types', () => {
    it('delivers named events to their listener and unnamed ones to onmessage, as JSON', async () => {
      const { sse, page } = await setup();
      await openSource(page, '/stream', ['tick']);
      await waitFor(() => sse.sessionCount === 1, 5000, 'the stream to open');

      sse.send({ price: 1 }, 'tick');
      sse.send('plain');
      sse.send('not listened to', 'other');
      sse.send(['a\nb'], 'tick');
      sse.send('end');

      const received = await receivedAtLeast(page, 4);
      expect(received.map(({ type, data }) => ({ type, data }))).toEqual([
        { type: 'tick', data: '{"price":1}' },
        { type: 'message', data: '"plain"' },
        { type: 'tick', data: '["a\\nb"]' },
        { type: 'message', data: '"end"' },
      ]);
      expect(JSON.parse(received[2]?.data ?? '')).toEqual(['a\nb']);
    });
  });

  describe('multi-line data', () => {
    it('joins the data lines of formatEvent with LF, whatever line break the text had', async () => {
      const { page } = await setup();
      await openSource(page, '/raw', ['multi']);

      const received = await receivedAtLeast(page, 3);
      expect(received).toEqual([
        { type: 'multi', data: 'line1\nline2\nline3', lastEventId: 'raw-1' },
        { type: 'multi', data: 'cr1\ncr2', lastEventId: 'raw-2' },
        { type: 'multi', data: 'trailing\n', lastEventId: 'raw-3' },
      ]);
    });
  });

  describe('ids', () => {
    it('sets lastEventId to the assigned ids and to the ids the sender gives', async () => {
      const { sse, page } = await setup(['hello']);
      await openSource(page, '/stream', ['tick']);
      const [initial] = await receivedAtLeast(page, 1);
      const epoch = epochOf(initial?.lastEventId);

      sse.send('a');
      sse.send('b', 'tick', 'user-7');
      sse.send('c', undefined, 42);
      sse.send('d');

      const received = await receivedAtLeast(page, 5);
      expect(received.map(({ data, lastEventId }) => [data, lastEventId])).toEqual([
        ['"hello"', `${epoch}-0`],
        ['"a"', `${epoch}-1`],
        ['"b"', 'user-7'],
        ['"c"', '42'],
        // Every send takes a sequence number, the ones with their own id too.
        ['"d"', `${epoch}-4`],
      ]);
    });
  });

  describe.each([
    { ids: 'assigned', idOf: (_n: number): string | undefined => undefined },
    { ids: 'user-given', idOf: (n: number): string | undefined => `evt-${n}` },
    // Sent by the browser as UTF-8 bytes in the Last-Event-ID header.
    { ids: 'non-ASCII user-given', idOf: (n: number): string | undefined => `évt-${n}-€` },
  ])('reconnect with $ids ids', ({ idOf }) => {
    it.each<[string, (res: http.ServerResponse) => void]>([
      ['the socket is destroyed', (res) => res.destroy()],
      ['the response ends', (res) => res.end()],
    ])(
      'comes back by itself when %s, sends Last-Event-ID and gets exactly what it missed',
      async (_how, drop) => {
        const { sse, server, page } = await setup(['hello'], { retryMs: 200 });
        await openSource(page, '/stream', ['tick']);
        const [initial] = await receivedAtLeast(page, 1);
        const epoch = epochOf(initial?.lastEventId);
        const expectedId = (n: number): string => idOf(n) ?? `${epoch}-${n}`;

        sse.send('a', undefined, idOf(1));
        sse.send('b', 'tick', idOf(2));
        const seen = await receivedAtLeast(page, 3);
        expect(seen.at(-1)?.lastEventId).toBe(expectedId(2));

        // Drop the client and hold its reconnect, then send while it is away.
        server.holdStreams();
        const [first] = server.requests;
        drop(first?.res as http.ServerResponse);
        await waitFor(() => server.requests.length === 2, 5000, 'the browser to reconnect');
        expect(sse.sessionCount).toBe(0);
        sse.send('c', undefined, idOf(3));
        sse.send('d', 'tick', idOf(4));
        server.release();

        await receivedAtLeast(page, 5);
        // Sent after the reconnect: once it is in, nothing else can still be on the way.
        sse.send('e', undefined, idOf(5));
        const received = await receivedAtLeast(page, 6);

        expect(server.requests.map((request) => request.lastEventId)).toEqual([
          undefined,
          expectedId(2),
        ]);
        expect(received).toEqual([
          { type: 'message', data: '"hello"', lastEventId: `${epoch}-0` },
          { type: 'message', data: '"a"', lastEventId: expectedId(1) },
          { type: 'tick', data: '"b"', lastEventId: expectedId(2) },
          { type: 'message', data: '"c"', lastEventId: expectedId(3) },
          { type: 'tick', data: '"d"', lastEventId: expectedId(4) },
          { type: 'message', data: '"e"', lastEventId: expectedId(5) },
        ]);
        expect(await recorderState(page)).toEqual({ opens: 2, errors: 1 });
        expect(sse.sessionCount).toBe(1);
      },
    );
  });
});
