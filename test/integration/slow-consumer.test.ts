import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createParser } from '../../src/sse/index.js';
import { ROOT, ensureBuilt } from '../support/dist.js';
import { killListening, startListening } from '../support/listening-process.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Slow consumers (SPEC.md § Limits, PITFALLS #11, issue 6): hundreds of clients that stop
 * reading while the hub publishes never grow the server's memory past a bound set by
 * `maxBufferedBytes`; each is closed as documented (WebSocket 4000 with a reason, SSE stream
 * ended); the clients that do read get everything, in order, once, and are not held up.
 *
 * Three parties, so that each figure measures what it claims to: the hub alone in a child
 * process (`test/fixtures/slow-consumer-hub.mjs`, on the built package), whose memory is the
 * server's; the slow consumers in a worker thread (`test/fixtures/slow-consumer-crowd.mjs`),
 * so that reading megabytes back from them never stalls this thread; the fast clients here,
 * timing each envelope from the hub's publish to its arrival. Both tests print their figures.
 */

const CHANNEL = 'firehose';
const MAX_BUFFERED_BYTES = 64 * 1024;
const SLOW_WEBSOCKETS = 150;
const SLOW_STREAMS = 150;
const SLOW_CLIENTS = SLOW_WEBSOCKETS + SLOW_STREAMS;
const FAST_WEBSOCKETS = 5;
const FAST_STREAMS = 5;
/** Padding in each envelope's data; its JSON is some 140 bytes more. */
const PAD_BYTES = 4096;
/** Envelopes per second while latency is timed: about 1 MiB/s to each subscriber. */
const RATE = 250;
/** Fills the history (1000 envelopes by default) and warms the JIT before anything is timed. */
const WARM_UP_ENVELOPES = 1200;
const BASELINE_ENVELOPES = 500;
/** The slow WebSockets subscribe, then stop reading, in waves (see the crowd's comment). */
const WAVES = 5;
const WAVE_INTERVAL_MS = 400;
/**
 * Loopback sockets take some 4 MiB each (tcp_wmem) before anything waits in the hub, so at
 * about 1 MiB/s the last wave is dropped some 6 s into the slow phase: this leaves room.
 */
const SLOW_PHASE_LIMIT_MS = 15_000;
/** Publishing goes on this long once the hub dropped every slow consumer. */
const AFTERMATH_MS = 500;
/** README § Limits: a backlog still past the limit this long after a write is closed. */
const GRACE_MS = 100;
/** Long-polling clients per way of leaving (see the second test). */
const POLLERS = 100;

const HUB_SCRIPT = path.join(ROOT, 'test/fixtures/slow-consumer-hub.mjs');
const CROWD_SCRIPT = path.join(ROOT, 'test/fixtures/slow-consumer-crowd.mjs');
const MIB = 1024 * 1024;

interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** heapUsed + external + arrayBuffers: an upper estimate of what JavaScript holds. */
  heapAndBuffers: number;
  /** Bytes waiting in the send buffers of every socket, and of the fullest one. */
  queued: number;
  queuedMax: number;
}

interface MemoryAnswer {
  now: MemorySample;
  peak: MemorySample;
  /** How late the hub's event loop ran since the last reset, in ms. */
  loopDelay: { p50: number; p99: number; max: number };
}

interface HubStats {
  connections: Record<string, number>;
  channels: number;
  openSockets: number;
}

type Kind = 'websocket' | 'sse';

/** What the crowd reports for each slow consumer once it read again to the end. */
interface SlowEnding {
  type: 'ended';
  port: number;
  kind: Kind;
  /** `end` (the server's FIN), `close`, or a socket error code. */
  ending: string;
  /** Bytes read after it stopped reading. */
  bytes: number;
  /** From reading again to the end. */
  readMs: number;
  messages?: number;
  closeCode?: number;
  closeReason?: string;
}

type CrowdMessage =
  | { type: 'ready'; clients: Array<{ port: number; kind: Kind }> }
  | { type: 'failed'; message: string }
  | SlowEnding;

type Crowd = Awaited<ReturnType<typeof startCrowd>>;

interface EnvelopeData {
  seq: number;
  sentAt: number;
}

/** A client that reads everything: which envelopes arrived, in order, and how late. */
interface FastClient {
  readonly seqs: number[];
  readonly latencies: number[];
  /** How the hub ended it, if it did. */
  ended?: string;
}

const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  killListening();
});

describe('slow consumers', () => {
  it('closes hundreds of clients that stop reading, within a memory bound, while fast ones get everything on time', async () => {
    const hub = await HubProcess.start();

    // Fast clients alone: a warm-up that fills the history, then the baseline.
    const fast = await openFastClients(hub.url);
    await hub.publish({ rate: 1000, count: WARM_UP_ENVELOPES });
    const baselineFrom = WARM_UP_ENVELOPES;
    const slowFrom = baselineFrom + BASELINE_ENVELOPES;
    await hub.publish({ first: baselineFrom, rate: RATE, count: BASELINE_ENVELOPES });
    await waitForFast(fast, slowFrom);
    const baseline = (await hub.memory('gc=1')).now;

    // The slow consumers connect: SSE streams subscribed, WebSockets open.
    const crowd = await startCrowd(hub.url);
    expect(crowd.kinds.size).toBe(SLOW_CLIENTS);
    expect(await hub.stats()).toMatchObject({
      connections: {
        websocket: FAST_WEBSOCKETS + SLOW_WEBSOCKETS,
        sse: FAST_STREAMS + SLOW_STREAMS,
      },
      channels: 1,
    });
    const connected = (await hub.memory('gc=1')).now;

    const slow = await runSlowPhase(hub, crowd, slowFrom);
    const total = slowFrom + slow.published.count;
    crowd.resumeAll();
    await waitFor(() => crowd.endings().length === SLOW_CLIENTS, 10_000, 'the ends').catch(
      () => {},
    );
    await waitForFast(fast, total).catch(() => {});
    const stats = await hub.stats();
    const after = (await hub.memory('gc=1')).now;

    const endings = crowd.endings();
    const wsEndings = endings.filter((e) => e.kind === 'websocket');
    const sseEndings = endings.filter((e) => e.kind === 'sse');
    const envelopeBytes = slow.published.bytes / slow.published.count;
    // What the hub may hold for one slow consumer: its budget, and what is published to it
    // within the grace period. No sharing counted, though WebSockets share frame bytes.
    const perClient = MAX_BUFFERED_BYTES + (RATE * envelopeBytes * GRACE_MS) / 1000;
    const bound = SLOW_CLIENTS * perClient;
    // What buffering everything published to everyone would hold.
    const unbounded = SLOW_CLIENTS * slow.published.bytes;
    const growth = slow.peak.heapAndBuffers - connected.heapAndBuffers;
    const before = latencyOf(fast, baselineFrom, slowFrom);
    const during = latencyOf(fast, slowFrom, total);
    const received = fast.reduce((sum, c) => sum + c.seqs.length, 0);
    const distinct = fast.reduce((sum, c) => sum + new Set(c.seqs).size, 0);
    const readMs = wsEndings.map((e) => e.readMs);

    console.log(
      [
        `slow consumers: ${SLOW_CLIENTS} slow (${SLOW_STREAMS} SSE, ${SLOW_WEBSOCKETS} WebSocket ` +
          `in ${WAVES} waves ${WAVE_INTERVAL_MS} ms apart), ${fast.length} fast ` +
          `(${FAST_WEBSOCKETS} WebSocket, ${FAST_STREAMS} SSE); maxBufferedBytes ${MAX_BUFFERED_BYTES}`,
        `  slow phase: ${slow.published.count} envelopes of ${Math.round(envelopeBytes)} B at ` +
          `${RATE}/s, ${inMib(slow.published.bytes)} MiB; hub gave up on SSE streams at ` +
          `${spread(slow.givenUpAt.sse)} ms, on WebSockets at ${spread(slow.givenUpAt.websocket)} ` +
          `ms (min/p25/p50/p75/max), after loopback took >= ` +
          `${inMib(Math.min(...sseEndings.map((e) => e.bytes)))} MiB per socket`,
        `  closed: ${wsEndings.filter((e) => e.closeCode === 4000).length}/${SLOW_WEBSOCKETS} ` +
          `WebSockets with 4000 (read back to it in ${percentile(readMs, 0.5)}/` +
          `${Math.max(...readMs)} ms p50/max), ${sseEndings.length}/${SLOW_STREAMS} SSE ` +
          `streams ended (${[...new Set(sseEndings.map((e) => e.ending))].join(', ')}); ` +
          `all gone ${slow.allDroppedMs} ms into the slow phase`,
        `  server memory, MiB: baseline ${memoryLine(baseline)}`,
        `    with the slow ones connected ${memoryLine(connected)}`,
        `    peak in the slow phase ${memoryLine(slow.peak)}`,
        `    after ${memoryLine(after)}`,
        `    growth ${inMib(growth)}, bound ${inMib(bound)} (${SLOW_CLIENTS} x ` +
          `${Math.round(perClient / 1024)} KiB), unbounded ${inMib(unbounded)}`,
        `  fast latency p50/p99 (max) ms: baseline ${inMs(before.p50)}/${inMs(before.p99)} ` +
          `(${inMs(before.max)}), slow phase ${inMs(during.p50)}/${inMs(during.p99)} ` +
          `(${inMs(during.max)}); hub event loop late by p99/max ${inMs(slow.loopDelay.p99)}/` +
          `${inMs(slow.loopDelay.max)} ms`,
        `  fast clients: ${total} envelopes each; lost ${fast.length * total - distinct}, ` +
          `duplicated ${received - distinct}`,
      ].join('\n'),
    );

    // Soft: a failing run reports every property that broke, not only the first.
    // Each slow consumer was dropped as documented, once it had fallen behind, not before.
    expect.soft(slow.dropped.size, 'slow consumers the hub dropped').toBe(SLOW_CLIENTS);
    expect.soft(wsEndings, 'WebSockets read to their end').toHaveLength(SLOW_WEBSOCKETS);
    const badCloses = wsEndings.filter(
      (e) =>
        e.closeCode !== 4000 ||
        !e.closeReason?.includes(String(MAX_BUFFERED_BYTES)) ||
        e.bytes <= MAX_BUFFERED_BYTES ||
        (e.messages ?? 0) >= slow.published.count,
    );
    expect.soft(badCloses, 'WebSockets not closed with 4000 once behind').toEqual([]);
    expect.soft(sseEndings, 'SSE streams read to their end').toHaveLength(SLOW_STREAMS);
    // Less than the envelopes' JSON alone, which the whole stream would exceed.
    const badEnds = sseEndings.filter(
      (e) =>
        !['end', 'ECONNRESET'].includes(e.ending) ||
        e.bytes <= MAX_BUFFERED_BYTES ||
        e.bytes >= slow.published.bytes,
    );
    expect.soft(badEnds, 'SSE streams not ended once behind').toEqual([]);
    // Server memory: within the bound while they were held, far below unbounded buffering,
    // and back to the baseline once they are gone (after a full collection: rss stays up, as
    // V8 and malloc keep pages for reuse). rss also counts the heap V8 reserves ahead of use.
    expect.soft(bound * 10, 'the bound, 10 times').toBeLessThan(unbounded);
    expect.soft(growth, 'memory growth in the slow phase').toBeLessThanOrEqual(bound);
    const rssGrowth = slow.peak.rss - connected.rss;
    expect.soft(rssGrowth, 'rss growth in the slow phase').toBeLessThanOrEqual(2 * bound);
    expect
      .soft(after.heapAndBuffers, 'memory once they are gone')
      .toBeLessThanOrEqual(baseline.heapAndBuffers + 4 * MIB);
    // Fast clients: everything, in order, once, and on time. A check, not a benchmark: on a
    // shared 2-core machine a process stalls now and then, and over these few seconds one
    // stall of some 150 ms makes a p99 of 100 ms.
    expect.soft(describeFast(fast), 'fast clients').toBe(fast.map(() => 'open').join(', '));
    for (const client of fast) {
      expect.soft(client.seqs).toEqual(Array.from({ length: total }, (_, seq) => seq));
    }
    expect
      .soft(during.p50, 'fast p50 in the slow phase')
      .toBeLessThanOrEqual(Math.max(5 * before.p50, before.p50 + 10));
    expect
      .soft(during.p99, 'fast p99 in the slow phase')
      .toBeLessThanOrEqual(Math.max(5 * before.p99, before.p99 + 100));
    expect.soft(stats, 'hub stats once they are gone').toMatchObject({
      connections: { websocket: FAST_WEBSOCKETS, sse: FAST_STREAMS, 'long-polling': 0 },
      channels: 1,
    });
  }, 60_000);

  it('holds nothing for long-polling clients that stop polling', async () => {
    const hub = await HubProcess.start();
    // The first round leaves compiled code behind; the second must leave memory as it was.
    const first = await abandonPolls(hub, 0);
    const warm = (await hub.memory('gc=1')).now;
    const second = await abandonPolls(hub, 1);
    const after = (await hub.memory('gc=1')).now;

    console.log(
      [
        `long polling, twice: ${3 * POLLERS} polls held; ${POLLERS} left while held, ` +
          `${POLLERS} stopped reading, ${POLLERS} took the answer and did not poll again; then ` +
          `the hub held ${second.idle.connections['long-polling']} polls and ` +
          `${second.idle.channels} channels, with ${second.idle.openSockets} sockets still open`,
        `  server memory, MiB: after a first round ${memoryLine(warm)}`,
        `    holding ${memoryLine(second.holding)}`,
        `    after the second round ${memoryLine(after)}`,
      ].join('\n'),
    );
    for (const [round, { bodies, idle }] of [first, second].entries()) {
      for (const body of bodies) {
        expect(JSON.parse(body)).toMatchObject({ messages: [{ data: { seq: round } }] });
      }
      // Nothing held on the hub although most of them are still connected.
      expect(idle).toMatchObject({ connections: { 'long-polling': 0 }, channels: 0 });
      expect(idle.openSockets).toBeGreaterThanOrEqual(2 * POLLERS);
    }
    expect(after.heapAndBuffers).toBeLessThanOrEqual(warm.heapAndBuffers + MIB / 2);
  }, 30_000);
});

/**
 * Holds `3 * POLLERS` long polls, then stops them three ways: some leave while held, some
 * stop reading, some take their answer (one envelope whose `seq` is `seq`) and do not poll
 * again. Then the rest go away too.
 */
async function abandonPolls(hub: HubProcess, seq: number) {
  const openBefore = (await hub.stats()).openSockets;
  const channel = 'quiet';
  const pollUrl = `${hub.url}/rt/poll?channel=${channel}&timeout=30000`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  cleanups.push(() => agent.destroy());
  const answers = Array.from({ length: POLLERS }, () => getText(pollUrl, agent));
  // Awaited below; a failure before then must not surface as an unhandled rejection.
  for (const answer of answers) answer.catch(() => {});
  const silent = Array.from({ length: POLLERS }, () => pollAndStopReading(pollUrl));
  const leaving = Array.from({ length: POLLERS }, () => {
    const request = http.get(pollUrl, { agent: false });
    request.on('error', () => {});
    cleanups.push(() => request.destroy());
    return request;
  });
  await waitForStats(hub, (s) => s.connections['long-polling'] === 3 * POLLERS);
  const holding = (await hub.memory('gc=1')).now;

  for (const request of leaving) request.destroy();
  await waitForStats(hub, (s) => s.connections['long-polling'] === 2 * POLLERS);
  await hub.publish({ channel, first: seq, rate: 1000, count: 1 });
  const bodies = await Promise.all(answers);
  await waitForStats(hub, (s) => s.connections['long-polling'] === 0);
  const idle = await hub.stats();
  agent.destroy();
  for (const socket of silent) socket.destroy();
  await waitForStats(hub, (s) => s.openSockets <= openBefore + 5);
  return { holding, bodies, idle };
}

/**
 * The slow phase: the crowd stops reading while the hub publishes, until the hub dropped
 * every slow consumer (or the time limit), and a little longer.
 *
 * A WebSocket reads again as soon as the hub gave up on it: its close frame waits behind its
 * backlog, and the hub destroys the socket a second later. A dropped SSE stream is destroyed at
 * once: those read their end after the slow phase.
 */
async function runSlowPhase(hub: HubProcess, crowd: Crowd, first: number) {
  const dropped = new Set<number>();
  const givenUpAt: Record<Kind, number[]> = { websocket: [], sse: [] };
  let started = Date.now();
  hub.onSocket(({ event, port }) => {
    const kind = crowd.kinds.get(port);
    if (kind === undefined) return;
    if (kind === 'websocket') crowd.resume(port);
    if (event === 'closed') dropped.add(port);
    // When the hub gave up: it stopped writing to a WebSocket, it destroyed a stream.
    if (event === (kind === 'websocket' ? 'stopped' : 'closed')) {
      givenUpAt[kind].push(Date.now() - started);
    }
  });
  await hub.memory('reset=1');
  crowd.start();
  started = Date.now();
  const publishing = hub.publish({ first, rate: RATE });
  await waitFor(() => dropped.size === SLOW_CLIENTS, SLOW_PHASE_LIMIT_MS, 'drops').catch(() => {});
  const allDroppedMs = Date.now() - started;
  await sleep(AFTERMATH_MS);
  await hub.stop();
  const published = await publishing;
  const { peak, loopDelay } = await hub.memory();
  return { published, peak, loopDelay, dropped, givenUpAt, allDroppedMs };
}

/** The hub in its own process, and its control endpoints (see the fixture's comment). */
class HubProcess {
  readonly #listeners: Array<(event: { event: string; port: number }) => void> = [];

  private constructor(readonly url: string) {}

  static async start(): Promise<HubProcess> {
    await ensureBuilt(path.join(ROOT, 'dist/server/index.js'));
    const { url, child } = await startListening(['--expose-gc', HUB_SCRIPT], {
      env: { MAX_BUFFERED_BYTES: String(MAX_BUFFERED_BYTES) },
    });
    const hub = new HubProcess(url);
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines.filter((l) => l.startsWith('{'))) {
        const event = JSON.parse(line) as { event: string; port: number };
        for (const listener of hub.#listeners) listener(event);
      }
    });
    return hub;
  }

  /** `stopped` (no longer writes to an over-budget socket) or `closed`, by the peer's port. */
  onSocket(listener: (event: { event: string; port: number }) => void): void {
    this.#listeners.push(listener);
  }

  memory(query: 'gc=1' | 'reset=1' | '' = ''): Promise<MemoryAnswer> {
    return this.#call('GET', `memory?${query}`);
  }

  stats(): Promise<HubStats> {
    return this.#call('GET', 'stats');
  }

  /** Publishes at `rate` per second until `count` or `stop()`; resolves when it stops. */
  publish(options: { channel?: string; first?: number; rate: number; count?: number }) {
    const { channel = CHANNEL, first = 0, rate, count } = options;
    const query = new URLSearchParams({ channel, size: String(PAD_BYTES), rate: String(rate) });
    query.set('first', String(first));
    if (count !== undefined) query.set('count', String(count));
    return this.#call<{ count: number; bytes: number }>('POST', `publish?${query}`);
  }

  async stop(): Promise<void> {
    await this.#call('POST', 'stop');
  }

  async #call<T>(method: string, what: string): Promise<T> {
    const response = await fetch(`${this.url}/control/${what}`, { method });
    if (!response.ok) throw new Error(`${method} /control/${what}: ${response.status}`);
    return (await response.json()) as T;
  }
}

/** The slow consumers' worker; resolves once every one of them is open. */
async function startCrowd(url: string) {
  const worker = new Worker(CROWD_SCRIPT, {
    workerData: { url, channel: CHANNEL, websockets: SLOW_WEBSOCKETS, streams: SLOW_STREAMS },
  });
  cleanups.push(() => worker.terminate());
  const messages: CrowdMessage[] = [];
  worker.on('message', (message: CrowdMessage) => messages.push(message));
  worker.on('error', (error) => messages.push({ type: 'failed', message: String(error) }));
  const ready = await waitFor(
    () => messages.find((m) => m.type === 'ready' || m.type === 'failed'),
    20_000,
    'the slow consumers to open',
  );
  if (ready.type !== 'ready') throw new Error(`the crowd failed: ${ready.message}`);
  return {
    kinds: new Map(ready.clients.map(({ port, kind }) => [port, kind])),
    start: () => worker.postMessage({ type: 'start', waves: WAVES, intervalMs: WAVE_INTERVAL_MS }),
    resume: (port: number) => worker.postMessage({ type: 'resume', port }),
    resumeAll: () => worker.postMessage({ type: 'resumeAll' }),
    endings: () => messages.filter((m): m is SlowEnding => m.type === 'ended'),
  };
}

async function openFastClients(url: string): Promise<FastClient[]> {
  return Promise.all([
    ...Array.from({ length: FAST_WEBSOCKETS }, () => openFastWebSocket(url)),
    ...Array.from({ length: FAST_STREAMS }, () => openFastStream(url)),
  ]);
}

/** The wall clock in fractional ms, as the hub process stamps `sentAt`. */
function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

function record(client: FastClient, data: EnvelopeData): void {
  client.latencies.push(wallClock() - data.sentAt);
  client.seqs.push(data.seq);
}

async function openFastWebSocket(url: string): Promise<FastClient> {
  const client: FastClient = { seqs: [], latencies: [] };
  const ws = new WebSocket(`${url.replace('http:', 'ws:')}/rt/ws`);
  cleanups.push(() => ws.terminate());
  let isSubscribed = false;
  ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString()) as { type: string; data: EnvelopeData };
    if (frame.type === 'message') record(client, frame.data);
    else if (frame.type === 'subscribed') isSubscribed = true;
  });
  ws.on('close', (code, reason) => (client.ended ??= `closed ${code} ${reason.toString()}`));
  ws.on('error', () => {});
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', channels: [CHANNEL] }));
  await waitFor(() => isSubscribed, 5000, 'a fast WebSocket to subscribe');
  return client;
}

async function openFastStream(url: string): Promise<FastClient> {
  const client: FastClient = { seqs: [], latencies: [] };
  let isSubscribed = false;
  const parser = createParser({
    onEvent: ({ event, data }) => {
      if (event === 'message') record(client, (JSON.parse(data) as { data: EnvelopeData }).data);
      else if (event === 'subscribed') isSubscribed = true;
    },
  });
  const request = http.get(`${url}/rt/sse?channel=${CHANNEL}`, (res) => {
    res.on('data', (chunk: Buffer) => parser.feed(chunk));
    res.on('close', () => (client.ended ??= 'stream ended'));
    res.on('error', () => {});
  });
  request.on('error', () => {});
  cleanups.push(() => request.destroy());
  await waitFor(() => isSubscribed, 5000, 'a fast SSE stream to subscribe');
  return client;
}

/** Waits for every fast client to hold `count` envelopes; says how each stands if not. */
async function waitForFast(fast: readonly FastClient[], count: number): Promise<void> {
  await waitFor(() => fast.every((c) => c.seqs.length >= count), 10_000, 'the fast clients').catch(
    (error: Error) => {
      throw new Error(`${error.message}; fast clients: ${describeFast(fast)}`);
    },
  );
}

/** How each fast client stands: `open`, or how the hub ended it. */
function describeFast(clients: readonly FastClient[]): string {
  return clients.map((c) => c.ended ?? 'open').join(', ');
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

/** Latency figures of the envelopes with `from <= seq < to`, over every fast client. */
function latencyOf(clients: readonly FastClient[], from: number, to: number) {
  const latencies = clients.flatMap(({ seqs, latencies }) =>
    latencies.filter((_, i) => (seqs[i] ?? -1) >= from && (seqs[i] ?? -1) < to),
  );
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: Math.max(...latencies),
  };
}

/** A poll on a bare socket whose client never reads the answer. */
function pollAndStopReading(url: string): net.Socket {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = net.connect(Number(port), hostname, () => {
    socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    socket.pause();
  });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  return socket;
}

/** GET over `agent`; resolves with the body. */
function getText(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

async function waitForStats(hub: HubProcess, check: (stats: HubStats) => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const stats = await hub.stats();
    if (check(stats)) return;
    if (Date.now() > deadline) throw new Error(`timed out; hub stats: ${JSON.stringify(stats)}`);
    await sleep(20);
  }
}

/** `min/p25/p50/p75/max` */
function spread(values: readonly number[]): string {
  return [0, 0.25, 0.5, 0.75, 1].map((p) => Math.round(percentile(values, p))).join('/');
}

function inMib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

function inMs(ms: number): string {
  return ms.toFixed(1);
}

function memoryLine(m: MemorySample): string {
  return (
    `${inMib(m.heapAndBuffers)} (heap ${inMib(m.heapUsed)}, external ${inMib(m.external)}, ` +
    `arrayBuffers ${inMib(m.arrayBuffers)}), rss ${inMib(m.rss)}, queued in sockets ` +
    `${inMib(m.queued)} (fullest ${inMib(m.queuedMax)})`
  );
}
