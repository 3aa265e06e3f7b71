/**
 * The options, events and defaults of both wrappers, in one place.
 *
 * @module
 */

import type { BackoffOptions } from '../client/backoff.js';
import type { ReconnectingCloseEvent, ReconnectingErrorEvent } from './events.js';
import type { HeartbeatOptions } from './heartbeat.js';
import type { SendData } from './send-queue.js';
import type { FetchLikeResponse } from './stream-outcome.js';

/** Defaults of the options below (backoff: `DEFAULT_BACKOFF`, heartbeat: `DEFAULT_HEARTBEAT`). */
export const DEFAULTS = {
  minUptimeMs: 5000,
  connectTimeoutMs: 10_000,
  maxQueuedMessages: 1000,
  maxQueuedBytes: 1024 * 1024,
  /** Three missed heartbeats of the tidewire hub (15 s), and under proxies' 60 s idle cut. */
  heartbeatTimeoutMs: 45_000,
} as const;

/**
 * What the wrapper uses of a WebSocket: the browser's, Node 22's, the `ws` package's or a
 * polyfill's. Handlers are typed loosely so that each of those fits.
 */
export interface WebSocketLike {
  readonly url: string;
  readonly readyState: number;
  readonly protocol: string;
  readonly extensions: string;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  send(data: SendData): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the TCP connection at once, without a closing handshake. */
  terminate?(): void;
}

/** A WebSocket constructor: `globalThis.WebSocket`, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** The URL to connect to, or a function called before every connect (a fresh token, say). */
export type UrlProvider = string | (() => string | Promise<string>);

/** Options of `ReconnectingWebSocket`; `baseMs`/`capMs` bound the full-jitter backoff. */
export interface ReconnectingWebSocketOptions extends BackoffOptions {
  /**
   * The WebSocket constructor. Default `globalThis.WebSocket`; Node 20 has none, so pass
   * `WebSocket` from the `ws` package there.
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Retries in a row after failed connections: with 2, the third failure in a row is final
   * and it stays CLOSED. Default Infinity.
   */
  readonly maxRetries?: number;
  /**
   * How long, in ms, a socket must stay open before the failure count (and so the backoff)
   * starts again from zero. A server that accepts and then closes at once is still backed off
   * from. Default 5000.
   */
  readonly minUptimeMs?: number;
  /** A socket that has not opened after this many ms is dropped and retried. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /** Called with every `close` it did not ask for; `false` ends it for good. Default: always. */
  readonly shouldReconnect?: (event: ReconnectingCloseEvent) => boolean;
  /** Messages `send()` may queue while no socket is open. Default 1000. */
  readonly maxQueuedMessages?: number;
  /** Bytes `send()` may queue while no socket is open. Default 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** An app-level heartbeat for servers that answer a probe. Default: none. */
  readonly heartbeat?: HeartbeatOptions;
}

/** The events of `ReconnectingWebSocket`, by type. */
export interface ReconnectingWebSocketEventMap {
  open: Event;
  message: MessageEvent;
  close: ReconnectingCloseEvent;
  error: ReconnectingErrorEvent;
}

/** A `fetch`: the platform's, or any function with its shape. */
export type FetchLike = (url: string, init: RequestInit) => Promise<FetchLikeResponse>;

/** Request headers, or a function called before every request (a fresh token, say). */
export type HeadersProvider = HeadersInit | (() => HeadersInit | Promise<HeadersInit>);

/** Options of `ReconnectingEventSource`; `baseMs`/`capMs` bound the full-jitter backoff. */
export interface ReconnectingEventSourceOptions extends BackoffOptions {
  /** The `fetch` to use. Default `globalThis.fetch`. */
  readonly fetch?: FetchLike;
  /**
   * Headers of every request: `Authorization` instead of a token in the URL, which ends up
   * in logs (PITFALLS #12). A function is called before every request.
   */
  readonly headers?: HeadersProvider;
  /** Send cookies cross-origin (fetch `credentials: 'include'`). Default false. */
  readonly withCredentials?: boolean;
  /**
   * Retries in a row after failed requests: with 2, the third failure in a row is final and
   * it stays CLOSED. A stream that opened resets the count. Default Infinity.
   */
  readonly maxRetries?: number;
  /**
   * No byte at all (not even a comment) for this many ms means the link is dead: abort and
   * reconnect. Covers the wait for the answer too. Set it above the server's heartbeat
   * interval; 0 turns it off. Default 45 000.
   */
  readonly heartbeatTimeoutMs?: number;
  /** The `Last-Event-ID` of the first request, to resume where an earlier stream ended. */
  readonly lastEventId?: string;
  /**
   * Called on a 401 or 403. Returning or resolving `false` (or throwing) closes for good, as
   * native EventSource does; anything else retries with backoff, e.g. after refreshing the
   * token that `headers()` returns. Without it, 401 and 403 close for good.
   */
  readonly onUnauthorized?: (status: 401 | 403) => boolean | void | Promise<boolean | void>;
}

/** The events of `ReconnectingEventSource`, by type; named events are `MessageEvent`s too. */
export interface ReconnectingEventSourceEventMap {
  open: Event;
  message: MessageEvent;
  error: ReconnectingErrorEvent;
}
