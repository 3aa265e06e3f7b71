import type { Envelope } from '../../protocol/envelope.js';
import { readCursor } from '../../protocol/cursor.js';
import { HttpLink } from './http-link.js';
import { type LinkContext, channelQuery, cursorOf, fetchHub, httpEnd } from './link.js';

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

  constructor(
    context: LinkContext,
    readonly name: 'long-polling' | 'polling',
  ) {
    super(context);
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
      this.#poll(abort).catch((error: unknown) => this.fail(abort, error));
    }, delayMs);
  }

  async #poll(abort: AbortController): Promise<void> {
    const { context } = this;
    const { options, events } = context;
    const channels = context.channels();
    const isLong = this.name === 'long-polling';
    // A channel without a position polls at once: its answer says where it starts, so that
    // the subscription is confirmed now rather than at the first envelope. So does the first
    // poll of a link: on a quiet channel a held one would not answer before the connect
    // timeout, and the link would never open.
    const isNew = channels.some((channel) => context.position(channel) === undefined);
    const holdMs = isLong && this.isOpen && !isNew ? options.pollTimeoutMs : 0;
    const waitMs = holdMs + options.timeoutMs;
    const deadline = setTimeout(() => {
      abort.abort();
      this.end({ reason: `no answer within ${waitMs} ms` });
    }, waitMs);
    const query = channelQuery(channels, {
      timeout: String(holdMs),
      cursor: cursorOf(context, channels),
    });
    try {
      const response = await fetchHub(context, `${context.base}/poll?${query}`, {
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
      for (const message of answer.messages ?? []) {
        if ('type' in message && message.type === 'gap') events.gap(message.channel);
        else events.envelope(message as Envelope);
      }
      if (typeof answer.cursor === 'string') {
        for (const [channel, position] of readCursor(answer.cursor, channels)) {
          events.subscribed(channel, position);
        }
      }
    } finally {
      clearTimeout(deadline);
    }
    if (!this.isEnded) this.#schedule(isLong ? 0 : options.pollIntervalMs);
  }
}
