import { assertChannel } from '../protocol/channel.js';
import { normalizeEvent } from '../protocol/envelope.js';
import type { ErrorCode } from '../protocol/codes.js';
import type { Envelope } from '../protocol/envelope.js';
import { TidewireError, isTidewireError } from '../protocol/errors.js';
import { backoffDelay } from './backoff.js';
import {
  Channels,
  type EnvelopeHandler,
  type SubscribeOptions,
  type Subscription,
} from './channels.js';
import { Emitter } from './emitter.js';
import { watchEnvironment } from './environment.js';
import { ClientError } from './errors.js';
import { Liveness } from './heartbeat.js';
import { Outbox } from './outbox.js';
import {
  type ClientOptions,
  type ResolvedClientOptions,
  type TransportName,
  normalizePath,
  resolveClientOptions,
} from './options.js';
import * as registry from './registry.js';
import { type Token, readToken, refreshDelay } from './token.js';
import type { Link, LinkContext, LinkEnd, LinkEvents } from './transports/link.js';
import { PollingLink } from './transports/polling.js';
import { SseLink } from './transports/sse.js';
import { WebSocketLink, probeWebSocket } from './transports/websocket.js';

/** The lifecycle events of a client and what their listeners get. */
export interface ClientEvents {
  /** A link is up (again): publishes flow, subscriptions resume. */
  open: { readonly transport: TransportName };
  /** A link ended; `willReconnect` says whether the client tries again. */
  close: {
    readonly transport: TransportName | undefined;
    readonly reason: string;
    readonly code?: number;
    readonly status?: number;
    readonly willReconnect: boolean;
  };
  /** The server refused something, or the client gave up. */
  error: Error;
  /** A reconnect is scheduled after `delayMs`. */
  reconnecting: { readonly attempt: number; readonly delayMs: number };
  /** History no longer reaches back to where the client stood on `channel`: refetch state. */
  gap: { readonly channel: string };
}

export type LifecycleEvent = keyof ClientEvents;

const LIFECYCLE_EVENTS: readonly string[] = ['open', 'close', 'error', 'reconnecting', 'gap'];

/** Options of one publish. */
export interface PublishOptions {
  /** The envelope's event. Default `message`. */
  readonly event?: string;
  /** How long to wait for the ack, queueing included. Default: the client's `publishTimeoutMs`. */
  readonly timeoutMs?: number;
}

type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'closed';

/** `readyState` per state: the WebSocket numbers. */
const READY_STATE: Record<State, 0 | 1 | 3> = {
  idle: 3,
  connecting: 0,
  waiting: 0,
  open: 1,
  closed: 3,
};

const encoder = new TextEncoder();

/** Failed rounds after which a transport that worked before is given up for the next one. */
const FALLBACK_AFTER_ATTEMPTS = 3;

/**
 * A tidewire client: one connection to a hub for all channels, over the best transport that
 * works, that reconnects by itself and resumes every channel where it stood. Create it with
 * `createClient(url)`, or `Client.shared(url)` for one per URL.
 *
 * Lifecycle events (`on('open' | 'close' | 'error' | 'reconnecting' | 'gap')`) and envelope
 * events (`register(event, handler)`) are kept apart on purpose: an envelope whose event is
 * named `open` or `close` reaches `register('open')` handlers, never `on('open')` listeners.
 *
 * @example
 * const client = createClient('https://push.example.com');
 * client.subscribe('prices', (data, envelope) => render(data));
 * await client.publish('chat', { text: 'hi' }, { event: 'say' });
 */
export class Client {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;

  /**
   * The client of `url`, shared: every call with the same URL and base path returns the same
   * client, until its last `release()`. Options of later calls are ignored.
   */
  static shared(url: string, options: ClientOptions = {}): Client {
    const key = hubBase(url, options.basePath ?? '/rt');
    return registry.acquire(key, () => new Client(url, options));
  }

  /** The hub's HTTP base: origin, path and basePath. */
  readonly url: string;
  readonly #options: ResolvedClientOptions;
  readonly #emitter = new Emitter<ClientEvents>();
  readonly #channels = new Channels(() => this.#scheduleSync());
  readonly #outbox = new Outbox();
  #state: State = 'idle';
  #link: Link | undefined;
  #liveness: Liveness | undefined;
  /** Whether the current link has heard the server: a link that never did is a failed transport. */
  #isHeard = false;
  #isDestroyed = false;
  /** Transports that have worked in this client's life. */
  readonly #worked = new Set<TransportName>();
  #transportIndex = 0;
  #attempt = 0;
  /** `#attempt` when the current link was first heard (and the count was reset). */
  #attemptWhenHeard = 0;
  #authRetries = 0;
  #token: Token | undefined;
  #nextRef = 0;
  #connectSeq = 0;
  #upgradeDelayMs: number;
  #isSyncScheduled = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  #upgradeProbe: AbortController | undefined;
  #tokenTimer: ReturnType<typeof setTimeout> | undefined;
  #stopWatching: (() => void) | undefined;

  constructor(url: string, options: ClientOptions = {}) {
    this.#options = resolveClientOptions(options);
    this.url = hubBase(url, this.#options.basePath);
    this.#upgradeDelayMs = this.#options.upgradeIntervalMs;
    if (options.autoConnect !== false) this.connect();
  }

  /** 0 CONNECTING (also while waiting to reconnect), 1 OPEN, 3 CLOSED. */
  get readyState(): 0 | 1 | 2 | 3 {
    return READY_STATE[this.#state];
  }

  /** The transport in use, or being tried. */
  get transport(): TransportName | undefined {
    return this.#link?.name;
  }

  /** Bytes of publishes waiting to be sent. */
  get bufferedAmount(): number {
    return this.#outbox.unsentBytes;
  }

  /** The outbox of publishes not acked yet: inspect or clear it (its promises reject). */
  get outbox(): { readonly size: number; readonly bytes: number; clear(): void } {
    const outbox = this.#outbox;
    return {
      size: outbox.size,
      bytes: outbox.unsentBytes,
      clear: () => outbox.clear(new ClientError('CLEARED', 'the outbox was cleared')),
    };
  }

  /** Connects (again, after giving up or with `autoConnect: false`). */
  connect(): void {
    this.#assertAlive();
    if (this.#state === 'connecting' || this.#state === 'open') return;
    this.#attempt = 0;
    this.#stopWatching ??= watchEnvironment({
      onOnline: () => this.#onOnline(),
      onVisible: () => this.#liveness?.probeNow(),
    });
    void this.#open();
  }

  /**
   * Subscribes to `channel`. The server places the subscription when the client is connected
   * (`ready` resolves then; `options.since` resumes from a saved id instead). From there every
   * envelope, and after any reconnect every one missed meanwhile, reaches `handler` once and in
   * order; where history no longer reaches back, the client emits `gap` instead.
   */
  subscribe(channel: string, handler?: EnvelopeHandler, options?: SubscribeOptions): Subscription {
    this.#assertAlive();
    return this.#channels.add(channel, handler, options);
  }

  /** Drops every handler of `channel` and unsubscribes from the server. */
  unsubscribe(channel: string): void {
    this.#channels.remove(channel);
  }

  /** Routes envelopes by their `event`, on every subscribed channel. Returns the unregister. */
  register(event: string, handler: EnvelopeHandler): () => void {
    return this.#channels.register(event, handler);
  }

  /** Removes one handler of `event`, or all of them. */
  unregister(event: string, handler?: EnvelopeHandler): void {
    this.#channels.unregister(event, handler);
  }

  /** Listens to a lifecycle event. Returns the function that removes the listener. */
  on<K extends LifecycleEvent>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    if (!LIFECYCLE_EVENTS.includes(event)) {
      throw new TypeError(
        `"${String(event)}" is not a lifecycle event: envelope events go to client.register()`,
      );
    }
    return this.#emitter.on(event, listener);
  }

  off<K extends LifecycleEvent>(event: K, listener: (payload: ClientEvents[K]) => void): void {
    this.#emitter.off(event, listener);
  }

  /**
   * Publishes on `channel`, as `hub.publish` does, through the hub. Resolves with the envelope
   * once the server acked it. While offline it waits in the bounded outbox and is sent in order
   * on reconnect; a message whose link died before its ack is sent again (at least once).
   */
  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      this.#assertAlive();
      if (this.#state === 'closed') {
        // Given up: queueing would only delay the failure until the publish timeout.
        throw new ClientError('GAVE_UP', 'the client gave up: call connect() first');
      }
      assertChannel(channel);
      const event = normalizeEvent(options.event);
      const ref = `p${++this.#nextRef}`;
      const text = JSON.stringify({ type: 'publish', channel, event, data: data ?? null, ref });
      const bytes = encoder.encode(text).length;
      const { maxMessageBytes, maxOutboxMessages, maxOutboxBytes } = this.#options;
      if (bytes > maxMessageBytes) {
        throw new TidewireError(
          'MESSAGE_TOO_LARGE',
          `message is ${bytes} bytes, limit is ${maxMessageBytes}`,
        );
      }
      if (!this.#outbox.fits(bytes, maxOutboxMessages, maxOutboxBytes)) {
        throw new ClientError('OUTBOX_FULL', `the outbox is full (${this.#outbox.size} messages)`);
      }
      const timeoutMs = options.timeoutMs ?? this.#options.publishTimeoutMs;
      const timer = setTimeout(() => {
        this.#outbox
          .take(ref)
          ?.reject(new ClientError('ACK_TIMEOUT', `no ack within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#outbox.add({
        ref,
        channel,
        event,
        // The data as it goes on the wire (a Date as its string, undefined fields gone), taken
        // now: what the ack resolves with and what an HTTP link sends, whatever the caller does
        // to its object meanwhile.
        data: (JSON.parse(text) as { data?: unknown }).data ?? null,
        text,
        bytes,
        sent: false,
        timer,
        reject,
        resolve,
      });
      this.#flush();
    });
  }

  /** Publishes without waiting: failures are reported as `error` events. */
  send(channel: string, data: unknown, options: PublishOptions = {}): void {
    this.publish(channel, data, options).catch((error: unknown) => {
      this.#emitter.emit('error', error as Error);
    });
  }

  /**
   * Drops one reference of a shared client; the last one closes it after `releaseDelayMs`.
   * On a client that is not shared, the same as `destroy()`.
   */
  release(): void {
    if (!registry.release(this, this.#options.releaseDelayMs)) this.destroy();
  }

  /** Ends the client for good: closes the link, rejects what waits, removes every listener. */
  destroy(): void {
    if (this.#isDestroyed) return;
    this.#isDestroyed = true;
    registry.forget(this);
    const transport = this.transport;
    this.#dropLink();
    this.#state = 'closed';
    this.#clearTimers();
    this.#stopWatching?.();
    const error = destroyedError();
    this.#outbox.clear(error);
    this.#channels.clear(error);
    this.#emitter.emit('close', { transport, reason: 'destroyed', willReconnect: false });
    this.#emitter.clear();
  }

  #assertAlive(): void {
    if (this.#isDestroyed) throw destroyedError();
  }

  async #open(): Promise<void> {
    const seq = ++this.#connectSeq;
    this.#state = 'connecting';
    clearTimeout(this.#retryTimer);
    let token: string | undefined;
    try {
      token = await this.#currentToken();
    } catch (error) {
      if (seq !== this.#connectSeq || this.#state !== 'connecting') return;
      this.#emitter.emit('error', error as Error);
      return this.#retry();
    }
    if (seq !== this.#connectSeq || this.#state !== 'connecting') return;
    const name = this.#options.transports[this.#transportIndex] as TransportName;
    this.#isHeard = false;
    let link: Link | undefined;
    const context: LinkContext = {
      options: this.#options,
      base: this.url,
      token,
      events: this.#linkEvents(() => link),
      channels: () => this.#channels.names(),
      position: (channel) => this.#channels.position(channel),
    };
    try {
      link = createLink(name, context);
    } catch (error) {
      // A constructor that throws (a URL the platform refuses): a failed transport.
      link = { name, sync() {}, publish() {}, close() {} };
      this.#link = link;
      return this.#onLinkEnd(link, { reason: String(error), error: error as Error });
    }
    this.#link = link;
    const timeout = this.#options.connectTimeoutMs;
    const opening = link;
    this.#connectTimer = setTimeout(() => {
      this.#onLinkEnd(opening, { reason: `${name} did not open within ${timeout} ms` });
    }, timeout);
  }

  /** The events of one link; those of a link that is no longer current are ignored. */
  #linkEvents(current: () => Link | undefined): LinkEvents {
    const isCurrent = () => this.#link !== undefined && current() === this.#link;
    return {
      opened: () => isCurrent() && this.#onOpened(),
      heard: () => isCurrent() && this.#onHeard(),
      idle: () => {
        if (!isCurrent()) return;
        this.#liveness?.stop();
        this.#liveness = undefined;
      },
      heartbeatHint: (ms) => isCurrent() && this.#liveness?.setQuiet(ms),
      subscribed: (channel, position) => isCurrent() && this.#channels.confirm(channel, position),
      envelope: (envelope) => isCurrent() && this.#channels.deliver(envelope),
      gap: (channel) => {
        if (isCurrent() && this.#channels.has(channel)) this.#emitter.emit('gap', { channel });
      },
      acked: (ref, id, ts) => {
        const entry = this.#outbox.take(ref);
        entry?.resolve({ id, channel: entry.channel, event: entry.event, data: entry.data, ts });
      },
      refused: (error, ref) => {
        const entry = ref === undefined ? undefined : this.#outbox.take(ref);
        if (entry) entry.reject(error);
        else this.#emitter.emit('error', error);
      },
      subscribeRefused: (channels, error) => {
        for (const channel of channels) this.#channels.refuse(channel, error);
        this.#emitter.emit('error', error);
      },
      closed: (end) => isCurrent() && this.#onLinkEnd(this.#link as Link, end),
    };
  }

  #onOpened(): void {
    clearTimeout(this.#connectTimer);
    const link = this.#link as Link;
    this.#state = 'open';
    // A WebSocket is watched from the start (it pings); an SSE stream from its first sign of
    // life, as one without channels has no stream to watch; polls time out by themselves.
    if (link.probe) this.#watch(link);
    this.#emitter.emit('open', { transport: link.name });
    link.sync();
    this.#flush();
    this.#scheduleUpgrade();
  }

  /** Starts the dead-link watch of `link` (see `heartbeat.ts`). */
  #watch(link: Link): void {
    const { intervalMs, timeoutMs, hiddenTimeoutMs } = this.#options;
    this.#liveness = new Liveness({
      quietMs: intervalMs,
      timeoutMs,
      hiddenTimeoutMs,
      probe: link.probe,
      onDead: () => this.#onLinkEnd(link, { reason: `no sign of life within ${timeoutMs} ms` }),
    });
  }

  #onHeard(): void {
    const link = this.#link as Link;
    if (this.#liveness) this.#liveness.heard();
    else if (this.#state === 'open' && !link.name.endsWith('polling')) this.#watch(link);
    if (this.#isHeard) return;
    this.#isHeard = true;
    this.#worked.add(link.name);
    this.#attemptWhenHeard = this.#attempt;
    this.#attempt = 0;
    this.#authRetries = 0;
  }

  #onLinkEnd(link: Link, end: LinkEnd): void {
    if (link !== this.#link) return;
    this.#dropLink();
    const { code, status, reason, retryAfterMs } = end;
    // What the server said: an SSE stream refused after its 200 says why only in its `error` event.
    const said = isTidewireError(end.error) ? end.error : undefined;
    if (code === 1009) {
      // The server refused a frame as too big and closed: drop the culprit, not the link. Found
      // before the requeue (which marks every entry unsent) and taken out of the outbox, or it
      // would go out again on every reconnect.
      const culprit = this.#outbox.largestSent();
      if (culprit) {
        this.#outbox.take(culprit.ref)?.reject(new TidewireError('MESSAGE_TOO_LARGE', reason));
      }
    }
    this.#outbox.requeue();
    // "Try again later" (1013, 503, or an SSE stream that said so: the hub is up, its broker
    // is not; or a draining hub's SSE send-back, `retryAfterMs`) is no success, though the hub
    // answered: the backoff goes on growing, or every client of a hub whose Redis is away (or
    // that drains) would come back at the base delay all along.
    if (code === 1013 || status === 503 || said?.status === 503 || retryAfterMs !== undefined) {
      this.#attempt = Math.max(this.#attempt, this.#attemptWhenHeard);
    }
    // Positions the hub refused would be sent again on every reconnect, each refused alike:
    // start from now instead, and say that something may be missing.
    if (said?.code === 'BAD_CURSOR') {
      for (const channel of this.#channels.forgetPositions()) {
        this.#emitter.emit('gap', { channel });
      }
    }
    const isRetry = this.#isRetry(code ?? 0, status ?? 0, said?.code);
    // Fall back to the next transport at once; after the last one, start again from the best
    // after a backoff.
    const isFallingBack = isRetry && !this.#isHeard && this.#shouldFallBack(link.name);
    if (isFallingBack) {
      this.#transportIndex = (this.#transportIndex + 1) % this.#options.transports.length;
    }
    const isNextNow = isFallingBack && this.#transportIndex !== 0;
    const willReconnect = isRetry && (isNextNow || this.#attempt < this.#options.maxRetries);
    // Listeners see the link gone: CONNECTING while the client will try again, else CLOSED.
    this.#state = willReconnect ? 'waiting' : 'closed';
    const seq = this.#connectSeq;
    if (said) this.#emitter.emit('error', said);
    this.#emitter.emit('close', {
      transport: link.name,
      reason,
      ...(code === undefined ? {} : { code }),
      ...(status === undefined ? {} : { status }),
      willReconnect,
    });
    // A listener destroyed the client, or connected it again itself.
    if (this.#isDestroyed || seq !== this.#connectSeq) return;
    if (!isRetry) {
      return this.#giveUp(
        new ClientError('GAVE_UP', `the server refused the connection: ${reason}`),
      );
    }
    if (isNextNow) return void this.#open();
    this.#retry(retryAfterMs);
  }

  /**
   * Whether a transport that failed to connect is given up for the next one. One that never
   * worked, yes: a proxy that kills WebSockets should cost one attempt (PITFALLS #18). One
   * that worked before is more likely facing a server restart, which is no reason to move to
   * a worse transport: it gets a few backoff rounds first.
   */
  #shouldFallBack(name: TransportName): boolean {
    return !this.#worked.has(name) || this.#attempt >= FALLBACK_AFTER_ATTEMPTS;
  }

  /**
   * Whether to reconnect after a link ended with close `code`, HTTP `status` or the error code
   * the server `said`: terminal refusals stop (SPEC close-code ranges).
   */
  #isRetry(code: number, status: number, said: ErrorCode | undefined): boolean {
    if (code === 4501 || status === 401 || said === 'UNAUTHORIZED') {
      // An expired token: one more try with a fresh one, when the app gives tokens.
      return this.#options.getToken !== undefined && this.#authRetries++ < 1;
    }
    const isForbidden = status === 403 || said === 'FORBIDDEN';
    return !(isForbidden || code === 1008 || (code >= 4500 && code <= 4999));
  }

  /** Reconnects after a full-jitter backoff, and no sooner than `minDelayMs` (a server hint). */
  #retry(minDelayMs = 0): void {
    const attempt = ++this.#attempt;
    const { maxRetries, baseMs, capMs } = this.#options;
    if (attempt > maxRetries) {
      return this.#giveUp(new ClientError('GAVE_UP', `gave up after ${maxRetries} attempts`));
    }
    const delayMs = Math.max(minDelayMs, backoffDelay(attempt - 1, { baseMs, capMs }));
    this.#state = 'waiting';
    this.#emitter.emit('reconnecting', { attempt, delayMs });
    if (this.#state !== 'waiting') return;
    this.#retryTimer = setTimeout(() => void this.#open(), delayMs);
  }

  #giveUp(error: ClientError): void {
    this.#state = 'closed';
    this.#clearTimers();
    this.#outbox.clear(error);
    this.#emitter.emit('error', error);
  }

  #onOnline(): void {
    if (this.#state === 'waiting') void this.#open();
    else this.#liveness?.probeNow();
  }

  /** Closes the current link without judging it (destroy, token refresh, upgrade). */
  #dropLink(): void {
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#upgradeTimer);
    this.#upgradeProbe?.abort();
    this.#liveness?.stop();
    this.#liveness = undefined;
    this.#link?.close();
    this.#link = undefined;
  }

  /** Moves to a fresh link now: positions resume it, the outbox resends what was not acked. */
  #reopen(): void {
    if (this.#state !== 'open') return;
    this.#dropLink();
    this.#outbox.requeue();
    void this.#open();
  }

  #flush(): void {
    const link = this.#link;
    if (this.#state !== 'open' || !link) return;
    for (const entry of this.#outbox.unsent()) {
      entry.sent = true;
      link.publish(entry);
    }
  }

  #scheduleSync(): void {
    if (this.#isSyncScheduled) return;
    this.#isSyncScheduled = true;
    // Coalesces a burst of subscribe/unsubscribe calls (a re-render) into one change.
    queueMicrotask(() => {
      this.#isSyncScheduled = false;
      if (this.#state === 'open') this.#link?.sync();
    });
  }

  /** After a fallback, tries the best transport again later (PITFALLS #18). */
  #scheduleUpgrade(): void {
    if (this.#transportIndex === 0) return;
    this.#upgradeTimer = setTimeout(() => void this.#tryUpgrade(), this.#upgradeDelayMs);
  }

  async #tryUpgrade(): Promise<void> {
    const best = this.#options.transports[0];
    const probe = new AbortController();
    this.#upgradeProbe = probe;
    const isReachable =
      best !== 'websocket' ||
      (await probeWebSocket(this.url, this.#token?.value, this.#options, probe.signal));
    // The link this probe was for is gone: its successor schedules its own.
    if (probe.signal.aborted || this.#state !== 'open') return;
    if (!isReachable) {
      this.#upgradeDelayMs = Math.min(
        this.#upgradeDelayMs * 2,
        this.#options.upgradeIntervalMs * 16,
      );
      return this.#scheduleUpgrade();
    }
    this.#transportIndex = 0;
    this.#reopen();
  }

  /** The token for this connect: fetched on every connect, refreshed before it expires. */
  async #currentToken(): Promise<string | undefined> {
    const getToken = this.#options.getToken;
    if (!getToken) return undefined;
    const token = readToken(await getToken());
    this.#token = token;
    clearTimeout(this.#tokenTimer);
    const delay = token && refreshDelay(token);
    if (delay !== undefined) {
      this.#tokenTimer = setTimeout(() => this.#reopen(), delay);
    }
    return token?.value;
  }

  #clearTimers(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#upgradeTimer);
    clearTimeout(this.#tokenTimer);
  }
}

function createLink(name: TransportName, context: LinkContext): Link {
  if (name === 'websocket') return new WebSocketLink(context);
  if (name === 'sse') return new SseLink(context);
  return new PollingLink(context, name);
}

/** What a call on a destroyed client throws, and what rejects the publishes it left. */
function destroyedError(): ClientError {
  return new ClientError('DESTROYED', 'the client was destroyed');
}

/** The hub's HTTP base for `url` (http, https, ws or wss) and `basePath`. */
function hubBase(url: string, basePath: string): string {
  const parsed = new URL(url);
  const protocol = parsed.protocol.replace(/^ws/, 'http');
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new TypeError(`the hub URL must be http(s) or ws(s), got ${JSON.stringify(url)}`);
  }
  return `${protocol}//${parsed.host}${normalizePath(parsed.pathname)}${normalizePath(basePath)}`;
}
