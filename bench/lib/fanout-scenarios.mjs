/**
 * One server's pass through the scenarios, with the load generator on the other core:
 *
 * 1. `idle`: `large` subscribers connect to a fresh server; memory per connection after a full
 *    collection, and the CPU they cost while nothing is published;
 * 2. `large`: `largeMessages` at `largeRate` to those subscribers;
 * 3. `latency`: `small` subscribers at `latencyRate`, far below saturation;
 * 4. `small`: `smallMessages` at `smallRate` to them;
 * 5. `burst`: `burstMessages` published as fast as the server takes them.
 *
 * Long polling runs the idle scenario only, with `small` clients: its cost is the re-polls of
 * held requests.
 */
import { request } from './ipc.mjs';

/** A pause for sockets and timers to settle before a measurement. */
const SETTLE_MS = 1500;
/** Messages published before a measured phase, so that JIT and buffers are warm. */
const WARM_UP = 20;

export async function runServer(server, load, options) {
  const result = { connect: {}, idle: {}, phases: {} };
  if (server.dialect === 'long-poll') {
    // The cost of held polls is their re-polls, once per hold each: `small` clients.
    const { connected, idle } = await connectIdle(server, load, options.small, options);
    result.connect.small = connected;
    result.idle = idle;
    await request(load, { type: 'close' }, 'closed');
    return result;
  }
  const { connected, idle } = await connectIdle(server, load, options.large, options);
  result.connect.large = connected;
  result.idle = idle;
  await warmUp(server, load, options.largeRate);
  const { largeMessages, largeRate, smallMessages, smallRate } = options;
  result.phases.large = await phase(server, load, largeMessages, largeRate, options);
  await request(load, { type: 'close' }, 'closed');
  await sleep(SETTLE_MS);

  result.connect.small = await connect(load, server, options.small);
  await warmUp(server, load, options.smallRate);
  const { latencyMessages, latencyRate, burstMessages } = options;
  result.phases.latency = await phase(server, load, latencyMessages, latencyRate, options);
  result.phases.small = await phase(server, load, smallMessages, smallRate, options);
  result.phases.burst = await phase(server, load, burstMessages, 0, options);
  await request(load, { type: 'close' }, 'closed');
  return result;
}

async function connect(load, server, count) {
  const connected = await request(
    load,
    { type: 'connect', dialect: server.dialect, url: server.url, count, concurrency: 100 },
    'connected',
    300_000,
  );
  if (connected.failed > 0) {
    console.error(
      `  ${connected.failed} of ${count} subscribers failed to connect: ${connected.firstError}`,
    );
  }
  return connected;
}

/**
 * Connects `count` subscribers to the fresh server in two halves, then measures what they
 * hold and cost while nothing is published. Memory per connection comes two ways:
 *
 * - `rssPerConnection`: the RSS growth since the fresh server, over every connection;
 * - `marginalPerConnection`: the RSS growth of the second half alone, over its connections.
 *   A Node server's young generation grows with the allocation rate of the connect storm (by
 *   up to tens of MiB, more for a server that allocates more per connect) and does so during
 *   the first half: the second half shows what a connection itself holds.
 */
async function connectIdle(server, load, count, options) {
  const memory = async () => {
    const stats = await server.stats();
    return { rss: server.rss() ?? stats.rss, heapUsed: stats.heapUsed };
  };
  const fresh = await memory();
  const half = Math.floor(count / 2);
  const first = await connect(load, server, half);
  await sleep(SETTLE_MS);
  const middle = await memory();
  const second = await connect(load, server, count - half);
  await sleep(SETTLE_MS);
  const full = await memory();
  const connections = first.ok + second.ok;
  const seconds = server.dialect === 'long-poll' ? options.pollIdleSeconds : 5;
  const cpuBefore = server.cpuSeconds();
  await sleep(seconds * 1000);
  const cpu = server.cpuSeconds() - cpuBefore;
  return {
    connected: {
      ok: connections,
      failed: first.failed + second.failed,
      ms: first.ms + second.ms,
    },
    idle: {
      connections,
      rssPerConnection: (full.rss - fresh.rss) / connections,
      marginalPerConnection: (full.rss - middle.rss) / second.ok,
      heapPerConnection: (full.heapUsed - fresh.heapUsed) / connections,
      cpuPercent: (100 * cpu) / seconds,
      seconds,
    },
  };
}

async function warmUp(server, load, rate) {
  await request(load, { type: 'expect', messages: WARM_UP }, 'expecting');
  await server.publish({ count: WARM_UP, rate, size: 100 });
  await request(load, { type: 'drain', quietMs: 2000, timeoutMs: 20_000 }, 'drained');
}

async function phase(server, load, messages, rate, options) {
  await request(load, { type: 'expect', messages }, 'expecting');
  const cpuBefore = server.cpuSeconds();
  const published = await server.publish({ count: messages, rate, size: options.size });
  const drained = await request(
    load,
    { type: 'drain', quietMs: 3000, timeoutMs: 120_000 },
    'drained',
    180_000,
  );
  return {
    ...drained,
    cpuSeconds: server.cpuSeconds() - cpuBefore,
    publishesPerSecond: (1000 * messages) / published.ms,
  };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
