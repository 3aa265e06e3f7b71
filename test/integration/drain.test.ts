import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions, TransportName, WebSocketConstructor } from '../../src/client/index.js';
import { ensureCliBuilt, serveCli } from '../support/cli.js';
import {
  Recorder,
  Resources,
  TRANSPORTS,
  fastOptions,
  range,
  stream,
} from '../support/client-harness.js';
import { requestJson } from '../support/http-client.js';
import type { TestHub } from '../support/hub-server.js';
import { killListening } from '../support/listening-process.js';
import { SharedStore } from '../support/shared-store.js';
import { sleep, waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

/**
 * The drain on shutdown, end to end (SPEC.md § Behaviour every transport shares: "A drain on
 * SIGTERM closes WebSockets with 1001 or 1012 and ends SSE streams and held polls, spread
 * over a configurable window"; PITFALLS #9, reconnect storms after a deploy): what every
 * kind of connection is told, that newcomers are turned away, that the ends are spread over
 * the window, that clients come back to the next deploy spread and resume with nothing lost
 * or repeated, and that `tidewire serve` does all of it on SIGTERM.
 *
 * Spread checks look at distributions with loose bounds (a noisy 2-core machine may stall a
 * few 100 ms): the span of the times, and the share of them in any tenth of the window.
 */

const WINDOW_MS = 1500;
const SSE_RETRY_MS = 1000;
const ZERO_CONNECTIONS = { websocket: 0, sse: 0, 'long-polling': 0, polling: 0, http: 0 };

const resources = new Resources();
const rawSockets: TestSocket[] = [];
const rawRequests: http.ClientRequest[] = [];
const rawPeers: net.Socket[] = [];
const stores: SharedStore[] = [];

beforeAll(ensureCliBuilt, 60_000);

afterEach(async () => {
  killListening();
  for (const socket of rawSockets.splice(0)) socket.close();
  for (const request of rawRequests.splice(0)) request.destroy();
  for (const peer of rawPeers.splice(0)) peer.destroy();
  await resources.closeAll();
  await Promise.all(stores.splice(0).map((store) => store.dispose()));
});

/** Milliseconds on a monotonic clock (drain times are differences, never wall-clock). */
const now = (): number => performance.now();

/** Prints a distribution when `TIDEWIRE_DRAIN_REPORT=1`: what a run looked like. */
function report(label: string, times: readonly number[], windowMs: number): void {
  if (process.env.TIDEWIRE_DRAIN_REPORT !== '1') return;
  const { span, slices } = spread(times, windowMs);
  const sorted = [...times].sort((a, b) => a - b).map(Math.round);
  console.log(`${label}: n=${times.length} span=${Math.round(span)} ms slices=${slices.join(' ')}`);
  console.log(`  ${sorted.join(' ')}`);
}

/**
 * How `times` (ms since the drain began) spread: their span, and how many fall in each tenth
 * of `[0, windowMs)` (later ones count in the last tenth).
 */
function spread(times: readonly number[], windowMs: number) {
  const slices = new Array<number>(10).fill(0);
  for (const time of times) {
    const slice = Math.min(9, Math.max(0, Math.floor(time / (windowMs / 10))));
    slices[slice] = (slices[slice] ?? 0) + 1;
  }
  return { span: Math.max(...times) - Math.min(...times), slices, max: Math.max(...slices) };
}

/**
 * Not a storm: the times span at least half the drain window, and no tenth of `overMs` (the
 * drain window, or longer where clients add their own delay) holds more than `share` of them.
 * Uniform times fail this far less often than once in 1e5 runs (36 of them: a span under half
 * the window is ~1e-9); all at once fails it for sure.
 */
function expectSpread(
  times: readonly number[],
  {
    windowMs,
    overMs = windowMs,
    share = 0.4,
  }: { windowMs: number; overMs?: number; share?: number },
): void {
  const { span } = spread(times, windowMs);
  const { max, slices } = spread(times, overMs);
  expect(span, `span of ${JSON.stringify(times.map(Math.round))}`).toBeGreaterThanOrEqual(
    windowMs / 2,
  );
  expect(max, `per tenth of ${overMs} ms: ${slices.join(' ')}`).toBeLessThanOrEqual(
    Math.ceil(times.length * share),
  );
}

/** What an SSE stream said in its last blocks after its last event: `retry:` and a comment. */
function lastWords(raw: string): { retry: number | undefined; comment: string | undefined } {
  const blocks = raw.split('\n\n').filter((block) => block !== '');
  const lines: string[] = [];
  for (let i = blocks.length - 1; i >= 0; i--) {
    const block = blocks[i] as string;
    if (/^(data|id|event):/m.test(block)) break;
    lines.unshift(...block.split('\n'));
  }
  const retry = lines.map((line) => /^retry: ?(\d+)$/.exec(line)?.[1]).find(Boolean);
  // A heartbeat is an empty comment; the last words say why.
  const comment = lines.find((line) => /^:\s*\S/.test(line));
  return { retry: retry === undefined ? undefined : Number(retry), comment };
}

function expectJitteredRetry(retry: number | undefined, retryMs: number): void {
  expect(retry).toBeDefined();
  expect(retry).toBeGreaterThanOrEqual(retryMs * 0.5);
  expect(retry).toBeLessThanOrEqual(retryMs * 1.5);
}

/** A raw `GET` that keeps the status, headers, body, and when (by `now()`) it ended. */
interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  endedAt: number | undefined;
  error: Error | undefined;
}

/**
 * Starts a GET (an SSE stream, a held poll): `started` resolves once its headers are in,
 * `ended` once it is over, however (a failed request ends with `error` and status 0).
 */
function rawGet(url: string, headers: Record<string, string> = {}) {
  const answer: RawAnswer = {
    status: 0,
    headers: {},
    body: '',
    endedAt: undefined,
    error: undefined,
  };
  let onEnd: () => void = () => {};
  const ended = new Promise<RawAnswer>((resolve) => {
    onEnd = () => {
      answer.endedAt ??= now();
      resolve(answer);
    };
  });
  const started = new Promise<void>((resolve, reject) => {
    const request = http.get(url, { headers }, (res) => {
      answer.status = res.statusCode ?? 0;
      answer.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (answer.body += chunk));
      res.on('close', onEnd);
      resolve();
    });
    request.on('error', (error) => {
      answer.error = error;
      onEnd();
      reject(error);
    });
    rawRequests.push(request);
  });
  // A held poll's headers come with its answer: nobody awaits `started` there.
  started.catch(() => {});
  return { answer, started, ended };
}

/** Opens a raw event stream and waits for its `subscribed` event. */
async function rawStream(url: string) {
  const stream = rawGet(url, { Accept: 'text/event-stream' });
  await stream.started;
  await waitFor(() => stream.answer.body.includes('event: subscribed'), 5000, 'subscribed');
  return stream;
}

async function rawWebSocket(wsUrl: string, channels: string[]) {
  const socket = await connectWs(wsUrl);
  rawSockets.push(socket);
  await subscribe(socket, channels);
  let closedAt: number | undefined;
  socket.ws.once('close', () => (closedAt = now()));
  return { socket, closedAt: () => closedAt };
}

/** Waits until the hub counts exactly these connections of these transports. */
async function heldCount(testHub: TestHub, want: Partial<Record<string, number>>) {
  const counts = () => testHub.hub.stats().connections as Record<string, number>;
  await waitFor(
    () => Object.entries(want).every(([name, count]) => counts()[name] === count),
    5000,
    `connections ${JSON.stringify(want)} (have ${JSON.stringify(counts())})`,
  );
}

describe('hub.close({ drainWindowMs }): the drain', () => {
  it('ends every connection with its reconnect hint, spread over the window, and turns newcomers away', async () => {
    const testHub = await resources.hub({ sseRetryMs: SSE_RETRY_MS });
    const { url, wsUrl, hub } = testHub;
    const sockets = await Promise.all(range(1, 16).map(() => rawWebSocket(wsUrl, ['feed'])));
    const streams = await Promise.all(
      range(1, 12).map(() => rawStream(`${url}/rt/sse?channel=feed`)),
    );
    // Held polls on a quiet channel: the drain, not an envelope, must answer them.
    const { cursor } = (await requestJson<{ cursor: string }>(`${url}/rt/poll?channel=q&timeout=0`))
      .body;
    const polls = range(1, 8).map(() =>
      rawGet(`${url}/rt/poll?channel=q&timeout=20000&cursor=${encodeURIComponent(cursor)}`),
    );
    // Real clients too, two per transport; long polls held long enough to meet the drain.
    const recorders = TRANSPORTS.flatMap((transport) =>
      [1, 2].map(
        () =>
          new Recorder(resources.client(url, fastOptions(transport, { pollTimeoutMs: 10_000 }))),
      ),
    );
    await Promise.all(recorders.map((recorder) => recorder.subscribe('feed').ready));
    await heldCount(testHub, { websocket: 18, sse: 14, 'long-polling': 10 });

    const start = now();
    let closedAt: number | undefined;
    const closing = hub.close({ drainWindowMs: WINDOW_MS }).then(() => {
      closedAt = now() - start;
      return hub.stats();
    });

    // Newcomers while the drain runs. A WebSocket is closed with 1012 after its handshake
    // (a browser cannot read the status of a refused upgrade); once closed it would get 503.
    const late = await connectWs(wsUrl);
    rawSockets.push(late);
    const refusal = await late.closed();
    expect(refusal.code).toBe(1012);
    expect(refusal.reason).not.toBe('');
    for (const request of [
      fetch(`${url}/rt/poll?channel=feed&timeout=0`),
      fetch(`${url}/rt/poll?channel=feed&timeout=5000&cursor=${encodeURIComponent(cursor)}`),
      fetch(`${url}/rt/send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ channel: 'feed', event: 'message', data: 1 }),
      }),
    ]) {
      const answer = await request;
      expect(answer.status).toBe(503);
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await answer.json()).toMatchObject({ code: 'SHUTTING_DOWN' });
    }
    // A new stream gets 200 and only "come back later": an error status would make a native
    // EventSource give up for good.
    const sendBack = await fetch(`${url}/rt/sse?channel=feed`, {
      signal: AbortSignal.timeout(3000),
    });
    expect(sendBack.status).toBe(200);
    expect(sendBack.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sendBackWords = lastWords(await sendBack.text());
    expectJitteredRetry(sendBackWords.retry, SSE_RETRY_MS);
    expect(sendBackWords.comment).toBeDefined();

    // close() resolves once every connection is gone, not only once every close was sent.
    expect((await closing).connections).toEqual(ZERO_CONNECTIONS);
    expect(hub.stats().channels).toBe(0);

    await waitFor(() => sockets.every(({ closedAt: at }) => at() !== undefined), 2000, 'sockets');
    for (const { socket } of sockets) {
      expect(socket.closeCode).toBe(1012);
      expect(socket.closeReason).not.toBe('');
    }
    const ended = await Promise.all(streams.map(({ ended: streamEnded }) => streamEnded));
    const retries: number[] = [];
    for (const answer of ended) {
      const { retry, comment } = lastWords(answer.body);
      expectJitteredRetry(retry, SSE_RETRY_MS);
      expect(comment).toBeDefined();
      retries.push(retry as number);
    }
    // Jittered, not one value for all: 12 draws from [500, 1500] span 250 ms but for ~3e-6.
    expect(Math.max(...retries) - Math.min(...retries)).toBeGreaterThanOrEqual(SSE_RETRY_MS / 4);
    const answered = await Promise.all(polls.map(({ ended: pollEnded }) => pollEnded));
    for (const answer of answered) {
      expect(answer.status).toBe(200);
      // So that the next poll opens a new connection, to whichever node is up then.
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toEqual({ messages: [], cursor });
    }

    // Spread over the window: what a storm of 36 reconnects at one instant would not be.
    const times = [
      ...sockets.map(({ closedAt: at }) => (at() as number) - start),
      ...ended.map((answer) => (answer.endedAt as number) - start),
      ...answered.map((answer) => (answer.endedAt as number) - start),
    ];
    report('drain: connection ends (ms after close())', times, WINDOW_MS);
    expectSpread(times, { windowMs: WINDOW_MS });
    // And close() waited for them: its last random slot is past half the window.
    expect(closedAt).toBeGreaterThanOrEqual(WINDOW_MS / 2);

    // The real clients heard the drain and will come back (elsewhere): WebSockets by 1012. (A
    // long poll answered in the last slot hears it from its next poll, a moment later.)
    await waitFor(() => recorders.every((recorder) => recorder.count('close') > 0), 3000, 'closes');
    for (const recorder of recorders) {
      const [first] = recorder.of('close');
      expect(first).toMatchObject({ willReconnect: true });
      if (first?.transport === 'websocket') expect(first.code).toBe(1012);
    }
  });

  it('sends a tidewire SSE client back no sooner than the retry: the draining hub gave it', async () => {
    const retryMs = 800;
    const testHub = await resources.hub({ sseRetryMs: retryMs });
    const requests: number[] = [];
    const fetchCounted: typeof fetch = (input, init) => {
      if (String(input instanceof Request ? input.url : input).includes('/rt/sse')) {
        requests.push(now());
      }
      return globalThis.fetch(input, init);
    };
    const client = resources.client(
      testHub.url,
      fastOptions('sse', { fetch: fetchCounted, reconnect: { baseMs: 100, capMs: 400 } }),
    );
    await new Recorder(client).subscribe('feed').ready;
    // The hub closes and its server stays up (an app that goes on serving other routes): every
    // new stream is answered "retry: N" and ended.
    await testHub.hub.close();
    await waitFor(() => requests.length >= 4, 8000, '3 reconnects');
    // Request 2 follows the drained stream (backoff only); 3 and 4 follow a send-back, whose
    // jittered retry: is at least retryMs / 2. Timers never fire early (5 ms for rounding).
    const gaps = [requests[2]! - requests[1]!, requests[3]! - requests[2]!];
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(retryMs / 2 - 5);
  });
});

/** A client's platform that marks each of its connections with `x-who`, for the server to see. */
function taggedPlatform(who: string): ClientOptions {
  const fetchTagged: typeof fetch = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('x-who', who);
    return globalThis.fetch(input, { ...init, headers });
  };
  class TaggedWebSocket extends WebSocket {
    constructor(
      address: string,
      protocols?: string | string[],
      options: { headers?: Record<string, string> } = {},
    ) {
      super(address, protocols, { ...options, headers: { ...options.headers, 'x-who': who } });
    }
  }
  return { fetch: fetchTagged, WebSocket: TaggedWebSocket as unknown as WebSocketConstructor };
}

/** When each `x-who` first reached `server` (a request or an upgrade), by `now()`. */
function firstArrivals(server: http.Server): Map<string, number> {
  const arrivals = new Map<string, number>();
  const note = (req: http.IncomingMessage) => {
    const who = req.headers['x-who'];
    if (typeof who === 'string' && !arrivals.has(who)) arrivals.set(who, now());
  };
  server.prependListener('request', note);
  server.prependListener('upgrade', note);
  return arrivals;
}

/**
 * A WebSocket peer that completes the upgrade and then reads nothing and answers nothing: it
 * never returns a close frame (a frozen tab, a dead NAT entry with a live server side).
 */
async function silentWebSocketPeer(port: number): Promise<net.Socket> {
  const peer = net.connect(port, '127.0.0.1');
  rawPeers.push(peer);
  peer.on('error', () => {});
  let head = '';
  peer.on('data', (chunk: Buffer) => (head += chunk.toString('latin1')));
  peer.write(
    'GET /rt/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await waitFor(() => head.startsWith('HTTP/1.1 101'), 5000, 'the upgrade');
  return peer;
}

describe('hub.close(): WebSocket closing handshakes', () => {
  it('resolves only once every WebSocket has finished closing, for every caller', async () => {
    const testHub = await resources.hub();
    // Only WebSockets, so that the last close of the drain is always one whose peer must
    // still answer: close() must wait for that answer, not only for the close to be sent.
    const sockets = await Promise.all(range(1, 6).map(() => rawWebSocket(testHub.wsUrl, ['a'])));
    const closing = testHub.hub.close({ drainWindowMs: 300 });
    // A second call (another signal handler, a test harness) waits for the same drain.
    await testHub.hub.close();
    expect(testHub.hub.stats().connections).toEqual(ZERO_CONNECTIONS);
    await closing;
    expect(testHub.hub.stats().connections).toEqual(ZERO_CONNECTIONS);
    await waitFor(() => sockets.every(({ closedAt }) => closedAt() !== undefined), 2000, 'closes');
    for (const { socket } of sockets) expect(socket.closeCode).toBe(1012);
  });

  it('does not wait long for a peer that never answers the closing handshake', async () => {
    const testHub = await resources.hub();
    const answering = await rawWebSocket(testHub.wsUrl, ['a']);
    await silentWebSocketPeer(testHub.port);
    await heldCount(testHub, { websocket: 2 });
    // ws alone would wait 30 s for the silent one; a hang guard, not a measure of speed.
    const outcome = await Promise.race([
      testHub.hub.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 8000)),
    ]);
    expect(outcome).toBe('closed');
    await answering.socket.closed(2000);
    expect(answering.socket.closeCode).toBe(1012);
  });
});

describe('a deploy: the old hub drains, clients move to the new one', () => {
  const COUNTS: Record<TransportName, number> = {
    websocket: 8,
    sse: 6,
    'long-polling': 6,
    polling: 4,
  };

  it('brings every client to the new hub spread out, with every envelope once and in order', async () => {
    const store = new SharedStore();
    stores.push(store);
    const old = await resources.hub({ broker: store.node(), sseRetryMs: SSE_RETRY_MS });
    const next = await resources.hub({ broker: store.node(), sseRetryMs: SSE_RETRY_MS });
    // The load balancer: new connections go to `target`.
    let target = { host: '127.0.0.1', port: old.port };
    const balancer = await resources.proxy(() => target);
    const arrivals = firstArrivals(next.server);

    const clients = (Object.entries(COUNTS) as Array<[TransportName, number]>).flatMap(
      ([transport, count]) =>
        range(1, count).map((i) => {
          const who = `${transport}-${i}`;
          const options = fastOptions(transport, {
            ...taggedPlatform(who),
            // The default full jitter (500 ms base); long polls held as in production.
            reconnect: { baseMs: 500, capMs: 4000 },
            heartbeat: { intervalMs: 1000, timeoutMs: 1000 },
            pollTimeoutMs: 10_000,
            pollIntervalMs: 500,
            autoConnect: transport !== 'polling',
          });
          const client = resources.client(balancer.url, options);
          const entry = { who, transport, client, recorder: new Recorder(client), closedAt: NaN };
          client.on('close', () => {
            if (Number.isNaN(entry.closedAt)) entry.closedAt = now();
          });
          return entry;
        }),
    );
    const ready = clients.map(({ recorder }) => recorder.subscribe('feed').ready);
    // Short pollers that started at different moments, as real ones do: each in its own phase
    // of the poll interval (started together, they would all poll in the same millisecond).
    for (const { client } of clients.filter(({ transport }) => transport === 'polling')) {
      client.connect();
      await sleep(125);
    }
    await Promise.all(ready);
    await stream(0, 19, ['feed'], (channel, data) => old.hub.publish(channel, data));
    for (const { recorder } of clients) await recorder.waitForN('feed', 19);
    expect(arrivals.size).toBe(0);

    // Publishes go on through the deploy, into the shared history, from the new node.
    let n = 20;
    let isPublishing = true;
    const publishing = (async () => {
      while (isPublishing) {
        await next.hub.publish('feed', { n: n++ });
        await sleep(20);
      }
    })();

    // The deploy: the balancer sends new connections to the new hub, the old one drains.
    target = { host: '127.0.0.1', port: next.port };
    const start = now();
    await old.hub.close({ drainWindowMs: WINDOW_MS });
    // The old process exits: whatever kept a socket to it (keep-alive) loses it now.
    await old.close();
    await waitFor(() => arrivals.size === clients.length, 10_000, 'every client on the new hub');
    isPublishing = false;
    await publishing;
    const last = n - 1;
    for (const { recorder } of clients) await recorder.waitForN('feed', last, 5000);

    for (const { who, recorder } of clients) {
      expect(recorder.sequence('feed'), who).toEqual(range(0, last));
    }
    expect(next.hub.stats().connections).toMatchObject({
      websocket: COUNTS.websocket,
      sse: COUNTS.sse,
    });

    // Not a storm: first arrivals at the new hub spread over the window and beyond.
    const firstTimes = clients.map(({ who }) => (arrivals.get(who) as number) - start);
    const overMs = WINDOW_MS + 500;
    report('deploy: first arrival at the new hub (ms after close())', firstTimes, overMs);
    for (const transport of TRANSPORTS) {
      const of = clients.filter((client) => client.transport === transport);
      report(
        `  ${transport}`,
        of.map(({ who }) => (arrivals.get(who) as number) - start),
        overMs,
      );
    }
    expectSpread(firstTimes, { windowMs: WINDOW_MS, overMs, share: 0.5 });

    // Full jitter on the client's side too: from the end of its WebSocket to its first try
    // at the new hub, each waits its own draw from [0, 500 ms). Without the lowest and the
    // highest (a stalled event loop makes outliers), eight such draws still spread over 25 ms
    // and reach 75 ms but for ~2.5e-5 of runs; clients that came back at once, or all after
    // one fixed delay, do neither.
    const delays = clients
      .filter(({ transport }) => transport === 'websocket')
      .map(({ who, closedAt }) => (arrivals.get(who) as number) - closedAt)
      .sort((a, b) => a - b);
    report('deploy: WebSocket close to first try at the new hub (ms)', delays, 500);
    for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(0);
    const middle = delays.slice(1, -1);
    const shown = `delays ${delays.map(Math.round).join(' ')}`;
    expect(middle.at(-1)! - middle[0]!, shown).toBeGreaterThanOrEqual(25);
    expect(middle.at(-1), shown).toBeGreaterThanOrEqual(75);
  });
});

describe('tidewire serve: SIGTERM', () => {
  const CLI_WINDOW_MS = 1000;

  it('logs the drain, sends 1012 and retry: spread over --drain-window, then exits 0', async () => {
    const served = await serveCli(['--no-demo', '--drain-window', String(CLI_WINDOW_MS)]);
    const wsUrl = `${served.url.replace(/^http/, 'ws')}/rt/ws`;
    const sockets = await Promise.all(range(1, 8).map(() => rawWebSocket(wsUrl, ['x'])));
    const streams = await Promise.all(
      range(1, 4).map(() => rawStream(`${served.url}/rt/sse?channel=x`)),
    );
    const before = served.output().length;
    const start = now();
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    // Not hung: the window and a wide margin for a loaded machine.
    expect(now() - start).toBeLessThan(CLI_WINDOW_MS + 5000);
    // The log format may change (plain lines, JSON): only that it says so.
    expect(served.output().slice(before)).toMatch(/drain/i);

    await waitFor(() => sockets.every(({ closedAt }) => closedAt() !== undefined), 2000, 'closes');
    for (const { socket } of sockets) {
      expect(socket.closeCode).toBe(1012);
      expect(socket.closeReason).not.toBe('');
    }
    const ended = await Promise.all(streams.map(({ ended: streamEnded }) => streamEnded));
    for (const answer of ended) {
      const { retry, comment } = lastWords(answer.body);
      expect(retry).toBeGreaterThan(0);
      expect(comment).toBeDefined();
    }
    // --drain-window reaches the hub: 12 ends over 1 s span 250 ms but for ~3e-6.
    const times = [
      ...sockets.map(({ closedAt }) => (closedAt() as number) - start),
      ...ended.map((answer) => (answer.endedAt as number) - start),
    ];
    report('serve: connection ends (ms after SIGTERM)', times, CLI_WINDOW_MS);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(CLI_WINDOW_MS / 4);
  });

  it('exits at once, with 1, on a second signal during the drain', async () => {
    const served = await serveCli(['--no-demo', '--drain-window', '5000']);
    const wsUrl = `${served.url.replace(/^http/, 'ws')}/rt/ws`;
    const sockets = await Promise.all(range(1, 6).map(() => rawWebSocket(wsUrl, ['x'])));
    const before = served.output().length;
    served.child.kill('SIGTERM');
    await waitFor(() => /drain/i.test(served.output().slice(before)), 5000, 'the drain log');
    const start = now();
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(1);
    // At once: well within the 5 s window it cut short.
    expect(now() - start).toBeLessThan(2500);
    await waitFor(() => sockets.every(({ closedAt }) => closedAt() !== undefined), 2000, 'closes');
    // Six slots drawn over 5 s, all within the ~100 ms before SIGINT: ~1e-10.
    expect(sockets.some(({ socket }) => socket.closeCode !== 1012)).toBe(true);
  });
});
