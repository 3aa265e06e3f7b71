/**
 * The subscribers: a child process (forked by `subscribers.mjs`) that holds N raw `ws`
 * WebSockets on one channel and records, for every delivery, the latency from the publisher's
 * stamp and whether it is new, repeated or out of order.
 *
 * Why another process: receiving costs about as much as sending (a frame to parse and a
 * JSON.parse per subscriber per message). In the hub's process that work would queue on the
 * hub's event loop, and the figures would measure the bench as much as the broker. Clients
 * live elsewhere in production too. Both processes stamp with `nowMicros()`, one clock.
 *
 * Commands arrive over IPC as `{ id, op, ...args }`; each gets `{ id, result }` or
 * `{ id, error }`. The process exits when its parent goes away.
 */
import { WebSocket } from 'ws';
import { nowMicros } from './clock.mjs';
import { summarize } from './stats.mjs';

/** Opening handshakes at once: well under the server's listen backlog (511). */
const CONNECT_CONCURRENCY = 50;

// The wire of tidewire's WebSocket endpoint (README § WebSocket frames): one JSON text frame
// each way. A later comparison against other servers swaps this object.
const tidewireWire = {
  subscribe: (channel) => JSON.stringify({ type: 'subscribe', channels: [channel] }),
  /** `{ kind, data }`; `data` is the published value of a `message`. */
  parse(text) {
    const frame = JSON.parse(text);
    return { kind: frame.type, data: frame.data };
  },
};

const subscribers = [];
let phase;
let closes = 0;
let protocolErrors = 0;

const ops = { connect, start, collect, close };

process.on('message', ({ id, op, ...args }) => {
  Promise.resolve()
    .then(() => ops[op](args))
    .then(
      (result) => process.send({ id, result }),
      (error) => process.send({ id, error: error instanceof Error ? error.message : `${error}` }),
    );
});
// The bench went away (finished, crashed or killed): nothing to report to any more.
process.on('disconnect', () => process.exit(0));

/** Opens `count` sockets to `url` and resolves once each is subscribed to `channel`. */
async function connect({ url, count, channel, timeoutMs }) {
  let next = 0;
  const opener = async () => {
    while (next < count) {
      const index = next++;
      subscribers[index] = await openSubscriber(index, url, channel);
    }
  };
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const ready = subscribers.filter(Boolean).length;
      reject(new Error(`${ready} of ${count} subscribers subscribed after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, opener)), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return { subscribers: subscribers.length };
}

function openSubscriber(index, url, channel) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const subscriber = { index, ws, isSubscribed: false };
    ws.once('open', () => ws.send(tidewireWire.subscribe(channel)));
    ws.on('message', (data) => {
      // Stamped on arrival, before the JSON parse: latency ends when the frame reaches the
      // client, whatever the client then does with it.
      const at = nowMicros();
      const frame = tidewireWire.parse(data.toString());
      if (frame.kind === 'message') onMessage(subscriber, frame.data, at);
      else if (frame.kind === 'subscribed' && !subscriber.isSubscribed) {
        subscriber.isSubscribed = true;
        resolve(subscriber);
      } else if (frame.kind === 'gap' && phase) phase.gaps++;
      else if (frame.kind === 'error') protocolErrors++;
    });
    ws.on('error', reject); // a close follows; after `subscribed` this is a no-op
    ws.once('close', () => {
      closes++;
      reject(new Error(`subscriber ${index} closed before it was subscribed`));
    });
  });
}

function onMessage(subscriber, data, at) {
  if (!phase || data?.p !== phase.id) {
    if (phase) phase.strays++;
    return;
  }
  const { index } = subscriber;
  const slot = index * phase.messages + data.i;
  if (phase.seen[slot]) {
    phase.duplicates++;
    return;
  }
  phase.seen[slot] = 1;
  if (data.i < phase.lastIndex[index]) phase.outOfOrder++;
  phase.lastIndex[index] = data.i;
  phase.latencies[phase.delivered++] = at - data.t;
  phase.firstAt = Math.min(phase.firstAt, at);
  phase.lastAt = at;
}

/** Starts counting the deliveries of phase `phaseId`, whose messages are `0 … messages-1`. */
function start({ phaseId, messages }) {
  const deliveries = subscribers.length * messages;
  phase = {
    id: phaseId,
    messages,
    expected: deliveries,
    delivered: 0,
    seen: new Uint8Array(deliveries),
    latencies: new Float64Array(deliveries),
    lastIndex: new Int32Array(subscribers.length).fill(-1),
    duplicates: 0,
    outOfOrder: 0,
    gaps: 0,
    strays: 0,
    firstAt: Infinity,
    lastAt: 0,
    closesBefore: closes,
    errorsBefore: protocolErrors,
    cpu: process.cpuUsage(),
    startedAt: nowMicros(),
  };
  return {};
}

/**
 * Waits until every delivery of the phase arrived, or nothing arrived for `quietMs`, or
 * `timeoutMs` passed; then summarises the phase.
 */
async function collect({ quietMs, timeoutMs }) {
  const current = phase;
  const giveUpAt = Date.now() + timeoutMs;
  let seen = -1;
  let quietSince = Date.now();
  while (current.delivered < current.expected && Date.now() < giveUpAt) {
    if (current.delivered !== seen) {
      seen = current.delivered;
      quietSince = Date.now();
    } else if (Date.now() - quietSince > quietMs) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const cpu = process.cpuUsage(current.cpu);
  phase = undefined;
  return {
    expected: current.expected,
    delivered: current.delivered,
    lost: current.expected - current.delivered,
    duplicates: current.duplicates,
    outOfOrder: current.outOfOrder,
    gaps: current.gaps,
    strays: current.strays,
    closes: closes - current.closesBefore,
    errors: protocolErrors - current.errorsBefore,
    firstAt: current.firstAt,
    lastAt: current.lastAt,
    cpuMicros: cpu.user + cpu.system,
    latency: summarize(current.latencies, current.delivered),
  };
}

/** Closes every socket (a normal 1000 close) and waits for the closes, at most `timeoutMs`. */
async function close({ timeoutMs }) {
  const open = subscribers.filter(({ ws }) => ws.readyState === WebSocket.OPEN);
  const closed = open.map(({ ws }) => new Promise((resolve) => ws.once('close', resolve)));
  for (const { ws } of open) ws.close(1000, 'bench done');
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, timeoutMs))]);
  for (const { ws } of subscribers) ws.terminate();
  return {};
}
