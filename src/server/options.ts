import type { Broker, HistoryOptions } from '../core/broker.js';
import type { Logger } from './logger.js';

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
    maxBufferedBytes: 1024 * 1024,
    headersTimeoutMs: 10_000,
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
    if (!Number.isFinite(value) || value <= 0) {
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
