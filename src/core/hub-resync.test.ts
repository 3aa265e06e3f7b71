import { describe, expect, it } from 'vitest';
import { MemoryBroker, type MemoryBrokerOptions } from '../brokers/memory.js';
import type { Envelope } from '../protocol/envelope.js';
import type { Broker, BrokerHandler, ChannelRead, PublishRequest } from './broker.js';
import type { EncodedEnvelope } from './encoded-envelope.js';
import { HubCore, type SubscribeResult, type Subscriber } from './hub.js';
import type { Position } from './position.js';

/**
 * The hub's resync: what it does when fan-out lost envelopes (a broker link that dropped),
 * when the broker asks it to re-read history, and when a channel's history was reset. The
 * broker is the memory broker with the faults of a real link added; the hub runs unchanged.
 */

/**
 * The memory broker behind a faulty link: fan-out can be lost (`losing`) or repeated
 * (`redeliver`), replies to reads can be held and then given or failed (`holdReads`), the store
 * can be reset as a Redis without persistence is by a restart (`resetStore`), and the test makes
 * the broker's `onResync` call (`resync`).
 */
class FaultyBroker implements Broker {
  #inner: MemoryBroker;
  #handler: BrokerHandler | undefined;
  readonly #subscribed = new Set<string>();
  #held: Array<() => void> | undefined;
  #failure: Error | undefined;
  /** While true, fan-out is lost on the way to the hub. */
  losing = false;
  /** History reads the hub made. */
  reads = 0;

  constructor(readonly options: MemoryBrokerOptions = {}) {
    this.#inner = new MemoryBroker(options);
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
    await this.#inner.start(this.#link());
  }

  publish(request: PublishRequest): Promise<Envelope> {
    return this.#inner.publish(request);
  }

  async read(channel: string, since?: Position): Promise<ChannelRead> {
    this.reads++;
    // The store answers now; the answer is what gets held (a reply still on the wire).
    const read = await this.#inner.read(channel, since);
    if (this.#held) await new Promise<void>((resolve) => this.#held?.push(resolve));
    if (this.#failure) throw this.#failure;
    return read;
  }

  async subscribe(channel: string): Promise<void> {
    this.#subscribed.add(channel);
    await this.#inner.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subscribed.delete(channel);
    await this.#inner.unsubscribe(channel);
  }

  isAvailable(): boolean {
    return true;
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** Holds read replies until the returned function releases them, failing them with `error`. */
  holdReads(): (error?: Error) => Promise<void> {
    this.#held = [];
    return async (error) => {
      const held = this.#held ?? [];
      this.#held = undefined;
      this.#failure = error;
      for (const release of held) release();
      await settle();
      this.#failure = undefined;
    };
  }

  /** Fans `envelope` out again, as a link that delivered it late would. */
  redeliver(envelope: Envelope): void {
    this.#handler?.onEnvelope(envelope);
  }

  /** The broker's call after its link came back. */
  resync(channels: readonly string[]): void {
    this.#handler?.onResync?.(channels);
  }

  /** Loses every channel's history and numbering: the next publish starts a new epoch. */
  async resetStore(): Promise<void> {
    await this.#inner.close();
    this.#inner = new MemoryBroker(this.options);
    await this.#inner.start(this.#link());
    for (const channel of this.#subscribed) await this.#inner.subscribe(channel);
  }

  #link(): BrokerHandler {
    return {
      onEnvelope: (envelope) => {
        if (!this.losing) this.#handler?.onEnvelope(envelope);
      },
    };
  }
}

/** A subscriber that records what the hub calls, in order. */
class Recorder implements Subscriber {
  readonly calls: string[] = [];
  onSubscribed(results: readonly SubscribeResult[]): void {
    for (const r of results) {
      this.calls.push(`subscribed ${r.channel} ${r.position}${r.gap ? ' gap' : ''}`);
    }
  }
  onGap(channel: string): void {
    this.calls.push(`gap ${channel}`);
  }
  onEnvelope(encoded: EncodedEnvelope): void {
    this.calls.push(`envelope ${encoded.envelope.id}`);
  }
  /** What came after `onSubscribed`. */
  get traffic(): string[] {
    return this.calls.filter((call) => !call.startsWith('subscribed'));
  }
}

/** Lets every pending promise callback run (the memory broker answers in microtasks). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function startCore(options: MemoryBrokerOptions = {}) {
  const broker = new FaultyBroker(options);
  const errors: Array<[unknown, string]> = [];
  const core = new HubCore({ broker, onError: (error, context) => errors.push([error, context]) });
  await core.start();
  const publishEnvelope = async (channel = 'a') => {
    const envelope = await core.publish({ channel, event: 'message', data: null });
    await settle();
    return envelope;
  };
  const publish = async (channel = 'a') => (await publishEnvelope(channel)).id;
  /** Publishes with fan-out lost. */
  const publishLost = async (channel = 'a') => {
    broker.losing = true;
    try {
      return await publish(channel);
    } finally {
      broker.losing = false;
    }
  };
  return { broker, core, errors, publish, publishEnvelope, publishLost };
}

const envelopes = (ids: readonly string[]) => ids.map((id) => `envelope ${id}`);

describe('HubCore resync', () => {
  describe('a live envelope that skips ahead', () => {
    it('delivers what fan-out skipped from history first, in order, with no gap', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      const skipped = [await publishLost(), await publishLost()];
      const readsBefore = broker.reads;
      const next = await publish();
      expect(recorder.traffic).toEqual(envelopes([first, ...skipped, next]));
      expect(broker.reads).toBe(readsBefore + 1);
      const after = await publish();
      expect(recorder.traffic.at(-1)).toBe(`envelope ${after}`);
      await core.close();
    });

    it('signals one gap, then what history holds, when the skipped envelopes were trimmed', async () => {
      const { core, publish, publishLost } = await startCore({ maxCount: 2 });
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      await publishLost(); // trimmed by the publishes that follow
      await publishLost(); // trimmed
      const held = await publishLost();
      const next = await publish();
      const after = await publish();
      expect(recorder.traffic).toEqual([
        `envelope ${first}`,
        'gap a',
        `envelope ${held}`,
        `envelope ${next}`,
        `envelope ${after}`,
      ]);
      await core.close();
    });

    it('reads history once for all the subscribers of the channel, each at its own position', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const early = new Recorder();
      await core.subscribe(early, ['a']);
      const first = await publish();
      const lost = await publishLost();
      // Subscribes after the loss: its position is already past what `early` missed.
      const late = new Recorder();
      await core.subscribe(late, ['a']);
      const readsBefore = broker.reads;
      const next = await publish();
      expect(early.traffic).toEqual(envelopes([first, lost, next]));
      expect(late.traffic).toEqual(envelopes([next]));
      expect(broker.reads).toBe(readsBefore + 1);
      await core.close();
    });

    it('delivers what fan-out lost while a subscriber was still catching up, with no gap', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const live = new Recorder();
      await core.subscribe(live, ['a']);
      const first = await publish();
      // `joining` reads history (top: `first`); its reply is held, so it is still catching up
      // when fan-out loses an envelope and the next one arrives.
      const release = broker.holdReads();
      const joining = new Recorder();
      const subscribing = core.subscribe(joining, ['a']);
      await settle();
      const lost = await publishLost();
      const next = await publish();
      await release();
      await subscribing;
      await settle();
      expect(live.traffic).toEqual(envelopes([first, lost, next]));
      expect(joining.calls).toEqual([`subscribed a ${first}`, ...envelopes([lost, next])]);
      await core.close();
    });
  });

  describe('when the broker calls onResync', () => {
    it('delivers the envelopes fan-out lost, once', async () => {
      const { broker, core, errors, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      const lost = [await publishLost(), await publishLost()];
      expect(recorder.traffic).toEqual(envelopes([first]));

      broker.resync(['a', 'not-subscribed']);
      await settle();
      expect(recorder.traffic).toEqual(envelopes([first, ...lost]));
      broker.resync(['a']);
      await settle();
      const next = await publish();
      expect(recorder.traffic).toEqual(envelopes([first, ...lost, next]));
      expect(errors).toEqual([]);
      await core.close();
    });

    it('delivers nothing when nothing was lost', async () => {
      const { broker, core, publish } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      broker.resync(['a']);
      await settle();
      expect(recorder.traffic).toEqual(envelopes([first]));
      await core.close();
    });
  });

  it('drops a late duplicate, also one that arrives during a resync', async () => {
    const { broker, core, publishEnvelope, publishLost } = await startCore();
    const recorder = new Recorder();
    await core.subscribe(recorder, ['a']);
    const first = await publishEnvelope();
    const second = await publishEnvelope();
    const readsBefore = broker.reads;
    broker.redeliver(first);
    broker.redeliver(second);
    await settle();
    expect(broker.reads).toBe(readsBefore); // a duplicate is no reason to re-read history
    expect(recorder.traffic).toEqual(envelopes([first.id, second.id]));

    const release = broker.holdReads();
    const lost = await publishLost();
    const next = await publishEnvelope(); // starts a resync; its read is held
    broker.redeliver(second);
    broker.redeliver(next);
    await release();
    broker.redeliver(next);
    await settle();
    expect(recorder.traffic).toEqual(envelopes([first.id, second.id, lost, next.id]));
    await core.close();
  });

  describe('a new epoch', () => {
    it('signals one gap, then the new history, when a live envelope comes from a reset history', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      await broker.resetStore();
      // The new epoch's first envelope is lost in fan-out; the second must not pass for the
      // next one of the old epoch (same sequence rules, other history).
      const renewed = [await publishLost(), await publish(), await publish()];
      expect(renewed[0]?.split('-')[0]).not.toBe(first.split('-')[0]);
      expect(renewed[1]).toMatch(/-2$/);
      expect(recorder.traffic).toEqual([`envelope ${first}`, 'gap a', ...envelopes(renewed)]);
      await core.close();
    });

    it('signals one gap on onResync when the history was reset, then delivers on', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      await broker.resetStore();
      const lost = await publishLost(); // of the new epoch, lost in fan-out
      broker.resync(['a']);
      await settle();
      const next = await publish();
      expect(recorder.traffic).toEqual([`envelope ${first}`, 'gap a', ...envelopes([lost, next])]);
      await core.close();
    });
  });

  describe('a history read that fails', () => {
    it('still delivers what was buffered meanwhile, after a gap, and keeps delivering', async () => {
      const { broker, core, errors, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      await publishLost();
      const release = broker.holdReads();
      const buffered = [await publish(), await publish()]; // the first starts a resync
      expect(recorder.traffic).toEqual(envelopes([first]));
      const failure = new Error('store went away');
      await release(failure);
      expect(recorder.traffic).toEqual([`envelope ${first}`, 'gap a', ...envelopes(buffered)]);
      expect(errors).toEqual([[failure, 'resync of a']]);

      // Not left buffering: live envelopes flow, and the next loss is recovered again.
      const next = await publish();
      const lost = await publishLost();
      const after = await publish();
      expect(recorder.traffic.slice(-3)).toEqual(envelopes([next, lost, after]));
      await core.close();
    });

    it('delivers nothing and signals nothing when onResync finds the store away', async () => {
      const { broker, core, errors, publish } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      const release = broker.holdReads();
      broker.resync(['a']);
      await release(new Error('still away'));
      expect(errors).toHaveLength(1);
      const next = await publish();
      expect(recorder.traffic).toEqual(envelopes([first, next]));
      await core.close();
    });
  });

  describe('a subscriber that leaves during a resync', () => {
    it('gets nothing more, while the others get what was lost', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const leaving = new Recorder();
      const staying = new Recorder();
      const leavingAll = new Recorder();
      await core.subscribe(leaving, ['a']);
      await core.subscribe(staying, ['a']);
      await core.subscribe(leavingAll, ['a', 'b']);
      const first = await publish();
      const lost = await publishLost();
      const release = broker.holdReads();
      const next = await publish(); // starts the resync
      core.unsubscribe(leaving, ['a']);
      core.unsubscribeAll(leavingAll);
      const meanwhile = await publish();
      await release();
      const after = await publish();
      expect(leaving.traffic).toEqual(envelopes([first]));
      expect(leavingAll.traffic).toEqual(envelopes([first]));
      expect(staying.traffic).toEqual(envelopes([first, lost, next, meanwhile, after]));
      await core.close();
    });

    it('gets only its new subscription when it comes back before the resync ends', async () => {
      const { broker, core, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      const first = await publish();
      const lost = await publishLost();
      const release = broker.holdReads();
      const next = await publish(); // starts the resync
      core.unsubscribe(recorder, ['a']);
      const again = core.subscribe(recorder, ['a'], new Map([['a', first]]));
      await settle();
      await release();
      await again;
      const after = await publish();
      expect(recorder.calls.slice(1)).toEqual([
        `envelope ${first}`,
        `subscribed a ${first}`,
        ...envelopes([lost, next, after]),
      ]);
      await core.close();
    });

    it('ends the resync quietly when the last subscriber of the channel left', async () => {
      const { broker, core, errors, publish, publishLost } = await startCore();
      const recorder = new Recorder();
      await core.subscribe(recorder, ['a']);
      await publish();
      await publishLost();
      const release = broker.holdReads();
      await publish(); // starts the resync
      core.unsubscribeAll(recorder);
      await release();
      expect(core.channelCount).toBe(0);
      expect(recorder.traffic).toHaveLength(1);
      expect(errors).toEqual([]);
      await core.close();
    });
  });

  it('keeps resyncing the others when a subscriber throws in onGap', async () => {
    const { core, errors, publish, publishLost } = await startCore({ maxCount: 1 });
    const thrower = new Recorder();
    thrower.onGap = () => {
      throw new Error('boom');
    };
    const recorder = new Recorder();
    await core.subscribe(thrower, ['a']);
    await core.subscribe(recorder, ['a']);
    await publish();
    await publishLost(); // trimmed: a gap for both
    const next = await publish();
    const after = await publish();
    expect(recorder.traffic.slice(-3)).toEqual(['gap a', ...envelopes([next, after])]);
    expect(errors.map(([, context]) => context)).toEqual(['subscriber threw']);
    await core.close();
  });
});
