import type { ErrorCode } from '../../protocol/codes.js';
import { encodeCursor } from '../../protocol/cursor.js';
import type { Envelope } from '../../protocol/envelope.js';
import { TidewireError } from '../../protocol/errors.js';
import type { OutgoingPublish } from '../outbox.js';
import type { ResolvedClientOptions, TransportName } from '../options.js';

/**
 * A link: one transport's connection to the hub, as the client sees it. The client owns
 * subscriptions, positions, the outbox and reconnecting; a link only moves frames and
 * reports what happened, and reports its end exactly once (`closed`).
 *
 * @internal
 * @module
 */

/** How a link ended. */
export interface LinkEnd {
  /** WebSocket close code, when there was one. */
  readonly code?: number;
  /** HTTP status of a refused request, when there was one. */
  readonly status?: number;
  readonly reason: string;
  /**
   * What the server said: a `TidewireError`, which the client reports as an `error` event. A
   * failure of the network, or of the link itself, has its `reason` only.
   */
  readonly error?: Error;
  /**
   * The server answered "come back later, in this many ms" instead of serving: an SSE stream
   * that ended with a `retry:` before any event (what a draining hub sends a newcomer). No
   * success, and the next connect waits at least this long (PITFALLS #9).
   */
  readonly retryAfterMs?: number;
}

/** What a link reports to the client. */
export interface LinkEvents {
  /** The link is up: publishes may flow. */
  opened(): void;
  /** Anything at all arrived (frames, heartbeats): the link is alive. */
  heard(): void;
  /** The link carries no stream for now (SSE without channels): there is nothing to watch. */
  idle(): void;
  /** The server's heartbeat interval, where the transport tells it. */
  heartbeatHint(ms: number): void;
  /** Where the subscription to `channel` now stands. */
  subscribed(channel: string, position: string): void;
  envelope(envelope: Envelope): void;
  gap(channel: string): void;
  acked(ref: string, id: string, ts: number): void;
  /** The server refused a publish (by its ref) or a frame (no ref). */
  refused(error: TidewireError, ref?: string): void;
  /** The server refused a subscription to `channels`. */
  subscribeRefused(channels: readonly string[], error: TidewireError): void;
  closed(end: LinkEnd): void;
}

/** What a link is given. */
export interface LinkContext {
  readonly options: ResolvedClientOptions;
  /** The hub's HTTP base: origin + basePath, no trailing slash. */
  readonly base: string;
  /** The token of this connect, if any. */
  readonly token: string | undefined;
  readonly events: LinkEvents;
  /** The channels the client wants now. */
  channels(): string[];
  /** The last known position of a channel, to resume from. */
  position(channel: string): string | undefined;
}

export interface Link {
  readonly name: TransportName;
  /** The wanted channels changed: subscribe and unsubscribe to match. */
  sync(): void;
  publish(message: OutgoingPublish): void;
  /** Sends a ping where the transport can; undefined where it cannot. */
  readonly probe?: (() => void) | undefined;
  /** Ends the link at the client's wish; `closed` is not reported then. */
  close(): void;
}

/** Turns a server's `{ code, message }` (an HTTP error body, an `error` frame) into an error. */
export function serverError(value: unknown, fallback: string): TidewireError {
  // Object(): a body that is no object (null, a string) has neither field.
  const { code, message } = Object(value) as { code?: unknown; message?: unknown };
  return new TidewireError(
    typeof code === 'string' ? (code as ErrorCode) : 'INTERNAL',
    typeof message === 'string' ? message : fallback,
  );
}

/** The end of an HTTP request that the server answered with an error status. */
export async function httpEnd(response: Response): Promise<LinkEnd & { error: TidewireError }> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    // Not ours (a proxy's HTML page): the status says enough.
  }
  const error = serverError(body, `HTTP ${response.status}`);
  return { status: response.status, reason: error.message, error };
}

/** The end of a request that failed in the network. */
export function networkEnd(error: unknown): LinkEnd {
  return { reason: error instanceof Error ? error.message : String(error) };
}

/** Request headers that carry the token as a bearer, where the client has one. */
export function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { Authorization: `Bearer ${token}` };
}

/**
 * A request of the HTTP transports to the hub: the token as a bearer (after `init.headers`),
 * and cookies cross-origin only when the client was asked to send them.
 */
export function fetchHub(
  { options, token }: LinkContext,
  url: string,
  init: RequestInit & { headers?: Record<string, string> },
): Promise<Response> {
  return options.fetch!(url, {
    ...init,
    headers: { ...init.headers, ...authHeaders(token) },
    credentials: options.withCredentials ? 'include' : 'same-origin',
  });
}

/** `channel=a&channel=b&…` for the SSE and poll endpoints, then the `extra` that are set. */
export function channelQuery(
  channels: readonly string[],
  extra: Record<string, string | undefined>,
): URLSearchParams {
  const query = new URLSearchParams();
  for (const channel of channels) query.append('channel', channel);
  for (const [name, value] of Object.entries(extra)) {
    if (value !== undefined) query.set(name, value);
  }
  return query;
}

/**
 * The cursor that resumes `channels` from the client's positions, in the multi-channel form
 * whenever there are several channels (only some may have a position yet).
 */
export function cursorOf(context: LinkContext, channels: readonly string[]): string | undefined {
  const positions = new Map<string, string>();
  for (const channel of channels) {
    const position = context.position(channel);
    if (position !== undefined) positions.set(channel, position);
  }
  return positions.size === 0 ? undefined : encodeCursor(positions, channels.length > 1);
}
