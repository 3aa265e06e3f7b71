/**
 * The hub of one `tidewire bench` transport run: a process of its own (forked by
 * `hub-child.ts`, built as `dist/cli/bench-hub.js`), so that its CPU and memory are the hub's
 * alone and not the load's, and every transport starts from a fresh process.
 *
 * It serves an in-memory hub on 127.0.0.1 and a port of the system's choosing, counts what
 * goes through its sockets, and answers the bench over IPC (`hub-ipc.ts`): `stats` (CPU,
 * memory after a full GC when asked, traffic) and `publish` (paced messages stamped with
 * CLOCK_MONOTONIC, which the bench's process reads too: latency needs no clock sync).
 *
 * It exits when the bench goes away, however that happens: the IPC channel closes.
 *
 * @module
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Hub, createHub } from '../../server/index.js';
import {
  BENCH_CHANNEL,
  type HubMessage,
  type HubRequest,
  type HubStats,
  type PublishDone,
} from './hub-ipc.js';
import { payloadMaker } from './payload.js';
import { countTraffic } from './server-traffic.js';

/** History deep enough that no short poll ever misses a message of the run (no `gap`). */
const HISTORY_FLOOR = 1000;

process.on('disconnect', () => process.exit(0));
if (!process.send) {
  console.error('bench-hub is started by `tidewire bench`, not by hand');
  process.exit(1);
}
// The one argument: how many messages the run publishes (see `hub-child.ts`).
await main(Number(process.argv[2]) || HISTORY_FLOOR);

async function main(messages: number): Promise<void> {
  const hub = createHub({
    // A day: longer than any run (--duration is at most an hour).
    history: { maxCount: Math.max(HISTORY_FLOOR, messages), maxAgeMs: 86_400_000 },
    // Every client comes from 127.0.0.1: the per-address limits would refuse most of them.
    // The send-buffer limit is raised too: the load is one Node process that may fall behind
    // for a moment, which must show as latency, not as closed connections.
    limits: {
      maxConnectionsPerIp: Infinity,
      maxRequestsPerSecondPerIp: Infinity,
      maxMessagesPerSecond: Infinity,
      maxBufferedBytes: 64 * 1024 * 1024,
    },
    metrics: false,
    processMetrics: false,
    logger: {
      info() {},
      warn: (object, message) => console.error('hub warning:', message, object),
      error: (object, message) => console.error('hub error:', message, object),
    },
  });
  const server = http.createServer();
  // Node's default keep-alive timeout (5 s) would close a short-polling client's socket
  // between polls when --poll-interval is longer, adding a connect per poll that a
  // production hub behind a proxy would not see. 65 s is what proxies commonly expect.
  server.keepAliveTimeout = 65_000;
  hub.attach(server);
  const readTraffic = countTraffic(server);
  const port = await listen(server);
  await hub.ready;

  process.on('message', (request: HubRequest) => {
    answer(hub, request, readTraffic).then(
      (result) => send({ kind: 'reply', id: request.id, result }),
      (error: unknown) =>
        send({ kind: 'failed', id: request.id, message: (error as Error).message ?? `${error}` }),
    );
  });
  send({ kind: 'ready', port });
}

function answer(
  hub: Hub,
  request: HubRequest,
  readTraffic: () => HubStats['traffic'],
): Promise<HubStats | PublishDone> {
  switch (request.op) {
    case 'stats':
      return Promise.resolve(stats(hub, request.gc, readTraffic));
    case 'publish':
      return publishPaced(hub, request.count, request.rate, request.sizeBytes);
  }
}

function stats(hub: Hub, gc: boolean, readTraffic: () => HubStats['traffic']): HubStats {
  if (gc) {
    // Twice: a first pass may only promote what a second one frees (weak callbacks).
    globalThis.gc?.();
    globalThis.gc?.();
  }
  const cpu = process.cpuUsage();
  const { rss, heapUsed } = process.memoryUsage();
  return {
    cpuMicros: cpu.user + cpu.system,
    atNs: process.hrtime.bigint().toString(),
    rss,
    heapUsed,
    traffic: readTraffic(),
    connections: hub.stats().connections,
  };
}

/**
 * Message k is due at `start + k / rate`. Each wake-up publishes everything due by then and
 * sleeps until the next due time: a late timer delays the messages it covers, never the rest
 * of the schedule. Each stamp is taken just before its `hub.publish`, so the latency the
 * clients measure is publish to handler, broker and fan-out included, and a late timer shows
 * in `lagMaxMs`, not in the latency.
 */
async function publishPaced(
  hub: Hub,
  count: number,
  rate: number,
  sizeBytes: number,
): Promise<PublishDone> {
  const makePayload = payloadMaker(sizeBytes);
  const intervalNs = 1e9 / rate;
  const pending: Array<Promise<unknown>> = [];
  let errors = 0;
  let lagMaxNs = 0;
  const startedAt = process.hrtime.bigint();
  let seq = 0;
  while (seq < count) {
    const now = process.hrtime.bigint();
    const elapsedNs = Number(now - startedAt);
    for (; seq < count && seq * intervalNs <= elapsedNs; seq++) {
      lagMaxNs = Math.max(lagMaxNs, elapsedNs - seq * intervalNs);
      const publish = hub.publish(BENCH_CHANNEL, makePayload(seq, process.hrtime.bigint()));
      pending.push(publish.catch(() => (errors += 1)));
    }
    if (seq < count) {
      const waitNs = seq * intervalNs - Number(process.hrtime.bigint() - startedAt);
      await sleep(Math.max(1, Math.round(waitNs / 1e6)));
    }
  }
  await Promise.all(pending);
  return { startedAtNs: startedAt.toString(), lagMaxMs: lagMaxNs / 1e6, errors };
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function send(message: HubMessage): void {
  process.send?.(message);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
