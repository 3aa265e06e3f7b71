/**
 * The load generator of `bench/fanout.mjs`, run as a child process that the orchestrator pins
 * to its own core: it holds the subscribers (thousands of sockets in one process), checks
 * every delivery and takes its latency. Requests come over IPC (`lib/ipc.mjs`):
 *
 * - `connect { dialect, url, count, concurrency }` → `connected { ok, failed, ms, connectMs }`
 * - `expect { messages }` → `expecting`: starts a phase of `messages` messages
 * - `drain { quietMs, timeoutMs }` → `drained { …figures }`: waits for every delivery of the
 *   phase (or for `quietMs` without one, or the timeout), then reports the phase
 * - `close` → `closed`: closes every subscriber
 *
 * Per delivery it does a regex, a flag and a clock read: the generator must not be what
 * saturates first, or the bench would measure itself.
 */
import { connect, readStamp } from './dialects.mjs';
import { stampMillis as nowMs } from './peer-ipc.mjs';
import { summarize } from './stats.mjs';

/** Subscribers by index (an index stays its subscriber's; a failed connect leaves a hole). */
let subscribers = [];
/** How many of `subscribers` are there. */
let connected = 0;
/** Subscribers that closed without being asked to. */
let unexpectedCloses = 0;
let isClosing = false;

/** The phase under way: a seen-flag per (subscriber, message) and a latency per delivery. */
let phase;

function newPhase(messages) {
  return {
    messages,
    expected: connected * messages,
    seen: new Uint8Array(subscribers.length * messages),
    latencies: new Float64Array(connected * messages),
    deliveries: 0,
    duplicates: 0,
    stray: 0,
    firstStamp: Infinity,
    lastAt: 0,
  };
}

function onDelivery(index, text) {
  const now = nowMs();
  const stamp = readStamp(text);
  const current = phase;
  if (!stamp || !current || stamp.i >= current.messages) {
    if (current) current.stray++;
    return;
  }
  const slot = index * current.messages + stamp.i;
  if (current.seen[slot] === 1) {
    current.duplicates++;
    return;
  }
  current.seen[slot] = 1;
  current.latencies[current.deliveries++] = now - stamp.t;
  if (stamp.t < current.firstStamp) current.firstStamp = stamp.t;
  current.lastAt = now;
}

async function connectAll({ dialect, url, count, concurrency }) {
  const startedAt = nowMs();
  const connectMs = [];
  let failed = 0;
  let next = 0;
  let firstError;
  const base = subscribers.length;
  subscribers.length = base + count;
  const opener = async () => {
    while (next < count) {
      const index = base + next++;
      const openedAt = nowMs();
      try {
        const subscriber = await connect(dialect, url, (text) => onDelivery(index, text), {
          onClose: () => {
            if (!isClosing) unexpectedCloses++;
          },
        });
        subscribers[index] = subscriber;
        connected++;
        connectMs.push(nowMs() - openedAt);
      } catch (error) {
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, opener));
  return {
    ok: count - failed,
    failed,
    firstError,
    ms: nowMs() - startedAt,
    connectMs: summarize(connectMs),
  };
}

async function drain({ quietMs, timeoutMs }) {
  const current = phase;
  const startedAt = nowMs();
  while (current.deliveries + current.duplicates < current.expected) {
    const now = nowMs();
    const lastSign = Math.max(current.lastAt, startedAt);
    if (now - lastSign > quietMs || now - startedAt > timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  phase = undefined;
  const seconds = (current.lastAt - current.firstStamp) / 1000;
  return {
    subscribers: connected,
    messages: current.messages,
    expected: current.expected,
    deliveries: current.deliveries,
    lost: current.expected - current.deliveries,
    duplicates: current.duplicates,
    stray: current.stray,
    unexpectedCloses,
    // From the first message's publish to the last delivery: what subscribers saw.
    seconds,
    deliveriesPerSecond: seconds > 0 ? current.deliveries / seconds : 0,
    latencyMs: summarize(current.latencies, current.deliveries),
  };
}

async function closeAll() {
  isClosing = true;
  await Promise.allSettled(subscribers.filter(Boolean).map((subscriber) => subscriber.close()));
  subscribers = [];
  connected = 0;
  unexpectedCloses = 0;
  isClosing = false;
}

process.on('message', async (message) => {
  try {
    switch (message?.type) {
      case 'connect':
        process.send({ type: 'connected', ...(await connectAll(message)) });
        break;
      case 'expect':
        phase = newPhase(message.messages);
        process.send({ type: 'expecting' });
        break;
      case 'drain':
        process.send({ type: 'drained', ...(await drain(message)) });
        break;
      case 'close':
        await closeAll();
        process.send({ type: 'closed' });
        break;
    }
  } catch (error) {
    process.send({
      type: 'error',
      message: error instanceof Error ? error.message : String(error),
    });
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready', pid: process.pid });
