import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Broker,
  type Hub,
  type HubOptions,
  type Logger,
  TidewireError,
  createHub,
} from '../server/index.js';
import { sendError } from '../server/http-util.js';
import { resolveOrigins } from '../server/options.js';
import type { ConfigSource, LoadedConfig } from './config.js';
import { loadDemoAssets, locatePagesDir } from './demo-assets.js';
import { type DemoRoutes, createDemoRoutes } from './demo-routes.js';
import { trackDashboardState } from './demo-state.js';
import { startDemoTicker } from './demo-ticker.js';
import { reportDrops } from './drop-report.js';
import { limitLogger } from './log-limiter.js';
import type { CliLog } from './log.js';
import { SETTINGS, SETTING_KEYS, type ServeConfig, type SettingKey } from './settings.js';

const HEADERS_TIMEOUT_MS = 10_000;

/** Runs the standalone hub until SIGINT/SIGTERM, then drains and exits. */
export async function serve(loaded: LoadedConfig, log: CliLog, version: string): Promise<void> {
  const { config } = loaded;
  const { logger } = log;
  const hubLogger = limitLogger(logger);
  const hub = createHub(await hubOptions(config, hubLogger));
  // The dashboard is always at `/` (SPEC.md § CLI); `--no-demo` stops only this node's
  // ticker, so that the nodes of a Redis cluster all serve the page and one of them ticks.
  const dashboard = createDashboard(hub, config, logger);
  const server = createServer(hub, dashboard.routes);
  const url = await listen(server, config.port, config.host);
  // SPEC.md § CLI: this plain line is what scripts wait for; everything else is JSON.
  log.line(`listening on ${url}`);
  const { file, sources, warnings } = loaded;
  const summary = { config: describeConfig(config), sources: givenSources(sources) };
  logger.info({ url, version, configFile: file, ...summary }, 'hub started');
  for (const warning of warnings) logger.warn({}, warning);
  if (dashboard.assets.missing.length > 0) {
    const { dir, missing } = dashboard.assets;
    logger.warn(
      { dir, missing },
      'dashboard not built: / answers, its assets 404 (run "npm run build")',
    );
  }
  if (!config.publishToken && !isLoopback(config.host)) {
    // SECURITY.md: an open publish API on a public address lets anyone publish, and make
    // every client reconnect.
    logger.warn(
      { host: config.host },
      'POST /rt/publish and /demo/disconnect-all are open to anyone who can reach this ' +
        'address: set --publish-token',
    );
  }
  if (config.redis) await logBrokerState(hub, config.redis, logger);

  const stopTicker = config.demo ? startDemoTicker(hub.publish.bind(hub), logger) : undefined;
  const stopDropReport = reportDrops(
    () => hub.stats().dropped,
    (fields, message) => logger.warn(fields, message),
  );
  exitOnSignals(logger, async (signal) => {
    const started = Date.now();
    const { connections } = hub.stats();
    logger.info({ signal, connections, windowMs: config.drainWindow }, 'draining');
    stopTicker?.();
    dashboard.state.stop();
    stopDropReport();
    server.close();
    await hub.close({ drainWindowMs: config.drainWindow });
    server.closeAllConnections();
    hubLogger.flush();
    const { dropped } = hub.stats();
    logger.info({ signal, tookMs: Date.now() - started, connections, dropped }, 'stopped');
  });
}

/** The live dashboard: its routes, the built page they serve, the shared view. */
function createDashboard(hub: Hub, config: ServeConfig, logger: Logger) {
  const assets = loadDemoAssets(locatePagesDir());
  const state = trackDashboardState(hub);
  const { basePath, publishToken } = config;
  const access = { origins: resolveOrigins(config.origin), trustProxy: config.trustProxy };
  const routes = createDemoRoutes({ hub, basePath, publishToken, access, assets, state, logger });
  return { assets, state, routes };
}

/** The server: the hub's endpoints, the dashboard's routes, a JSON 404 for the rest. */
function createServer(hub: Hub, demoRoutes: DemoRoutes): http.Server {
  const server = http.createServer({
    // Slowloris: headers within 10 s, checked every second rather than Node's 30 s.
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: 60_000,
    connectionsCheckingInterval: 1000,
  });
  server.on('request', (req, res) => {
    if (demoRoutes(req, res)) return;
    sendError(res, new TidewireError('NOT_FOUND', `no endpoint at ${req.url ?? '/'}`));
  });
  // attach() keeps the listener above for what is not the hub's.
  hub.attach(server);
  return server;
}

/** Listens; resolves with the URL it listens on. */
async function listen(server: http.Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
}

/** Drains on the first SIGINT or SIGTERM, then exits 0; a second signal exits at once with 1. */
function exitOnSignals(logger: CliLog['logger'], drain: (signal: string) => Promise<void>): void {
  let isStopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (isStopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    isStopping = true;
    drain(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The hub's options from the settings (README § `tidewire serve` maps each one). */
async function hubOptions(config: ServeConfig, logger: Logger): Promise<HubOptions> {
  const history = { maxCount: config.historySize, maxAgeMs: config.historyAge };
  return {
    basePath: config.basePath,
    publishToken: config.publishToken,
    history,
    broker: config.redis
      ? await redisBrokerFor(config.redis, config.redisPrefix, history)
      : undefined,
    origins: config.origin,
    trustProxy: config.trustProxy,
    limits: {
      maxMessageBytes: config.maxMessageBytes,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      maxSubscriptionsPerConnection: config.maxSubscriptions,
      idleTimeoutMs: config.idleTimeout,
      maxBufferedBytes: config.maxBufferedBytes,
      maxMessagesPerSecond: config.rateLimit,
      maxRequestsPerSecondPerIp: config.ipRateLimit,
    },
    wsPingIntervalMs: config.heartbeat,
    sseHeartbeatMs: config.heartbeat,
    metrics: config.metrics,
    metricsToken: config.metricsToken,
    drainWindowMs: config.drainWindow,
    logger,
  };
}

async function logBrokerState(hub: Hub, redisUrl: string, logger: CliLog['logger']) {
  await hub.ready;
  const redis = redactUrl(redisUrl);
  // The hub logs later changes itself ("broker available", "broker unavailable").
  if (hub.stats().broker === 'available') logger.info({ redis }, 'redis connected');
  else logger.warn({ redis }, 'redis unreachable, retrying');
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

/** The settings as logged at start: secrets replaced, a Redis URL without its password. */
function describeConfig(config: ServeConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const value = config[key];
    if (value === undefined) continue;
    if (key === 'redis') shown[key] = redactUrl(value as string);
    else shown[key] = SETTINGS[key].isSecret ? '[redacted]' : value;
  }
  return shown;
}

/** Which settings were given, and how: the defaults go without saying. */
function givenSources(
  sources: Readonly<Record<SettingKey, ConfigSource>>,
): Partial<Record<SettingKey, ConfigSource>> {
  return Object.fromEntries(Object.entries(sources).filter(([, source]) => source !== 'default'));
}

/** The URL without its password. */
function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Whether `host` only accepts connections from this machine. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
