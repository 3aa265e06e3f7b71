/**
 * `SSE`: a drop-in for the `express-sse` class. A program written for express-sse runs by
 * changing only its import, and gains replay on `Last-Event-ID`, heartbeats, `retry`, bounded
 * memory per client, compression that flushes per event and correct HTTP/2 headers.
 *
 * @module
 */

import { EventEmitter } from 'node:events';
import { TidewireError } from '../protocol/errors.js';
import { formatEvent } from './format.js';
import { HEARTBEAT, reconnectLater, streamOpening } from './headers.js';
import { ReplayBuffer } from './replay-buffer.js';
import { SseSession, answerReconnectLater, type SseRequest, type SseResponse } from './session.js';

/** Options of `new SSE(initial, options)`: express-sse's three, then tidewire's. */
export interface SSEOptions {
  /**
   * Send an array of initial content as one event per item (true) or as one event holding
   * the array (false). Default true; as in express-sse, an options object that sets
   * `initialEvent` or `isCompressed` but not `isSerialized` means false.
   */
  readonly isSerialized?: boolean;
  /** Event name of the initial content when it is sent as one event. */
  readonly initialEvent?: string;
  /**
   * Compress the stream (gzip or deflate, whichever the client accepts), flushed after every
   * event so nothing waits in the compressor. Default false. (The `compression` middleware
   * does not compress event streams: they say `Cache-Control: no-transform`.)
   */
  readonly isCompressed?: boolean;
  /** Interval of the `:` comment that keeps proxies from cutting a quiet stream; 0 turns it off. Default 15 000. */
  readonly heartbeatMs?: number;
  /** The `retry:` sent first: the browser's reconnect delay in ms. Default 2000. */
  readonly retryMs?: number;
  /** Events kept for replay to clients that come back with `Last-Event-ID`; 0 turns replay off. Default 1000. */
  readonly replayBufferSize?: number;
  /** Bytes a client may leave unread before its stream is cut (it reconnects and replays). Default 1 MiB. */
  readonly maxBufferedBytes?: number;
}

/** The options that have defaults, resolved. */
type Settings = Required<
  Pick<SSEOptions, 'heartbeatMs' | 'retryMs' | 'replayBufferSize' | 'maxBufferedBytes'>
>;

const DEFAULTS = {
  heartbeatMs: 15_000,
  retryMs: 2000,
  replayBufferSize: 1000,
  maxBufferedBytes: 1024 * 1024,
} as const;

/**
 * Server-Sent Events for Express, Node http, Fastify (`request.raw`, `reply.raw`) and
 * `@hono/node-server` (`c.env.incoming`, `c.env.outgoing`), compatible with express-sse.
 *
 * Unlike express-sse, event ids are `<epoch>-<seq>` across all clients (not a counter per
 * client), so that a client that comes back with `Last-Event-ID` gets exactly the events it
 * missed; a client whose id is unknown or too old gets the initial content, as a new one does.
 *
 * @example
 * const sse = new SSE(['initial']);
 * app.get('/stream', sse.init);
 * sse.send({ price: 1 }, 'tick');
 */
export class SSE extends EventEmitter {
  /** The content every new client gets first (express-sse's public field). */
  initial: unknown[];
  /** The options as passed (express-sse's public field); read when a client connects. */
  options: SSEOptions;
  readonly #settings: Settings;
  readonly #buffer: ReplayBuffer;
  readonly #sessions = new Set<SseSession>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #isClosed = false;

  /**
   * @param initial - Content sent to every new client: a value or an array of values.
   * @param options - See `SSEOptions`.
   */
  constructor(initial?: unknown, options?: SSEOptions) {
    super();
    // As in express-sse: a falsy `initial` (undefined, 0, '') means none.
    this.initial = initial ? encodable(toArray(initial)) : [];
    this.options = options ?? { isSerialized: true };
    this.#settings = {
      heartbeatMs: options?.heartbeatMs ?? DEFAULTS.heartbeatMs,
      retryMs: options?.retryMs ?? DEFAULTS.retryMs,
      replayBufferSize: options?.replayBufferSize ?? DEFAULTS.replayBufferSize,
      maxBufferedBytes: options?.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
    };
    checkOptions(this.#settings);
    this.#buffer = new ReplayBuffer(this.#settings.replayBufferSize);
    // express-sse binds it too: `app.get('/stream', sse.init)` passes it unbound.
    this.init = this.init.bind(this);
  }

  /** Open streams. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * The route handler: opens the stream, then sends what the client missed (when it comes
   * back with a `Last-Event-ID` header or `?lastEventId=` that the buffer still reaches) or
   * the initial content.
   */
  init(req: SseRequest, res: SseResponse): void {
    if (this.#isClosed)
      return answerReconnectLater(req, res, this.#settings.retryMs, 'server closing');
    const lastEventId = readLastEventId(req);
    const replay = lastEventId === undefined ? undefined : this.#buffer.since(lastEventId);
    let opening = streamOpening(this.#settings.retryMs);
    try {
      opening += replay?.kind === 'replay' ? replay.events.join('') : this.#initialEvents();
    } catch (error) {
      // `initial` was set by hand to something JSON cannot encode: answer, never throw into
      // the server's request handler.
      return sendServerError(res, error);
    }
    const session = new SseSession(req, res, {
      compress: this.options.isCompressed === true,
      maxBufferedBytes: this.#settings.maxBufferedBytes,
      onClose: (closed) => this.#onSessionClose(closed),
    });
    if (!session.isOpen) return;
    this.#sessions.add(session);
    session.open(opening);
    this.#startHeartbeat();
  }

  /** Sends `data` (as JSON) to every client, with an optional event name and id. */
  send(data: unknown, event?: string | false, id?: string | number): void {
    const ownId = id === undefined || id === null || id === '' ? undefined : String(id);
    const eventId = ownId ?? this.#buffer.nextId();
    const text = formatEvent({
      id: eventId,
      event: typeof event === 'string' && event !== '' ? event : undefined,
      data: toJson(data),
    });
    this.#buffer.push(eventId, text);
    this.emit('data', { data, event, id });
    this.#broadcast(text);
  }

  /** Sends each item of an array as its own event (a non-array is sent as by `send`). */
  serialize(data: unknown): void {
    if (!Array.isArray(data)) return this.send(data);
    // Encode every item first: one that JSON cannot encode must not leave the others half sent.
    const encoded = data.map((item) => toJson(item));
    this.emit('serialize', data);
    let text = '';
    for (const json of encoded) {
      const eventId = this.#buffer.nextId();
      const itemText = formatEvent({ id: eventId, data: json });
      this.#buffer.push(eventId, itemText);
      text += itemText;
    }
    this.#broadcast(text);
  }

  /** Replaces the initial content that new clients get. */
  updateInit(data: unknown): void {
    this.initial = encodable(toArray(data));
  }

  /** Empties the initial content. */
  dropInit(): void {
    this.initial = [];
  }

  /**
   * Ends every stream with a jittered `retry:`, so browsers come back spread out (to another
   * process after a deploy), and answers later connections the same way. For shutdown.
   */
  close(): void {
    this.#isClosed = true;
    for (const session of this.#sessions) {
      session.end(reconnectLater(this.#settings.retryMs, 'server closing'));
    }
    this.#stopHeartbeat();
  }

  #initialEvents(): string {
    if (this.initial.length === 0) return '';
    // The initial content stands for "everything up to now": a client that reconnects with
    // this id resumes from here rather than getting the content again.
    const id = this.#buffer.headId;
    if (this.#isSerialized()) {
      return this.initial.map((item) => formatEvent({ id, data: toJson(item) })).join('');
    }
    const event = this.options.initialEvent;
    return formatEvent({ id, event: event === '' ? undefined : event, data: toJson(this.initial) });
  }

  #isSerialized(): boolean {
    const { isSerialized, initialEvent, isCompressed } = this.options;
    if (isSerialized !== undefined) return isSerialized;
    // express-sse's `isSerialized` is undefined, so false, once any option object is given.
    return initialEvent === undefined && isCompressed === undefined;
  }

  #broadcast(text: string): void {
    for (const session of this.#sessions) session.write(text);
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined || this.#settings.heartbeatMs === 0) return;
    // One timer for every stream of this instance, not one per client.
    this.#heartbeat = setInterval(() => this.#broadcast(HEARTBEAT), this.#settings.heartbeatMs);
    this.#heartbeat.unref?.();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #onSessionClose(session: SseSession): void {
    this.#sessions.delete(session);
    if (this.#sessions.size === 0) this.#stopHeartbeat();
  }
}

function toArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/** Misuse throws at once: content that JSON cannot encode would fail every client later. */
function encodable(values: unknown[]): unknown[] {
  for (const value of values) toJson(value);
  return values;
}

/** express-sse sends every value as JSON, strings too (`"text"`); clients `JSON.parse` it. */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    throw new TidewireError('BAD_REQUEST', `SSE data cannot be encoded as JSON: ${String(error)}`);
  }
}

function readLastEventId(req: SseRequest): string | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return decodeHeaderValue(header);
  // A polyfill or a first connection may carry it in the query instead. Not `new URL()`:
  // it throws on request targets such as `//[`, which would crash a plain Node server.
  const url = req.url ?? '';
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return undefined;
  const query = new URLSearchParams(url.slice(queryStart + 1)).get('lastEventId');
  return query === null || query === '' ? undefined : query;
}

/**
 * Browsers send `Last-Event-ID` as UTF-8 bytes and Node reads header bytes as latin1, so an
 * id like `évt-1` would come back unrecognised. Bytes that are not valid UTF-8 stay as read.
 */
function decodeHeaderValue(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\uFFFD') ? value : decoded;
}

function checkOptions(settings: Settings): void {
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(
        `SSE option ${name} must be a non-negative integer, got ${String(value)}`,
      );
    }
  }
}

function sendServerError(res: SseResponse, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  res.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ code: 'INTERNAL', message }));
}
