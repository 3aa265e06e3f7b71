import { type Envelope, checkDataDepth } from '../protocol/envelope.js';
import { TidewireError } from '../protocol/errors.js';
import type { Broker, ChannelRead, PublishRequest } from './broker.js';
import { EncodedEnvelope } from './encoded-envelope.js';
import { type Position, formatPosition, parsePosition, tryParsePosition } from './position.js';

/**
 * The hub's core: local subscriptions, fan-out of what the broker delivers, and the
 * catch-up that joins history and live envelopes without loss or repetition. It knows no
 * socket and no transport; transports hand it a `Subscriber`.
 *
 * @module
 */

/** Where a subscriber stands after subscribing to one channel. */
export interface SubscribeResult {
  readonly channel: string;
  /**
   * The position just before the first envelope that follows. A client that stores it can
   * resume from it even when it never receives an envelope.
   */
  readonly position: string;
  /** True when a `since` position was given and every envelope after it follows. */
  readonly recovered: boolean;
  /** True when history no longer reached back to `since`: `onGap` follows, then what is held. */
  readonly gap: boolean;
}

/**
 * What a transport implements to receive a subscription's traffic. The hub calls, per
 * `subscribe()`: `onSubscribed` once, then for each channel `onGap` (when needed) and the
 * backlog, then live envelopes, each envelope once and in order per channel.
 * Implementations must not throw; they are called in the fan-out loop.
 */
export interface Subscriber {
  onSubscribed(results: readonly SubscribeResult[]): void;
  onGap(channel: string): void;
  onEnvelope(envelope: EncodedEnvelope): void;
}

/** The transport names of SPEC.md. */
export type TransportName = 'websocket' | 'sse' | 'long-polling' | 'polling' | 'http';

/** Who sent something to the hub, as `hub.onMessage` listeners see it. */
export interface ConnectionInfo {
  /** Unique per connection (per request for the HTTP transports). */
  readonly id: string;
  readonly transport: TransportName;
  /** The peer's address (see the hub's `trustProxy`). */
  readonly ip: string;
  /** What the hub's `authenticate` hook returned for it; undefined when it has none. */
  readonly identity?: unknown;
}

/** Called for every envelope that a client published, after it was published. */
export type MessageListener = (connection: ConnectionInfo, envelope: Envelope) => void;

export interface HubCoreOptions {
  readonly broker: Broker;
  /** Where errors that no caller can receive go (a throwing listener, a failed unsubscribe). */
  readonly onError?: (error: unknown, context: string) => void;
  /** The broker lost its store or has it back (see `BrokerHandler.onAvailabilityChange`). */
  readonly onBrokerAvailabilityChange?: (available: boolean, detail: string) => void;
  /**
   * Called after each broker `publish` and `read` with its outcome and duration, for the
   * broker latency metric. Without it nothing is timed.
   */
  readonly onBrokerCall?: BrokerCallObserver;
}

/** The broker calls the hub times: those on the path of every publish and subscribe. */
export type BrokerOperation = 'publish' | 'read';

/** Receives one broker call: what it was, whether it succeeded, how long it took. */
export type BrokerCallObserver = (operation: BrokerOperation, ok: boolean, seconds: number) => void;

interface Subscription {
  // Live envelopes that arrive while history is being read (to subscribe, or to resync) wait
  // here, so that the backlog goes first and nothing is delivered twice.
  buffer: EncodedEnvelope[] | undefined;
  epoch: string;
  seq: number;
}

interface CatchUp {
  readonly result: SubscribeResult;
  readonly backlog: EncodedEnvelope[];
}

/** @internal The transport-free hub; `createHub` wraps it with HTTP and the transports. */
export class HubCore {
  readonly #broker: Broker;
  readonly #onError: (error: unknown, context: string) => void;
  readonly #onBrokerAvailabilityChange: (available: boolean, detail: string) => void;
  readonly #onBrokerCall: BrokerCallObserver | undefined;
  readonly #channels = new Map<string, Map<Subscriber, Subscription>>();
  readonly #bySubscriber = new Map<Subscriber, Set<string>>();
  // Broker subscribe/unsubscribe calls per channel run one after another, so that a quick
  // unsubscribe-then-subscribe cannot end unsubscribed.
  readonly #brokerOps = new Map<string, Promise<void>>();
  // The broker subscribe of each channel that has subscribers here, pending or done. Every
  // subscriber of the channel waits on it and fails with it: one that went on after it failed
  // (Redis went away meanwhile) would stand on a channel this node is not subscribed to at the
  // broker, and hear nothing ever after, without an error or a gap (PITFALLS #20).
  readonly #brokerSubscribes = new Map<string, Promise<void>>();
  readonly #listeners = new Set<MessageListener>();

  constructor(options: HubCoreOptions) {
    this.#broker = options.broker;
    this.#onError = options.onError ?? (() => {});
    this.#onBrokerAvailabilityChange = options.onBrokerAvailabilityChange ?? (() => {});
    this.#onBrokerCall = options.onBrokerCall;
  }

  get broker(): Broker {
    return this.#broker;
  }

  start(): Promise<void> {
    return this.#broker.start({
      onEnvelope: (envelope, json) => this.#fanOut(envelope, json),
      onResync: (channels) => {
        for (const channel of channels) this.#resync(channel);
      },
      onAvailabilityChange: (available, detail) =>
        this.#onBrokerAvailabilityChange(available, detail),
    });
  }

  /** Publishes through the broker; resolves once the envelope is in history. */
  publish(request: PublishRequest): Promise<Envelope> {
    return this.#publish(request);
  }

  /** Publishes what a client sent, then tells the `onMessage` listeners. */
  async receive(connection: ConnectionInfo, request: PublishRequest): Promise<Envelope> {
    const envelope = await this.#publish(request);
    for (const listener of this.#listeners) {
      try {
        listener(connection, envelope);
      } catch (error) {
        this.#onError(error, 'onMessage listener threw');
      }
    }
    return envelope;
  }

  onMessage(listener: MessageListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Number of channels `subscriber` is subscribed to (or subscribing to). */
  subscriptionCount(subscriber: Subscriber): number {
    return this.#bySubscriber.get(subscriber)?.size ?? 0;
  }

  /** Whether `subscriber` is subscribed (or subscribing) to `channel`. */
  isSubscribed(subscriber: Subscriber, channel: string): boolean {
    return this.#bySubscriber.get(subscriber)?.has(channel) ?? false;
  }

  /**
   * Subscribes to `channels`, resuming each from its position in `since` when given.
   * Throws `BAD_CURSOR` for a malformed position and `ALREADY_SUBSCRIBED` for a channel the
   * subscriber already has, before anything is registered. Channels that the subscriber left
   * while history was being read are left out of the results.
   */
  async subscribe(
    subscriber: Subscriber,
    channels: readonly string[],
    since: ReadonlyMap<string, string> = new Map(),
  ): Promise<SubscribeResult[]> {
    const starts = channels.map((channel) => {
      if (this.isSubscribed(subscriber, channel)) {
        throw new TidewireError('ALREADY_SUBSCRIBED', `already subscribed to ${channel}`);
      }
      const text = since.get(channel);
      return { channel, since: text === undefined ? undefined : parsePosition(text) };
    });
    const states = starts.map(({ channel }) => this.#register(subscriber, channel));
    let reads: ChannelRead[];
    try {
      await Promise.all(states.map((state) => state.ready));
      reads = await Promise.all(starts.map((s) => this.#read(s.channel, s.since)));
    } catch (error) {
      this.unsubscribe(subscriber, channels);
      throw error;
    }
    const catchUps: Array<CatchUp & { subscription: Subscription }> = [];
    starts.forEach(({ channel, since: position }, index) => {
      const subscription = this.#channels.get(channel)?.get(subscriber);
      if (!subscription || subscription !== states[index]?.subscription) return;
      catchUps.push({
        ...resolveCatchUp(channel, reads[index] as ChannelRead, position),
        subscription,
      });
    });
    if (catchUps.length === 0) return [];
    subscriber.onSubscribed(catchUps.map((c) => c.result));
    for (const { result, backlog, subscription } of catchUps) {
      this.#flush(subscriber, result, backlog, subscription, true);
    }
    return catchUps.map((c) => c.result);
  }

  /** Leaves `channels`; channels not subscribed are ignored. */
  unsubscribe(subscriber: Subscriber, channels: Iterable<string>): void {
    const own = this.#bySubscriber.get(subscriber);
    for (const channel of channels) {
      const subscribers = this.#channels.get(channel);
      if (!subscribers?.delete(subscriber)) continue;
      own?.delete(channel);
      if (subscribers.size === 0) {
        this.#channels.delete(channel);
        this.#brokerSubscribes.delete(channel);
        this.#queueBrokerOp(channel, () => this.#broker.unsubscribe(channel));
      }
    }
    if (own?.size === 0) this.#bySubscriber.delete(subscriber);
  }

  /** Leaves every channel; what a transport calls when its connection ends. */
  unsubscribeAll(subscriber: Subscriber): void {
    const own = this.#bySubscriber.get(subscriber);
    if (own) this.unsubscribe(subscriber, [...own]);
  }

  /** Channels with at least one subscriber on this node. */
  get channelCount(): number {
    return this.#channels.size;
  }

  /** Subscriber–channel pairs on this node (read when metrics are scraped, not kept). */
  get subscriptionTotal(): number {
    let total = 0;
    for (const subscribers of this.#channels.values()) total += subscribers.size;
    return total;
  }

  close(): Promise<void> {
    return this.#broker.close();
  }

  #publish(request: PublishRequest): Promise<Envelope> {
    // Refused now rather than acked and then failing on every delivery (JSON.stringify).
    const tooDeep = checkDataDepth(request.data);
    if (tooDeep) return Promise.reject(tooDeep);
    const observe = this.#onBrokerCall;
    if (!observe) return this.#broker.publish(request);
    return timed(() => this.#broker.publish(request), 'publish', observe);
  }

  #read(channel: string, since: Position | undefined): Promise<ChannelRead> {
    const observe = this.#onBrokerCall;
    if (!observe) return this.#broker.read(channel, since);
    return timed(() => this.#broker.read(channel, since), 'read', observe);
  }

  #register(subscriber: Subscriber, channel: string) {
    const subscription: Subscription = { buffer: [], epoch: '', seq: 0 };
    let subscribers = this.#channels.get(channel);
    let ready = this.#brokerSubscribes.get(channel) ?? Promise.resolve();
    if (!subscribers) {
      subscribers = new Map();
      this.#channels.set(channel, subscribers);
      ready = this.#queueBrokerOp(channel, () => this.#broker.subscribe(channel));
      this.#brokerSubscribes.set(channel, ready);
    }
    subscribers.set(subscriber, subscription);
    let own = this.#bySubscriber.get(subscriber);
    if (!own) this.#bySubscriber.set(subscriber, (own = new Set()));
    own.add(channel);
    return { subscription, ready };
  }

  #queueBrokerOp(channel: string, op: () => Promise<void>): Promise<void> {
    const previous = this.#brokerOps.get(channel) ?? Promise.resolve();
    const next = previous.then(op);
    const settled = next.catch((error: unknown) => this.#onError(error, `broker op on ${channel}`));
    this.#brokerOps.set(channel, settled);
    void settled.then(() => {
      if (this.#brokerOps.get(channel) === settled) this.#brokerOps.delete(channel);
    });
    return next;
  }

  #flush(
    subscriber: Subscriber,
    result: SubscribeResult,
    backlog: EncodedEnvelope[],
    subscription: Subscription,
    resyncOnSkip = false,
  ): void {
    const start = tryParsePosition(result.position) as Position;
    subscription.epoch = start.epoch;
    subscription.seq = start.seq;
    if (result.gap) {
      try {
        subscriber.onGap(result.channel);
      } catch (error) {
        this.#onError(error, 'subscriber threw');
      }
    }
    const buffered = subscription.buffer ?? [];
    subscription.buffer = undefined;
    for (const encoded of backlog) this.#deliver(subscriber, subscription, encoded);
    for (const [index, encoded] of buffered.entries()) {
      // The read was answered before envelopes that fan-out then lost were stored: read them
      // too (once; a resync delivers its own buffer as is) rather than call them a gap.
      if (resyncOnSkip && skipsAhead(encoded, subscription)) {
        this.#resync(result.channel);
        // It buffers again unless it already left (then it is owed nothing more).
        const rebuffered = subscription.buffer as EncodedEnvelope[] | undefined;
        if (rebuffered) {
          rebuffered.push(...buffered.slice(index));
          return;
        }
      }
      this.#deliver(subscriber, subscription, encoded);
    }
  }

  #fanOut(envelope: Envelope, json?: string): void {
    const subscribers = this.#channels.get(envelope.channel);
    if (!subscribers) return;
    const encoded = encode(envelope, json);
    if (!encoded) {
      this.#onError(
        new Error(`broker delivered an envelope with a bad id: ${envelope.id}`),
        'fan-out',
      );
      return;
    }
    for (const [subscriber, subscription] of subscribers) {
      // A live envelope that does not follow a subscriber's position means fan-out lost some
      // (a broker link that dropped): read them from history first. The resync buffers every
      // subscriber not catching up already; those served before this one have the envelope.
      if (!subscription.buffer && skipsAhead(encoded, subscription)) this.#resync(envelope.channel);
      if (subscription.buffer) subscription.buffer.push(encoded);
      else this.#deliver(subscriber, subscription, encoded);
    }
  }

  /**
   * Re-reads the history of `channel` for every subscriber that is not already catching up,
   * and delivers what each lacks: the live envelopes that arrive meanwhile wait in their
   * buffers. A subscriber whose position history no longer reaches gets a `gap`.
   */
  #resync(channel: string): void {
    const subscribers = this.#channels.get(channel);
    if (!subscribers) return;
    const targets: Array<[Subscriber, Subscription]> = [];
    for (const [subscriber, subscription] of subscribers) {
      if (subscription.buffer) continue; // its own catch-up reads history after this anyway
      subscription.buffer = [];
      targets.push([subscriber, subscription]);
    }
    const first = targets[0]?.[1];
    if (!first) return;
    // One read for all: from the oldest position of the epoch they (nearly always) share.
    let since: Position = { epoch: first.epoch, seq: first.seq };
    for (const [, { epoch, seq }] of targets) {
      if (epoch === since.epoch && seq < since.seq) since = { epoch, seq };
    }
    const stillThere = ([subscriber, subscription]: [Subscriber, Subscription]) =>
      this.#channels.get(channel)?.get(subscriber) === subscription;
    this.#read(channel, since).then(
      (read) => {
        for (const [subscriber, subscription] of targets.filter(stillThere)) {
          const position = { epoch: subscription.epoch, seq: subscription.seq };
          const { result, backlog } = resolveCatchUp(channel, read, position);
          // History lost this subscriber's position (a Redis restarted without persistence):
          // it learns where it now stands, or its next resume (a poll's cursor, a client that
          // reconnects) would report the same gap again.
          if (result.gap) announce(subscriber, result, this.#onError);
          this.#flush(subscriber, result, backlog, subscription);
        }
      },
      (error: unknown) => {
        // History cannot be read now: go on with what arrives, and say where it skips.
        this.#onError(error, `resync of ${channel}`);
        for (const [subscriber, subscription] of targets.filter(stillThere)) {
          const buffered = subscription.buffer ?? [];
          subscription.buffer = undefined;
          for (const encoded of buffered) this.#deliver(subscriber, subscription, encoded);
        }
      },
    );
  }

  #deliver(subscriber: Subscriber, subscription: Subscription, encoded: EncodedEnvelope): void {
    // Same epoch: deliver only what is newer (the backlog and the live buffer overlap).
    if (encoded.epoch === subscription.epoch && encoded.seq <= subscription.seq) return;
    try {
      // Something between the subscriber's position and this envelope is lost for good (or
      // the channel's history was reset, a new epoch): the subscriber must hear of it.
      if (!follows(encoded, subscription)) subscriber.onGap(encoded.envelope.channel);
      subscription.epoch = encoded.epoch;
      subscription.seq = encoded.seq;
      subscriber.onEnvelope(encoded);
    } catch (error) {
      this.#onError(error, 'subscriber threw');
    }
  }
}

/**
 * Runs a broker call and tells `observe` its outcome and duration. The caller gets the broker's
 * own promise: timing adds no step to its chain, so it cannot change what runs in which order.
 */
function timed<T>(
  call: () => Promise<T>,
  operation: BrokerOperation,
  observe: BrokerCallObserver,
): Promise<T> {
  const start = performance.now();
  const promise = call();
  // Registered first, so it runs before the caller's continuation; it handles the rejection
  // of this branch only, the caller still gets it.
  promise.then(
    () => observe(operation, true, (performance.now() - start) / 1000),
    () => observe(operation, false, (performance.now() - start) / 1000),
  );
  return promise;
}

/**
 * Whether `encoded` lies beyond the envelope right after `subscription`'s position. (One at
 * or before it is a late duplicate: fan-out and a history read raced; it is dropped.)
 */
function skipsAhead(encoded: EncodedEnvelope, subscription: Subscription): boolean {
  return encoded.epoch !== subscription.epoch || encoded.seq > subscription.seq + 1;
}

/** `onSubscribed` again, after a resync moved the subscriber (a subscriber must not throw). */
function announce(
  subscriber: Subscriber,
  result: SubscribeResult,
  onError: (error: unknown, context: string) => void,
): void {
  try {
    subscriber.onSubscribed([result]);
  } catch (error) {
    onError(error, 'subscriber threw');
  }
}

/** Whether `encoded` is the envelope right after `subscription`'s position. */
function follows(encoded: EncodedEnvelope, subscription: Subscription): boolean {
  return encoded.epoch === subscription.epoch && encoded.seq === subscription.seq + 1;
}

function encode(envelope: Envelope, json?: string): EncodedEnvelope | undefined {
  const position = tryParsePosition(envelope.id);
  return position && new EncodedEnvelope(envelope, position.epoch, position.seq, json);
}

/** Decides, from a broker read and the asked position, what one subscriber gets. */
export function resolveCatchUp(
  channel: string,
  read: ChannelRead,
  since: Position | undefined,
): CatchUp {
  const top = formatPosition({ epoch: read.epoch, seq: read.top });
  if (!since) {
    return { result: { channel, position: top, recovered: false, gap: false }, backlog: [] };
  }
  const backlog = read.envelopes
    .map((envelope) => encode(envelope))
    .filter((e): e is EncodedEnvelope => !!e);
  const first = backlog[0];
  const reachesBack =
    since.epoch === read.epoch &&
    since.seq <= read.top &&
    (first ? first.seq <= since.seq + 1 : read.top === since.seq);
  if (reachesBack) {
    return {
      result: { channel, position: formatPosition(since), recovered: true, gap: false },
      backlog,
    };
  }
  const position = first ? formatPosition({ epoch: read.epoch, seq: first.seq - 1 }) : top;
  return { result: { channel, position, recovered: false, gap: true }, backlog };
}
