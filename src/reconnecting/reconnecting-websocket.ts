/**
 * `ReconnectingWebSocket`: the standard WebSocket API over a socket that comes back by itself.
 *
 * @module
 */

import { backoffDelay } from '../client/backoff.js';
import { watchEnvironment } from '../client/environment.js';
import type { Liveness } from '../client/heartbeat.js';
import { ReconnectingError } from './errors.js';
import {
  type CloseEventFields,
  type EventHandler,
  HandlerAttributes,
  TypedEventTarget,
  ReconnectingCloseEvent,
  ReconnectingErrorEvent,
} from './events.js';
import { DEFAULT_HEARTBEAT, isPong, startHeartbeat } from './heartbeat.js';
import { messageOf, originOf } from './helpers.js';
import {
  DEFAULTS,
  type ReconnectingWebSocketEventMap,
  type ReconnectingWebSocketOptions,
  type UrlProvider,
  type WebSocketConstructor,
  type WebSocketLike,
} from './options.js';
import { type SendData, SendQueue, byteLengthOf } from './send-queue.js';
import { Timer } from './timer.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** What a close without a closing handshake reports (RFC 6455 § 7.1.5). */
const ABNORMAL_CLOSURE = 1006;
/** Sent to the server when a socket is dropped and `terminate` is missing (codes.ts: retry). */
const DROP_CLOSE_CODE = 4000;

/**
 * A drop-in WebSocket that reconnects: the standard API (`readyState`, `send`, `close`,
 * `onmessage`, `addEventListener`, …) over a socket it recreates, with full-jitter backoff, a
 * bounded send queue and an optional heartbeat, for any WebSocket server.
 *
 * - `readyState` is CONNECTING while a socket connects and while it waits to retry; CLOSED
 *   means for good (after `close()`, `maxRetries` or `shouldReconnect`).
 * - Every underlying close dispatches `close`; the last one, and only it, finds `readyState`
 *   CLOSED. A failed connect dispatches `error`, then `close` with code 1006.
 * - `send()` while not open queues, flushed in order on open, before `open` is dispatched.
 *
 * @example
 * import { WebSocket } from 'ws'; // Node 20 only: browsers and Node 22 have a global one
 * const socket = new ReconnectingWebSocket(() => `wss://example.com/feed?token=${token()}`, [], {
 *   WebSocket,
 *   heartbeat: { message: 'ping', pong: 'pong' },
 * });
 * socket.onmessage = (event) => console.log(event.data);
 * socket.send('hello'); // queued until the first open
 */
export class ReconnectingWebSocket extends TypedEventTarget<ReconnectingWebSocketEventMap> {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  readonly #urlProvider: UrlProvider;
  readonly #protocols: string | string[] | undefined;
  readonly #options: ReconnectingWebSocketOptions;
  readonly #WebSocket: WebSocketConstructor;
  readonly #queue: SendQueue;
  /** The heartbeat of the open socket. */
  #heartbeat: Liveness | undefined;
  readonly #on = new HandlerAttributes<ReconnectingWebSocket>(this);
  /** The one timer of the current phase: connect timeout, minimum uptime or retry wait. */
  readonly #timer = new Timer();
  #unwatch: (() => void) | undefined;
  #socket: WebSocketLike | undefined;
  #state = CONNECTING;
  /** CONNECTING and waiting for the backoff delay: `online` may cut it short. */
  #isWaiting = false;
  /** `close()` was called: nothing reconnects any more. */
  #isEnded = false;
  /** Consecutive failed connections: the backoff attempt, bounded by `maxRetries`. */
  #failures = 0;
  /** Bumped to forget a connect in progress (its URL may still be resolving). */
  #generation = 0;
  #url = '';
  #origin = '';
  #protocol = '';
  #extensions = '';
  #binaryType: string | undefined;

  /**
   * Connects at once. Throws a `TypeError` when no WebSocket constructor exists, and whatever
   * the WebSocket constructor throws for a bad string URL.
   *
   * @param url - the URL, or a function called before every connect.
   * @param protocols - subprotocols, as for `new WebSocket(url, protocols)`.
   */
  constructor(
    url: UrlProvider,
    protocols?: string | string[],
    options: ReconnectingWebSocketOptions = {},
  ) {
    super();
    this.#WebSocket = resolveWebSocket(options.WebSocket);
    this.#urlProvider = url;
    this.#protocols = protocols;
    this.#options = options;
    this.#queue = new SendQueue(
      options.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages,
      options.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes,
    );
    this.#connect();
    this.#watch();
  }

  /** The URL of the current (or last) socket; `''` until a URL function has answered. */
  get url(): string {
    return this.#url;
  }

  get readyState(): number {
    return this.#state;
  }

  /** The subprotocol the server picked on the last open. */
  get protocol(): string {
    return this.#protocol;
  }

  /** The extensions the server picked on the last open. */
  get extensions(): string {
    return this.#extensions;
  }

  /** The type of binary messages; once set, applied to every socket it creates. */
  get binaryType(): string {
    return this.#binaryType ?? this.#socket?.binaryType ?? 'blob';
  }

  set binaryType(value: string) {
    this.#binaryType = value;
    if (this.#socket !== undefined) this.#socket.binaryType = value;
  }

  /** Bytes queued by `send()` while closed, plus what the open socket has not sent yet. */
  get bufferedAmount(): number {
    return this.#queue.bytes + (this.#socket?.bufferedAmount ?? 0);
  }

  get onopen(): EventHandler<ReconnectingWebSocket, Event> {
    return this.#on.get('open');
  }

  set onopen(handler) {
    this.#on.set('open', handler);
  }

  get onmessage(): EventHandler<ReconnectingWebSocket, MessageEvent> {
    return this.#on.get('message');
  }

  set onmessage(handler) {
    this.#on.set('message', handler);
  }

  get onclose(): EventHandler<ReconnectingWebSocket, ReconnectingCloseEvent> {
    return this.#on.get('close');
  }

  set onclose(handler) {
    this.#on.set('close', handler);
  }

  get onerror(): EventHandler<ReconnectingWebSocket, ReconnectingErrorEvent> {
    return this.#on.get('error');
  }

  set onerror(handler) {
    this.#on.set('error', handler);
  }

  /**
   * Sends now when open, else queues for the next open. Throws a `ReconnectingError`:
   * `QUEUE_FULL` past `maxQueuedMessages`/`maxQueuedBytes`, `CLOSED` once closed for good.
   */
  send(data: SendData): void {
    if (this.#state === CLOSING || this.#state === CLOSED) {
      throw new ReconnectingError('CLOSED', 'send() on a ReconnectingWebSocket closed for good');
    }
    const socket = this.#socket;
    if (this.#state === OPEN && socket !== undefined) socket.send(data);
    else this.#queue.push(data);
  }

  /**
   * Ends it for good: closes the open socket with `code` and `reason` (the final `close` comes
   * with the server's answer), or stops connecting (the final `close` comes at once). Drops
   * the send queue, timers and browser listeners.
   */
  close(code?: number, reason?: string): void {
    if (this.#isEnded) return;
    checkCloseArguments(code, reason);
    this.#isEnded = true;
    this.#generation += 1;
    this.#queue.drain();
    this.#heartbeat?.stop();
    this.#timer.clear();
    this.#isWaiting = false;
    this.#stopWatching();
    const socket = this.#socket;
    if (socket !== undefined && socket.readyState === OPEN) {
      this.#state = CLOSING;
      socket.close(code, reason);
      return;
    }
    this.#discard(code ?? 1000, reason ?? '');
    if (this.#state !== CLOSED) {
      this.#finish(new ReconnectingCloseEvent('close', { code: code ?? 1005, reason }));
    }
  }

  /**
   * Drops the current socket (dispatching its `close`, code 1000, reason `'reconnect'`) and
   * connects again now, without backoff and with the failure count reset. Also revives one
   * that `maxRetries` or `shouldReconnect` ended; throws a `ReconnectingError` after `close()`.
   */
  reconnect(): void {
    if (this.#isEnded) throw new ReconnectingError('CLOSED', 'reconnect() after close()');
    this.#failures = 0;
    this.#watch();
    if (this.#socket !== undefined) {
      this.#discard(1000, 'reconnect');
      this.#closed({ code: 1000, reason: 'reconnect', wasClean: false }, true);
    } else {
      this.#state = CONNECTING;
      this.#connectSafely();
    }
  }

  /** Starts one connect; the constructor lets a bad string URL throw, as native does. */
  #connect(): void {
    this.#isWaiting = false;
    const generation = ++this.#generation;
    const provider = this.#urlProvider;
    if (typeof provider === 'string') {
      this.#open(provider);
    } else {
      Promise.resolve()
        .then(provider)
        .then((url) => {
          if (generation === this.#generation) this.#open(url);
        })
        .catch((error: unknown) => {
          if (generation === this.#generation) this.#fail('connect', error);
        });
    }
    this.#timer.set(this.#options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs, () => {
      this.#generation += 1;
      this.#fail('connect timeout');
    });
  }

  #connectSafely(): void {
    try {
      this.#connect();
    } catch (error) {
      this.#fail('connect', error);
    }
  }

  #open(url: string): void {
    const socket = new this.#WebSocket(url, this.#protocols);
    this.#socket = socket;
    this.#url = socket.url || url;
    this.#origin = originOf(this.#url);
    if (this.#binaryType !== undefined) socket.binaryType = this.#binaryType;
    socket.onopen = () => this.#socketOnOpen(socket);
    socket.onmessage = (event: { data: unknown; origin?: string }) => this.#socketOnMessage(event);
    socket.onerror = (event: { message?: string; error?: unknown }) => {
      const message = event.message ?? 'WebSocket error';
      this.dispatchEvent(new ReconnectingErrorEvent('error', { message, error: event.error }));
    };
    socket.onclose = (event: CloseEventFields) => this.#closed(event);
  }

  #socketOnOpen(socket: WebSocketLike): void {
    this.#state = OPEN;
    this.#protocol = socket.protocol;
    this.#extensions = socket.extensions;
    this.#timer.set(this.#options.minUptimeMs ?? DEFAULTS.minUptimeMs, () => {
      this.#failures = 0;
    });
    const { heartbeat } = this.#options;
    this.#heartbeat =
      heartbeat &&
      startHeartbeat(
        heartbeat,
        () => this.#fail('heartbeat timeout'),
        () => socket.send(heartbeat.message ?? DEFAULT_HEARTBEAT.message),
      );
    for (const data of this.#queue.drain()) socket.send(data);
    this.dispatchEvent(new Event('open'));
  }

  #socketOnMessage(event: { data: unknown; origin?: string }): void {
    this.#heartbeat?.heard();
    if (isPong(this.#options.heartbeat, event.data)) return;
    const origin = event.origin || this.#origin;
    this.dispatchEvent(new MessageEvent('message', { data: event.data, origin }));
  }

  /** A connect that failed or a link found dead: `error`, then `close` with code 1006. */
  #fail(reason: string, error?: unknown): void {
    const message = error === undefined ? reason : `${reason}: ${messageOf(error)}`;
    this.#discard(DROP_CLOSE_CODE, reason);
    this.dispatchEvent(new ReconnectingErrorEvent('error', { message, error }));
    this.#closed({ code: ABNORMAL_CLOSURE, reason: message, wasClean: false });
  }

  /** The one place that decides, after any close, between retrying and ending. */
  #closed(fields: CloseEventFields, isForced = false): void {
    this.#heartbeat?.stop();
    this.#timer.clear();
    this.#socket = undefined;
    const event = new ReconnectingCloseEvent('close', fields);
    if (this.#isEnded || (!isForced && !this.#mayRetry(event))) return this.#finish(event);
    this.#state = CONNECTING;
    this.#isWaiting = true;
    const delayMs = isForced ? 0 : backoffDelay(this.#failures++, this.#options);
    this.#timer.set(delayMs, () => this.#connectSafely());
    this.dispatchEvent(event);
  }

  #mayRetry(event: ReconnectingCloseEvent): boolean {
    if (this.#failures >= (this.#options.maxRetries ?? Infinity)) return false;
    return this.#options.shouldReconnect?.(event) ?? true;
  }

  #finish(event: ReconnectingCloseEvent): void {
    this.#state = CLOSED;
    this.#isWaiting = false;
    this.#stopWatching();
    this.dispatchEvent(event);
  }

  /** Forgets the socket at once; a dead link's closing handshake could hang for minutes. */
  #discard(code: number, reason: string): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#socket = undefined;
    // Not null: `ws` throws an 'error' event that has no listener.
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = ignore;
    try {
      if (typeof socket.terminate === 'function') socket.terminate();
      else socket.close(code, reason);
    } catch {
      // Already closing: nothing more to do.
    }
  }

  /** Browsers: retry at once when back online; probe when offline or visible again. */
  #watch(): void {
    const probe = () => this.#heartbeat?.probeNow();
    this.#unwatch ??= watchEnvironment({
      onOnline: () => {
        if (this.#isWaiting) {
          this.#timer.clear();
          this.#connectSafely();
        }
      },
      onOffline: probe,
      onVisible: probe,
    });
  }

  #stopWatching(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }
}

function ignore(): void {}

function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  const found = given ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof found === 'function') return found;
  throw new TypeError(
    'ReconnectingWebSocket: no WebSocket constructor. This platform has no global WebSocket ' +
      "(Node < 22): pass one, e.g. { WebSocket } from the 'ws' package.",
  );
}

/** The checks of the standard `close()`, made before anything changes. */
function checkCloseArguments(code: number | undefined, reason: string | undefined): void {
  if (
    code !== undefined &&
    code !== 1000 &&
    !(Number.isInteger(code) && code >= 3000 && code <= 4999)
  ) {
    throw new RangeError(`close code must be 1000 or an integer in 3000-4999, got ${code}`);
  }
  if (reason !== undefined && byteLengthOf(reason) > 123) {
    throw new RangeError('close reason must be at most 123 bytes of UTF-8');
  }
}
