import type { Envelope } from '../../protocol/envelope.js';
import type { TidewireError } from '../../protocol/errors.js';
import type { OutgoingPublish } from '../outbox.js';
import type { ResolvedClientOptions, WebSocketLike } from '../options.js';
import { type Link, type LinkContext, authHeaders, serverError } from './link.js';

const PING = '{"type":"ping"}';

/**
 * The WebSocket link: `GET /rt/ws`, JSON frames of SPEC.md. Subscribes to what the client
 * wants as soon as the socket opens (with `since` positions, so a reconnect resumes), and
 * pings with `{"type":"ping"}` when asked to probe.
 *
 * @internal
 */
export class WebSocketLink implements Link {
  readonly name = 'websocket' as const;
  readonly #context: LinkContext;
  readonly #ws: WebSocketLike;
  /** Channels this socket subscribed to, so that `sync` sends only the difference. */
  readonly #subscribed = new Set<string>();
  /** Channels whose subscribe is not answered yet → its ref, to tell what a refusal is about. */
  readonly #unanswered = new Map<string, string>();
  /**
   * Channels unsubscribed on this socket and not confirmed since. The hub handles frames in
   * order and starts a new subscription with `subscribed`, so a `message` or `gap` of such a
   * channel that arrives in between was sent for the old subscription: it is dropped. (An app
   * that unsubscribes and subscribes again from its position within one task would otherwise
   * get what was in flight, then the same envelopes again from history.) For the first
   * `subscribed` after an `unsubscribe` to be the new subscription's, a channel is left only
   * once its subscribe is answered (see `sync`).
   */
  readonly #leaving = new Set<string>();
  /** Whether `sync` held back leaving a channel whose subscribe was not answered yet. */
  #isLeaveDeferred = false;
  #nextRef = 0;
  #isEnded = false;

  constructor(context: LinkContext) {
    this.#context = context;
    const ws = openSocket(context.base, context.token, context.options);
    this.#ws = ws;
    ws.onopen = () => this.#onOpen();
    ws.onmessage = (event) => this.#onMessage(event.data);
    ws.onclose = (event) => this.#end(event.code, event.reason || `closed with ${event.code}`);
    // 'close' follows every 'error'.
    ws.onerror = () => {};
  }

  readonly probe = () => this.#send(PING);

  sync(): void {
    if (this.#ws.readyState !== 1) return;
    const wanted = new Set(this.#context.channels());
    const unwanted = [...this.#subscribed].filter((channel) => !wanted.has(channel));
    // The hub may still answer a subscribe it got before an unsubscribe, or may not (it drops
    // a subscription left while its history was being read): its `subscribed` could then be
    // taken for a later subscription's. So a channel is left once its subscribe is answered.
    const gone = unwanted.filter((channel) => !this.#unanswered.has(channel));
    this.#isLeaveDeferred = gone.length < unwanted.length;
    const fresh = [...wanted].filter((channel) => !this.#subscribed.has(channel));
    if (gone.length > 0) {
      for (const channel of gone) {
        this.#subscribed.delete(channel);
        this.#leaving.add(channel);
      }
      this.#send(JSON.stringify({ type: 'unsubscribe', channels: gone }));
    }
    if (fresh.length === 0) return;
    const ref = `s${++this.#nextRef}`;
    // No prototype: a channel may be named `__proto__`.
    const since: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const channel of fresh) {
      this.#subscribed.add(channel);
      this.#unanswered.set(channel, ref);
      const position = this.#context.position(channel);
      if (position !== undefined) since[channel] = position;
    }
    this.#send(JSON.stringify({ type: 'subscribe', channels: fresh, since, ref }));
  }

  publish(message: OutgoingPublish): void {
    this.#send(message.text);
  }

  close(): void {
    this.#isEnded = true;
    closeSocket(this.#ws);
  }

  #onOpen(): void {
    this.#context.events.opened();
    this.sync();
    // Ask for an answer at once: a proxy that lets the upgrade through but no frames is a
    // failed transport, and only an answer tells them apart.
    if (this.#subscribed.size === 0) this.probe();
  }

  #send(text: string): void {
    if (this.#ws.readyState === 1) this.#ws.send(text);
  }

  #onMessage(data: unknown): void {
    const { events } = this.#context;
    events.heard();
    if (typeof data !== 'string') return;
    let frame: { type?: unknown } & Record<string, unknown>;
    try {
      frame = JSON.parse(data) as typeof frame;
    } catch {
      return; // a bare `pong`, or nothing of ours
    }
    const { type, ...envelope } = frame;
    const channel = frame.channel as string;
    switch (type) {
      case 'message':
        if (!this.#leaving.has(channel)) events.envelope(envelope as unknown as Envelope);
        break;
      case 'subscribed':
        this.#leaving.delete(channel);
        this.#unanswered.delete(channel);
        events.subscribed(channel, frame.position as string);
        if (this.#isLeaveDeferred) this.sync();
        break;
      case 'gap':
        if (!this.#leaving.has(channel)) events.gap(channel);
        break;
      case 'ack':
        events.acked(frame.ref as string, frame.id as string, frame.ts as number);
        break;
      case 'error':
        this.#onError(frame);
        break;
    }
  }

  #onError(frame: Record<string, unknown>): void {
    const ref = typeof frame.ref === 'string' ? frame.ref : undefined;
    const channels = [...this.#unanswered]
      .filter(([, subscribeRef]) => subscribeRef === ref)
      .map(([channel]) => channel);
    // A refused subscribe holds nothing on the server: subscribing again must resend it.
    const error = serverError(frame, 'refused');
    if (channels.length === 0) {
      this.#context.events.refused(error, ref);
    } else if (error.status >= 500) {
      // The hub cannot subscribe right now (its broker is away): not a refusal. Reconnecting
      // with backoff is the retry, and it resubscribes every channel from its position.
      this.#end(1013, error.message, error);
    } else {
      for (const channel of channels) {
        this.#unanswered.delete(channel);
        this.#subscribed.delete(channel);
      }
      this.#context.events.subscribeRefused(channels, error);
    }
  }

  #end(code: number, reason: string, error?: TidewireError): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    closeSocket(this.#ws);
    this.#context.events.closed({ code, reason, error });
  }
}

/**
 * Opens a WebSocket to the hub. A browser's WebSocket cannot send headers: the token goes in
 * the URL there. Node's `ws` can (options, third argument): it sends a bearer.
 */
function openSocket(
  base: string,
  token: string | undefined,
  options: ResolvedClientOptions,
): WebSocketLike {
  const isBrowser = typeof document !== 'undefined';
  const query = token !== undefined && isBrowser ? `?token=${encodeURIComponent(token)}` : '';
  const headers = isBrowser ? {} : authHeaders(token);
  return new options.WebSocket!(`${base.replace(/^http/, 'ws')}/ws${query}`, [], { headers });
}

/**
 * Lets a socket go at once. On a dead link close() waits for a handshake that never comes: the
 * client does not wait with it, the browser (or ws) finishes it in the background.
 */
function closeSocket(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  if (ws.readyState < 2) ws.close(1000, 'client closed');
}

/**
 * Whether a WebSocket to the hub opens and answers a ping within the connect timeout: the
 * cheap test before climbing back from a fallback transport.
 *
 * @internal
 */
export function probeWebSocket(
  base: string,
  token: string | undefined,
  options: ResolvedClientOptions,
  signal: AbortSignal,
): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = openSocket(base, token, options);
    const done = (isReachable: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', abandon);
      closeSocket(ws);
      resolve(isReachable);
    };
    // The client moved on (destroyed, relinked): no socket or timer outlives it.
    const abandon = () => done(false);
    signal.addEventListener('abort', abandon);
    const timer = setTimeout(abandon, options.connectTimeoutMs);
    ws.onopen = () => ws.send(PING);
    ws.onmessage = () => done(true);
    ws.onclose = () => done(false);
    ws.onerror = () => {};
  });
}
