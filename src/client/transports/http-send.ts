import type { TidewireError } from '../../protocol/errors.js';
import type { OutgoingPublish } from '../outbox.js';
import {
  type LinkContext,
  type LinkEnd,
  authHeaders,
  httpEnd,
  networkEnd,
  serverError,
} from './link.js';

/**
 * Publishes of the HTTP transports: `POST /rt/send`, one at a time, so that they reach the
 * hub in the order they were made. A refusal of one message (400, 403, 413) rejects that
 * message; a status that says the link or the server is unwell (401, 408, 429, 5xx) or a
 * network error ends the link, and the outbox sends the message again on the next one.
 *
 * @internal
 */
export class HttpSender {
  readonly #context: LinkContext;
  readonly #onFailure: (end: LinkEnd) => void;
  readonly #queue: OutgoingPublish[] = [];
  readonly #abort = new AbortController();
  #isSending = false;

  constructor(context: LinkContext, onFailure: (end: LinkEnd) => void) {
    this.#context = context;
    this.#onFailure = onFailure;
  }

  publish(message: OutgoingPublish): void {
    this.#queue.push(message);
    if (!this.#isSending) void this.#drain();
  }

  close(): void {
    this.#abort.abort();
  }

  async #drain(): Promise<void> {
    this.#isSending = true;
    let message: OutgoingPublish | undefined;
    while ((message = this.#queue.shift()) && !this.#abort.signal.aborted) {
      const end = await this.#post(message);
      if (end) {
        if (!this.#abort.signal.aborted) this.#onFailure(end);
        break;
      }
    }
    this.#isSending = false;
  }

  /** Posts one message; returns the end of the link when the link failed. */
  async #post(message: OutgoingPublish): Promise<LinkEnd | undefined> {
    const { base, token, options, events } = this.#context;
    const { channel, event, data } = message;
    try {
      const response = await options.fetch!(`${base}/send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...authHeaders(token) },
        body: JSON.stringify({ channel, event, data }),
        credentials: options.withCredentials ? 'include' : 'same-origin',
        signal: this.#abort.signal,
      });
      const { status } = response;
      if (status === 401 || status === 408 || status === 429 || status >= 500) {
        const end = await httpEnd(response);
        // The hub is there and its broker is not: this publish fails, as over WebSocket, and
        // the link (an SSE stream, the polls) stays; the hub says when its broker is back.
        if ((end.error as TidewireError | undefined)?.code !== 'BROKER_UNAVAILABLE') return end;
        events.refused(end.error as TidewireError, message.ref);
        return undefined;
      }
      const body = (await response.json()) as { id?: string; ts?: number };
      if (status === 201 && typeof body.id === 'string') {
        events.acked(message.ref, body.id, body.ts ?? Date.now());
      } else {
        events.refused(serverError(body, `HTTP ${status}`), message.ref);
      }
      return undefined;
    } catch (error) {
      return networkEnd(error);
    }
  }
}
