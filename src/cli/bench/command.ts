/**
 * `tidewire bench`: the command, its flags and their help. The work is in `run.ts`.
 *
 * @module
 */
import type { Command } from 'commander';
import {
  type BenchFlags,
  DEFAULTS,
  LIMITS,
  QUICK,
  integerIn,
  parseTransports,
  positiveUpTo,
  resolveSettings,
} from './options.js';
import { createProgress } from './progress.js';
import { runBench } from './run.js';

// Resolved from this file's place in the build, `dist/cli/index.js`: keep this module imported
// by the CLI entry alone, so that tsup never moves it into a shared chunk elsewhere in dist/.
const HUB_SCRIPT = new URL('./bench-hub.js', import.meta.url);
const REPORT_SCRIPT = new URL('../pages/bench-report.js', import.meta.url);

/** Adds `bench` to the `tidewire` program. */
export function addBenchCommand(program: Command, version: string): void {
  program
    .command('bench')
    .description(
      'measure the four transports side by side against a local hub: deliveries/s, latency ' +
        "percentiles, bytes and HTTP requests per delivered message, the hub's CPU and memory " +
        'per connection. Prints a Markdown table and writes an HTML report with charts.',
    )
    .option(
      '--clients <n>',
      `clients per transport (default ${DEFAULTS.clients}; --quick ${QUICK.clients})`,
      integerIn(1, LIMITS.clients),
    )
    .option(
      '--rate <msgs/s>',
      `messages published per second (default ${DEFAULTS.rate}, --quick too)`,
      positiveUpTo(LIMITS.rate),
    )
    .option(
      '--duration <seconds>',
      `seconds of publishing per transport (default ${DEFAULTS.durationSeconds}; --quick ${QUICK.durationSeconds})`,
      positiveUpTo(LIMITS.durationSeconds),
    )
    .option(
      '--size <bytes>',
      `bytes of each message's data as JSON (default ${DEFAULTS.sizeBytes})`,
      integerIn(LIMITS.minSizeBytes, LIMITS.sizeBytes),
    )
    .option(
      '--transports <list>',
      'comma-separated, run in this order (default websocket,sse,long-polling,polling)',
      parseTransports,
    )
    .option(
      '--poll-interval <ms>',
      `pause between short polls (default ${DEFAULTS.pollIntervalMs}, as the client's)`,
      integerIn(1, 600_000),
    )
    .option(
      '--quick',
      `a short run for CI: ${QUICK.clients} clients, ${QUICK.durationSeconds} s per transport`,
    )
    .option('--out <file>', 'the HTML report', 'bench-report.html')
    .option('--json <file>', 'also write every figure as JSON')
    .action(async (flags: BenchFlags) => {
      process.exitCode = await runBench({
        settings: resolveSettings(flags),
        out: flags.out,
        json: flags.json,
        command: commandLine(process.argv.slice(2)),
        version,
        hubScript: HUB_SCRIPT,
        reportScript: REPORT_SCRIPT,
        progress: createProgress(process.stderr),
        print: (text) => process.stdout.write(text),
        note: (text) => process.stderr.write(`${text}\n`),
      });
    });
}

/** `tidewire bench --quick`, with arguments quoted where a shell would need it. */
function commandLine(args: readonly string[]): string {
  const quoted = args.map((arg) =>
    /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`,
  );
  return ['tidewire', ...quoted].join(' ');
}
