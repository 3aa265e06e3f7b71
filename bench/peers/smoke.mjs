/**
 * Smoke check of the fan-out bench's servers and dialects, in seconds:
 *
 *   npm run build && node bench/peers/smoke.mjs
 *
 * Forks each peer as the orchestrator does, connects 3 subscribers in the peer's dialect,
 * publishes 5 messages in a burst and 5 at 100/s, and checks that every subscriber got
 * i = 0…4 exactly once each time; then asks `stats` and stops the peer. nchan is checked on
 * its WebSocket and its EventSource URL, and skipped with a note when nginx or the module is
 * missing. Then tidewire's own dialects (`tidewire-ws`, `sse`, `long-poll`) against a hub of
 * the built package, in this process. One line per check; exit 1 on any failure, or when the
 * whole run takes more than 20 s.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { connect, readStamp } from '../lib/dialects.mjs';
import { listenLocal, payloadText, stampMillis } from '../lib/peer-ipc.mjs';

const PEERS = ['ws-broadcast', 'ws-framed-once', 'socketio', 'better-sse', 'express-sse', 'nchan'];
const SUBSCRIBERS = 3;
const MESSAGES = 5;
const SIZE = 100;
const RATES = [0, 100];
const WATCHDOG_MS = 20_000;
/** A peer must answer a command (ready, published, stats) within this. */
const ANSWER_TIMEOUT_MS = 5_000;
/** Every delivery of a round must be in within this after `published`. */
const DELIVERY_TIMEOUT_MS = 2_000;
/** After `stop`, a peer must be gone within 2 s (the contract); a little slack for the exit. */
const STOP_TIMEOUT_MS = 2_500;
/** A latency above this means a wrong stamp or clock, not a slow machine. */
const MAX_LATENCY_MS = 5_000;

const children = new Set();
const watchdog = setTimeout(() => {
  console.error(`smoke: not done after ${WATCHDOG_MS} ms; stopping`);
  // SIGTERM first: the nchan wrapper stops its nginx on it.
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(1);
  }, 500);
}, WATCHDOG_MS);

let failures = 0;
for (const name of PEERS) {
  const started = performance.now();
  try {
    const note = await checkPeer(name);
    console.log(line(note.skipped ? 'skip' : 'ok', name, note.text, started));
  } catch (error) {
    failures++;
    console.log(line('FAIL', name, error.message, started));
  }
}
await checkTidewire();
clearTimeout(watchdog);
process.exit(failures > 0 ? 1 : 0);

function line(status, name, text, started) {
  const ms = Math.round(performance.now() - started);
  return `${status.padEnd(4)} ${name.padEnd(22)} ${text} (${ms} ms)`;
}

async function checkPeer(name) {
  const peer = startPeer(name);
  try {
    const ready = await peer.next(['ready', 'unavailable']);
    if (ready.type === 'unavailable') return { skipped: true, text: ready.reason };
    if (!(ready.port > 0) || !ready.url || !ready.dialect || !(ready.pid > 0)) {
      throw new Error(`incomplete ready message: ${JSON.stringify(ready)}`);
    }
    const targets = [[ready.dialect, ready.url]];
    if (ready.sseUrl) targets.push(['sse', ready.sseUrl]);
    const notes = [];
    for (const [dialect, url] of targets) {
      // The payload is the whole message on these wires: its size is checked too.
      const isBare = dialect === 'ws' || dialect === 'sse';
      const group = await connectGroup(dialect, url, isBare);
      try {
        for (const rate of RATES) {
          group.reset();
          peer.child.send({ type: 'publish', count: MESSAGES, rate, size: SIZE });
          const published = await peer.next(['published']);
          if (published.count !== MESSAGES || !(published.ms >= 0)) {
            throw new Error(`bad published message: ${JSON.stringify(published)}`);
          }
          await group.check(`${dialect}, rate ${rate}`);
        }
        peer.child.send({ type: 'stats' });
        const stats = await peer.next(['stats']);
        if (stats.connections !== SUBSCRIBERS && stats.connections !== -1) {
          throw new Error(`${dialect}: stats say ${stats.connections} connections, not 3`);
        }
        if (!(stats.rss > 0)) throw new Error(`stats without rss: ${JSON.stringify(stats)}`);
        notes.push(
          `${dialect}: ${SUBSCRIBERS}×${RATES.length}×${MESSAGES} delivered, ` +
            `connections ${stats.connections}, rss ${(stats.rss / 2 ** 20).toFixed(1)} MiB`,
        );
      } finally {
        await group.close();
      }
    }
    await peer.stop();
    return { text: `pid ${ready.pid}; ${notes.join('; ')}` };
  } finally {
    peer.kill();
  }
}

/** Forks a peer as the orchestrator does; `next(types)` waits for its next such message. */
function startPeer(name) {
  const child = fork(new URL(`./${name}.mjs`, import.meta.url), [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const isAlive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    next(types) {
      return new Promise((resolve, reject) => {
        const done = (settle, value) => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          settle(value);
        };
        const onMessage = (message) => {
          if (types.includes(message?.type)) done(resolve, message);
        };
        const onExit = (code, signal) =>
          done(reject, new Error(`exited (${signal ?? code}) before ${types.join('/')}`));
        const timer = setTimeout(
          () => done(reject, new Error(`no ${types.join('/')} within ${ANSWER_TIMEOUT_MS} ms`)),
          ANSWER_TIMEOUT_MS,
        );
        if (!isAlive()) return onExit(child.exitCode, child.signalCode);
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
    },
    async stop() {
      child.send({ type: 'stop' });
      const timeout = new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS, 'timeout'));
      const result = await Promise.race([exited, timeout]);
      if (result === 'timeout') throw new Error(`still running ${STOP_TIMEOUT_MS} ms after stop`);
      if (result.code !== 0) throw new Error(`exited with ${result.signal ?? result.code} on stop`);
    },
    kill() {
      if (isAlive()) child.kill('SIGKILL');
    },
  };
}

/**
 * `SUBSCRIBERS` connections in one dialect, each recording which `i` it got. `check()` waits
 * until every subscriber has `MESSAGES` stamps (or the deadline) and throws on anything amiss.
 */
async function connectGroup(dialect, url, isBare) {
  const subscribers = Array.from({ length: SUBSCRIBERS }, () => ({
    counts: new Array(MESSAGES).fill(0),
    received: 0,
    problems: [],
    closed: undefined,
  }));
  const record = (subscriber, text) => {
    const stamp = readStamp(text);
    if (!stamp) {
      // tidewire's SSE stream opens with a `subscribed` event: data, but no message.
      if (!text.includes('"channels"')) subscriber.problems.push(`a text with no stamp: ${text}`);
      return;
    }
    const latency = stampMillis() - stamp.t;
    if (!(latency >= 0 && latency < MAX_LATENCY_MS)) {
      subscriber.problems.push(`message ${stamp.i} has a latency of ${latency} ms`);
    }
    if (isBare && text.length !== SIZE) {
      subscriber.problems.push(`message ${stamp.i} is ${text.length} bytes, not ${SIZE}`);
    }
    if (stamp.i >= MESSAGES) subscriber.problems.push(`unexpected message ${stamp.i}`);
    else subscriber.counts[stamp.i]++;
    subscriber.received++;
  };
  const results = await Promise.allSettled(
    subscribers.map((subscriber) =>
      connect(dialect, url, (text) => record(subscriber, text), {
        onClose: (error) => (subscriber.closed = error),
        timeoutMs: ANSWER_TIMEOUT_MS,
      }),
    ),
  );
  const handles = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const close = () => Promise.all(handles.map((handle) => handle.close()));
  const refused = results.find((r) => r.status === 'rejected');
  if (refused) {
    await close();
    throw refused.reason;
  }
  return {
    reset() {
      for (const subscriber of subscribers) {
        subscriber.counts.fill(0);
        subscriber.received = 0;
      }
    },
    async check(label) {
      const deadline = Date.now() + DELIVERY_TIMEOUT_MS;
      while (Date.now() < deadline && subscribers.some((s) => s.received < MESSAGES)) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // A moment more, for a duplicate that would arrive late.
      await new Promise((resolve) => setTimeout(resolve, 20));
      subscribers.forEach((subscriber, index) => {
        const missing = subscriber.counts.flatMap((n, i) => (n === 0 ? [i] : []));
        const repeated = subscriber.counts.flatMap((n, i) => (n > 1 ? [i] : []));
        const faults = [...subscriber.problems];
        if (missing.length > 0) faults.push(`missing i = ${missing.join(', ')}`);
        if (repeated.length > 0) faults.push(`repeated i = ${repeated.join(', ')}`);
        if (subscriber.closed) faults.push(`closed: ${subscriber.closed.message}`);
        if (faults.length > 0) {
          throw new Error(`${label}, subscriber ${index}: ${faults.join('; ')}`);
        }
      });
    },
    close,
  };
}

/** tidewire's dialects against a hub of the built package, in this process. */
async function checkTidewire() {
  let createHub;
  try {
    ({ createHub } = await import('../../dist/server/index.js'));
  } catch (error) {
    failures++;
    console.log(`FAIL tidewire: cannot load dist/server (run npm run build): ${error.message}`);
    return;
  }
  const hub = createHub({ limits: { maxConnectionsPerIp: Infinity } });
  const server = http.createServer();
  hub.attach(server);
  const port = await listenLocal(server);
  await hub.ready;
  const origin = `127.0.0.1:${port}`;
  const targets = [
    ['tidewire-ws', `ws://${origin}/rt/ws`],
    ['sse', `http://${origin}/rt/sse?channel=bench`],
    ['long-poll', `http://${origin}/rt/poll?channel=bench&timeout=25000`],
  ];
  try {
    for (const [dialect, url] of targets) {
      const started = performance.now();
      try {
        const group = await connectGroup(dialect, url, false);
        try {
          for (const rate of RATES) {
            group.reset();
            await publishOnHub(hub, rate);
            await group.check(`${dialect}, rate ${rate}`);
          }
        } finally {
          await group.close();
        }
        const text = `${SUBSCRIBERS}×${RATES.length}×${MESSAGES} delivered from hub.publish()`;
        console.log(line('ok', `tidewire ${dialect}`, text, started));
      } catch (error) {
        failures++;
        console.log(line('FAIL', `tidewire ${dialect}`, error.message, started));
      }
    }
  } finally {
    await hub.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** The peers' load on the hub: the same texts, published as objects, in a burst or paced. */
async function publishOnHub(hub, rate) {
  for (let i = 0; i < MESSAGES; i++) {
    if (rate > 0 && i > 0) await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
    await hub.publish('bench', JSON.parse(payloadText(i, stampMillis(), SIZE)));
  }
}
