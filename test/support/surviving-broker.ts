import { MemoryBroker, type MemoryBrokerOptions } from '../../src/brokers/memory.js';
import type { Broker, BrokerHandler, ChannelRead, PublishRequest } from '../../src/core/broker.js';
import type { Position } from '../../src/core/position.js';
import type { Envelope } from '../../src/protocol/envelope.js';

/**
 * A broker that outlives the hubs that use it, as a shared store (Redis) outlives a hub
 * restart: history, epochs and sequences stay, so a client that comes back to the new hub
 * resumes without a gap. It wraps one `MemoryBroker`, started once, whose fan-out goes to
 * whichever hub is attached now.
 *
 * One hub at a time: `hub.close()` ends in `close()`, which only detaches that hub; the next
 * `createHub({ broker })` attaches through `start()`. Starting a second hub while one is
 * attached throws at once (from `createHub`), since a single-handler broker cannot serve two
 * nodes. `dispose()` really closes the inner broker: call it in `afterEach`.
 *
 * @example
 * const broker = new SurvivingBroker();
 * const first = await startHub({ broker });
 * await first.close();
 * const second = await startHub({ broker }, first.port); // same history, same epochs
 */
export class SurvivingBroker implements Broker {
  /** The store itself, e.g. to publish "from another node" while no hub is attached. */
  readonly inner: MemoryBroker;
  #handler: BrokerHandler | undefined;
  #started: Promise<void> | undefined;
  #isDisposed = false;
  // Fan-out subscriptions counted over every hub: a closing hub's late unsubscribe (its
  // WebSockets may finish closing after the next hub subscribed) must not cut the next one.
  readonly #subscriptions = new Map<string, number>();

  constructor(options: MemoryBrokerOptions = {}) {
    this.inner = new MemoryBroker(options);
  }

  /** Whether a hub is attached (started and not yet closed). */
  get isAttached(): boolean {
    return this.#handler !== undefined;
  }

  /** Attaches a hub. Throws synchronously when one is attached already or after `dispose()`. */
  start(handler: BrokerHandler): Promise<void> {
    if (this.#isDisposed) throw new Error('SurvivingBroker: start() after dispose()');
    if (this.#handler) {
      throw new Error(
        'SurvivingBroker: a hub is attached already; await its close() before starting another',
      );
    }
    this.#handler = handler;
    this.#started ??= this.inner.start({
      onEnvelope: (envelope) => this.#handler?.onEnvelope(envelope),
    });
    return this.#started;
  }

  /** Publishes into the surviving history, whether a hub is attached or not. */
  publish(request: PublishRequest): Promise<Envelope> {
    return this.inner.publish(request);
  }

  read(channel: string, since?: Position): Promise<ChannelRead> {
    return this.inner.read(channel, since);
  }

  async subscribe(channel: string): Promise<void> {
    const count = this.#subscriptions.get(channel) ?? 0;
    this.#subscriptions.set(channel, count + 1);
    if (count === 0) await this.inner.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    const count = this.#subscriptions.get(channel);
    if (count === undefined) return;
    if (count > 1) {
      this.#subscriptions.set(channel, count - 1);
      return;
    }
    this.#subscriptions.delete(channel);
    await this.inner.unsubscribe(channel);
  }

  isAvailable(): boolean {
    return !this.#isDisposed && this.inner.isAvailable();
  }

  /** What `hub.close()` calls: detaches the hub; history and epochs stay. */
  async close(): Promise<void> {
    this.#handler = undefined;
  }

  /** Closes the inner broker for good (for `afterEach`); idempotent. */
  async dispose(): Promise<void> {
    this.#handler = undefined;
    if (this.#isDisposed) return;
    this.#isDisposed = true;
    this.#subscriptions.clear();
    await this.inner.close();
  }
}
