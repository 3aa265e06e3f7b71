import type { BackoffOptions } from './backoff.js';

/**
 * The options of `createClient`, their defaults (SPEC.md § Client defaults) and the
 * constructors the client needs from its platform.
 *
 * @module
 */

/** The transports, best first. `polling` is short polling (`timeout=0`). */
export type TransportName = 'websocket' | 'sse' | 'long-polling' | 'polling';

/** What a token hook returns: the token, optionally with when it expires (epoch ms). */
export type TokenResult = string | { readonly token: string; readonly expiresAt?: number } | null;

/** The WebSocket constructor the client uses: the browser's, Node 22's, or `ws`'s. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  // `ws` takes options third (headers); browsers ignore it.
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** The EventSource constructor (browsers; the `eventsource` package in Node). */
export interface EventSourceLike {
  onopen: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  addEventListener(type: string, listener: (event: { data?: unknown }) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (
  url: string,
  init?: { withCredentials?: boolean },
) => EventSourceLike;

export interface HeartbeatOptions {
  /** Quiet time after which the client pings (WebSocket), in ms. Default 25 000. */
  readonly intervalMs?: number;
  /** No answer within this many ms after a ping means a dead link. Default 10 000. */
  readonly timeoutMs?: number;
  /**
   * The timeout while the page is hidden, where browsers throttle timers and a late answer is
   * no sign of a dead link (PITFALLS #8). Default 60 000.
   */
  readonly hiddenTimeoutMs?: number;
}

export interface OutboxOptions {
  /** Most messages waiting for a link. Default 1000. */
  readonly maxMessages?: number;
  /** Most bytes waiting for a link. Default 1 MiB. */
  readonly maxBytes?: number;
}

export interface ReconnectOptions extends BackoffOptions {
  /**
   * Failed attempts in a row after which the client gives up (`readyState` CLOSED, pending
   * publishes rejected with `GAVE_UP`). Default Infinity.
   */
  readonly maxRetries?: number;
}

/** Options of `createClient` and `Client.shared`. Every field has a default. */
export interface ClientOptions {
  /** Path prefix of the hub's endpoints. Default `/rt`. */
  readonly basePath?: string;
  /** Transports to try, best first. Default `['websocket', 'sse', 'long-polling']`. */
  readonly transports?: readonly TransportName[];
  /** Reconnect backoff (full jitter, 500 ms base, 30 s cap) and `maxRetries`. */
  readonly reconnect?: ReconnectOptions;
  readonly heartbeat?: HeartbeatOptions;
  readonly outbox?: OutboxOptions;
  /** How long `publish()` waits for the server's ack, queueing included. Default 30 000. */
  readonly publishTimeoutMs?: number;
  /** Largest publish, in bytes of JSON, refused before it is queued. Default 65 536. */
  readonly maxMessageBytes?: number;
  /** A transport that has not opened in this many ms counts as failed. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Long-poll hold, in ms. Default 25 000. */
  readonly pollTimeoutMs?: number;
  /** Pause between short polls, in ms. Default 2000. */
  readonly pollIntervalMs?: number;
  /**
   * After falling back, how long to wait before trying the best transport again; doubles up
   * to 16× while it keeps failing. Default 60 000.
   */
  readonly upgradeIntervalMs?: number;
  /**
   * Called before every connect and before the token expires. Sent as `Authorization: Bearer`
   * where the transport can send headers (fetch-based SSE, polling, `send`, Node's `ws`), and
   * as `?token=` where it cannot (a browser's WebSocket).
   */
  readonly getToken?: () => TokenResult | Promise<TokenResult>;
  /** Send cookies cross-origin (fetch `credentials: 'include'`). Default false. */
  readonly withCredentials?: boolean;
  /** Connect at once. Default true; else call `connect()`. */
  readonly autoConnect?: boolean;
  /** For `Client.shared`: how long the last `release()` waits before closing. Default 1000. */
  readonly releaseDelayMs?: number;
  /** WebSocket constructor. Default `globalThis.WebSocket` (Node < 22: pass `ws`'s). */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * EventSource constructor for SSE, or `false` to always read SSE over `fetch`. Default
   * `globalThis.EventSource`, unless `getToken` is set (EventSource cannot send headers).
   */
  readonly EventSource?: EventSourceConstructor | false;
  /** fetch. Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
}

/** @internal Options with every default filled in. */
export interface ResolvedClientOptions {
  readonly basePath: string;
  readonly transports: readonly TransportName[];
  readonly baseMs: number;
  readonly capMs: number;
  readonly maxRetries: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly hiddenTimeoutMs: number;
  readonly maxOutboxMessages: number;
  readonly maxOutboxBytes: number;
  readonly publishTimeoutMs: number;
  readonly maxMessageBytes: number;
  readonly connectTimeoutMs: number;
  readonly pollTimeoutMs: number;
  readonly pollIntervalMs: number;
  readonly upgradeIntervalMs: number;
  readonly withCredentials: boolean;
  readonly releaseDelayMs: number;
  readonly getToken: ClientOptions['getToken'];
  readonly WebSocket: WebSocketConstructor | undefined;
  readonly EventSource: EventSourceConstructor | undefined;
  readonly fetch: typeof fetch | undefined;
}

const TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'long-polling', 'polling'];

/** @internal */
export function resolveClientOptions(options: ClientOptions): ResolvedClientOptions {
  const transports = options.transports ?? ['websocket', 'sse', 'long-polling'];
  for (const name of transports) {
    if (!TRANSPORTS.includes(name)) {
      throw new TypeError(`unknown transport "${name}": expected ${TRANSPORTS.join(', ')}`);
    }
  }
  const g = globalThis as {
    WebSocket?: WebSocketConstructor;
    EventSource?: EventSourceConstructor;
    fetch?: typeof fetch;
  };
  const webSocket = options.WebSocket ?? g.WebSocket;
  const available = transports.filter((name) => name !== 'websocket' || webSocket);
  if (available.length === 0) {
    throw new TypeError('no transport: this platform has no WebSocket; pass { WebSocket } from ws');
  }
  const fetchFunction = options.fetch ?? g.fetch?.bind(globalThis);
  const eventSource =
    options.EventSource === false || (options.getToken && !options.EventSource)
      ? undefined
      : (options.EventSource ?? g.EventSource);
  if (!fetchFunction && available.some((name) => name !== 'websocket')) {
    if (!eventSource || available.some((name) => name.endsWith('polling'))) {
      throw new TypeError('the HTTP transports need fetch: pass { fetch }');
    }
  }
  const { reconnect = {}, heartbeat = {}, outbox = {} } = options;
  return {
    basePath: normalizePath(options.basePath ?? '/rt'),
    transports: available,
    baseMs: reconnect.baseMs ?? 500,
    capMs: reconnect.capMs ?? 30_000,
    maxRetries: reconnect.maxRetries ?? Infinity,
    intervalMs: heartbeat.intervalMs ?? 25_000,
    timeoutMs: heartbeat.timeoutMs ?? 10_000,
    hiddenTimeoutMs: heartbeat.hiddenTimeoutMs ?? 60_000,
    maxOutboxMessages: outbox.maxMessages ?? 1000,
    maxOutboxBytes: outbox.maxBytes ?? 1024 * 1024,
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    pollTimeoutMs: options.pollTimeoutMs ?? 25_000,
    pollIntervalMs: options.pollIntervalMs ?? 2000,
    upgradeIntervalMs: options.upgradeIntervalMs ?? 60_000,
    withCredentials: options.withCredentials ?? false,
    releaseDelayMs: options.releaseDelayMs ?? 1000,
    getToken: options.getToken,
    WebSocket: webSocket,
    EventSource: eventSource,
    fetch: fetchFunction,
  };
}

/** @internal `/rt/` → `/rt`; `rt` → `/rt`; `/` → `` (the hub's rule). */
export function normalizePath(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}
