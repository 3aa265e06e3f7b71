import type { OutgoingPublish } from '../outbox.js';
import type { TransportName } from '../options.js';
import { HttpSender } from './http-send.js';
import type { Link, LinkContext, LinkEnd } from './link.js';

/**
 * What the SSE and polling links share: publishes as `POST /rt/send`, a set of channels fixed
 * by the request's URL (a change restarts the request, from the client's positions), a link
 * without channels that is up for publishing only, and `opened`/`closed` reported once each.
 *
 * @internal
 */
export abstract class HttpLink implements Link {
  abstract readonly name: TransportName;
  readonly probe = undefined;
  readonly #context: LinkContext;
  readonly #sender: HttpSender;
  #channels = '';
  #isOpen = false;
  #isEnded = false;

  constructor(context: LinkContext) {
    this.#context = context;
    this.#sender = new HttpSender(context, (end) => this.end(end));
  }

  sync(): void {
    if (this.#context.channels().join('\n') !== this.#channels) this.restart();
  }

  publish(message: OutgoingPublish): void {
    this.#sender.publish(message);
  }

  close(): void {
    this.#isEnded = true;
    this.stop();
    this.#sender.close();
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
    const channels = this.#context.channels();
    this.#channels = channels.join('\n');
    if (channels.length > 0) return this.start(channels);
    // Not from the constructor: the client ignores a link's events until it has it.
    queueMicrotask(() => {
      this.opened();
      // No request, nothing to hear: a quiet link here is no dead link.
      if (!this.#isEnded) this.#context.events.idle();
    });
  }

  /** Starts the stream or the polls of `channels` (never empty). */
  protected abstract start(channels: string[]): void;

  /** Stops the current stream or poll, and its timers. */
  protected abstract stop(): void;

  protected opened(): void {
    if (this.#isOpen || this.#isEnded) return;
    this.#isOpen = true;
    this.#context.events.opened();
  }

  protected end(end: LinkEnd): void {
    if (this.#isEnded) return;
    this.close();
    this.#context.events.closed(end);
  }
}
