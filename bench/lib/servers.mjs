/**
 * The servers a fan-out run compares, and how to start one: forked with `--expose-gc` (so that
 * memory per connection is read after a full collection), pinned to the server's core, ready
 * when it says so. Each speaks the contract of `peer-protocol.mjs`.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from './ipc.mjs';
import { cpuSeconds, pinToCpu, rssBytes } from './proc.mjs';

const bench = (path) => fileURLToPath(new URL(`../${path}`, import.meta.url));

/**
 * `group` is the table a server's row goes in; `reference` marks the row the group's ratios
 * are taken against. `transport` picks the URL and dialect from the server's `ready`.
 */
export const SERVERS = [
  {
    name: 'tidewire-ws',
    label: 'tidewire (WebSocket)',
    group: 'websocket',
    file: bench('servers/tidewire.mjs'),
    transport: 'ws',
  },
  {
    name: 'ws-framed-once',
    label: 'ws, frame built once',
    group: 'websocket',
    file: bench('peers/ws-framed-once.mjs'),
    transport: 'ws',
    reference: true,
  },
  {
    name: 'ws',
    label: 'ws broadcast',
    group: 'websocket',
    file: bench('peers/ws-broadcast.mjs'),
    transport: 'ws',
  },
  {
    name: 'socketio',
    label: 'Socket.IO 4',
    group: 'websocket',
    file: bench('peers/socketio.mjs'),
    transport: 'ws',
  },
  {
    name: 'nchan-ws',
    label: 'Nchan (nginx)',
    group: 'websocket',
    file: bench('peers/nchan.mjs'),
    transport: 'ws',
  },
  {
    name: 'tidewire-sse',
    label: 'tidewire (SSE)',
    group: 'sse',
    file: bench('servers/tidewire.mjs'),
    transport: 'sse',
  },
  {
    name: 'better-sse',
    label: 'better-sse',
    group: 'sse',
    file: bench('peers/better-sse.mjs'),
    transport: 'sse',
    reference: true,
  },
  {
    name: 'express-sse',
    label: 'express-sse',
    group: 'sse',
    file: bench('peers/express-sse.mjs'),
    transport: 'sse',
  },
  {
    name: 'nchan-sse',
    label: 'Nchan (nginx)',
    group: 'sse',
    file: bench('peers/nchan.mjs'),
    transport: 'sse',
  },
  {
    name: 'tidewire-long-poll',
    label: 'tidewire (long polling)',
    group: 'long-polling',
    file: bench('servers/tidewire.mjs'),
    transport: 'long-poll',
    reference: true,
  },
];

/**
 * Starts `server` on core `cpu` (anything of it that is load, on `loadCpu`). Resolves with a handle, or with `{ unavailable: reason }`
 * when the server cannot run here (nginx missing).
 */
export async function startServer(server, cpu, loadCpu) {
  const child = fork(server.file, [], {
    // BENCH_SERVER_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the servers.
    execArgv: [
      '--expose-gc',
      ...(process.env.BENCH_SERVER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []),
    ],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${server.name} exited (${code}) before ready`)));
    child.on('message', (message) => {
      if (message?.type === 'ready' || message?.type === 'unavailable') resolve(message);
    });
  });
  child.removeAllListeners('exit');
  if (ready.type === 'unavailable') return { unavailable: ready.reason };
  // The measured process: nginx's worker for Nchan, else the forked server itself. Nchan's
  // wrapper only publishes (over HTTP, as an application's backend would): it goes with the
  // load, so that it does not take the core of the server it measures.
  const pid = ready.pid ?? child.pid;
  const onServerCore = ready.masterPid ? [ready.masterPid, pid] : [pid];
  const pinned =
    onServerCore.every((p) => pinToCpu(p, cpu)) &&
    (!ready.masterPid || pinToCpu(child.pid, loadCpu));
  const { url, dialect } = pickEndpoint(server, ready);
  return {
    url,
    dialect,
    pinned,
    cpuSeconds: () => cpuSeconds(pid),
    rss: () => rssBytes(pid),
    publish: ({ count, rate, size }) =>
      request(child, { type: 'publish', count, rate, size }, 'published', 600_000),
    stats: () => request(child, { type: 'stats' }, 'stats'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

function pickEndpoint(server, ready) {
  switch (server.transport) {
    case 'sse':
      return { url: ready.sseUrl ?? ready.url, dialect: 'sse' };
    case 'long-poll':
      return { url: ready.pollUrl, dialect: 'long-poll' };
    default:
      return { url: ready.url, dialect: ready.dialect };
  }
}
