import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../src/brokers/memory.js';
import type { PublishRequest } from '../../src/core/broker.js';
import { type Envelope, type HubOptions, createHub } from '../../src/server/index.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { poll, publishHttp, requestJson } from '../support/http-client.js';
import { TestEventStream } from '../support/sse-client.js';
import { waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

type Samples = Map<string, number>;

/**
 * Prometheus text → value per series, keyed `name{a="x",b="y"}` with labels sorted. Throws on
 * any line that is neither a comment nor a sample: the text must be valid, not just useful.
 */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus line: ${line}`);
    const [, name, labelText = '', value] = match;
    const labels = [...labelText.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, key, text]) => `${key}="${text}"`)
      .sort();
    samples.set(seriesKey(name as string, labels), Number(value));
  }
  return samples;
}

function seriesKey(name: string, labels: string[]): string {
  return labels.length > 0 ? `${name}{${labels.join(',')}}` : name;
}

/** One series' value; fails when the series is missing (absent is not zero). */
function value(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  const key = seriesKey(
    name,
    Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .sort(),
  );
  const found = samples.get(key);
  if (found === undefined) throw new Error(`no series ${key}`);
  return found;
}

async function scrape(url: string, headers: Record<string, string> = {}): Promise<Samples> {
  const response = await fetch(`${url}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await response.text());
}

const transports = ['websocket', 'sse', 'long-polling', 'polling'] as const;

function byTransport(samples: Samples, name: string): Record<string, number> {
  return Object.fromEntries(transports.map((t) => [t, value(samples, name, { transport: t })]));
}

function brokerCalls(samples: Samples, operation: string, outcome: string): number {
  return value(samples, 'tidewire_broker_duration_seconds_count', { operation, outcome });
}

const hubs: TestHub[] = [];
const closers: Array<() => void> = [];

async function hubWith(options: HubOptions = {}): Promise<TestHub> {
  const testHub = await startHub(options);
  hubs.push(testHub);
  return testHub;
}

async function socketOn(testHub: TestHub, channels: string[]): Promise<TestSocket> {
  const socket = await connectWs(testHub.wsUrl);
  closers.push(() => socket.close());
  await subscribe(socket, channels);
  return socket;
}

async function streamOn(url: string, headers: Record<string, string> = {}) {
  const stream = await TestEventStream.open(url, headers);
  closers.push(() => stream.close());
  return stream;
}

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(hubs.splice(0).map((testHub) => testHub.close()));
});

describe('GET /metrics', () => {
  it('reports connections by transport, subscriptions, publishes and every delivery exactly', async () => {
    const t = await hubWith();
    const socket = await socketOn(t, ['a', 'b']);
    const stream = await streamOn(`${t.url}/rt/sse?channel=a`);
    await stream.waitForType('subscribed', 1);
    const held = poll(t.url, ['c'], undefined, 5000);
    await waitFor(() => t.hub.stats().connections['long-polling'] === 1, 2000, 'the held poll');

    const before = await scrape(t.url);
    expect(byTransport(before, 'tidewire_connections')).toEqual({
      websocket: 1,
      sse: 1,
      'long-polling': 1,
      polling: 0,
    });
    expect(value(before, 'tidewire_subscriptions')).toBe(4); // a, b; a; c
    expect(value(before, 'tidewire_channels')).toBe(3);
    expect(value(before, 'tidewire_published_total')).toBe(0);
    expect(value(before, 'tidewire_broker_available')).toBe(1);
    expect(brokerCalls(before, 'read', 'ok')).toBe(4); // one history read per subscription

    // Publishes from the hub, the publish API and a WebSocket client all count.
    const start = (await t.hub.publish('a', 1)) as Envelope;
    await t.hub.publish('b', 2);
    expect((await publishHttp(t.url, 'a', 3)).status).toBe(201);
    socket.send({ type: 'publish', channel: 'c', data: 4, ref: 'r1' });
    const longPoll = await held;
    // A short poll from just before the first envelope of `a` gets the two of `a` since then.
    const cursor = start.id.replace(/-(\d+)$/, (_, seq: string) => `-${Number(seq) - 1}`);
    const shortPoll = await poll(t.url, ['a'], cursor, 0);
    await socket.waitForType('message', 3);
    await stream.waitForType('message', 2);

    const after = await scrape(t.url);
    expect(value(after, 'tidewire_published_total')).toBe(4);
    expect(byTransport(after, 'tidewire_delivered_total')).toEqual({
      websocket: socket.ofType('message').length,
      sse: stream.ofType('message').length,
      'long-polling': longPoll.body.messages.length,
      polling: shortPoll.body.messages.length,
    });
    expect(byTransport(after, 'tidewire_delivered_total')).toEqual({
      websocket: 3,
      sse: 2,
      'long-polling': 1,
      polling: 2,
    });
    expect(brokerCalls(after, 'publish', 'ok')).toBe(4);
    expect(brokerCalls(after, 'publish', 'error')).toBe(0);
    expect(brokerCalls(after, 'read', 'ok')).toBe(5); // and the short poll's
    expect(
      value(after, 'tidewire_broker_duration_seconds_sum', { operation: 'publish', outcome: 'ok' }),
    ).toBeGreaterThan(0);
    // The long poll answered: no longer open, no longer subscribed.
    expect(value(after, 'tidewire_connections', { transport: 'long-polling' })).toBe(0);
    expect(value(after, 'tidewire_subscriptions')).toBe(3);
    expect(value(after, 'tidewire_send_buffer_bytes')).toBe(0);
  });

  it('times failed broker calls apart and does not count them as published', async () => {
    const broker = new FlakyBroker();
    const t = await hubWith({ broker });
    await t.hub.publish('a', 1);
    broker.isFailing = true;
    await expect(t.hub.publish('a', 2)).rejects.toThrow('broker down');
    expect((await publishHttp(t.url, 'a', 3)).status).toBe(500);
    const samples = await scrape(t.url);
    expect(brokerCalls(samples, 'publish', 'ok')).toBe(1);
    expect(brokerCalls(samples, 'publish', 'error')).toBe(2);
    expect(value(samples, 'tidewire_published_total')).toBe(1);
  });

  it('shows the send buffer of a reader that stopped reading, then counts it as a slow consumer', async () => {
    const t = await hubWith({ limits: { maxBufferedBytes: 256 * 1024 } });
    const paused = await openPausedStream(`${t.url}/rt/sse?channel=slow`);
    closers.push(() => paused.destroy());
    await waitFor(() => t.hub.stats().channels === 1, 2000, 'the subscription');
    const payload = 'x'.repeat(16 * 1024);
    // The kernel's socket buffers fill first (a few MiB on loopback), then the process's.
    let buffered = 0;
    for (let i = 0; i < 2000 && buffered === 0; i++) {
      await t.hub.publish('slow', payload);
      if (i % 8 === 7)
        buffered = value(parseMetrics(await t.hub.metrics()), 'tidewire_send_buffer_bytes');
    }
    expect(buffered).toBeGreaterThan(0);
    // Past the limit for 100 ms, the stream is closed.
    for (let i = 0; i < 2000 && t.hub.stats().connections.sse > 0; i++) {
      await t.hub.publish('slow', payload);
      if (i % 32 === 31) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waitFor(
      () => t.hub.stats().connections.sse === 0,
      3000,
      'the slow consumer to be closed',
    );
    const samples = await scrape(t.url);
    expect(value(samples, 'tidewire_dropped_total', { reason: 'slow_consumer' })).toBe(1);
    expect(value(samples, 'tidewire_connections', { transport: 'sse' })).toBe(0);
    expect(value(samples, 'tidewire_send_buffer_bytes')).toBe(0);
  });

  it('counts refusals by reason: a foreign origin, a missing and a wrong publish token', async () => {
    const t = await hubWith({ publishToken: 'p-token' });
    const foreign = await streamOn(`${t.url}/rt/sse?channel=a`, {
      Origin: 'https://evil.example',
    });
    expect(foreign.status).toBe(403);
    expect((await publishHttp(t.url, 'a', 1)).status).toBe(401);
    expect((await publishHttp(t.url, 'a', 1, undefined, 'wrong')).status).toBe(403);
    const samples = await scrape(t.url);
    expect(value(samples, 'tidewire_dropped_total', { reason: 'origin' })).toBe(1);
    expect(value(samples, 'tidewire_dropped_total', { reason: 'unauthorized' })).toBe(1);
    expect(value(samples, 'tidewire_dropped_total', { reason: 'forbidden' })).toBe(1);
    // Every reason has its series from the start: `rate()` sees the first one too.
    expect(value(samples, 'tidewire_dropped_total', { reason: 'idle_timeout' })).toBe(0);
  });

  it('counts messages past the size limit and requests refused during a drain', async () => {
    const t = await hubWith({ limits: { maxMessageBytes: 100 } });
    expect((await publishHttp(t.url, 'a', 'x'.repeat(200))).status).toBe(413);
    const socket = await connectWs(t.wsUrl);
    socket.ws.send(JSON.stringify({ type: 'publish', channel: 'a', data: 'x'.repeat(200) }));
    expect((await socket.closed()).code).toBe(1009);
    let samples = await scrape(t.url);
    expect(value(samples, 'tidewire_dropped_total', { reason: 'too_large' })).toBe(2);

    const held = await streamOn(`${t.url}/rt/sse?channel=a`);
    const draining = t.hub.close({ drainWindowMs: 300 });
    expect((await poll(t.url, ['a'], undefined, 0)).status).toBe(503);
    samples = await scrape(t.url);
    expect(value(samples, 'tidewire_dropped_total', { reason: 'shutting_down' })).toBe(1);
    held.close();
    await draining;
  });

  it('holds the Node process metrics unless processMetrics is false', async () => {
    const withThem = await scrape((await hubWith()).url);
    expect(value(withThem, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(withThem, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    const without = await scrape((await hubWith({ processMetrics: false })).url);
    expect(without.has('process_cpu_user_seconds_total')).toBe(false);
    expect(value(without, 'tidewire_published_total')).toBe(0);
  });

  it('answers HEAD with the headers only, and refuses other methods', async () => {
    const t = await hubWith();
    const head = await fetch(`${t.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await head.text()).toBe('');
    const post = await requestJson(`${t.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('metricsToken', () => {
  it('answers 401 without a bearer token, 403 with a wrong one, 200 with the right one', async () => {
    const t = await hubWith({ metricsToken: 'm-token' });
    const missing = await requestJson(`${t.url}/metrics`);
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(missing.headers.get('www-authenticate')).toContain('Bearer');
    const basic = await requestJson(`${t.url}/metrics`, {
      headers: { Authorization: 'Basic eDp5' },
    });
    expect(basic.status).toBe(401);
    const wrong = await requestJson(`${t.url}/metrics`, {
      headers: { Authorization: 'Bearer m-token-but-longer' },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ code: 'FORBIDDEN' });
    const right = await scrape(t.url, { Authorization: 'Bearer m-token' });
    expect(value(right, 'tidewire_broker_available')).toBe(1);
  });
});

describe('metrics: false', () => {
  it('leaves /metrics to the app (or a 404), while hub.metrics() still reports', async () => {
    const t = await hubWith({ metrics: false });
    expect((await requestJson(`${t.url}/metrics`)).status).toBe(404);

    const hub = createHub({ metrics: false, logger: quiet });
    const server = http.createServer((_req, res) => res.end('the app'));
    hub.attach(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    try {
      const { port } = server.address() as AddressInfo;
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toBe('the app');
      await hub.publish('a', 1);
      expect(value(parseMetrics(await hub.metrics()), 'tidewire_published_total')).toBe(1);
    } finally {
      await hub.close();
      server.closeAllConnections();
    }
  });
});

describe('several hubs in one process', () => {
  it('keeps separate counts per hub', async () => {
    const one = await hubWith();
    const two = await hubWith();
    await one.hub.publish('a', 1);
    await one.hub.publish('a', 2);
    await two.hub.publish('a', 3);
    expect(value(await scrape(one.url), 'tidewire_published_total')).toBe(2);
    expect(value(await scrape(two.url), 'tidewire_published_total')).toBe(1);
  });

  it('reports into an app registry, once per registry, and leaves it on close', async () => {
    const registry = new Registry();
    const requests = new Counter({ name: 'app_requests_total', help: 'x', registers: [registry] });
    requests.inc(7);
    const hub = createHub({ metricsRegistry: registry, logger: quiet });
    await hub.publish('a', 1);
    const samples = parseMetrics(await registry.metrics());
    expect(value(samples, 'app_requests_total')).toBe(7);
    expect(value(samples, 'tidewire_published_total')).toBe(1);
    // The app decides about process metrics in its own registry.
    expect(samples.has('process_cpu_user_seconds_total')).toBe(false);
    expect(await hub.metrics()).toBe(await registry.metrics());

    expect(() => createHub({ metricsRegistry: registry, logger: quiet })).toThrow(
      /already has tidewire_/,
    );
    await hub.close();
    expect(registry.getSingleMetric('tidewire_published_total')).toBeUndefined();
    const next = createHub({ metricsRegistry: registry, processMetrics: true, logger: quiet });
    try {
      const fresh = parseMetrics(await registry.metrics());
      expect(value(fresh, 'tidewire_published_total')).toBe(0);
      expect(value(fresh, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    } finally {
      await next.close();
    }
  });
});

const quiet = { info() {}, warn() {}, error() {} };

/** The in-memory broker, with publishes that fail on demand (a broker outage). */
class FlakyBroker extends MemoryBroker {
  isFailing = false;

  override publish(request: PublishRequest): Promise<Envelope> {
    if (this.isFailing) return Promise.reject(new Error('broker down'));
    return super.publish(request);
  }
}

/** An SSE request whose response is never read past its headers: a reader that stopped. */
function openPausedStream(url: string): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
      res.pause();
      resolve(request);
    });
    request.on('error', reject);
  });
}
