/**
 * The bench's side of the subscriber process (`subscriber-process.mjs`): forks it, sends it
 * commands over IPC and gives each one a deadline, so that a stuck child fails the run
 * instead of hanging it.
 */
import { fork } from 'node:child_process';

const CHILD = new URL('./subscriber-process.mjs', import.meta.url);

/**
 * Forks the subscriber process.
 *
 * @returns `{ connect, start, collect, close }`, each resolving with the child's answer.
 */
export function startSubscribers() {
  const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 0;
  let exitError;

  child.on('message', ({ id, result, error }) => {
    const request = pending.get(id);
    if (!request) return;
    pending.delete(id);
    clearTimeout(request.timer);
    if (error === undefined) request.resolve(result);
    else request.reject(new Error(`subscriber process: ${error}`));
  });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitError = new Error(`subscriber process exited (${signal ?? code})`);
      for (const request of pending.values()) {
        clearTimeout(request.timer);
        request.reject(exitError);
      }
      pending.clear();
      resolve();
    });
  });

  const request = (op, args, timeoutMs) => {
    if (exitError) return Promise.reject(exitError);
    return new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`subscriber process: no answer to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      child.send({ id, op, ...args });
    });
  };

  return {
    /** Opens `count` WebSockets to `url`, each subscribed to `channel`. */
    connect: ({ url, count, channel }) => {
      // Generous: a handshake and a subscribe each take well under a millisecond here.
      const timeoutMs = 10_000 + count * 20;
      return request('connect', { url, count, channel, timeoutMs }, timeoutMs + 1_000);
    },
    /** Counts deliveries of phase `phaseId` (messages `0 … messages-1`) from now on. */
    start: ({ phaseId, messages }) => request('start', { phaseId, messages }, 5_000),
    /**
     * Waits until the phase is complete, or quiet for `quietMs`, or `timeoutMs` passed; then
     * returns its figures (see `collect` in the child).
     */
    collect: ({ quietMs, timeoutMs }) =>
      request('collect', { quietMs, timeoutMs }, timeoutMs + 5_000),
    /** Closes the sockets and ends the process; idempotent. */
    async close() {
      if (!exitError) {
        await request('close', { timeoutMs: 2_000 }, 3_000).catch(() => {});
        child.disconnect();
      }
      const killed = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(killed);
    },
  };
}
