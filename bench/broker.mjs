#!/usr/bin/env node
/**
 * `npm run bench:broker`: publish-to-deliver latency and throughput of the hub on the in-memory
 * broker and on Redis, side by side (one real redis-server, started and removed here).
 *
 * Scenarios (bench/lib/nodes.mjs): one node in memory; two nodes on one Redis, subscribers on
 * one and publishes on the other; one node on Redis. Each runs a warm-up, a paced latency run
 * and a throughput run against WebSocket subscribers in a child process
 * (bench/lib/subscriber-process.mjs). The report goes to stdout and to
 * bench/results/broker-<date>.md with a JSON twin. Exits 1 when any delivery was lost,
 * repeated or reordered. `--help` lists the options.
 *
 * Runs on the built package (`tidewire/server`, `tidewire/redis`): build first, as the npm
 * script does.
 */
import { SCENARIOS } from './lib/nodes.mjs';
import { describeCommand, describeMachine } from './lib/machine.mjs';
import { USAGE, readOptions } from './lib/options.mjs';
import { findRedisServer, startRedisServer } from './lib/redis-server.mjs';
import { listFaults, saveReport, toMarkdown } from './lib/report.mjs';
import { runScenario } from './lib/run-scenario.mjs';

/** A run that takes this long is stuck: it stops and cleans up rather than hang. */
const WATCHDOG_MS = 15 * 60_000;

const cleanups = [];
const cleanUp = async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
};

async function main() {
  let options;
  try {
    options = readOptions();
  } catch (error) {
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const { redis, skipReason } = await startRedisIfNeeded(options.scenarios);
  if (redis) cleanups.push(() => redis.close());

  const report = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    command: describeCommand(),
    machine: describeMachine(redis?.version),
    options: { ...options, help: undefined },
    scenarios: [],
    skipped: [],
  };
  for (const name of options.scenarios) {
    const scenario = SCENARIOS[name];
    if (scenario.isRedis && !redis) {
      report.skipped.push({ name, label: scenario.label, reason: skipReason });
      continue;
    }
    console.error(`… ${scenario.label}: ${scenario.describe}`);
    report.scenarios.push(await runScenario(name, scenario, { options, redis }));
  }

  const markdown = toMarkdown(report);
  console.log(markdown);
  if (options.save) {
    for (const path of saveReport(report, markdown, options.out)) console.error(`wrote ${path}`);
  }
  const faults = listFaults(report);
  if (faults.length > 0) {
    console.error(`delivery faults (each must be 0):\n  ${faults.join('\n  ')}`);
    return 1;
  }
  return 0;
}

async function startRedisIfNeeded(scenarios) {
  if (!scenarios.some((name) => SCENARIOS[name].isRedis)) return {};
  const binary = findRedisServer();
  if (!binary) {
    const skipReason = 'redis-server is not installed (apt-get install -y redis-server)';
    console.error(`${skipReason}: running the in-memory broker only.`);
    return { skipReason };
  }
  return { redis: await startRedisServer(binary) };
}

const watchdog = setTimeout(() => {
  console.error(`the bench did not finish within ${WATCHDOG_MS / 60_000} minutes: stopping`);
  void cleanUp().finally(() => process.exit(1));
}, WATCHDOG_MS);
watchdog.unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  });
}

main()
  .catch((error) => {
    console.error(error);
    return 1;
  })
  .then(async (code) => {
    await cleanUp();
    // Exit even if a failed scenario left a socket or a Redis client open: the bench stops
    // by itself, it never waits for the watchdog.
    process.exit(code);
  });
