import type {
  Broker,
  BrokerHandler,
  ChannelRead,
  HistoryOptions,
  PublishRequest,
} from '../core/broker.js';
import { DEFAULT_HISTORY } from '../core/broker.js';
import { ChannelHistory } from '../core/history.js';
import { type Position, formatPosition, newEpoch } from '../core/position.js';
import type { Envelope } from '../protocol/envelope.js';

export interface MemoryBrokerOptions extends HistoryOptions {
  /**
   * How long a channel with no subscriber and no history keeps its epoch and sequence before
   * it is forgotten. Forgetting it makes a returning client's position unknown (a `gap`), so
   * this is kept well past the history age. Default 1 hour.
   */
  readonly idleChannelTtlMs?: number;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/**
 * The broker of a single process: history in memory, fan-out by a direct call. Every
 * process start is a new epoch for every channel, so positions from before a restart are
 * recognised as unrelated and answered with a `gap` and what is held since.
 */
export class MemoryBroker implements Broker {
  readonly #channels = new Map<string, ChannelHistory>();
  readonly #subscribed = new Set<string>();
  readonly #maxCount: number;
  readonly #maxAgeMs: number;
  readonly #idleTtlMs: number;
  readonly #now: () => number;
  #handler: BrokerHandler | undefined;
  #sweepTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#maxCount = options.maxCount ?? DEFAULT_HISTORY.maxCount;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_HISTORY.maxAgeMs;
    this.#idleTtlMs = Math.max(options.idleChannelTtlMs ?? 3_600_000, this.#maxAgeMs);
    this.#now = options.now ?? Date.now;
    if (!(this.#maxCount >= 1)) throw new RangeError('history maxCount must be at least 1');
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
    // Age trimming also happens on every read and publish; the sweep only frees memory of
    // channels nobody touches.
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.min(this.#maxAgeMs, 60_000));
    this.#sweepTimer.unref?.();
  }

  async publish(request: PublishRequest): Promise<Envelope> {
    const now = this.#now();
    const history = this.#history(request.channel, now);
    const envelope: Envelope = {
      id: formatPosition({ epoch: history.epoch, seq: history.top + 1 }),
      channel: request.channel,
      event: request.event,
      data: request.data,
      ts: now,
      ...(request.binary ? { binary: true as const } : {}),
    };
    history.append(envelope, this.#maxCount);
    if (this.#subscribed.has(request.channel)) this.#handler?.onEnvelope(envelope);
    return envelope;
  }

  async read(channel: string, since?: Position): Promise<ChannelRead> {
    const now = this.#now();
    const history = this.#history(channel, now);
    history.lastActive = now;
    let envelopes: Envelope[] = [];
    if (since) envelopes = history.after(since.epoch === history.epoch ? since.seq : undefined);
    return { epoch: history.epoch, top: history.top, envelopes };
  }

  async subscribe(channel: string): Promise<void> {
    this.#subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subscribed.delete(channel);
  }

  isAvailable(): boolean {
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#subscribed.clear();
  }

  #history(channel: string, now: number): ChannelHistory {
    let history = this.#channels.get(channel);
    if (!history) {
      history = new ChannelHistory(newEpoch(now), now);
      this.#channels.set(channel, history);
    }
    history.trimOlderThan(now - this.#maxAgeMs);
    return history;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [channel, history] of this.#channels) {
      history.trimOlderThan(now - this.#maxAgeMs);
      // A channel that was only ever read (a poll or a stream on a name nobody publishes to)
      // goes after the history age: reads alone must not keep memory for an hour. Forgetting
      // it costs at most a gap for a client that comes back to it later, never a loss.
      const ttl = history.top === 0 ? this.#maxAgeMs : this.#idleTtlMs;
      const idle = now - history.lastActive > ttl;
      if (history.size === 0 && idle && !this.#subscribed.has(channel)) {
        this.#channels.delete(channel);
      }
    }
  }

  /** Channels whose state this broker holds (for tests and stats). */
  get channelCount(): number {
    return this.#channels.size;
  }
}

/** Creates the in-memory broker, the default of `createHub`. */
export function memoryBroker(options: MemoryBrokerOptions = {}): MemoryBroker {
  return new MemoryBroker(options);
}
