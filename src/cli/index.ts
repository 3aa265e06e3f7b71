/**
 * The `tidewire` command: `tidewire serve` runs the standalone hub.
 *
 * @module
 */
import { Command, InvalidArgumentError } from 'commander';
import { serve } from './serve.js';

function integer(name: string, min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      throw new InvalidArgumentError(`${name} must be an integer of at least ${min}`);
    }
    return value;
  };
}

const program = new Command('tidewire').description(
  'Real-time server push: one hub over WebSocket, SSE, long and short polling.',
);

program
  .command('serve')
  .description('run the standalone hub, with the demo page at /')
  .option('-p, --port <port>', 'port to listen on (0 picks a free one)', integer('port', 0), 8080)
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('--base-path <path>', 'path prefix of the endpoints', '/rt')
  .option(
    '--publish-token <token>',
    'bearer token that POST /rt/publish/:channel requires (env TIDEWIRE_PUBLISH_TOKEN)',
  )
  .option(
    '--redis <url>',
    'run as one node of many on this Redis, e.g. redis://127.0.0.1:6379 (env TIDEWIRE_REDIS_URL)',
  )
  .option('--redis-prefix <prefix>', 'prefix of the Redis keys and channels', 'tidewire:')
  .option('--history-size <n>', 'envelopes kept per channel', integer('history size', 1), 1000)
  .option(
    '--history-age <ms>',
    'age of the oldest envelope kept, in ms',
    integer('history age', 1),
    300_000,
  )
  .option(
    '--drain-window <ms>',
    'on SIGTERM, spread closing connections over this many ms',
    integer('drain window', 0),
    5000,
  )
  .option('--no-demo', 'do not publish the demo ticker on channel "demo"')
  .action(async (options: ServeFlags) => {
    await serve({
      port: options.port,
      host: options.host,
      basePath: options.basePath,
      publishToken: options.publishToken ?? process.env.TIDEWIRE_PUBLISH_TOKEN,
      redisUrl: options.redis ?? (process.env.TIDEWIRE_REDIS_URL || undefined),
      redisPrefix: options.redisPrefix,
      historySize: options.historySize,
      historyAgeMs: options.historyAge,
      drainWindowMs: options.drainWindow,
      demo: options.demo,
    });
  });

interface ServeFlags {
  port: number;
  host: string;
  basePath: string;
  publishToken?: string;
  redis?: string;
  redisPrefix: string;
  historySize: number;
  historyAge: number;
  drainWindow: number;
  demo: boolean;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
