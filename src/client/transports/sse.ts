import type { Envelope } from '../../protocol/envelope.js';
import { TidewireError } from '../../protocol/errors.js';
import { createParser } from '../../sse/parser.js';
import { HttpLink } from './http-link.js';
import {
  type LinkContext,
  type LinkEnd,
  channelQuery,
  cursorOf,
  fetchHub,
  httpEnd,
  serverError,
} from './link.js';

/**
 * The SSE link: `GET /rt/sse?channel=…&unnamed=1`, over the browser's EventSource where it
 * exists (and no token needs a header), else over `fetch` with tidewire's own parser, which
 * sends `Authorization` and sees comments (PITFALLS #12). `unnamed=1` makes every envelope an
 * unnamed event and the heartbeat an `event: ping`: an EventSource hears both. Publishes go
 * out as `POST /rt/send`.
 *
 * EventSource reconnects by itself, but with its own delay and the cursor of its last event:
 * this link closes it on the first error instead and lets the client reconnect with backoff
 * and its own positions, so that there is one reconnect policy, not two racing.
 *
 * @internal
 */
export class SseLink extends HttpLink {
  readonly name = 'sse' as const;
  #stream: { close(): void } | undefined;

  constructor(context: LinkContext) {
    super(context);
    this.restart();
  }

  protected stop(): void {
    this.#stream?.close();
    this.#stream = undefined;
  }

  protected start(channels: string[]): void {
    const { context } = this;
    const { EventSource } = context.options;
    const query = channelQuery(channels, {
      unnamed: '1',
      lastEventId: cursorOf(context, channels),
      // EventSource cannot send headers.
      token: EventSource && context.token,
    });
    const url = `${context.base}/sse?${query}`;
    this.#stream = EventSource ? this.#eventSource(url) : this.#fetchStream(url);
  }

  #eventSource(url: string): { close(): void } {
    const { options } = this.context;
    const source = new options.EventSource!(url, { withCredentials: options.withCredentials });
    source.onopen = () => this.opened();
    for (const type of ['message', 'subscribed', 'gap', 'ping']) {
      source.addEventListener(type, (event) => this.#onEvent(type, String(event.data)));
    }
    // Both the server's `event: error` (with data) and a failed connection (without).
    source.addEventListener('error', (event) => {
      if (event.data !== undefined) this.#onEvent('error', String(event.data));
      else if (this.#stream === stream) this.end(eventSourceEnd(event));
    });
    const stream = { close: () => source.close() };
    return stream;
  }

  #fetchStream(url: string): { close(): void } {
    const abort = new AbortController();
    const { events } = this.context;
    // A stream that ends with a `retry:` before any event is a draining hub sending the
    // client back later: its jittered delay is honoured (PITFALLS #9), as an EventSource
    // would, instead of coming back at the base backoff to be sent back again and again.
    let retryAfterMs: number | undefined;
    let hasEvent = false;
    const parser = createParser({
      onEvent: ({ event, data }) => {
        hasEvent = true;
        this.#onEvent(event, data);
      },
      onComment: () => events.heard(),
      onRetry: (ms) => (retryAfterMs = ms),
    });
    const read = async () => {
      const response = await fetchHub(this.context, url, {
        headers: { Accept: 'text/event-stream' },
        cache: 'no-store',
        signal: abort.signal,
      });
      const type = response.headers.get('content-type') ?? '';
      if (!response.ok || !response.body || !type.startsWith('text/event-stream')) {
        return this.end(await httpEnd(response));
      }
      this.opened();
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        events.heard();
        parser.feed(value);
      }
      if (abort.signal.aborted) return;
      const reason = 'the server ended the stream';
      this.end({ reason, retryAfterMs: hasEvent ? undefined : retryAfterMs });
    };
    read().catch((error: unknown) => this.fail(abort, error));
    return { close: () => abort.abort() };
  }

  #onEvent(type: string, data: string): void {
    const { events } = this.context;
    events.heard();
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return;
    }
    if (type === 'message') {
      events.envelope(value as unknown as Envelope);
    } else if (type === 'subscribed') {
      if (typeof value.heartbeatMs === 'number') events.heartbeatHint(value.heartbeatMs);
      const list = (value.channels ?? []) as Array<{ channel: string; position: string }>;
      for (const { channel, position } of list) events.subscribed(channel, position);
    } else if (type === 'gap') {
      events.gap(value.channel as string);
    } else if (type === 'error') {
      // The server refused the subscription; the stream ends after it.
      const error = serverError(value, 'refused');
      this.end({ reason: error.message, error });
    }
  }
}

/**
 * The end of an EventSource that failed. The `eventsource` package tells the refused status
 * (`code`), so that a 401 or 403 stops the client instead of reconnecting forever; a
 * browser's EventSource tells nothing. It cannot read the body either: a 400 is taken for
 * the one thing the client does not check before it asks, the resume position, so that the
 * client drops it rather than send it again forever.
 */
function eventSourceEnd(event: object): LinkEnd {
  const status = (event as { code?: unknown }).code;
  if (typeof status !== 'number') return { reason: 'EventSource failed' };
  const reason = `EventSource failed with HTTP ${status}`;
  if (status !== 400) return { status, reason };
  return { status, reason, error: new TidewireError('BAD_CURSOR', reason) };
}
