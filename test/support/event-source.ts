import { EventSource, type EventSourceFetchInit, type FetchLikeResponse } from 'eventsource';
import { waitFor } from './wait.js';

/** One event as a page's listener sees it. */
export interface ReceivedEvent {
  type: string;
  data: string;
  lastEventId: string;
}

const open = new Set<RecordingEventSource>();

/** Closes every RecordingEventSource still open: call it in `afterEach`. */
export function closeEventSources(): void {
  for (const source of open) source.close();
}

/**
 * A real EventSource (the `eventsource` package over the real `fetch`, which behaves as a
 * browser's does: it reconnects, honours `retry:` and sends `Last-Event-ID`). It records
 * `message` events through `onmessage`, the named events of `types`, its open and error
 * events, the `Last-Event-ID` of every request and the headers of every response.
 * `holdReconnects()` makes the next requests wait (after being recorded) until
 * `releaseReconnects()`, so that a test can publish while the client is provably away.
 */
export class RecordingEventSource {
  readonly events: ReceivedEvent[] = [];
  readonly requests: Array<{ lastEventId: string | null }> = [];
  readonly responses: Array<{ headers: Headers }> = [];
  opens = 0;
  errors = 0;
  readonly source: EventSource;
  #gate: Promise<void> | undefined;
  #release: (() => void) | undefined;

  constructor(url: string, types: readonly string[] = []) {
    this.source = new EventSource(url, { fetch: (input, init) => this.#fetch(input, init) });
    const record = (event: MessageEvent) => {
      this.events.push({
        type: event.type,
        data: event.data as string,
        lastEventId: event.lastEventId,
      });
    };
    this.source.onmessage = record;
    for (const type of types) {
      if (type !== 'message') this.source.addEventListener(type, record);
    }
    this.source.addEventListener('open', () => {
      this.opens += 1;
    });
    this.source.addEventListener('error', () => {
      this.errors += 1;
    });
    open.add(this);
  }

  ofType(type: string): ReceivedEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  waitForType(type: string, count: number, timeoutMs = 5000): Promise<ReceivedEvent[]> {
    return waitFor(
      () => this.ofType(type).length >= count && this.ofType(type),
      timeoutMs,
      `${count} "${type}" events`,
    );
  }

  waitForOpen(count = 1): Promise<true> {
    return waitFor(() => this.opens >= count, 5000, 'the stream to open');
  }

  holdReconnects(): void {
    this.#gate = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  releaseReconnects(): void {
    this.#release?.();
    this.#gate = undefined;
  }

  close(): void {
    this.releaseReconnects();
    this.source.close();
    open.delete(this);
  }

  async #fetch(input: string | URL, init: EventSourceFetchInit): Promise<FetchLikeResponse> {
    this.requests.push({ lastEventId: new Headers(init.headers).get('last-event-id') });
    if (this.#gate) await this.#gate;
    const response = await fetch(input, init as RequestInit);
    this.responses.push({ headers: response.headers });
    return response;
  }
}
