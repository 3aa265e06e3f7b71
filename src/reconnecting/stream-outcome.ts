/**
 * How one event-stream request of `ReconnectingEventSource` ended, and how long to wait
 * before the next one. Pure functions, so that the rules are tested without a server.
 *
 * @module
 */

import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from '../client/backoff.js';

/** What `ReconnectingEventSource` reads of a fetch `Response`. */
export interface FetchLikeResponse {
  readonly status: number;
  /** The final URL after redirects (the events' `origin`); may be empty. */
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  readonly body: ReadableStream<Uint8Array> | null;
}

/**
 * How a request ended: `ended` (the open stream ended cleanly: retry after `retry:`),
 * `retry` (a failure worth retrying with backoff), `unauthorized` (401/403, for the hook),
 * `stop` (closed for good).
 *
 * @internal
 */
export interface Outcome {
  readonly kind: 'ended' | 'retry' | 'unauthorized' | 'stop';
  /** Readable, for the `error` event. */
  readonly message: string;
  readonly status?: number;
  /** The server's `Retry-After`, in ms: a lower bound of the next delay. */
  readonly retryAfterMs?: number;
  readonly error?: unknown;
}

/** The longest `Retry-After` honoured, in ms: a server's hint, not a reason to sleep for days. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Sorts an answer: 200 `text/event-stream` opens (undefined); 204 stops, the server's way to
 * say "no more" (WHATWG HTML § 9.2.3); 429 and 5xx retry, unlike native EventSource, which
 * gives up for good on a 5xx (PITFALLS #13); 401/403 ask the hook; anything else stops.
 *
 * @internal
 */
export function classifyResponse(
  response: FetchLikeResponse,
  now = Date.now(),
): Outcome | undefined {
  const { status } = response;
  const message = `HTTP ${status}`;
  if (status === 200) {
    const type = response.headers.get('content-type') ?? '';
    const mime = type.split(';')[0]?.trim().toLowerCase();
    if (mime === 'text/event-stream' && response.body !== null) return undefined;
    return { kind: 'stop', status, message: `expected text/event-stream, got '${type}'` };
  }
  if (status === 204) return { kind: 'stop', status, message: 'HTTP 204: no more events' };
  if (status === 401 || status === 403) return { kind: 'unauthorized', status, message };
  if (status === 429 || status >= 500) {
    const hasHint = status === 429 || status === 503;
    const retryAfterMs = hasHint
      ? parseRetryAfter(response.headers.get('retry-after'), now)
      : undefined;
    return { kind: 'retry', status, message, retryAfterMs };
  }
  return { kind: 'stop', status, message };
}

/**
 * A `Retry-After` header (seconds, or an HTTP date) in ms from `now`, clamped to
 * [0, MAX_RETRY_AFTER_MS]; undefined when absent or unreadable.
 *
 * @internal
 */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  // An HTTP date names its day and month; V8 would also read '-5' as a date.
  const isDate = /[a-z]/i.test(text);
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : isDate ? Date.parse(text) - now : NaN;
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/**
 * The delay before the next request. After a clean end, the server's `retry:` when it sent
 * one (as native EventSource waits). After a failure, full-jitter backoff from
 * `retry:`: never below it, nor below `Retry-After`.
 *
 * @param failures - consecutive failures before this outcome (0 for the first).
 * @param retryMs - the server's last `retry:`, already clamped to `capMs`.
 * @internal
 */
export function nextDelay(
  outcome: Outcome,
  failures: number,
  retryMs: number | undefined,
  backoff: BackoffOptions,
): number {
  if (outcome.kind === 'ended' && retryMs !== undefined) return retryMs;
  const floor = Math.max(retryMs ?? 0, outcome.retryAfterMs ?? 0);
  return Math.max(floor, backoffDelay(failures, backoff));
}

/**
 * A `retry:` value made safe: at most `capMs`, so a server cannot park clients for days.
 *
 * @internal
 */
export function clampRetry(retryMs: number, backoff: BackoffOptions): number {
  return Math.min(retryMs, backoff.capMs ?? DEFAULT_BACKOFF.capMs);
}
