import type { OutgoingPublish } from '../outbox.js';
import type { TransportName } from '../options.js';
import {
  type Link,
  type LinkContext,
  type LinkEnd,
  fetchHub,
  httpEnd,
  networkEnd,
  serverError,
} from './link.js';

/**
 * What the SSE and polling links share: a set of channels fixed by the request's URL (a change
 * restarts the request, from the client's positions), a link without channels that is up for
 * publishing only, `opened`/`closed` reported once each, and publishes.
 *
 * Publishes go out as `POST /rt/send`, one at a time, so that they reach the hub in the order
 * they were made. A refusal of one message (400, 403, 413) rejects that message; a status that
 * says the link or the server is unwell (401, 408, 429, 5xx) or a network error ends the link,
 * and the outbox sends the message again on the next one.
 *
 * @internal
 */
export abstract class HttpLink implements Link {
  abstract readonly name: TransportName;
  protected readonly context: LinkContext;
  /** The last publish: the next one is posted once it is answered. */
  #sending: Promise<void> = Promise.resolve();
  /** Aborts the publishes when the link closes. */
  readonly #sends = new AbortController();
  #channels = '';
  #isOpen = false;
  #isEnded = false;

  constructor(context: LinkContext) {
    this.context = context;
  }

  sync(): void {
    if (this.context.channels().join('\n') !== this.#channels) this.restart();
  }

  publish(message: OutgoingPublish): void {
    this.#sending = this.#sending.then(async () => {
      // A failure ends the link: what waits behind it is not sent.
      const end = this.#isEnded ? undefined : await this.#post(message);
      if (end) this.end(end);
    });
  }

  close(): void {
    this.#isEnded = true;
    this.stop();
    this.#sends.abort();
  }

  protected get isOpen(): boolean {
    return this.#isOpen;
  }

  protected get isEnded(): boolean {
    return this.#isEnded;
  }

  /** (Re)starts the request for the channels wanted now. */
  protected restart(): void {
    this.stop();
    const channels = this.context.channels();
    this.#channels = channels.join('\n');
    if (channels.length > 0) return this.start(channels);
    // Not from the constructor: the client ignores a link's events until it has it.
    queueMicrotask(() => {
      this.opened();
      // No request, nothing to hear: a quiet link here is no dead link.
      if (!this.#isEnded) this.context.events.idle();
    });
  }

  /** Starts the stream or the polls of `channels` (never empty). */
  protected abstract start(channels: string[]): void;

  /** Stops the current stream or poll, and its timers. */
  protected abstract stop(): void;

  protected opened(): void {
    if (this.#isOpen || this.#isEnded) return;
    this.#isOpen = true;
    this.context.events.opened();
  }

  protected end(end: LinkEnd): void {
    if (this.#isEnded) return;
    this.close();
    this.context.events.closed(end);
  }

  /** A request failed in the network: the link ends, unless `stop()` aborted the request. */
  protected fail(abort: AbortController, error: unknown): void {
    if (!abort.signal.aborted) this.end(networkEnd(error));
  }

  /** Posts one publish; returns the end of the link when the link failed. */
  async #post({ ref, channel, event, data }: OutgoingPublish): Promise<LinkEnd | undefined> {
    const { base, events } = this.context;
    try {
      const response = await fetchHub(this.context, `${base}/send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ channel, event, data }),
        signal: this.#sends.signal,
      });
      const { status } = response;
      if (status === 401 || status === 408 || status === 429 || status >= 500) {
        const end = await httpEnd(response);
        // The hub is there and its broker is not: this publish fails, as over WebSocket, and
        // the link (an SSE stream, the polls) stays; the hub says when its broker is back.
        if (end.error.code !== 'BROKER_UNAVAILABLE') return end;
        events.refused(end.error, ref);
      } else {
        const body = (await response.json()) as { id?: string; ts?: number };
        if (status === 201 && typeof body.id === 'string') {
          events.acked(ref, body.id, body.ts ?? Date.now());
        } else {
          events.refused(serverError(body, `HTTP ${status}`), ref);
        }
      }
    } catch (error) {
      return networkEnd(error);
    }
    return undefined;
  }
}
