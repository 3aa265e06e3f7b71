import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeCursor, encodeCursor } from '../core/cursor.js';
import type { EncodedEnvelope } from '../core/encoded-envelope.js';
import type { SubscribeResult, Subscriber } from '../core/hub.js';
import { TidewireError } from '../protocol/errors.js';
import type { CloseReason, Connection } from '../server/connections.js';
import { isGone, settle } from '../server/access.js';
import { readChannelsParam, sendError, sendJson } from '../server/http-util.js';
import type { Identity } from '../server/options.js';
import { DEFAULTS } from '../server/options.js';
import type { HttpTransport, TransportContext } from './transport.js';

/**
 * Long and short polling: `GET /rt/poll?channel=a&cursor=X&timeout=25000`. Stateless: every
 * poll carries its cursor, so any node of a shared broker can answer it (no sticky sessions,
 * PITFALLS #3). A poll subscribes like any other client, which gives it the backlog after its
 * cursor and then live envelopes, and answers with the first batch; `timeout=0` answers at once.
 */
export class PollingTransport implements HttpTransport {
  readonly #context: TransportContext;

  constructor(context: TransportContext) {
    this.#context = context;
  }

  handle(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    identity: Identity,
  ): void {
    const { options, access } = this.#context;
    let channels: string[];
    let since: Map<string, string>;
    let timeout: number;
    try {
      channels = readChannelsParam(query, options.limits.maxSubscriptionsPerConnection);
      const cursor = query.get('cursor');
      since = cursor ? decodeCursor(cursor, channels) : new Map();
      timeout = readTimeout(query.get('timeout'), options.limits.maxPollTimeoutMs);
    } catch (error) {
      sendError(res, error);
      return;
    }
    settle(
      () => access.authorize(identity, channels, 'subscribe'),
      () => this.#open(req, res, channels, since, timeout),
      (error) => sendError(res, error),
    );
  }

  #open(
    req: IncomingMessage,
    res: ServerResponse,
    channels: string[],
    since: Map<string, string>,
    timeout: number,
  ): void {
    const { connections, core, access } = this.#context;
    // An `authorize` hook may have taken a while: the client may be gone, the hub draining.
    if (isGone(res)) return;
    const ip = access.clientIp(req);
    try {
      if (this.#context.isClosing()) {
        throw new TidewireError('SHUTTING_DOWN', 'server is shutting down, retry elsewhere');
      }
      connections.checkAdmission(ip);
    } catch (error) {
      if (error instanceof TidewireError && error.code === 'TOO_MANY_CONNECTIONS') {
        this.#context.counters.drop('too_many_connections');
      }
      sendError(res, error);
      return;
    }
    const poll = new Poll(this.#context, res, ip, timeout, channels.length > 1, since);
    connections.add(poll);
    res.on('close', () => poll.abandon());
    core.subscribe(poll, channels, since).then(
      () => poll.subscribed(),
      (error: unknown) => poll.fail(error),
    );
  }

  close(): void {}
}

function readTimeout(text: string | null, max: number): number {
  if (text === null || text === '') return Math.min(DEFAULTS.pollTimeoutMs, max);
  const value = Number(text);
  if (!/^\d{1,9}$/.test(text)) {
    throw new TidewireError('BAD_REQUEST', 'timeout must be a non-negative integer of ms');
  }
  return Math.min(value, max);
}

type PollState = 'subscribing' | 'holding' | 'answered';

/** One poll request: collects what the hub delivers and answers once. */
class Poll implements Subscriber, Connection {
  readonly id: string;
  readonly transport: 'long-polling' | 'polling';
  readonly #context: TransportContext;
  readonly #res: ServerResponse;
  readonly #timeout: number;
  /** Where each channel stands: what the poll was asked from, until the hub says otherwise. */
  readonly #positions: Map<string, string>;
  readonly #isMulti: boolean;
  readonly #parts: string[] = [];
  #state: PollState = 'subscribing';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushScheduled = false;

  constructor(
    context: TransportContext,
    res: ServerResponse,
    readonly ip: string,
    timeout: number,
    isMulti: boolean,
    since: ReadonlyMap<string, string>,
  ) {
    this.#context = context;
    this.#res = res;
    this.#timeout = timeout;
    this.#isMulti = isMulti;
    this.#positions = new Map(since);
    this.transport = timeout === 0 ? 'polling' : 'long-polling';
    this.id = context.connections.nextId();
  }

  onSubscribed(results: readonly SubscribeResult[]): void {
    for (const { channel, position } of results) this.#positions.set(channel, position);
  }

  onGap(channel: string): void {
    if (this.#state === 'answered') return;
    this.#parts.push(JSON.stringify({ type: 'gap', channel }));
    this.#scheduleAnswer();
  }

  onEnvelope(encoded: EncodedEnvelope): void {
    // Past the batch limit the position stays where the answer ends, and the next poll
    // (which the client makes at once) picks up the rest from history.
    if (
      this.#state === 'answered' ||
      this.#parts.length >= this.#context.options.limits.maxPollBatch
    ) {
      return;
    }
    this.#parts.push(encoded.json);
    this.#context.counters.delivered[this.transport] += 1;
    this.#positions.set(encoded.envelope.channel, encoded.envelope.id);
    this.#scheduleAnswer();
  }

  bufferedBytes(): number {
    return 0;
  }

  /** The backlog is in; hold for live envelopes unless there is something to answer. */
  subscribed(): void {
    if (this.#state !== 'subscribing') return;
    this.#state = 'holding';
    if (this.#parts.length > 0 || this.#timeout === 0) {
      this.#answer();
      return;
    }
    this.#timer = setTimeout(() => this.#answer(), this.#timeout);
  }

  fail(error: unknown): void {
    if (this.#state === 'answered') return;
    this.#finish();
    sendError(this.#res, error);
  }

  /** The client went away before the answer. */
  abandon(): void {
    if (this.#state !== 'answered') this.#finish();
  }

  /** Drain: answer now with what is here, so the client polls again (elsewhere). */
  close(_reason: CloseReason): void {
    // Connection: close, so that the next poll opens a socket, to whichever node is up.
    if (this.#state !== 'answered') this.#answer({ Connection: 'close' });
  }

  #scheduleAnswer(): void {
    // Answer on the next turn of the event loop, not on the first envelope: a burst published
    // together goes out in one answer instead of one request per envelope.
    if (this.#state !== 'holding' || this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#answer());
  }

  #answer(headers: Record<string, string> = {}): void {
    if (this.#state === 'answered') return;
    this.#finish();
    // A poll answered before its subscribe completed (a drain) returns the positions it was
    // asked from; one that knows none returns an empty cursor, which the next poll may send.
    // Never a bare position for several channels, nor an encoded empty map: the next poll
    // would carry it back and be refused for good.
    const cursor = this.#positions.size === 0 ? '' : encodeCursor(this.#positions, this.#isMulti);
    const body = `{"messages":[${this.#parts.join(',')}],"cursor":${JSON.stringify(cursor)}}`;
    sendJson(this.#res, 200, body, headers);
  }

  #finish(): void {
    this.#state = 'answered';
    clearTimeout(this.#timer);
    this.#context.core.unsubscribeAll(this);
    this.#context.connections.remove(this);
  }
}
