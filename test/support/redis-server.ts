import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real `redis-server` for the tests, on 127.0.0.1 and a free port, started and stopped by
 * the test that uses it. Stop and start again keep the port, so that the nodes' clients
 * reconnect to the same address, as they would to a restarted Redis.
 *
 * Where `redis-server` is not installed the Redis suites are skipped, and say so; with
 * `TIDEWIRE_REQUIRE_REDIS=1` (set by `.ci/run`) they fail instead, so that CI skips nothing.
 */

/** The binary, or undefined when this machine has none. */
export const redisServerPath: string | undefined = findRedisServer();

/** Why the Redis suites are skipped here, or undefined when they run. */
export const redisSkipReason: string | undefined = redisServerPath
  ? undefined
  : 'Redis tests skipped: redis-server is not installed here (apt-get install -y redis-server)';

if (!redisServerPath && process.env.TIDEWIRE_REQUIRE_REDIS === '1') {
  throw new Error('TIDEWIRE_REQUIRE_REDIS=1 but redis-server is not on PATH');
}

export interface RedisServerOptions {
  /**
   * Keep data across `stop()`/`start()` (append-only file, fsync on every write), as a
   * production Redis with persistence does. Default false: a restart is an empty Redis.
   */
  readonly persistent?: boolean;
}

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly isRunning: boolean;
  /** Starts it again on the same port (after `stop()`). */
  start(): Promise<void>;
  /** Shuts it down (SIGTERM) and waits for the process to exit; the port stays reserved for it. */
  stop(): Promise<void>;
  /** Runs `redis-cli`-like commands through a fresh connection (for CLIENT KILL, FLUSHALL…). */
  command(...args: string[]): Promise<string>;
  /** Stops it and removes its files; idempotent. */
  close(): Promise<void>;
}

/** Starts a `redis-server` on 127.0.0.1 and a free port. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  if (!redisServerPath) throw new Error(redisSkipReason);
  const binary = redisServerPath;
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const args = () => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--pidfile',
    join(dir, 'redis.pid'),
    '--save',
    '',
    '--appendonly',
    options.persistent ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--logfile',
    join(dir, 'redis.log'),
  ];

  const launch = async (): Promise<void> => {
    const process_ = spawn(binary, args(), { stdio: 'ignore' });
    child = process_;
    exited = new Promise((resolve) => process_.once('exit', () => resolve()));
    await waitUntilAnswering(port, process_);
  };

  // Another process may take the port between freePort() and the launch: try a few.
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      child?.kill('SIGKILL');
      await exited;
      if (attempt >= 3) throw error;
      port = await freePort();
    }
  }

  const server: RedisServer = {
    port,
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get isRunning() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      if (server.isRunning) return;
      await launch();
    },
    async stop() {
      if (!server.isRunning) return;
      child?.kill('SIGTERM');
      await exited;
    },
    command: (...commandArgs) => sendCommand(port, commandArgs),
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

function findRedisServer(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout?.trim();
  return found.status === 0 && path ? path : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswering(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      if ((await sendCommand(port, ['PING'])) === 'PONG') return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server did not answer on port ${port} within 10 s`);
}

/**
 * Sends one command in RESP and returns the first reply line's text (`+OK` → `OK`, `:3` →
 * `3`, a bulk string's content). Enough for the few admin commands tests send.
 */
function sendCommand(port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const request =
      `*${args.length}\r\n` +
      args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('');
    let reply = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('redis command timed out')));
    socket.once('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const parsed = parseReply(reply);
      if (parsed === undefined) return;
      socket.end();
      if (parsed instanceof Error) reject(parsed);
      else resolve(parsed);
    });
    socket.write(request);
  });
}

function parseReply(text: string): string | Error | undefined {
  const end = text.indexOf('\r\n');
  if (end < 0) return undefined;
  const head = text.slice(1, end);
  switch (text[0]) {
    case '+':
    case ':':
      return head;
    case '-':
      return new Error(head);
    case '$': {
      const length = Number(head);
      if (length < 0) return '';
      const body = text.slice(end + 2);
      return Buffer.byteLength(body) >= length + 2 ? body.slice(0, length) : undefined;
    }
    default:
      return head;
  }
}
