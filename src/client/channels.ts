import { assertChannel } from '../protocol/channel.js';
import type { Envelope } from '../protocol/envelope.js';
import { reportListenerError } from './emitter.js';

/**
 * What the client knows of each channel it wants: the handlers, the position to resume from,
 * whether the server confirmed it; and the `event → handlers` routes of `register`, the map
 * that hand-written clients keep as `socketType → callback`.
 *
 * @module
 */

/** Gets an envelope's `data`, and the whole envelope for its id, event and time. */
export type EnvelopeHandler = (data: unknown, envelope: Envelope) => void;

/** A handle on one `subscribe()` call. */
export interface Subscription {
  readonly channel: string;
  /**
   * Resolves once the server confirmed the subscription (and so where it stands); rejects when
   * the server refused it or the client was destroyed first.
   */
  readonly ready: Promise<void>;
  /** The id of the last envelope received on the channel (or its starting position). */
  readonly position: string | undefined;
  /** Stops this handler; the last one of a channel unsubscribes from the server. */
  unsubscribe(): void;
}

export interface SubscribeOptions {
  /** Resume after this envelope id (one saved from an earlier session). */
  readonly since?: string;
}

interface ChannelState {
  readonly handlers: Set<EnvelopeHandler>;
  position: string | undefined;
  readonly ready: Promise<void>;
  readonly settle: (error?: Error) => void;
}

/** @internal */
export class Channels {
  readonly #states = new Map<string, ChannelState>();
  readonly #routes = new Map<string, Set<EnvelopeHandler>>();
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  names(): string[] {
    return [...this.#states.keys()];
  }

  position(channel: string): string | undefined {
    return this.#states.get(channel)?.position;
  }

  has(channel: string): boolean {
    return this.#states.has(channel);
  }

  add(channel: string, handler?: EnvelopeHandler, options: SubscribeOptions = {}): Subscription {
    assertChannel(channel);
    let state = this.#states.get(channel);
    if (!state) {
      state = newState(options.since);
      this.#states.set(channel, state);
      this.#onChange();
    }
    // A wrapper of its own, so that the same function subscribed twice unsubscribes once.
    const own: EnvelopeHandler = (data, envelope) => handler?.(data, envelope);
    state.handlers.add(own);
    const held = state;
    return {
      channel,
      ready: held.ready,
      get position() {
        return held.position;
      },
      unsubscribe: () => {
        if (!held.handlers.delete(own) || held.handlers.size > 0) return;
        if (this.#states.get(channel) === held) this.remove(channel);
      },
    };
  }

  remove(channel: string): void {
    if (!this.#states.delete(channel)) return;
    this.#onChange();
  }

  /** The server says where the subscription stands. */
  confirm(channel: string, position: string): void {
    const state = this.#states.get(channel);
    if (!state) return;
    state.position = position;
    // Settles `ready` the first time; a promise settles once, so later calls change nothing.
    state.settle();
  }

  /** Drops every position (the hub refused them); returns the channels that had one. */
  forgetPositions(): string[] {
    const forgotten: string[] = [];
    for (const [channel, state] of this.#states) {
      if (state.position === undefined) continue;
      state.position = undefined;
      forgotten.push(channel);
    }
    return forgotten;
  }

  /** The server refused the subscription: it is dropped, its `ready` rejects. */
  refuse(channel: string, error: Error): void {
    this.#states.get(channel)?.settle(error);
    this.remove(channel);
  }

  /**
   * Hands an envelope to the channel's handlers and the routes of its event. An envelope of a
   * channel no longer wanted (in flight when it was unsubscribed) or a repeat of the last one
   * is dropped.
   */
  deliver(envelope: Envelope): void {
    const state = this.#states.get(envelope.channel);
    if (!state || envelope.id === state.position) return;
    state.position = envelope.id;
    const routed = this.#routes.get(envelope.event);
    for (const handler of [...state.handlers, ...(routed ?? [])]) {
      try {
        handler(envelope.data, envelope);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }

  register(event: string, handler: EnvelopeHandler): () => void {
    let set = this.#routes.get(event);
    if (!set) this.#routes.set(event, (set = new Set()));
    set.add(handler);
    return () => this.unregister(event, handler);
  }

  unregister(event: string, handler?: EnvelopeHandler): void {
    if (handler) this.#routes.get(event)?.delete(handler);
    else this.#routes.delete(event);
  }

  /** Drops everything (the client is destroyed); pending `ready` promises reject. */
  clear(error: Error): void {
    for (const state of this.#states.values()) state.settle(error);
    this.#states.clear();
    this.#routes.clear();
  }
}

function newState(since: string | undefined): ChannelState {
  let settle!: (error?: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  // Nobody has to await it: a refusal is also reported as an 'error' event.
  ready.catch(() => {});
  return { handlers: new Set(), position: since, ready, settle };
}
