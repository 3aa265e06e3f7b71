/** The machine a run was made on, as the report states it. */
import os from 'node:os';

/** @param redisVersion - of the redis-server the run used, or undefined when none. */
export function describeMachine(redisVersion) {
  return {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    // Not availableParallelism(): the fan-out bench pins its own process to one core.
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: redisVersion ?? null,
  };
}

/** How the run was started: the npm script when it came through npm, and the node command. */
export function describeCommand(argv = process.argv, env = process.env) {
  const args = argv.slice(2);
  const node = ['node', 'bench/broker.mjs', ...args].join(' ');
  if (env.npm_lifecycle_event !== 'bench:broker') return node;
  return `npm run bench:broker${args.length ? ` -- ${args.join(' ')}` : ''}`;
}
