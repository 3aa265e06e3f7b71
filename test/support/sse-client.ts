import http from 'node:http';
import { waitFor } from './wait.js';

/** One event as a test reads it off the wire. */
export interface WireEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * A raw SSE reader over `http.get`: keeps the status, the headers, the raw text and the
 * events, so that tests can assert exact wire text. (Line ends here are LF only: the hub
 * writes LF. The spec-exact parser is `tidewire/sse`'s.)
 */
export class TestEventStream {
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  raw = '';
  body = '';
  readonly events: WireEvent[] = [];
  ended = false;
  #request: http.ClientRequest | undefined;
  #pending = '';

  static open(url: string, headers: Record<string, string> = {}): Promise<TestEventStream> {
    const stream = new TestEventStream();
    return new Promise((resolve, reject) => {
      stream.#request = http.get(
        url,
        { headers: { Accept: 'text/event-stream', ...headers } },
        (res) => {
          stream.status = res.statusCode ?? 0;
          stream.headers = res.headers;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            stream.raw += chunk;
            if (stream.status === 200) stream.#feed(chunk);
            else stream.body += chunk;
          });
          res.on('end', () => {
            stream.ended = true;
          });
          res.on('close', () => {
            stream.ended = true;
          });
          resolve(stream);
        },
      );
      stream.#request.on('error', (error) => {
        stream.ended = true;
        reject(error);
      });
    });
  }

  /** Events of a type received so far. */
  ofType(event: string): WireEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  async waitForType(event: string, count: number, timeoutMs = 5000): Promise<WireEvent[]> {
    return waitFor(
      () => {
        const events = this.ofType(event);
        return events.length >= count ? events : undefined;
      },
      timeoutMs,
      `${count} "${event}" events`,
    );
  }

  /** The `id` of the last event that had one (what EventSource sends as Last-Event-ID). */
  get lastEventId(): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const id = this.events[i]?.id;
      if (id !== undefined) return id;
    }
    return undefined;
  }

  close(): void {
    this.#request?.destroy();
  }

  #feed(chunk: string): void {
    this.#pending += chunk;
    let end: number;
    while ((end = this.#pending.indexOf('\n\n')) >= 0) {
      const block = this.#pending.slice(0, end);
      this.#pending = this.#pending.slice(end + 2);
      const event: WireEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') event.id = value;
        else if (field === 'event') event.event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length === 0) continue;
      event.data = data.join('\n');
      this.events.push(event);
    }
  }
}
