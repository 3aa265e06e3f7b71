/**
 * `npm run bench`: fan-out of tidewire against the servers a user would pick instead, each
 * alone on CPU 0 with the load generator on CPU 1, every scenario in the same run, each figure
 * the median of `--rounds` rounds (the machine is shared and noisy: ratios within one run are
 * what compare). Writes `results/fanout-<date>.md` and a `.json` twin. See bench/README.md.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './lib/machine.mjs';
import { USAGE, readFanoutOptions } from './lib/fanout-options.mjs';
import { toFanoutMarkdown } from './lib/fanout-report.mjs';
import { saveReport } from './lib/report.mjs';
import { runServer } from './lib/fanout-scenarios.mjs';
import { request } from './lib/ipc.mjs';
import { pinToCpu } from './lib/proc.mjs';
import { startServer } from './lib/servers.mjs';

const SERVER_CPU = 0;
const LOAD_CPU = 1;

let options;
try {
  options = readFanoutOptions();
} catch (error) {
  console.error(`${error.message}\n\n${USAGE}`);
  process.exit(2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}

const load = fork(fileURLToPath(new URL('./lib/fanout-load.mjs', import.meta.url)), [], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
await request(load, undefined, 'ready');
// The orchestrator only waits on the others: it shares the load generator's core.
const isPinned = pinToCpu(load.pid, LOAD_CPU) && pinToCpu(process.pid, LOAD_CPU);
if (!isPinned)
  console.error('taskset failed: servers and load share the cores (figures are rough)');

const runs = Object.fromEntries(options.servers.map(({ name }) => [name, []]));
const unavailable = {};
const startedAt = Date.now();
for (let round = 1; round <= options.rounds; round++) {
  for (const server of options.servers) {
    if (unavailable[server.name]) continue;
    const label = `round ${round}/${options.rounds}: ${server.label}`;
    process.stderr.write(`${label} …\n`);
    const started = await startServer(server, SERVER_CPU, LOAD_CPU);
    if (started.unavailable) {
      unavailable[server.name] = started.unavailable;
      console.error(`  skipped: ${started.unavailable}`);
      continue;
    }
    try {
      runs[server.name].push(await runServer(started, load, options));
    } finally {
      await started.stop();
    }
  }
}
load.kill();

const report = {
  date: new Date().toISOString(),
  minutes: (Date.now() - startedAt) / 60_000,
  machine: describeMachine(undefined),
  command: describeFanoutCommand(),
  isPinned,
  options: { ...options, servers: options.servers.map(({ name }) => name) },
  servers: options.servers.map(({ name, label, group, reference }) => ({
    name,
    label,
    group,
    reference: Boolean(reference),
  })),
  unavailable,
  runs,
};
const markdown = toFanoutMarkdown(report);
console.log(markdown);
if (options.save) {
  const paths = saveReport(report, markdown, options.out, 'fanout');
  console.error(`saved ${paths.join(' and ')}`);
}

function describeFanoutCommand(argv = process.argv, env = process.env) {
  const args = argv.slice(2);
  if (env.npm_lifecycle_event === 'bench')
    return `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  return ['node', 'bench/fanout.mjs', ...args].join(' ');
}
