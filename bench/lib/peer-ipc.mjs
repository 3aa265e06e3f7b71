/**
 * The IPC side that every peer server of `bench/peers/` shares: the `ready` message, the
 * `publish` schedule, `stats` and `stop`. A peer file only starts its server and says how to
 * broadcast one text; the load, the clock and the timing are the same for every peer, so
 * that they differ in the server alone.
 *
 * The orchestrator forks a peer (`--expose-gc`, an IPC channel) and speaks:
 * `{ type: 'publish', count, rate, size }` → `{ type: 'published', count, ms }`,
 * `{ type: 'stats' }` → `{ type: 'stats', rss, heapUsed, external, arrayBuffers, connections }`,
 * `{ type: 'stop' }` → exit 0 within 2 s.
 */

/** `stop` must end the process within 2 s; a server that will not close is cut short. */
const STOP_DEADLINE_MS = 1_500;

/**
 * The text of message `i`: `{"i":i,"t":t,"p":"xx…"}`, padded with `x` to `size` bytes (never
 * shorter than the JSON without padding).
 *
 * @param t - the publisher's stamp in ms, on the monotonic clock (`stampMillis()`).
 */
export function payloadText(i, t, size) {
  const head = `{"i":${i},"t":${t},"p":"`;
  const pad = size - head.length - 2;
  return `${head}${pad > 0 ? 'x'.repeat(pad) : ''}"}`;
}

/**
 * Now, in ms, on CLOCK_MONOTONIC (libuv `uv_hrtime`): the load generator reads the same clock
 * in its own process, so that it can subtract the stamp (see `clock.mjs`).
 */
export function stampMillis() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * Listens on 127.0.0.1, a free port, with a backlog deep enough for a connect storm of
 * thousands; resolves with the port.
 */
export async function listenLocal(server) {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve);
  });
  return server.address().port;
}

/**
 * Runs a peer: calls `start()`, announces the server, then answers the orchestrator.
 *
 * `start()` resolves with `{ ready, publish, connections, close }` and may add
 * `{ inFlight, stats }`:
 * - `ready`: the fields of the `ready` message besides `type` (`port`, `url`, `dialect`, `pid`…);
 * - `publish(text)`: broadcasts one message to every subscriber. A promise return (a publish
 *   that crosses a socket, as nchan's) is awaited, with at most `inFlight` (default 8) at once
 *   in a burst;
 * - `connections()`: subscribers connected now (or a promise of it);
 * - `stats()`: replaces the memory figures of this process (a peer whose work runs elsewhere);
 * - `close()`: closes the server; `stop` exits once it resolves, or after 1.5 s.
 *
 * When `start()` resolves with `{ unavailable: reason }` the peer says so and exits 0: the
 * orchestrator skips it.
 */
export async function servePeer(start) {
  // The orchestrator went away (done, crashed, killed): no peer outlives it.
  process.on('disconnect', () => process.exit(0));
  let peer;
  try {
    peer = await start();
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
  if (peer.unavailable) {
    process.send({ type: 'unavailable', reason: peer.unavailable }, () => process.exit(0));
    return;
  }
  process.on('message', (message) => {
    const handler = HANDLERS[message?.type];
    if (handler) handler(peer, message);
  });
  process.send({ type: 'ready', pid: process.pid, ...peer.ready });
}

const HANDLERS = {
  publish(peer, { count, rate, size }) {
    publishAll(peer, count, rate, size).then(
      (ms) => process.send({ type: 'published', count, ms }),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  },
  stats(peer) {
    const figures = peer.stats ? peer.stats() : memoryFigures();
    Promise.all([figures, peer.connections()]).then(
      ([memory, connections]) => process.send({ type: 'stats', ...memory, connections }),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  },
  stop(peer) {
    setTimeout(() => process.exit(0), STOP_DEADLINE_MS).unref();
    Promise.resolve()
      .then(() => peer.close())
      .catch((error) => console.error(error))
      .finally(() => process.exit(0));
  },
};

function memoryFigures() {
  // Twice: a first pass may only promote what a second one frees (weak callbacks, finalizers).
  globalThis.gc?.();
  globalThis.gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

/** Publishes messages `0 … count-1`; resolves with the ms it took, last answer included. */
async function publishAll(peer, count, rate, size) {
  const startedAt = stampMillis();
  if (rate > 0) await publishPaced(peer, count, rate, size, startedAt);
  else await publishBurst(peer, count, size);
  return stampMillis() - startedAt;
}

/**
 * Message k is due at `start + k·1000/rate`. Each wake-up publishes everything due by then and
 * sleeps until the next due time: a late timer delays the messages it covers, never the whole
 * schedule (no drift).
 */
async function publishPaced(peer, count, rate, size, startedAt) {
  const interval = 1000 / rate;
  const pending = [];
  let k = 0;
  while (k < count) {
    const wait = startedAt + k * interval - stampMillis();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const now = stampMillis();
    while (k < count && startedAt + k * interval <= now) {
      const result = peer.publish(payloadText(k, stampMillis(), size));
      if (result) pending.push(result);
      k++;
    }
  }
  await Promise.all(pending);
}

/**
 * As fast as it takes. A synchronous broadcast yields to the event loop after each message,
 * so that sockets are written between messages (a flow, not one burst into buffers); a
 * publish that crosses a socket keeps `inFlight` on the way.
 */
async function publishBurst(peer, count, size) {
  let k = 0;
  const publisher = async () => {
    while (k < count) {
      const result = peer.publish(payloadText(k++, stampMillis(), size));
      if (result) await result;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const lanes = Math.max(1, Math.min(peer.inFlight ?? 1, count));
  await Promise.all(Array.from({ length: lanes }, publisher));
}
