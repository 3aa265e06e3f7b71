/**
 * The events the wrappers dispatch beyond `Event` and `MessageEvent`, and the `onopen`-style
 * handler attributes. Node 20 has no global `CloseEvent` or `ErrorEvent`, so these are small
 * `Event` subclasses with the same fields.
 *
 * @module
 */

/** Fields of a `close` event, as a browser's `CloseEvent` has them. */
export interface CloseEventFields {
  /** The close code: the server's, or 1006 when the link was lost or dropped. */
  readonly code?: number;
  /** The close reason: the server's, or why the wrapper dropped the link. */
  readonly reason?: string;
  /** Whether the closing handshake completed. */
  readonly wasClean?: boolean;
}

/** A `close` event with `code`, `reason` and `wasClean`, like a browser's `CloseEvent`. */
export class ReconnectingCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, fields: CloseEventFields = {}) {
    super(type);
    this.code = fields.code ?? 1005;
    this.reason = fields.reason ?? '';
    this.wasClean = fields.wasClean ?? false;
  }
}

/** Fields of an `error` event. */
export interface ErrorEventFields {
  /** What went wrong, readable. */
  readonly message: string;
  /** The HTTP status of a failed event-stream request, when there was an answer. */
  readonly status?: number;
  /** The underlying error (a fetch `TypeError`, an abort reason, the socket's error). */
  readonly error?: unknown;
}

/** An `error` event that says what went wrong, like a browser's `ErrorEvent` plus `status`. */
export class ReconnectingErrorEvent extends Event {
  readonly message: string;
  readonly status: number | undefined;
  readonly error: unknown;

  constructor(type: string, fields: ErrorEventFields) {
    super(type);
    this.message = fields.message;
    this.status = fields.status;
    this.error = fields.error;
  }
}

/** An `onopen`-style handler. */
export type EventHandler<This, E extends Event> = ((this: This, event: E) => unknown) | null;

/**
 * The `onX` handler attributes of an `EventTarget`, with the DOM's ordering: the handler runs
 * among the listeners at the place where it was first set, and setting another one keeps that
 * place.
 *
 * @internal
 */
export class HandlerAttributes<This extends EventTarget> {
  readonly #target: This;
  readonly #handlers = new Map<string, unknown>();

  constructor(target: This) {
    this.#target = target;
  }

  get<E extends Event>(type: string): EventHandler<This, E> {
    return (this.#handlers.get(type) ?? null) as EventHandler<This, E>;
  }

  set<E extends Event>(type: string, handler: EventHandler<This, E>): void {
    if (!this.#handlers.has(type)) {
      this.#target.addEventListener(type, (event) => {
        this.get(type)?.call(this.#target, event);
      });
    }
    this.#handlers.set(type, typeof handler === 'function' ? handler : null);
  }
}

type Listener<This, E extends Event> = ((this: This, event: E) => unknown) | EventListenerObject;

/**
 * An `EventTarget` whose `addEventListener` knows the event class of each type, as the DOM's
 * `WebSocket` and `EventSource` typings do: `M` maps the known types, `Other` is the class of
 * any other type (an EventSource's named events are `MessageEvent`s).
 *
 * @internal
 */
export class TypedEventTarget<
  M extends { [K in keyof M]: Event },
  Other extends Event = Event,
> extends EventTarget {
  override addEventListener<K extends keyof M & string>(
    type: K,
    listener: Listener<this, M[K]> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: Listener<this, Other> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: Listener<this, never> | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  override removeEventListener<K extends keyof M & string>(
    type: K,
    listener: Listener<this, M[K]> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: Listener<this, Other> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: Listener<this, never> | null,
    options?: boolean | EventListenerOptions,
  ): void {
    super.removeEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }
}
