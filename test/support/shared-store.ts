import { MemoryBroker, type MemoryBrokerOptions } from '../../src/brokers/memory.js';
import type { Broker, BrokerHandler, ChannelRead, PublishRequest } from '../../src/core/broker.js';
import type { Position } from '../../src/core/position.js';
import type { Envelope } from '../../src/protocol/envelope.js';

/**
 * One history that several hubs of this process share at the same time, as the nodes of a
 * deploy share Redis: an old node that drains and the new one that takes its clients see the
 * same envelopes with the same ids, so a client that moves resumes without a gap. (Where hubs
 * only follow one another, `SurvivingBroker` is enough.)
 *
 * Each hub gets its own `node()`: `hub.close()` detaches that node only. Every envelope goes
 * to every attached node that subscribed to its channel. `dispose()` closes the store.
 *
 * @example
 * const store = new SharedStore();
 * const old = await startHub({ broker: store.node() });
 * const next = await startHub({ broker: store.node() });
 * await next.hub.publish('a', 1); // reaches the subscribers of both hubs
 */
export class SharedStore {
  readonly #inner: MemoryBroker;
  readonly #nodes = new Set<StoreNode>();
  #started: Promise<void> | undefined;

  constructor(options: MemoryBrokerOptions = {}) {
    this.#inner = new MemoryBroker(options);
  }

  /** A broker for one more hub. */
  node(): Broker {
    return new StoreNode(this);
  }

  /** @internal */
  attach(node: StoreNode): Promise<void> {
    this.#nodes.add(node);
    this.#started ??= this.#inner.start({
      onEnvelope: (envelope) => {
        for (const each of this.#nodes) each.deliver(envelope);
      },
    });
    return this.#started;
  }

  /** @internal */
  detach(node: StoreNode): void {
    this.#nodes.delete(node);
  }

  /** @internal The inner broker fans out every channel; nodes filter by their own. */
  get inner(): MemoryBroker {
    return this.#inner;
  }

  /** Closes the store for good (for `afterEach`); idempotent. */
  async dispose(): Promise<void> {
    this.#nodes.clear();
    await this.#inner.close();
  }
}

/** One hub's view of a `SharedStore`. */
class StoreNode implements Broker {
  readonly #store: SharedStore;
  readonly #channels = new Set<string>();
  #handler: BrokerHandler | undefined;

  constructor(store: SharedStore) {
    this.#store = store;
  }

  start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
    return this.#store.attach(this);
  }

  deliver(envelope: Envelope): void {
    if (this.#channels.has(envelope.channel)) this.#handler?.onEnvelope(envelope);
  }

  publish(request: PublishRequest): Promise<Envelope> {
    return this.#store.inner.publish(request);
  }

  read(channel: string, since?: Position): Promise<ChannelRead> {
    return this.#store.inner.read(channel, since);
  }

  async subscribe(channel: string): Promise<void> {
    this.#channels.add(channel);
    // The inner broker fans out only what some node subscribed to: every channel, once.
    await this.#store.inner.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    // The inner subscription stays: another node may still want the channel, and a node
    // that does not is filtered out by `deliver`.
    this.#channels.delete(channel);
  }

  isAvailable(): boolean {
    return this.#store.inner.isAvailable();
  }

  async close(): Promise<void> {
    this.#handler = undefined;
    this.#channels.clear();
    this.#store.detach(this);
  }
}
