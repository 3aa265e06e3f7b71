/**
 * A streaming parser of the `text/event-stream` format that follows the WHATWG HTML
 * "event stream interpretation" (§ 9.2.6) to the letter. Platform-neutral: no Node
 * built-ins, so the browser client parses SSE over `fetch` with it.
 *
 * @module
 */

import { TidewireError } from '../protocol/errors.js';

/** One dispatched event, as a browser's `MessageEvent` would carry it. */
export interface ParsedEvent {
  /** The event type: the last `event:` field of the event, `message` when none. */
  readonly event: string;
  /** The `data:` fields joined by LF. */
  readonly data: string;
  /** The last event ID in force when the event was dispatched (kept across events). */
  readonly id: string;
}

/** Callbacks and limits of `createParser`. */
export interface ParserOptions {
  /** Called for every dispatched event. */
  readonly onEvent: (event: ParsedEvent) => void;
  /**
   * Called with the reconnection time of a valid `retry:` field (ASCII digits only). The spec
   * sets no upper bound: clamp it before handing it to `setTimeout`, which treats anything
   * above 2^31 - 1 ms as 1 ms.
   */
  readonly onRetry?: (retryMs: number) => void;
  /** Called for every comment line, with the text after `:` (one leading space stripped). */
  readonly onComment?: (comment: string) => void;
  /**
   * Called when an event (its pending line plus its data) grows past `maxEventLength`: the
   * event is dropped and input is skipped up to the blank line that ends it.
   */
  readonly onError?: (error: TidewireError) => void;
  /**
   * Longest event, in UTF-16 code units, that the parser buffers: its data so far plus the
   * line being read (field name included) may not exceed it. The WHATWG algorithm has no
   * bound; a stream that never ends its line would otherwise grow memory without limit.
   * Default 16 Mi.
   */
  readonly maxEventLength?: number;
}

/** A streaming event-stream parser. */
export interface EventStreamParser {
  /** Feeds the next chunk: a string, or UTF-8 bytes (a multi-byte character may be split). */
  feed(chunk: string | Uint8Array): void;
  /**
   * Starts a new stream (after a reconnect): drops the incomplete line and event, the pending
   * bytes, and expects a BOM again. The last event ID is kept, as EventSource keeps it across
   * reconnects, unless `options.lastEventId` replaces it.
   */
  reset(options?: { readonly lastEventId?: string }): void;
  /** The last event ID in force: what a reconnect sends as `Last-Event-ID`. */
  readonly lastEventId: string;
}

const DEFAULT_MAX_EVENT_LENGTH = 16 * 1024 * 1024;
const LF = 10;
const CR = 13;
const BOM = '\uFEFF';

/**
 * Creates a streaming parser of the `text/event-stream` format.
 *
 * @example
 * const parser = createParser({ onEvent: ({ event, data, id }) => console.log(event, data, id) });
 * parser.feed('id: 1\nevent: tick\ndata: {"p":1}\n\n');
 */
export function createParser(options: ParserOptions): EventStreamParser {
  return new Parser(options);
}

class Parser implements EventStreamParser {
  readonly #options: ParserOptions;
  readonly #maxEventLength: number;
  /** `ignoreBOM`: `feed` strips the one leading BOM itself, for strings and bytes alike. */
  #decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** The start of a line that has not ended yet. */
  #partialLine = '';
  /** The previous chunk ended with CR: an LF that starts this chunk belongs to it. */
  #lastWasCR = false;
  /** Nothing has been read since the stream started: a BOM may come. */
  #atStreamStart = true;
  /** Skipping an oversized event up to its blank line. */
  #isDiscarding = false;
  /** The pending line was dropped for its length: its end is not a blank line. */
  #isPartialLineDropped = false;
  /** The first error a callback threw during this `feed`, rethrown once the chunk is parsed. */
  #callbackError: { readonly error: unknown } | undefined;
  #data = '';
  #hasData = false;
  #eventType = '';
  #idBuffer = '';
  #lastEventId = '';

  constructor(options: ParserOptions) {
    this.#options = options;
    this.#maxEventLength = options.maxEventLength ?? DEFAULT_MAX_EVENT_LENGTH;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  feed(chunk: string | Uint8Array): void {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (this.#atStreamStart && text.length > 0) {
      // One leading BOM is part of the UTF-8 decode step, not of the stream (§ 9.2.6).
      if (text.startsWith(BOM)) text = text.slice(1);
      this.#atStreamStart = false;
    }
    this.#splitLines(text);
    const failure = this.#callbackError;
    this.#callbackError = undefined;
    // A throwing callback must not cost the rest of the chunk: parse it all, then report.
    if (failure !== undefined) throw failure.error;
  }

  reset(options?: { readonly lastEventId?: string }): void {
    this.#decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    this.#partialLine = '';
    this.#lastWasCR = false;
    this.#atStreamStart = true;
    this.#isDiscarding = false;
    this.#isPartialLineDropped = false;
    this.#clearEvent();
    if (options?.lastEventId !== undefined) this.#lastEventId = options.lastEventId;
    this.#idBuffer = this.#lastEventId;
  }

  /** Cuts the text into lines at CRLF, LF or CR, keeping an unfinished line for later. */
  #splitLines(text: string): void {
    // A multi-byte character split across chunks decodes to '' first: keep the CR state.
    if (text.length === 0) return;
    let start = 0;
    if (this.#lastWasCR && text.charCodeAt(0) === LF) start = 1;
    this.#lastWasCR = false;
    for (let i = start; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code !== LF && code !== CR) continue;
      const line = this.#partialLine + text.slice(start, i);
      const wasDropped = this.#isPartialLineDropped;
      this.#partialLine = '';
      this.#isPartialLineDropped = false;
      if (code === CR) {
        if (i + 1 === text.length) this.#lastWasCR = true;
        else if (text.charCodeAt(i + 1) === LF) i++;
      }
      start = i + 1;
      if (!wasDropped) this.#processLine(line);
    }
    if (start < text.length) {
      this.#partialLine += text.slice(start);
      this.#checkLength();
    }
  }

  #processLine(line: string): void {
    if (line === '') return this.#dispatch();
    if (this.#isDiscarding) return;
    // The same measure as for a pending line, so the outcome never depends on chunking.
    if (this.#data.length + line.length > this.#maxEventLength) return this.#overflow();
    const colon = line.indexOf(':');
    if (colon === 0) {
      const comment = line.slice(line.charCodeAt(1) === 32 ? 2 : 1);
      this.#call(() => this.#options.onComment?.(comment));
      return;
    }
    if (colon === -1) return this.#processField(line, '');
    // A single space after the colon is not part of the value.
    const valueStart = line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
    this.#processField(line.slice(0, colon), line.slice(valueStart));
  }

  #processField(field: string, value: string): void {
    switch (field) {
      case 'event':
        this.#eventType = value;
        break;
      case 'data':
        this.#data += this.#hasData ? `\n${value}` : value;
        this.#hasData = true;
        break;
      case 'id':
        // An id with NUL is ignored, so a server cannot set an ID no header could carry.
        if (!value.includes('\0')) this.#idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) {
          const retryMs = Number.parseInt(value, 10);
          this.#call(() => this.#options.onRetry?.(retryMs));
        }
        break;
      default:
        // Any other field is ignored (§ 9.2.6).
        break;
    }
  }

  #dispatch(): void {
    const wasDiscarding = this.#isDiscarding;
    this.#isDiscarding = false;
    // The ID buffer becomes the last event ID even when no event is dispatched.
    this.#lastEventId = this.#idBuffer;
    if (wasDiscarding || !this.#hasData) return this.#clearEvent();
    const event: ParsedEvent = {
      event: this.#eventType === '' ? 'message' : this.#eventType,
      data: this.#data,
      id: this.#lastEventId,
    };
    this.#clearEvent();
    this.#call(() => this.#options.onEvent(event));
  }

  #call(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.#callbackError ??= { error };
    }
  }

  #clearEvent(): void {
    this.#data = '';
    this.#hasData = false;
    this.#eventType = '';
  }

  /** Drops a pending line that would make the event longer than the limit. */
  #checkLength(): void {
    if (this.#data.length + this.#partialLine.length <= this.#maxEventLength) return;
    if (this.#partialLine.length > 0) this.#isPartialLineDropped = true;
    this.#partialLine = '';
    this.#overflow();
  }

  /** Drops the event in progress and skips input up to its blank line; reports it once. */
  #overflow(): void {
    this.#clearEvent();
    if (this.#isDiscarding) return;
    this.#isDiscarding = true;
    const error = new TidewireError(
      'MESSAGE_TOO_LARGE',
      `SSE event longer than ${this.#maxEventLength} characters; dropped`,
    );
    this.#call(() => this.#options.onError?.(error));
  }
}
