import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { encodeCursor, decodeCursor } from '../core/cursor.js';
import type { EncodedEnvelope } from '../core/encoded-envelope.js';
import type { SubscribeResult, Subscriber } from '../core/hub.js';
import { TidewireError } from '../protocol/errors.js';
import type { CloseReason, Connection } from '../server/connections.js';
import { isGone, settle } from '../server/access.js';
import { readChannelsParam, sendError } from '../server/http-util.js';
import type { Identity } from '../server/options.js';
import { formatEvent } from '../sse/format.js';
import { type BacklogOwner, BacklogGuard } from '../sse/backlog-guard.js';
import { HEARTBEAT, reconnectLater, sseHeaders, streamOpening } from '../sse/headers.js';
import { answerReconnectLater } from '../sse/session.js';
import { writeBatched } from './batched-write.js';
import type { HttpTransport, TransportContext } from './transport.js';

/**
 * Memo keys: the `event:`/`data:` lines, and the whole event for one-channel streams, in the
 * named form (`event: <event>`) and the unnamed one (the `event` only in the data).
 */
const EVENT_BODY = Symbol('sse event body');
const SINGLE_CHANNEL_EVENT = Symbol('sse single-channel event');
const UNNAMED_BODY = Symbol('sse unnamed event body');
const UNNAMED_SINGLE_CHANNEL_EVENT = Symbol('sse unnamed single-channel event');
const CHUNKED_SINGLE_CHANNEL_EVENT = Symbol('sse single-channel event, chunked');
const CHUNKED_UNNAMED_SINGLE_CHANNEL_EVENT = Symbol('sse unnamed single-channel event, chunked');

function eventBody(encoded: EncodedEnvelope): string {
  return formatEvent({ event: encoded.envelope.event, data: encoded.json });
}

function singleChannelEvent(encoded: EncodedEnvelope): string {
  return `id: ${encoded.envelope.id}\n${encoded.memo(EVENT_BODY, eventBody)}`;
}

function unnamedBody(encoded: EncodedEnvelope): string {
  return formatEvent({ data: encoded.json });
}

function unnamedSingleChannelEvent(encoded: EncodedEnvelope): string {
  return `id: ${encoded.envelope.id}\n${encoded.memo(UNNAMED_BODY, unnamedBody)}`;
}

/**
 * `text` as one HTTP/1.1 chunk (RFC 9112 § 7.1): size line, bytes, CRLF. Built once per
 * envelope and written to every one-channel stream's socket as is: through `res.write()` each
 * stream would encode the text again and make four writes (size, CRLF, data, CRLF).
 */
export function httpChunk(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const sizeLine = `${length.toString(16)}\r\n`;
  const chunk = Buffer.allocUnsafe(sizeLine.length + length + 2);
  chunk.write(sizeLine, 0, 'latin1');
  chunk.write(text, sizeLine.length, 'utf8');
  chunk.write('\r\n', sizeLine.length + length, 'latin1');
  return chunk;
}

function chunkedSingleChannelEvent(encoded: EncodedEnvelope): Buffer {
  return httpChunk(encoded.memo(SINGLE_CHANNEL_EVENT, singleChannelEvent));
}

function chunkedUnnamedSingleChannelEvent(encoded: EncodedEnvelope): Buffer {
  return httpChunk(encoded.memo(UNNAMED_SINGLE_CHANNEL_EVENT, unnamedSingleChannelEvent));
}

/** What a stream writes per envelope: named events, or unnamed ones (`?unnamed=1`). */
const NAMED = {
  body: EVENT_BODY,
  bodyOf: eventBody,
  single: SINGLE_CHANNEL_EVENT,
  singleOf: singleChannelEvent,
  chunkedSingle: CHUNKED_SINGLE_CHANNEL_EVENT,
  chunkedSingleOf: chunkedSingleChannelEvent,
};
const UNNAMED = {
  body: UNNAMED_BODY,
  bodyOf: unnamedBody,
  single: UNNAMED_SINGLE_CHANNEL_EVENT,
  singleOf: unnamedSingleChannelEvent,
  chunkedSingle: CHUNKED_UNNAMED_SINGLE_CHANNEL_EVENT,
  chunkedSingleOf: chunkedUnnamedSingleChannelEvent,
};

/**
 * The heartbeat of an unnamed stream: an event, since a native EventSource never sees
 * comments and so could not tell a quiet link from a dead one. `ping` cannot clash with an
 * envelope there, as envelopes go out unnamed.
 */
const PING_EVENT = formatEvent({ event: 'ping', data: '{}' });

/**
 * Server-Sent Events: `GET /rt/sse?channel=a&channel=b[&lastEventId=X]`. Each envelope is an
 * event whose `id:` is the cursor of the whole subscription, so that the browser's automatic
 * `Last-Event-ID` resumes every channel. One timer writes the heartbeat of every stream.
 *
 * With `unnamed=1` envelopes go out as unnamed events (their `event` stays in the data) and
 * the heartbeat is an `event: ping`: a native EventSource can neither listen to event names it
 * does not know in advance nor see comments, and the tidewire client needs both.
 */
export class SseTransport implements HttpTransport {
  readonly #context: TransportContext;
  readonly #streams = new Set<SseStream>();
  readonly #heartbeat: ReturnType<typeof setInterval>;

  constructor(context: TransportContext) {
    this.#context = context;
    this.#heartbeat = setInterval(() => {
      for (const stream of this.#streams) stream.heartbeat();
    }, context.options.sseHeartbeatMs);
    this.#heartbeat.unref?.();
  }

  handle(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    identity: Identity,
  ): void {
    const { options, access } = this.#context;
    let since: Map<string, string>;
    let channels: string[];
    try {
      channels = readChannelsParam(query, options.limits.maxSubscriptionsPerConnection);
      // The header is what a reconnecting EventSource sends; it wins over the query of the
      // original URL, which the browser repeats unchanged.
      const header = req.headers['last-event-id'];
      const cursor =
        (typeof header === 'string' && header !== '' ? header : undefined) ??
        (query.get('lastEventId') || undefined);
      since = cursor === undefined ? new Map() : decodeCursor(cursor, channels);
    } catch (error) {
      sendError(res, error);
      return;
    }
    settle(
      () => access.authorize(identity, channels, 'subscribe'),
      () => this.#open(req, res, query, channels, since),
      (error) => sendError(res, error),
    );
  }

  #open(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    channels: string[],
    since: Map<string, string>,
  ): void {
    const { connections, options, core, access } = this.#context;
    // An `authorize` hook may have taken a while: the client may be gone, the hub draining.
    if (isGone(res)) return;
    if (this.#context.isClosing()) {
      answerReconnectLater(req, res, options.sseRetryMs, 'server restarting');
      return;
    }
    const ip = access.clientIp(req);
    try {
      connections.checkAdmission(ip);
    } catch (error) {
      this.#context.counters.drop('too_many_connections');
      sendError(res, error);
      return;
    }
    const isUnnamed = query.get('unnamed') === '1';
    const stream = new SseStream(this.#context, req, res, ip, isUnnamed, channels.length > 1, () =>
      this.#streams.delete(stream),
    );
    this.#streams.add(stream);
    connections.add(stream);
    core.subscribe(stream, channels, since).catch((error: unknown) => stream.fail(error));
  }

  close(): void {
    clearInterval(this.#heartbeat);
  }
}

/** One event stream: a `Subscriber` for the hub and a `Connection` for the registry. */
class SseStream implements Subscriber, Connection, BacklogOwner {
  readonly transport = 'sse' as const;
  readonly id: string;
  readonly #context: TransportContext;
  readonly #res: ServerResponse;
  readonly #onGone: () => void;
  readonly #positions = new Map<string, string>();
  readonly #backlog: BacklogGuard;
  readonly #form: typeof NAMED;
  readonly #heartbeat: string;
  /** Several channels: the `id:` is always the multi-channel cursor, whatever is known yet. */
  readonly #isMulti: boolean;
  /**
   * The socket, where a one-channel stream's envelopes go as prebuilt chunks (`httpChunk`):
   * an HTTP/1.1 response, chunked by our own header, whose `write` nobody wrapped (a
   * compressing middleware must see every byte). Else undefined, and all goes by `res.write`.
   */
  readonly #socket: Socket | undefined;
  #ended = false;

  constructor(
    context: TransportContext,
    req: IncomingMessage,
    res: ServerResponse,
    readonly ip: string,
    isUnnamed: boolean,
    isMulti: boolean,
    onGone: () => void,
  ) {
    this.#context = context;
    this.#isMulti = isMulti;
    this.#res = res;
    this.#form = isUnnamed ? UNNAMED : NAMED;
    this.#heartbeat = isUnnamed ? PING_EVENT : HEARTBEAT;
    this.#onGone = onGone;
    this.id = context.connections.nextId();
    this.#backlog = new BacklogGuard(this, context.options.limits.maxBufferedBytes);
    // Events go out as written, not held back by Nagle (HTTP/2 sockets may lack the call).
    req.socket.setNoDelay?.(true);
    const isChunked = req.httpVersion === '1.1' && res.write === ServerResponse.prototype.write;
    const headers = sseHeaders(req.httpVersion);
    // What Node would choose anyway; said here, so that the prebuilt chunks are sure to fit.
    if (isChunked) headers['Transfer-Encoding'] = 'chunked';
    res.writeHead(200, headers);
    // Headers and opening go out through `res`, before any prebuilt chunk on the socket.
    res.write(streamOpening(context.options.sseRetryMs));
    this.#socket = !isMulti && isChunked ? req.socket : undefined;
    res.on('close', () => this.#cleanup());
  }

  onSubscribed(results: readonly SubscribeResult[]): void {
    for (const { channel, position } of results) this.#positions.set(channel, position);
    // An event that carries the starting cursor as its id: a client that reconnects before any
    // envelope arrived still resumes from here instead of from "now".
    const channels = results.map(({ channel, position, recovered }) => ({
      channel,
      position,
      recovered,
    }));
    // An unnamed stream is the tidewire client's: it learns the heartbeat interval, so that it
    // judges a quiet link by the server's own pace.
    const data =
      this.#form === UNNAMED
        ? { channels, heartbeatMs: this.#context.options.sseHeartbeatMs }
        : { channels };
    this.write(formatEvent({ id: this.#cursor(), event: 'subscribed', data }));
  }

  onGap(channel: string): void {
    this.write(formatEvent({ id: this.#cursor(), event: 'gap', data: { channel } }));
  }

  onEnvelope(encoded: EncodedEnvelope): void {
    this.#context.counters.delivered.sse += 1;
    this.#positions.set(encoded.envelope.channel, encoded.envelope.id);
    const form = this.#form;
    if (this.#socket) {
      if (this.#ended || this.#socket.destroyed) return;
      writeBatched(this.#socket, encoded.memo(form.chunkedSingle, form.chunkedSingleOf));
      this.#backlog.afterWrite();
    } else if (!this.#isMulti) {
      this.write(encoded.memo(form.single, form.singleOf));
    } else {
      this.write(`id: ${this.#cursor()}\n${encoded.memo(form.body, form.bodyOf)}`);
    }
  }

  heartbeat(): void {
    this.write(this.#heartbeat);
  }

  /** What the response still queues: for the metrics and the backlog guard. */
  bufferedBytes(): number {
    return this.#ended ? 0 : this.#res.writableLength;
  }

  write(text: string): void {
    if (this.#ended) return;
    this.#res.write(text);
    this.#backlog.afterWrite();
  }

  /** The peer stopped reading: end the stream rather than queue without bound. */
  onSlowConsumer(): void {
    this.#context.counters.drop('slow_consumer');
    this.#context.options.logger.warn(
      { connection: this.id, ip: this.ip },
      'sse slow consumer closed',
    );
    this.#end();
    this.#res.destroy();
  }

  /** Ends the stream after a failed subscribe, telling the client why in an `error` event. */
  fail(error: unknown): void {
    const known =
      error instanceof TidewireError ? error : new TidewireError('INTERNAL', 'internal error');
    this.write(formatEvent({ event: 'error', data: known.toJSON() }));
    this.#end();
  }

  close(reason: CloseReason): void {
    // A jittered `retry:` before the end spreads the browsers' reconnects (PITFALLS #9).
    this.write(reconnectLater(this.#context.options.sseRetryMs, reason.reason));
    this.#end();
  }

  #cursor(): string {
    return encodeCursor(this.#positions, this.#isMulti);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#res.end();
    this.#cleanup();
  }

  #cleanup(): void {
    this.#ended = true;
    this.#backlog.stop();
    this.#context.core.unsubscribeAll(this);
    this.#context.connections.remove(this);
    this.#onGone();
  }
}
