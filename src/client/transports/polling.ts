import type { Envelope } from '../../protocol/envelope.js';
import { readCursor } from '../../protocol/cursor.js';
import { HttpLink } from './http-link.js';
import {
  type LinkContext,
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
export class PollingLink extends HttpLink {
  #abort: AbortController | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #context: LinkContext;

  constructor(
    context: LinkContext,
    readonly name: 'long-polling' | 'polling',
  ) {
    super(context);
    this.#context = context;
    this.restart();
  }

  protected stop(): void {
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#timer);
  }

  protected start(): void {
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    this.stop();
    this.#timer = setTimeout(() => {
      const abort = new AbortController();
      this.#abort = abort;
      this.#poll(abort).catch((error: unknown) => {
        if (!abort.signal.aborted) this.end(networkEnd(error));
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
    const isHeld = this.name === 'long-polling' && this.isOpen && !isNew;
    const holdMs = isHeld ? options.pollTimeoutMs : 0;
    const extra: Record<string, string> = { timeout: String(holdMs) };
    if (cursor !== undefined) extra.cursor = cursor;
    const deadline = setTimeout(() => {
      abort.abort();
      this.end({ reason: `no answer within ${holdMs + options.timeoutMs} ms` });
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
        if (!abort.signal.aborted) this.end(end);
        return;
      }
      const answer = (await response.json()) as PollAnswer;
      if (abort.signal.aborted) return;
      this.opened();
      events.heard();
      this.#deliver(answer, channels);
    } finally {
      clearTimeout(deadline);
    }
    if (!this.isEnded) this.#schedule(this.name === 'long-polling' ? 0 : options.pollIntervalMs);
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
}
