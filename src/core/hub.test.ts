import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../brokers/memory.js';
import type { EncodedEnvelope } from './encoded-envelope.js';
import { HubCore, type SubscribeResult, type Subscriber, resolveCatchUp } from './hub.js';

/** A subscriber that records what the hub calls, in order. */
class Recorder implements Subscriber {
  readonly calls: string[] = [];
  onSubscribed(results: readonly SubscribeResult[]): void {
    for (const r of results)
      this.calls.push(`subscribed ${r.channel} ${r.position} ${r.recovered}`);
  }
  onGap(channel: string): void {
    this.calls.push(`gap ${channel}`);
  }
  onEnvelope(encoded: EncodedEnvelope): void {
    this.calls.push(`envelope ${encoded.envelope.id}`);
  }
}

async function startCore(maxCount = 1000) {
  const broker = new MemoryBroker({ maxCount });
  const core = new HubCore({ broker });
  await core.start();
  const publish = (channel: string, data: unknown = null) =>
    core.publish({ channel, event: 'message', data }).then((e) => e.id);
  return { core, publish };
}

describe('HubCore.subscribe', () => {
  it('tells where the subscriber stands before any envelope, then delivers live', async () => {
    const { core, publish } = await startCore();
    const before = await publish('a');
    const recorder = new Recorder();
    const [result] = await core.subscribe(recorder, ['a']);
    expect(result).toEqual({ channel: 'a', position: before, recovered: false, gap: false });
    const id = await publish('a');
    expect(recorder.calls).toEqual([`subscribed a ${before} false`, `envelope ${id}`]);
    await core.close();
  });

  it('resumes from a position with every later envelope once, in order', async () => {
    const { core, publish } = await startCore();
    const first = await publish('a');
    const missed = [await publish('a'), await publish('a')];
    const recorder = new Recorder();
    await core.subscribe(recorder, ['a'], new Map([['a', first]]));
    const live = await publish('a');
    expect(recorder.calls).toEqual([
      `subscribed a ${first} true`,
      ...missed.map((id) => `envelope ${id}`),
      `envelope ${live}`,
    ]);
    await core.close();
  });

  it('does not repeat envelopes published while history is being read', async () => {
    const { core, publish } = await startCore();
    const first = await publish('a');
    const recorder = new Recorder();
    const subscribing = core.subscribe(recorder, ['a'], new Map([['a', first]]));
    // Published after registration but before the read: in the backlog and in the live buffer.
    const during = await publish('a');
    await subscribing;
    expect(recorder.calls.filter((c) => c === `envelope ${during}`)).toHaveLength(1);
    await core.close();
  });

  it('signals a gap and delivers what is held when history does not reach back', async () => {
    const { core, publish } = await startCore(2);
    const first = await publish('a');
    await publish('a');
    const held = [await publish('a'), await publish('a')];
    const recorder = new Recorder();
    const [result] = await core.subscribe(recorder, ['a'], new Map([['a', first]]));
    expect(result?.gap).toBe(true);
    expect(result?.recovered).toBe(false);
    expect(recorder.calls.slice(1)).toEqual(['gap a', ...held.map((id) => `envelope ${id}`)]);
    await core.close();
  });

  it('refuses a second subscription to the same channel and a malformed position', async () => {
    const { core } = await startCore();
    const recorder = new Recorder();
    await core.subscribe(recorder, ['a']);
    await expect(core.subscribe(recorder, ['a'])).rejects.toMatchObject({
      code: 'ALREADY_SUBSCRIBED',
    });
    await expect(core.subscribe(recorder, ['b'], new Map([['b', 'x']]))).rejects.toMatchObject({
      code: 'BAD_CURSOR',
    });
    expect(core.subscriptionCount(recorder)).toBe(1);
    await core.close();
  });

  it('forgets the subscriber on unsubscribeAll', async () => {
    const { core, publish } = await startCore();
    const recorder = new Recorder();
    await core.subscribe(recorder, ['a', 'b']);
    expect(core.channelCount).toBe(2);
    core.unsubscribeAll(recorder);
    expect(core.channelCount).toBe(0);
    await publish('a');
    expect(recorder.calls.filter((c) => c.startsWith('envelope'))).toEqual([]);
    await core.close();
  });

  it('keeps delivering to others when one subscriber throws', async () => {
    const errors: unknown[] = [];
    const broker = new MemoryBroker();
    const core = new HubCore({ broker, onError: (error) => errors.push(error) });
    await core.start();
    const thrower: Subscriber = {
      onSubscribed() {},
      onGap() {},
      onEnvelope() {
        throw new Error('boom');
      },
    };
    const recorder = new Recorder();
    await core.subscribe(thrower, ['a']);
    await core.subscribe(recorder, ['a']);
    const envelope = await core.publish({ channel: 'a', event: 'message', data: 1 });
    expect(recorder.calls.at(-1)).toBe(`envelope ${envelope.id}`);
    expect(errors).toHaveLength(1);
    await core.close();
  });
});

describe('resolveCatchUp', () => {
  const read = (top: number, seqs: number[], epoch = 'e') => ({
    epoch,
    top,
    envelopes: seqs.map((seq) => ({
      id: `${epoch}-${seq}`,
      channel: 'a',
      event: 'message',
      data: null,
      ts: 0,
    })),
  });

  it('starts at the top without a position', () => {
    expect(resolveCatchUp('a', read(5, []), undefined).result).toEqual({
      channel: 'a',
      position: 'e-5',
      recovered: false,
      gap: false,
    });
  });

  it('recovers when the position is the top', () => {
    expect(resolveCatchUp('a', read(5, []), { epoch: 'e', seq: 5 }).result.recovered).toBe(true);
  });

  it('reports a gap for a position of another epoch, from before the first held envelope', () => {
    const { result, backlog } = resolveCatchUp('a', read(9, [8, 9], 'new'), {
      epoch: 'old',
      seq: 3,
    });
    expect(result).toEqual({ channel: 'a', position: 'new-7', recovered: false, gap: true });
    expect(backlog.map((e) => e.seq)).toEqual([8, 9]);
  });

  it('reports a gap for a position past the top (history was lost)', () => {
    expect(resolveCatchUp('a', read(2, []), { epoch: 'e', seq: 7 }).result).toEqual({
      channel: 'a',
      position: 'e-2',
      recovered: false,
      gap: true,
    });
  });

  it('reports a gap when everything after the position aged out', () => {
    expect(resolveCatchUp('a', read(6, []), { epoch: 'e', seq: 3 }).result.gap).toBe(true);
  });
});
