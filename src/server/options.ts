import type { IncomingMessage } from 'node:http';
import type { Registry } from 'prom-client';
import type { Broker, HistoryOptions } from '../core/broker.js';
import type { Logger } from './logger.js';

/** What a client may do on a channel; `authorize` is asked for each. */
export type ChannelAction = 'subscribe' | 'publish';

/**
 * Who a request is: whatever `authenticate` returned (a user id, a claims object). tidewire
 * never looks inside; it hands it back to `authorize` and to `hub.onMessage` listeners.
 */
export type Identity = unknown;

/**
 * Reads who a request is from its headers, cookies or `?token=` (see `readToken`). Returns
 * the identity, or `undefined`/`null` to refuse with 401; may throw a `TidewireError`
 * (`FORBIDDEN` gives 403). Called once per WebSocket (at the upgrade), SSE stream, poll and
 * `/rt/send`.
 */
export type Authenticate = (req: IncomingMessage) => Identity | Promise<Identity>;

/** Whether `identity` may `action` on `channel`; false refuses with 403. */
export type Authorize = (
  identity: Identity,
  channel: string,
  action: ChannelAction,
) => boolean | Promise<boolean>;

/** Limits on what one client may take; each refusal is a clear error (README § Limits). */
export interface LimitOptions {
  /** Largest message a client may send (WebSocket frame, HTTP body), in bytes. Default 65 536. */
  readonly maxMessageBytes?: number;
  /** Open connections (WebSocket, SSE, held polls) per client IP. Default 1000. */
  readonly maxConnectionsPerIp?: number;
  /** Channels one connection or request may subscribe to. Default 100. */
  readonly maxSubscriptionsPerConnection?: number;
  /**
   * A WebSocket from which nothing arrived (no frame, no pong) for this long is closed with
   * 4001. Pings go out every `wsPingIntervalMs`, so a live peer is never idle. Default 60 000.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Bytes queued for one connection that it has not read yet. Past it the connection is
   * closed (WebSocket 4000, SSE stream ended): a slow consumer never grows server memory
   * without bound. Default 1 MiB.
   */
  readonly maxBufferedBytes?: number;
  /** Request headers must arrive within this many ms (slowloris). Default 10 000. */
  readonly headersTimeoutMs?: number;
  /**
   * The whole request, body included, must arrive within this many ms: a body trickled byte
   * by byte is cut with 408 (Node's default is 300 s). It bounds receiving a request only:
   * SSE streams, held polls and WebSockets last as long as they need. Default 30 000.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Frames one WebSocket may send per second (subscribe, publish, ping…), past its burst.
   * Past it a publish is refused with `RATE_LIMITED`; another frame, or a sender that goes on
   * at twice the rate, closes the connection with 4003. Default 200.
   */
  readonly maxMessagesPerSecond?: number;
  /**
   * Frames one WebSocket may send at once before `maxMessagesPerSecond` applies. Default 1000:
   * what the client sends when it flushes a full offline queue (its `outbox.maxMessages`), so
   * that no queued publish is refused for coming back all at once.
   */
  readonly maxMessageBurst?: number;
  /**
   * HTTP requests (polls, SSE streams, sends, WebSocket upgrades) one IP may make per second,
   * with bursts of as many. Past it: 429 with `Retry-After`. Default: no limit, since behind a
   * proxy every client shares the proxy's address (see `trustProxy`).
   */
  readonly maxRequestsPerSecondPerIp?: number;
  /** Longest hold of a long poll; a larger `timeout` is clamped to it. Default 60 000. */
  readonly maxPollTimeoutMs?: number;
  /** Most envelopes in one poll answer; the cursor lets the next poll fetch the rest. Default 1000. */
  readonly maxPollBatch?: number;
}

/** Options of `createHub`. Every field has a default. */
export interface HubOptions {
  /** Where envelopes are ordered and stored. Default: an in-memory broker (one process). */
  readonly broker?: Broker;
  /** History bounds of the default in-memory broker. Default 1000 envelopes, 5 minutes. */
  readonly history?: HistoryOptions;
  /** Path prefix of every endpoint. Default `/rt`. */
  readonly basePath?: string;
  readonly limits?: LimitOptions;
  /** WebSocket protocol-level ping interval in ms. Default 25 000. */
  readonly wsPingIntervalMs?: number;
  /** SSE heartbeat comment interval in ms. Default 15 000 (well under proxies' 60 s). */
  readonly sseHeartbeatMs?: number;
  /** The `retry:` an SSE stream starts with: the browser's reconnect delay. Default 2000. */
  readonly sseRetryMs?: number;
  /** Bearer token for `POST /rt/publish/:channel`. Default: none (open). */
  readonly publishToken?: string;
  /**
   * Origins (`https://app.example.com`) whose pages may use the browser-facing endpoints
   * (`/ws`, `/sse`, `/poll`, `/send`), with CORS and credentials; `'*'` allows any. Requests
   * with no `Origin` and from the hub's own origin are always allowed; others get 403 (a
   * WebSocket at the upgrade: cross-site WebSocket hijacking). Default: none listed.
   */
  readonly origins?: readonly string[] | '*';
  /** Who a request is (see `Authenticate`). Default: everyone is anonymous and allowed. */
  readonly authenticate?: Authenticate;
  /** Whether an identity may subscribe or publish on a channel. Default: allowed. */
  readonly authorize?: Authorize;
  /**
   * Number of proxies in front of the hub whose `X-Forwarded-For` is trusted for the client's
   * address (per-IP limits, logs). Default 0: the socket's peer address.
   */
  readonly trustProxy?: number;
  /** Whether the handler answers `GET /metrics` (Prometheus). Default true. */
  readonly metrics?: boolean;
  /** Bearer token that `GET /metrics` requires. Default: none (open, like `/health`). */
  readonly metricsToken?: string;
  /**
   * A prom-client `Registry` to report the hub's `tidewire_*` series into, so that an app
   * serves them with its own metrics (then usually `metrics: false`). One hub per registry.
   * Default: a registry of the hub's own.
   */
  readonly metricsRegistry?: Registry;
  /**
   * Whether the metrics also hold Node's process metrics (prom-client's default metrics: CPU,
   * memory, event loop lag, GC), collected once per process. Default: true with the hub's own
   * registry, false with `metricsRegistry` (an app that wants them collects them itself).
   */
  readonly processMetrics?: boolean;
  /** Whether clients may publish (`publish` frames, `POST /rt/send`). Default true. */
  readonly allowClientPublish?: boolean;
  /** Whether the handler answers `GET /health`. Default true. */
  readonly health?: boolean;
  /** Default for `hub.close()`: the window over which connections are closed. Default 0. */
  readonly drainWindowMs?: number;
  /** Where warnings and errors go (a pino logger fits). Default: `console`. */
  readonly logger?: Logger;
}

/** @internal Options with every default filled in. */
export interface ResolvedOptions {
  readonly basePath: string;
  readonly limits: Required<LimitOptions>;
  readonly wsPingIntervalMs: number;
  readonly sseHeartbeatMs: number;
  readonly sseRetryMs: number;
  readonly publishToken: string | undefined;
  readonly origins: readonly string[] | '*';
  readonly authenticate: Authenticate | undefined;
  readonly authorize: Authorize | undefined;
  readonly trustProxy: number;
  readonly metrics: boolean;
  readonly metricsToken: string | undefined;
  readonly allowClientPublish: boolean;
  readonly health: boolean;
  readonly drainWindowMs: number;
  readonly logger: Logger;
}

/** Every default in one place. */
export const DEFAULTS = {
  basePath: '/rt',
  limits: {
    maxMessageBytes: 64 * 1024,
    maxConnectionsPerIp: 1000,
    maxSubscriptionsPerConnection: 100,
    idleTimeoutMs: 60_000,
    maxMessagesPerSecond: 200,
    maxMessageBurst: 1000,
    maxRequestsPerSecondPerIp: Infinity,
    maxBufferedBytes: 1024 * 1024,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    maxPollTimeoutMs: 60_000,
    maxPollBatch: 1000,
  },
  wsPingIntervalMs: 25_000,
  sseHeartbeatMs: 15_000,
  sseRetryMs: 2000,
  pollTimeoutMs: 25_000,
} as const;

/** @internal */
export function resolveOptions(options: HubOptions, logger: Logger): ResolvedOptions {
  const limits = { ...DEFAULTS.limits, ...definedOnly(options.limits ?? {}) };
  for (const [name, value] of Object.entries(limits)) {
    // Infinity is allowed: it turns a limit off.
    if (typeof value !== 'number' || !(value > 0)) {
      throw new RangeError(`limits.${name} must be a positive number, got ${String(value)}`);
    }
  }
  return {
    basePath: normalizeBasePath(options.basePath ?? DEFAULTS.basePath),
    limits,
    wsPingIntervalMs: positive(
      'wsPingIntervalMs',
      options.wsPingIntervalMs,
      DEFAULTS.wsPingIntervalMs,
    ),
    sseHeartbeatMs: positive('sseHeartbeatMs', options.sseHeartbeatMs, DEFAULTS.sseHeartbeatMs),
    sseRetryMs: positive('sseRetryMs', options.sseRetryMs, DEFAULTS.sseRetryMs),
    publishToken: options.publishToken || undefined,
    origins: resolveOrigins(options.origins),
    authenticate: options.authenticate,
    authorize: options.authorize,
    trustProxy: nonNegativeInteger('trustProxy', options.trustProxy ?? 0),
    metrics: options.metrics ?? true,
    metricsToken: options.metricsToken || undefined,
    allowClientPublish: options.allowClientPublish ?? true,
    health: options.health ?? true,
    drainWindowMs: options.drainWindowMs ?? 0,
    logger,
  };
}

/** `/rt/` → `/rt`; `rt` → `/rt`; `/` → `` (endpoints at the root). */
export function normalizeBasePath(basePath: string): string {
  const trimmed = basePath.replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/** `https://App.example.com/` → `https://app.example.com`: origins compare as the browser sends them. */
export function resolveOrigins(origins: HubOptions['origins']): readonly string[] | '*' {
  if (origins === undefined) return [];
  if (origins === '*') return '*';
  if (origins.includes('*')) return '*';
  return origins.map((origin) => {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new RangeError(`origins: "${origin}" is not an origin such as https://app.example.com`);
    }
    if (url.origin === 'null' || url.pathname !== '/' || url.search !== '' || url.hash !== '') {
      throw new RangeError(`origins: "${origin}" must be scheme://host[:port], nothing more`);
    }
    return url.origin;
  });
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
