import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Broker, type Logger, TidewireError, createHub } from '../server/index.js';
import { sendError } from '../server/http-util.js';
import { demoPage } from './demo-page.js';

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly basePath: string;
  readonly publishToken: string | undefined;
  /** Run as one node of many on this Redis; in memory when undefined. */
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string;
  readonly historySize: number;
  readonly historyAgeMs: number;
  readonly drainWindowMs: number;
  /** Publish a tick on channel `demo` every second, for the demo page. */
  readonly demo: boolean;
}

const HEADERS_TIMEOUT_MS = 10_000;

/** Runs the standalone hub until SIGINT/SIGTERM, then drains and exits. */
export async function serve(options: ServeOptions): Promise<void> {
  const history = { maxCount: options.historySize, maxAgeMs: options.historyAgeMs };
  const hub = createHub({
    basePath: options.basePath,
    publishToken: options.publishToken,
    history,
    broker: options.redisUrl
      ? await redisBrokerFor(options.redisUrl, options.redisPrefix, history)
      : undefined,
    logger: cliLogger,
  });
  const server = http.createServer({
    // Slowloris: headers within 10 s, checked every second rather than Node's 30 s.
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: 60_000,
    connectionsCheckingInterval: 1000,
  });
  const page = demoPage(options.basePath);
  server.on('request', (req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url?.startsWith('/?'))) {
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-cache',
      });
      res.end(page);
      return;
    }
    sendError(res, new TidewireError('NOT_FOUND', `no endpoint at ${req.url ?? '/'}`));
  });
  // attach() keeps the page listener above for what is not the hub's.
  hub.attach(server, { basePath: options.basePath });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  console.log(`listening on http://${shownHost}:${port}`);
  if (options.redisUrl) {
    await hub.ready;
    const state = hub.stats().broker === 'available' ? 'connected' : 'unreachable, retrying';
    console.log(`broker: redis at ${redactUrl(options.redisUrl)} (${state})`);
  }

  const ticker = options.demo ? startDemoTicker(hub.publish.bind(hub)) : undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      console.log(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    const { websocket, sse } = hub.stats().connections;
    console.log(`${signal}: draining ${websocket + sse} streams over ${options.drainWindowMs} ms`);
    clearInterval(ticker);
    server.close();
    await hub.close({ drainWindowMs: options.drainWindowMs });
    server.closeAllConnections();
    console.log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Loads the Redis broker only when asked for: a memory-only server never loads ioredis. */
async function redisBrokerFor(
  url: string,
  prefix: string,
  history: { maxCount: number; maxAgeMs: number },
): Promise<Broker> {
  const { redisBroker } = await import('../brokers/redis.js');
  return redisBroker({ url, prefix, ...history });
}

/** The URL without its password, for the console. */
function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

function describeFields(object: object): string {
  const fields = Object.entries(object).map(([key, value]) =>
    value instanceof Error ? `${key}=${value.message}` : `${key}=${String(value)}`,
  );
  return fields.length > 0 ? ` (${fields.join(', ')})` : '';
}

/** The standalone server says what happens to it, info included (a library stays quiet). */
const cliLogger: Logger = {
  info: (object, message = '') => console.log(`[tidewire] ${message}${describeFields(object)}`),
  warn: (object, message = '') => console.warn(`[tidewire] ${message}${describeFields(object)}`),
  error: (object, message = '') => console.error(`[tidewire] ${message}${describeFields(object)}`),
};

function startDemoTicker(
  publish: (channel: string, data: unknown, options: { event: string }) => Promise<unknown>,
): ReturnType<typeof setInterval> {
  let n = 0;
  let price = 100;
  // One line when ticks start failing (the broker is away) and one when they resume, not one
  // a second.
  let isFailing = false;
  return setInterval(() => {
    n += 1;
    price = Math.max(1, price + (Math.random() - 0.5) * 2);
    publish(
      'demo',
      { n, price: Math.round(price * 100) / 100, sentAt: Date.now() },
      { event: 'tick' },
    ).then(
      () => {
        if (isFailing) console.log('demo ticker: publishing again');
        isFailing = false;
      },
      (error: unknown) => {
        if (!isFailing) {
          console.error(
            `demo ticker: publish failed (${(error as Error).message}); retrying every second`,
          );
        }
        isFailing = true;
      },
    );
  }, 1000);
}
