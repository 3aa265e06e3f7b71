/**
 * The bench's side of the hub process: forks `bench-hub.js`, waits until it listens, asks it
 * for stats and publishes over IPC, and makes sure it never outlives the run.
 *
 * @module
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HubMessage, HubRequest, HubStats, PublishDone } from './hub-ipc.js';

/** How long the hub process may take to listen. */
const READY_TIMEOUT_MS = 15_000;
/** How much of the hub's stderr an error message quotes. */
const STDERR_TAIL = 2000;

/** A running hub process. */
export interface HubChild {
  /** `http://127.0.0.1:<port>`: the hub's origin, what `createClient` takes. */
  readonly url: string;
  /** Counters since the process started; `gc` runs a full GC first (for memory readings). */
  stats(gc: boolean): Promise<HubStats>;
  /** Publishes `count` messages at `rate`; resolves once the last one was handed to the hub. */
  publish(count: number, rate: number, sizeBytes: number): Promise<PublishDone>;
  /** Ends the process and resolves once it exited. */
  stop(): Promise<void>;
}

type Pending = { resolve(value: unknown): void; reject(error: Error): void };
type Request =
  { op: 'stats'; gc: boolean } | { op: 'publish'; count: number; rate: number; sizeBytes: number };

/**
 * Forks the hub process at `script` for a run of `messages` messages (its history keeps them
 * all) and resolves once it listens.
 */
export async function startHubChild(script: URL, messages: number): Promise<HubChild> {
  // --expose-gc: memory is read after a full GC, so that per-connection figures do not
  // depend on when V8 last collected.
  const child = fork(fileURLToPath(script), [String(messages)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  // Whatever ends the bench (an error, Ctrl-C), the hub goes too; the hub also exits on its
  // own when the IPC channel closes, which covers a bench killed with SIGKILL.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, Pending>();
  let nextId = 1;
  const portOrFailure = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(failure(`the hub process did not listen within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    child.on('message', (message: HubMessage) => {
      if (message.kind === 'ready') {
        clearTimeout(timer);
        resolve(message.port);
      } else {
        const request = pending.get(message.id);
        pending.delete(message.id);
        if (message.kind === 'reply') request?.resolve(message.result);
        else request?.reject(new Error(`hub process: ${message.message}`));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const error = failure(`the hub process exited (${signal ?? `code ${code}`})`);
      reject(error);
      for (const request of pending.values()) request.reject(error);
      pending.clear();
    });
  });
  function failure(message: string): Error {
    const tail = stderr.trim();
    return new Error(tail ? `${message}:\n${tail}` : message);
  }
  function request(body: Request): Promise<unknown> {
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.reject(failure('the hub process is gone'));
    }
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ id, ...body } satisfies HubRequest);
    });
  }
  let port: number;
  try {
    port = await portOrFailure;
  } catch (error) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    stats: (gc) => request({ op: 'stats', gc }) as Promise<HubStats>,
    publish: (count, rate, sizeBytes) =>
      request({ op: 'publish', count, rate, sizeBytes }) as Promise<PublishDone>,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
