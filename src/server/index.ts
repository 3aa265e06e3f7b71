/**
 * `tidewire/server`: the hub. One pub/sub hub served over WebSocket, SSE, long polling and
 * short polling, with per-channel history so that every client can resume.
 *
 * @example
 * import http from 'node:http';
 * import { createHub } from 'tidewire/server';
 *
 * const hub = createHub();
 * const server = http.createServer();
 * hub.attach(server); // /rt/ws, /rt/sse, /rt/poll, /rt/send, /rt/publish/:channel, /health, /metrics
 * server.listen(8080);
 * await hub.publish('prices', { symbol: 'ACME', price: 12.5 }, { event: 'tick' });
 *
 * @module
 */
import type { Server } from 'node:http';
import { MemoryBroker } from '../brokers/memory.js';
import { HubCore, type MessageListener, type TransportName } from '../core/hub.js';
import { assertChannel } from '../protocol/channel.js';
import { CloseCode } from '../protocol/codes.js';
import type { Envelope } from '../protocol/envelope.js';
import { normalizeEvent } from '../protocol/envelope.js';
import { TidewireError } from '../protocol/errors.js';
import { PollingTransport } from '../transports/polling.js';
import { SseTransport } from '../transports/sse.js';
import { WebSocketTransport } from '../transports/websocket.js';
import { ConnectionRegistry } from './connections.js';
import { type DropReason, HubCounters } from './counters.js';
import { AccessControl } from './access.js';
import { type RequestHandler, attachToServer, createRequestHandler } from './http.js';
import { sendError } from './http-util.js';
import { consoleLogger } from './logger.js';
import { HubMetrics } from './metrics.js';
import { type HubOptions, normalizeBasePath, resolveOptions } from './options.js';
import { PublishApi } from './publish-api.js';

export interface PublishOptions {
  /** The envelope's event name. Default `message`. */
  readonly event?: string;
}

export interface AttachOptions {
  /** Path prefix of the endpoints. Default: the hub's `basePath` (`/rt`). */
  readonly basePath?: string;
}

export interface CloseOptions {
  /**
   * Window over which connections are closed, in ms, so that clients do not all reconnect
   * at the same instant. Default: the hub's `drainWindowMs` (0).
   */
  readonly drainWindowMs?: number;
}

export interface DisconnectAllOptions {
  /**
   * Window over which connections are closed, in ms, each at a random instant within it, so
   * that clients do not all reconnect at the same instant. Default 0: all at once.
   */
  readonly windowMs?: number;
}

export interface HubStats {
  /** Open connections (held polls included) per transport. */
  readonly connections: Record<TransportName, number>;
  /** Channels with at least one subscriber on this node. */
  readonly channels: number;
  /** Whether the broker can publish and read now (`/health` answers 503 while it cannot). */
  readonly broker: 'available' | 'unavailable';
  /** Requests refused and connections closed by the hub since it started, by reason. */
  readonly dropped: Readonly<Partial<Record<DropReason, number>>>;
}

/** The hub: publish, receive what clients send, serve the endpoints, drain. */
export interface Hub {
  /**
   * Publishes `data` (JSON, or bytes as a `Uint8Array`) on `channel`. Resolves with the
   * envelope once it is in history: any later poll or resume includes it.
   */
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<Envelope>;
  /** Listens to what clients publish; returns a function that removes the listener. */
  onMessage(listener: MessageListener): () => void;
  /** A `(req, res, next?)` handler for Node http, Express, Connect, Fastify's raw mode. */
  handler(options?: AttachOptions): RequestHandler;
  /** Serves every endpoint, WebSocket upgrades included, on an existing http(s) server. */
  attach(server: Server, options?: AttachOptions): void;
  stats(): HubStats;
  /**
   * The Prometheus text that `GET /metrics` answers (content type
   * `text/plain; version=0.0.4; charset=utf-8`), for an app that serves it elsewhere.
   */
  metrics(): Promise<string>;
  /**
   * Closes every open connection the way a restart asks clients to come back, while the hub
   * stays up: WebSockets with 1012 (reconnect) and the reason "disconnected by the server",
   * SSE streams ended with a jittered `retry:`, held polls answered at once. Clients reconnect
   * at once or after their backoff, and resume from history: nothing is lost or repeated.
   * Unlike `close()`, new connections are accepted throughout, those made meanwhile included.
   * Useful to make every client connect again, e.g. so that new `authenticate` or `authorize`
   * rules apply to everyone.
   *
   * Resolves with how many connections it closed, once they are gone (a WebSocket peer that
   * never answers the closing handshake is given 1 s). Rejects with `SHUTTING_DOWN` once
   * `close()` was called (its drain closes every connection), and with a `RangeError` for a
   * window that is not a finite number of at least 0.
   *
   * @example
   * // After changing who may subscribe to what: everyone comes back through the new rules,
   * // spread over 5 s.
   * const closed = await hub.disconnectAll({ windowMs: 5000 });
   */
  disconnectAll(options?: DisconnectAllOptions): Promise<number>;
  /**
   * Resolves once the broker is started; requests that arrive earlier wait for it. (A Redis
   * broker that cannot reach Redis starts degraded after its `startTimeoutMs`.)
   */
  readonly ready: Promise<void>;
  /**
   * Graceful drain: refuses new connections, closes WebSockets with 1012 (reconnect), ends
   * SSE streams with a jittered `retry:` and answers held polls, spread over the drain
   * window; then closes the broker. Resolves once every connection is gone (a WebSocket peer
   * that never answers the closing handshake is given 1 s); a second call gets the same drain.
   */
  close(options?: CloseOptions): Promise<void>;
}

export type {
  Authenticate,
  Authorize,
  ChannelAction,
  HubOptions,
  Identity,
  LimitOptions,
} from './options.js';
export { readToken } from './access.js';
export type { RequestHandler } from './http.js';
export type { Logger } from './logger.js';
export type { DropReason } from './counters.js';
export type { Envelope } from '../protocol/envelope.js';
export type { ConnectionInfo, MessageListener, TransportName } from '../core/hub.js';
export type { Position } from '../core/position.js';
export type {
  Broker,
  BrokerHandler,
  ChannelRead,
  HistoryOptions,
  PublishRequest,
} from '../core/broker.js';
export { MemoryBroker, memoryBroker, type MemoryBrokerOptions } from '../brokers/memory.js';
export { TidewireError, isTidewireError } from '../protocol/errors.js';
export {
  CloseCode,
  ERROR_CODES,
  type ErrorCode,
  closeCodeOf,
  httpStatusOf,
  isReconnectCloseCode,
} from '../protocol/codes.js';

/**
 * Creates a hub. With no broker it runs in memory, for one process.
 *
 * @param options - limits, heartbeats, history, publish token; every field has a default.
 */
export function createHub(options: HubOptions = {}): Hub {
  const logger = options.logger ?? consoleLogger;
  const resolved = resolveOptions(options, logger);
  const broker = options.broker ?? new MemoryBroker(options.history);
  const counters = new HubCounters();
  // Read only when scraped, so the arrows may name core and connections, made below.
  const metrics = new HubMetrics(
    {
      counters,
      connectionsByTransport: () => connections.countByTransport(),
      bufferedBytes: () => connections.bufferedBytes(),
      channels: () => core.channelCount,
      subscriptions: () => core.subscriptionTotal,
      isBrokerAvailable: () => broker.isAvailable(),
    },
    {
      registry: options.metricsRegistry,
      processMetrics: options.processMetrics,
      token: resolved.metricsToken,
    },
  );
  const core = new HubCore({
    broker,
    onBrokerCall: (operation, ok, seconds) => {
      if (ok && operation === 'publish') counters.published += 1;
      metrics.observeBroker(operation, ok, seconds);
    },
    onError: (error, context) => logger.error({ err: error }, context),
    onBrokerAvailabilityChange: (available, detail) => {
      if (available) logger.info({ broker: detail }, 'broker available: fan-out resumes');
      else logger.warn({ broker: detail }, 'broker unavailable: publishes fail until it is back');
    },
  });
  const connections = new ConnectionRegistry(resolved.limits.maxConnectionsPerIp);
  let closing = false;
  let closed = false;
  let closeDone: Promise<void> | undefined;
  let started = false;
  const ready = core.start().then(() => {
    started = true;
  });
  ready.catch((error: unknown) => logger.error({ err: error }, 'broker failed to start'));

  const access = new AccessControl(resolved, counters);
  const context = {
    core,
    connections,
    counters,
    access,
    options: resolved,
    isClosing: () => closing,
  };
  const websocket = new WebSocketTransport(context);
  const sse = new SseTransport(context);
  const poll = new PollingTransport(context);
  const publishApi = new PublishApi(context);

  const routes = {
    sse,
    poll,
    websocket,
    publishApi,
    access,
    counters,
    serveHealth: resolved.health,
    metrics: resolved.metrics ? metrics.handle : undefined,
    isClosing: () => closing,
    health: () =>
      broker.isAvailable()
        ? { status: 200, body: { status: 'ok' } }
        : { status: 503, body: { status: 'degraded', broker: 'unavailable' } },
  };

  const handler = (handlerOptions: AttachOptions = {}): RequestHandler => {
    const handle = createRequestHandler(routes, pickBasePath(handlerOptions, resolved.basePath));
    return (req, res, next) => {
      if (started) {
        handle(req, res, next);
        return;
      }
      ready.then(
        () => handle(req, res, next),
        () => sendError(res, new TidewireError('BROKER_UNAVAILABLE', 'the broker did not start')),
      );
    };
  };

  return {
    ready,
    async publish(channel, data, publishOptions = {}) {
      const request = {
        channel: assertChannel(channel),
        event: normalizeEvent(publishOptions.event),
        ...toWireData(data),
      };
      if (closed) throw new TidewireError('SHUTTING_DOWN', 'the hub is closed');
      await ready;
      return core.publish(request);
    },
    onMessage: (listener) => core.onMessage(listener),
    handler,
    attach(server, attachOptions = {}) {
      const basePath = pickBasePath(attachOptions, resolved.basePath);
      // Slowloris: headers must arrive within the limit (Node's default is 60 s).
      server.headersTimeout = Math.min(
        server.headersTimeout || Infinity,
        resolved.limits.headersTimeoutMs,
      );
      // Slow bodies: the whole request must arrive within the limit (Node's default is 300 s).
      // Node applies it until the request is read, so streams and held polls are not cut.
      server.requestTimeout = Math.min(
        server.requestTimeout || Infinity,
        resolved.limits.requestTimeoutMs,
      );
      // Listeners stay after close(): the hub's endpoints then answer 503 SHUTTING_DOWN
      // instead of leaving requests with no listener at all.
      attachToServer(server, handler(attachOptions), websocket, basePath);
    },
    stats: () => ({
      connections: connections.countByTransport(),
      channels: core.channelCount,
      broker: broker.isAvailable() ? 'available' : 'unavailable',
      dropped: Object.fromEntries(counters.dropped),
    }),
    metrics: () => metrics.text(),
    async disconnectAll(disconnectOptions = {}) {
      const windowMs = checkWindow(disconnectOptions.windowMs ?? 0);
      if (closing) {
        throw new TidewireError('SHUTTING_DOWN', 'the hub is closing: it closes every connection');
      }
      return connections.drain(DISCONNECTED_BY_SERVER, windowMs);
    },
    close(closeOptions = {}) {
      // A second call (two signals, an app and its test harness) gets the same drain: it must
      // not resolve while the first one still has connections open.
      closeDone ??= (async () => {
        closing = true;
        const window = closeOptions.drainWindowMs ?? resolved.drainWindowMs;
        await connections.drain(
          { code: CloseCode.SERVICE_RESTART, reason: 'server restarting' },
          window,
        );
        websocket.close();
        sse.close();
        poll.close();
        await ready.catch(() => {});
        closed = true;
        // An app's registry forgets this hub's series, so that a new hub may report there.
        metrics.close();
        await core.close();
      })();
      return closeDone;
    },
  };
}

/**
 * What `disconnectAll` tells each connection: 1012 is "Service Restart" in IANA's registry of
 * WebSocket close codes, which clients read as "come back" (README § Errors), as after a drain.
 */
const DISCONNECTED_BY_SERVER = {
  code: CloseCode.SERVICE_RESTART,
  reason: 'disconnected by the server',
} as const;

function checkWindow(windowMs: number): number {
  // Infinity or NaN would reach setTimeout, which fires such timers at once.
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < 0) {
    throw new RangeError(`windowMs must be a finite number of at least 0, got ${String(windowMs)}`);
  }
  return windowMs;
}

function pickBasePath(options: AttachOptions, fallback: string): string {
  return options.basePath === undefined ? fallback : normalizeBasePath(options.basePath);
}

/** Bytes travel as base64 on every transport (text-only SSE and JSON polls). */
function toWireData(data: unknown): { data: unknown; binary?: true } {
  if (data instanceof Uint8Array) {
    return {
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      binary: true,
    };
  }
  return { data: data === undefined ? null : data };
}
