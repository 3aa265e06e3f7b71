/**
 * A throwaway `redis-server` for the benchmark: 127.0.0.1, a free port, no persistence, its
 * files in a fresh temp dir; stopped and removed by `close()`, or on process exit whatever
 * the reason (a crash must not leave a Redis behind).
 *
 * The tests have their own launcher (`test/support/redis-server.ts`); this one is plain ESM
 * so that the bench runs on the built package with no TypeScript loader, and it adds the
 * INFO readings the report needs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.mjs';

const START_TIMEOUT_MS = 10_000;

/** Path of `redis-server`, or undefined when it is not on PATH. */
export function findRedisServer() {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout?.trim();
  return found.status === 0 && path ? path : undefined;
}

/**
 * Starts `binary` and resolves once it answers PING.
 *
 * @returns `{ url, version, cpuMicros(), commandStats(), resetStats(), close() }`
 */
export async function startRedisServer(binary) {
  const dir = mkdtempSync(join(tmpdir(), 'tidewire-bench-redis-'));
  const port = await freePort();
  const child = spawn(
    binary,
    // No RDB snapshots, no AOF: the bench measures the broker, not the disk.
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
      ...['--save', '', '--appendonly', 'no'],
      ...['--pidfile', join(dir, 'redis.pid'), '--logfile', join(dir, 'redis.log')],
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const killOnExit = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killOnExit);

  const admin = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectionName: 'tidewire-bench-admin',
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  admin.on('error', () => {}); // a refused connect while it starts; waitUntilAnswering retries

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    admin.disconnect();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, delay(5_000).then(() => child.kill('SIGKILL'))]);
    process.removeListener('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntilAnswering(admin, child);
  } catch (error) {
    await close();
    throw error;
  }
  const info = async (section) => parseInfo(await admin.info(section));
  const { redis_version: version } = await info('server');
  return {
    url: `redis://127.0.0.1:${port}`,
    version,
    /** CPU time of the server (user + system) in µs, for CPU-per-publish figures. */
    async cpuMicros() {
      const cpu = await info('cpu');
      return (Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)) * 1e6;
    },
    /** INFO commandstats as `{ evalsha: { calls, usec }, … }`: time spent inside Redis. */
    async commandStats() {
      const stats = {};
      for (const [key, value] of Object.entries(await info('commandstats'))) {
        if (!key.startsWith('cmdstat_')) continue;
        const fields = Object.fromEntries(value.split(',').map((pair) => pair.split('=')));
        stats[key.slice('cmdstat_'.length)] = {
          calls: Number(fields.calls),
          usec: Number(fields.usec),
        };
      }
      return stats;
    },
    /** Zeroes INFO commandstats, so that a phase reads only its own commands. */
    resetStats: () => admin.config('RESETSTAT'),
    close,
  };
}

function parseInfo(text) {
  const fields = {};
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

async function waitUntilAnswering(admin, child) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      if (admin.status !== 'ready') await admin.connect();
      if ((await admin.ping()) === 'PONG') return;
    } catch {
      admin.disconnect(); // not listening yet: try a fresh connect
    }
    await delay(20);
  }
  throw new Error(`redis-server did not answer within ${START_TIMEOUT_MS} ms`);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
