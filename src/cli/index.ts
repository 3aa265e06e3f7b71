/**
 * The `tidewire` command: `tidewire serve` runs the standalone hub, configured by flags,
 * `TIDEWIRE_*` environment variables and a JSON config file (README § `tidewire serve`);
 * `tidewire bench` measures the four transports against a local hub (`bench/command.ts`).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { addBenchCommand } from './bench/command.js';
import { ConfigError, loadConfig } from './config.js';
import { type CliLog, createCliLog } from './log.js';
import { serve } from './serve.js';
import { CONFIG_ENV, SETTINGS, SETTING_KEYS, type Setting } from './settings.js';

/** From `dist/cli/` (the bin) and `src/cli/` alike, the package root is two levels up. */
function readVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** The flags of one setting; commander leaves a flag not given undefined (no defaults here). */
function addFlags(command: Command, setting: Setting<unknown>): void {
  const help = `${setting.help} (env ${setting.env}; default ${setting.shownDefault})`;
  if (setting.kind === 'toggle') {
    const name = setting.flags.slice(2);
    command.addOption(new Option(setting.flags, help));
    command.addOption(new Option(`--no-${name}`, `the opposite of --${name}`));
    return;
  }
  const option = new Option(setting.flags, help);
  if (setting.kind === 'list') {
    // Repeatable: every occurrence adds to the list.
    option.argParser((text: string, previous: unknown) => [
      ...(Array.isArray(previous) ? previous : []),
      ...(setting.fromText(text) as unknown[]),
    ]);
  } else {
    option.argParser((text: string) => setting.fromText(text));
  }
  command.addOption(option);
}

const version = readVersion();
const program = new Command('tidewire')
  .description('Real-time server push: one hub over WebSocket, SSE, long and short polling.')
  .version(version);

const serveCommand = program
  .command('serve')
  .description(
    'run the standalone hub, with the demo page at /. Precedence: flags, then environment ' +
      'variables, then the config file, then defaults.',
  )
  .option('-c, --config <file>', `JSON config file, keys as in README (env ${CONFIG_ENV})`);
for (const key of SETTING_KEYS) addFlags(serveCommand, SETTINGS[key]);

let log: CliLog | undefined;
serveCommand.action(async (flags: Record<string, unknown>) => {
  const loaded = loadConfig({ flags, env: process.env });
  log = createCliLog(loaded.config.logLevel);
  logCrashes(log);
  await serve(loaded, log, version);
});

addBenchCommand(program, version);

/** An error nobody caught ends the process, as Node would, but as a JSON line first. */
function logCrashes({ logger }: CliLog): void {
  const crash = (error: unknown, message: string) => {
    logger.fatal({ err: error }, message);
    process.exit(1);
  };
  process.on('uncaughtException', (error) => crash(error, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => crash(reason, 'unhandled rejection'));
}

program.parseAsync(process.argv).catch((error: unknown) => {
  if (log && !(error instanceof ConfigError)) {
    log.logger.fatal({ err: error }, 'could not start');
  } else {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
});
