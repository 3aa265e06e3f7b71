/**
 * `ReconnectingEventSource`: the standard EventSource API over `fetch`, with headers, status
 * handling, backoff and a liveness watchdog.
 *
 * @module
 */

import { watchEnvironment } from '../client/environment.js';
import type { Liveness } from '../client/heartbeat.js';
import { type EventStreamParser, type ParsedEvent, createParser } from '../sse/parser.js';
import {
  type EventHandler,
  HandlerAttributes,
  ReconnectingErrorEvent,
  TypedEventTarget,
} from './events.js';
import { startHeartbeat } from './heartbeat.js';
import { messageOf, originOf } from './helpers.js';
import {
  DEFAULTS,
  type FetchLike,
  type ReconnectingEventSourceEventMap,
  type ReconnectingEventSourceOptions,
} from './options.js';
import {
  type FetchLikeResponse,
  type Outcome,
  clampRetry,
  classifyResponse,
  nextDelay,
} from './stream-outcome.js';
import { Timer } from './timer.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const encoder = new TextEncoder();

/**
 * A drop-in EventSource that keeps coming back: the standard API (`readyState`, `onmessage`,
 * `addEventListener` for named events, `close`) over `fetch` and tidewire's spec-exact SSE
 * parser, because native EventSource can neither send headers nor report the HTTP status.
 *
 * - Sends `Accept: text/event-stream`, `Cache-Control: no-cache` and, once it has one,
 *   `Last-Event-ID`; keeps `lastEventId` across every stream it opens.
 * - 200 `text/event-stream` opens; 204 closes for good; 429, 5xx and network errors retry
 *   with full-jitter backoff (at least `Retry-After` on 429/503); 401/403 ask
 *   `onUnauthorized`; any other answer closes for good. After a clean end it waits the
 *   server's `retry:` (at most `capMs`), as native does.
 * - Every failure dispatches `error` (a `ReconnectingErrorEvent` with `message` and
 *   `status`); `readyState` then says CONNECTING (will retry) or CLOSED (for good).
 *
 * @example
 * const source = new ReconnectingEventSource('https://example.com/events', {
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 *   onUnauthorized: async () => refreshToken(), // true: retry with the new token
 * });
 * source.addEventListener('tick', (event) => console.log(event.data, event.lastEventId));
 */
export class ReconnectingEventSource extends TypedEventTarget<
  ReconnectingEventSourceEventMap,
  MessageEvent
> {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSED = CLOSED;

  /** The absolute URL of the stream. */
  readonly url: string;
  /** Whether requests send cookies cross-origin. */
  readonly withCredentials: boolean;

  readonly #options: ReconnectingEventSourceOptions;
  readonly #fetch: FetchLike;
  readonly #parser: EventStreamParser;
  readonly #on = new HandlerAttributes<ReconnectingEventSource>(this);
  readonly #retryTimer = new Timer();
  /** Watches the request in flight for `heartbeatTimeoutMs` without a byte. */
  #watchdog: Liveness | undefined;
  #unwatch: (() => void) | undefined;
  /** Aborts the request in flight; undefined while waiting to retry and once closed. */
  #controller: AbortController | undefined;
  #state = CONNECTING;
  /** Consecutive failed requests: the backoff attempt, bounded by `maxRetries`. */
  #failures = 0;
  /** The server's last `retry:`, clamped. */
  #retryMs: number | undefined;
  #origin = '';

  /**
   * Starts the first request at once. Throws a `TypeError` for a URL that does not parse
   * (relative URLs resolve against `location` where there is one) and when there is no fetch.
   */
  constructor(url: string | URL, options: ReconnectingEventSourceOptions = {}) {
    super();
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    this.url = new URL(String(url), base).href;
    this.withCredentials = options.withCredentials === true;
    this.#fetch = resolveFetch(options.fetch);
    this.#options = options;
    this.#parser = createParser({
      onEvent: (event) => this.#parserOnEvent(event),
      onRetry: (retryMs) => {
        this.#retryMs = clampRetry(retryMs, options);
      },
    });
    if (options.lastEventId !== undefined) {
      this.#parser.reset({ lastEventId: options.lastEventId });
    }
    this.#unwatch = watchEnvironment({ onOnline: () => this.#retryNow() });
    void this.#connect();
  }

  get readyState(): number {
    return this.#state;
  }

  /** The last event ID in force: what the next request sends as `Last-Event-ID`. */
  get lastEventId(): string {
    return this.#parser.lastEventId;
  }

  get onopen(): EventHandler<ReconnectingEventSource, Event> {
    return this.#on.get('open');
  }

  set onopen(handler) {
    this.#on.set('open', handler);
  }

  get onmessage(): EventHandler<ReconnectingEventSource, MessageEvent> {
    return this.#on.get('message');
  }

  set onmessage(handler) {
    this.#on.set('message', handler);
  }

  get onerror(): EventHandler<ReconnectingEventSource, ReconnectingErrorEvent> {
    return this.#on.get('error');
  }

  set onerror(handler) {
    this.#on.set('error', handler);
  }

  /** Ends it for good: aborts the request, clears the timers, removes browser listeners. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    const controller = this.#controller;
    this.#controller = undefined;
    controller?.abort();
    this.#retryTimer.clear();
    this.#watchdog?.stop();
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** One request, from fetch to the end of its stream; then retry or end. */
  async #connect(): Promise<void> {
    const controller = new AbortController();
    this.#controller = controller;
    this.#armWatchdog(controller);
    let outcome: Outcome;
    try {
      outcome = await this.#request(controller.signal);
    } catch (error) {
      const cause: unknown = controller.signal.aborted ? controller.signal.reason : error;
      outcome = { kind: 'retry', message: messageOf(cause), error: cause };
    }
    // close() was called meanwhile: it has cleaned up, and says nothing more.
    if (this.#controller !== controller) return;
    this.#controller = undefined;
    this.#watchdog?.stop();
    // Frees the connection of an answer that was not read to its end.
    controller.abort();
    this.#settle(outcome);
  }

  async #request(signal: AbortSignal): Promise<Outcome> {
    const response = await this.#fetch(this.url, {
      headers: await this.#requestHeaders(),
      credentials: this.withCredentials ? 'include' : 'same-origin',
      cache: 'no-store',
      signal,
    });
    signal.throwIfAborted();
    this.#watchdog?.probeNow();
    const outcome = classifyResponse(response);
    if (outcome?.kind === 'unauthorized') {
      this.#watchdog?.stop();
      return this.#askUnauthorized(outcome);
    }
    if (outcome !== undefined) return outcome;
    this.#open(response);
    // classifyResponse opens only with a body.
    await this.#read(response.body as ReadableStream<Uint8Array>, signal);
    return { kind: 'ended', message: 'the server ended the stream' };
  }

  async #requestHeaders(): Promise<Headers> {
    const given = this.#options.headers;
    const headers = new Headers(typeof given === 'function' ? await given() : given);
    headers.set('Accept', 'text/event-stream');
    headers.set('Cache-Control', 'no-cache');
    const lastEventId = this.#parser.lastEventId;
    // Headers hold bytes as Latin-1 characters: send the ID as UTF-8, as browsers do.
    if (lastEventId !== '') headers.set('Last-Event-ID', latin1Of(encoder.encode(lastEventId)));
    return headers;
  }

  async #askUnauthorized(outcome: Outcome): Promise<Outcome> {
    const hook = this.#options.onUnauthorized;
    if (hook === undefined) return { ...outcome, kind: 'stop' };
    try {
      const verdict = await hook(outcome.status === 403 ? 403 : 401);
      return { ...outcome, kind: verdict === false ? 'stop' : 'retry' };
    } catch (error) {
      return {
        ...outcome,
        kind: 'stop',
        message: `onUnauthorized threw: ${messageOf(error)}`,
        error,
      };
    }
  }

  #open(response: FetchLikeResponse): void {
    this.#state = OPEN;
    this.#failures = 0;
    this.#origin = originOf(response.url || this.url);
    this.#parser.reset();
    this.dispatchEvent(new Event('open'));
  }

  async #read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal.aborted) return;
      this.#watchdog?.probeNow();
      this.#parser.feed(value);
    }
  }

  #parserOnEvent({ event, data, id }: ParsedEvent): void {
    // A listener may have closed it in the middle of a chunk.
    if (this.#state !== OPEN) return;
    this.dispatchEvent(new MessageEvent(event, { data, lastEventId: id, origin: this.#origin }));
  }

  /** The one place that decides, after any request, between retrying and ending. */
  #settle(outcome: Outcome): void {
    const failures = this.#failures;
    if (outcome.kind !== 'ended') this.#failures += 1;
    const event = new ReconnectingErrorEvent('error', outcome);
    if (outcome.kind === 'stop' || this.#failures > (this.#options.maxRetries ?? Infinity)) {
      this.close();
    } else {
      this.#state = CONNECTING;
      const delayMs = nextDelay(outcome, failures, this.#retryMs, this.#options);
      this.#retryTimer.set(delayMs, () => void this.#connect());
    }
    this.dispatchEvent(event);
  }

  /**
   * Aborts the request when no byte arrives for `heartbeatTimeoutMs` (0: never). Its watch
   * has no quiet time: it waits for a sign of life at once, and each byte (`probeNow()`)
   * starts that wait over. A timer that fires late grants one more full wait (PITFALLS #8).
   */
  #armWatchdog(controller: AbortController): void {
    const timeoutMs = this.#options.heartbeatTimeoutMs ?? DEFAULTS.heartbeatTimeoutMs;
    this.#watchdog =
      timeoutMs > 0
        ? startHeartbeat({ intervalMs: 0, timeoutMs }, () =>
            controller.abort(new Error(`no data for ${timeoutMs} ms: heartbeat timeout`)),
          )
        : undefined;
  }

  /** Browsers: back online, so retry now rather than at the end of the backoff delay. */
  #retryNow(): void {
    if (this.#state !== CONNECTING || this.#controller !== undefined) return;
    this.#retryTimer.clear();
    void this.#connect();
  }
}

function latin1Of(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

function resolveFetch(given: FetchLike | undefined): FetchLike {
  const found = given ?? (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof found !== 'function') {
    throw new TypeError('ReconnectingEventSource: no fetch on this platform: pass options.fetch');
  }
  // Called as a plain function: a browser's fetch throws when `this` is another object.
  return (url, init) => found(url, init);
}
