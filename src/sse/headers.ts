/**
 * What every tidewire SSE stream shares: its response headers, its heartbeat and its
 * reconnect-delay jitter. Used by the hub's SSE transport and by `SSE`.
 *
 * @module
 */

import { formatEvent } from './format.js';

/** A heartbeat: an empty comment, which EventSource ignores and proxies see as traffic. */
export const HEARTBEAT = ':\n\n';

/**
 * What a stream starts with: `retry:` first, then a comment at once, so that proxies and
 * tunnels that wait for the first bytes pass the stream on right away (PITFALLS #5).
 *
 * @internal
 */
export function streamOpening(retryMs: number): string {
  return `retry: ${retryMs}\n\n${HEARTBEAT}`;
}

/**
 * The last words of a stream that a server ends on purpose: a jittered `retry:` (see
 * `jitteredRetry`) and a comment that says why.
 *
 * @internal
 */
export function reconnectLater(retryMs: number, comment: string): string {
  return formatEvent({ retry: jitteredRetry(retryMs), comment });
}

/**
 * The response headers of an event stream for the request's HTTP version.
 *
 * @internal
 */
export function sseHeaders(httpVersion: string): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': 'text/event-stream; charset=utf-8',
    // no-transform keeps compressing proxies from buffering the stream (PITFALLS #4).
    'Cache-Control': 'no-cache, no-transform',
    // nginx buffers proxied responses unless told otherwise (PITFALLS #5).
    'X-Accel-Buffering': 'no',
  };
  // Connection is a hop-by-hop header that HTTP/2 forbids; HTTP/1.0 does not keep alive.
  if (httpVersion === '1.1') headers.Connection = 'keep-alive';
  return headers;
}

/**
 * A reconnect delay spread over 0.5×–1.5× of `retryMs`, so that the clients of a stream
 * ended for a deploy do not all come back at once (PITFALLS #9).
 *
 * @internal
 */
export function jitteredRetry(retryMs: number): number {
  return Math.round(retryMs * (0.5 + Math.random()));
}
