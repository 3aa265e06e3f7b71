import type { Envelope } from '../../protocol/envelope.js';
import { readCursor } from '../../protocol/cursor.js';
import type { OutgoingPublish } from '../outbox.js';
import { HttpSender } from './http-send.js';
import {
  type Link,
  type LinkContext,
  type LinkEnd,
  authHeaders,
  channelQuery,
  cursorOf,
  httpEnd,
  networkEnd,
} from './link.js';

type PollAnswer = {
  messages?: Array<Envelope | { type: 'gap'; channel: string }>;
  cursor?: string;
};

/**
 * Long polling (`GET /rt/poll?…&timeout=25000`, the next poll at once) and short polling
 * (`timeout=0`, a pause between polls). Every poll carries the cursor of the client's
 * positions, so any node answers it and none is lost or repeated between polls. A poll that
 * has no answer a heartbeat timeout past its hold is a dead link.
 *
 * @internal
 */
export class PollingLink implements Link {
  readonly probe = undefined;
  readonly #context: LinkContext;
  readonly #sender: HttpSender;
  #abort: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #channels = '';
  #isOpen = false;
  #isEnded = false;

  constructor(
    context: LinkContext,
    readonly name: 'long-polling' | 'polling',
  ) {
    this.#context = context;
    this.#sender = new HttpSender(context, (end) => this.#end(end));
    this.#next(0);
  }

  /** A held poll's channels are fixed by its URL: a change polls again at once. */
  sync(): void {
    if (this.#context.channels().join('\n') !== this.#channels) this.#next(0);
  }

  publish(message: OutgoingPublish): void {
    this.#sender.publish(message);
  }

  close(): void {
    this.#isEnded = true;
    this.#stop();
    this.#sender.close();
  }

  #stop(): void {
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#timer);
  }

  #next(delayMs: number): void {
    this.#stop();
    this.#channels = this.#context.channels().join('\n');
    if (this.#channels === '') {
      // Not from the constructor: the client ignores a link's events until it has it.
      queueMicrotask(() => this.#opened());
      return;
    }
    this.#timer = setTimeout(() => {
      const abort = new AbortController();
      this.#abort = abort;
      this.#poll(abort).catch((error: unknown) => {
        if (!abort.signal.aborted) this.#end(networkEnd(error));
      });
    }, delayMs);
  }

  async #poll(abort: AbortController): Promise<void> {
    const { options, base, token, events } = this.#context;
    const channels = this.#context.channels();
    const cursor = cursorOf(this.#context, channels);
    // A channel without a position polls at once: its answer says where it starts, so that
    // the subscription is confirmed now rather than at the first envelope. So does the first
    // poll of a link: on a quiet channel a held one would not answer before the connect
    // timeout, and the link would never open.
    const isNew = channels.some((channel) => this.#context.position(channel) === undefined);
    const isHeld = this.name === 'long-polling' && this.#isOpen && !isNew;
    const holdMs = isHeld ? options.pollTimeoutMs : 0;
    const extra: Record<string, string> = { timeout: String(holdMs) };
    if (cursor !== undefined) extra.cursor = cursor;
    const deadline = setTimeout(() => {
      abort.abort();
      this.#end({ reason: `no answer within ${holdMs + options.timeoutMs} ms` });
    }, holdMs + options.timeoutMs);
    try {
      const response = await options.fetch!(`${base}/poll?${channelQuery(channels, extra)}`, {
        headers: authHeaders(token),
        credentials: options.withCredentials ? 'include' : 'same-origin',
        cache: 'no-store',
        signal: abort.signal,
      });
      if (response.status !== 200) {
        const end = await httpEnd(response);
        if (!abort.signal.aborted) this.#end(end);
        return;
      }
      const answer = (await response.json()) as PollAnswer;
      if (abort.signal.aborted) return;
      this.#opened();
      events.heard();
      this.#deliver(answer, channels);
    } finally {
      clearTimeout(deadline);
    }
    if (!this.#isEnded) this.#next(this.name === 'long-polling' ? 0 : options.pollIntervalMs);
  }

  #deliver(answer: PollAnswer, channels: string[]): void {
    const { events } = this.#context;
    for (const message of answer.messages ?? []) {
      if ('type' in message && message.type === 'gap') events.gap(message.channel);
      else events.envelope(message as Envelope);
    }
    if (typeof answer.cursor !== 'string') return;
    for (const [channel, position] of readCursor(answer.cursor, channels)) {
      events.subscribed(channel, position);
    }
  }

  #opened(): void {
    if (this.#isOpen || this.#isEnded) return;
    this.#isOpen = true;
    this.#context.events.opened();
  }

  #end(end: LinkEnd): void {
    if (this.#isEnded) return;
    this.close();
    this.#context.events.closed(end);
  }
}
