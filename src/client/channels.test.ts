import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../protocol/envelope.js';
import { TidewireError } from '../protocol/errors.js';
import { Channels } from './channels.js';

let seq = 0;
function envelope(channel: string, event = 'message', data: unknown = ++seq): Envelope {
  return { id: `${channel}-${++seq}`, channel, event, data, ts: 1_700_000_000_000 + seq };
}

function setup() {
  const onChange = vi.fn();
  return { channels: new Channels(onChange), onChange };
}

/** Whether a promise has settled, and how, after pending microtasks ran. */
async function state(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  const marker = Symbol('pending');
  const result = await Promise.race([
    promise.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    new Promise<typeof marker>((resolve) => setTimeout(() => resolve(marker))),
  ]);
  return result === marker ? 'pending' : result;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Channels.add', () => {
  it('tells the client once per new channel, not per handler', () => {
    const { channels, onChange } = setup();
    channels.add('a', () => {});
    channels.add('a', () => {});
    expect(onChange).toHaveBeenCalledTimes(1);
    channels.add('b');
    expect(onChange).toHaveBeenCalledTimes(2);
    expect(channels.names()).toEqual(['a', 'b']);
  });

  it('refuses an invalid channel name with BAD_CHANNEL, before anything changes', () => {
    const { channels, onChange } = setup();
    for (const name of ['', 'has space', 'x'.repeat(129), 'new\nline']) {
      expect(() => channels.add(name)).toThrow(TidewireError);
      try {
        channels.add(name);
      } catch (error) {
        expect((error as TidewireError).code).toBe('BAD_CHANNEL');
      }
    }
    expect(channels.names()).toEqual([]);
    expect(onChange).not.toHaveBeenCalled();
  });

  it('starts from the `since` position', () => {
    const { channels } = setup();
    const subscription = channels.add('a', undefined, { since: 'a-41' });
    expect(subscription.position).toBe('a-41');
    expect(channels.position('a')).toBe('a-41');
  });
});

describe('Channels.deliver', () => {
  it('hands (data, envelope) to every handler of the channel, and only of that channel', () => {
    const { channels } = setup();
    const first = vi.fn();
    const second = vi.fn();
    const other = vi.fn();
    channels.add('a', first);
    channels.add('a', second);
    channels.add('b', other);
    const sent = envelope('a', 'tick', { price: 1 });
    channels.deliver(sent);
    expect(first).toHaveBeenCalledWith({ price: 1 }, sent);
    expect(second).toHaveBeenCalledWith({ price: 1 }, sent);
    expect(other).not.toHaveBeenCalled();
  });

  it('moves the position to the last envelope', () => {
    const { channels } = setup();
    const subscription = channels.add('a');
    const sent = envelope('a');
    channels.deliver(sent);
    expect(subscription.position).toBe(sent.id);
    expect(channels.position('a')).toBe(sent.id);
  });

  it('drops a repeat of the last envelope (a resume that overlaps)', () => {
    const { channels } = setup();
    const handler = vi.fn();
    channels.add('a', handler);
    const sent = envelope('a');
    channels.deliver(sent);
    channels.deliver({ ...sent });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('drops the envelope at the `since` position', () => {
    const { channels } = setup();
    const handler = vi.fn();
    channels.add('a', handler, { since: 'a-7' });
    channels.deliver({ id: 'a-7', channel: 'a', event: 'message', data: 7, ts: 0 });
    expect(handler).not.toHaveBeenCalled();
  });

  it('drops envelopes of a channel no longer wanted', () => {
    const { channels } = setup();
    const handler = vi.fn();
    const route = vi.fn();
    const subscription = channels.add('a', handler);
    channels.register('message', route);
    subscription.unsubscribe();
    channels.deliver(envelope('a'));
    expect(handler).not.toHaveBeenCalled();
    expect(route).not.toHaveBeenCalled();
  });

  it('calls a function subscribed twice twice, and one unsubscribe stops one of them', () => {
    const { channels, onChange } = setup();
    const handler = vi.fn();
    const one = channels.add('a', handler);
    const two = channels.add('a', handler);
    channels.deliver(envelope('a'));
    expect(handler).toHaveBeenCalledTimes(2);
    one.unsubscribe();
    one.unsubscribe();
    channels.deliver(envelope('a'));
    expect(handler).toHaveBeenCalledTimes(3);
    expect(channels.has('a')).toBe(true);
    two.unsubscribe();
    expect(channels.has('a')).toBe(false);
    expect(onChange).toHaveBeenCalledTimes(2);
  });

  it('reports a handler that throws and still calls the others', () => {
    const reportError = vi.fn();
    vi.stubGlobal('reportError', reportError);
    const { channels } = setup();
    const boom = new Error('boom');
    const after = vi.fn();
    channels.add('a', () => {
      throw boom;
    });
    channels.add('a', after);
    channels.register('message', after);
    channels.deliver(envelope('a'));
    expect(after).toHaveBeenCalledTimes(2);
    expect(reportError).toHaveBeenCalledWith(boom);
  });
});

describe('Channels.register', () => {
  it('routes by envelope event across channels', () => {
    const { channels } = setup();
    channels.add('a');
    channels.add('b');
    const tick = vi.fn();
    const other = vi.fn();
    channels.register('tick', tick);
    channels.register('other', other);
    const onA = envelope('a', 'tick', 1);
    const onB = envelope('b', 'tick', 2);
    channels.deliver(onA);
    channels.deliver(onB);
    channels.deliver(envelope('a', 'message'));
    expect(tick.mock.calls).toEqual([
      [1, onA],
      [2, onB],
    ]);
    expect(other).not.toHaveBeenCalled();
  });

  it('routes envelopes named like lifecycle events as any other event', () => {
    const { channels } = setup();
    channels.add('a');
    const close = vi.fn();
    channels.register('close', close);
    channels.deliver(envelope('a', 'close', 'bye'));
    expect(close).toHaveBeenCalledWith('bye', expect.objectContaining({ event: 'close' }));
  });

  it('calls a handler registered twice for one event once', () => {
    const { channels } = setup();
    channels.add('a');
    const tick = vi.fn();
    channels.register('tick', tick);
    channels.register('tick', tick);
    channels.deliver(envelope('a', 'tick'));
    expect(tick).toHaveBeenCalledTimes(1);
  });

  it('returns the function that unregisters', () => {
    const { channels } = setup();
    channels.add('a');
    const tick = vi.fn();
    const unregister = channels.register('tick', tick);
    unregister();
    channels.deliver(envelope('a', 'tick'));
    expect(tick).not.toHaveBeenCalled();
  });

  it('unregisters one handler, or every handler of the event', () => {
    const { channels } = setup();
    channels.add('a');
    const one = vi.fn();
    const two = vi.fn();
    const elsewhere = vi.fn();
    channels.register('tick', one);
    channels.register('tick', two);
    channels.register('tock', elsewhere);
    channels.unregister('tick', one);
    channels.deliver(envelope('a', 'tick'));
    expect(one).not.toHaveBeenCalled();
    expect(two).toHaveBeenCalledTimes(1);
    channels.unregister('tick');
    channels.deliver(envelope('a', 'tick'));
    channels.deliver(envelope('a', 'tock'));
    expect(two).toHaveBeenCalledTimes(1);
    expect(elsewhere).toHaveBeenCalledTimes(1);
  });
});

describe('Channels.remove', () => {
  it('forgets the channel and tells the client', () => {
    const { channels, onChange } = setup();
    channels.add('a', vi.fn());
    channels.remove('a');
    expect(channels.has('a')).toBe(false);
    expect(onChange).toHaveBeenCalledTimes(2);
    channels.remove('a');
    expect(onChange).toHaveBeenCalledTimes(2);
  });

  it('is not undone by an older subscription of the same channel', () => {
    const { channels } = setup();
    const old = channels.add('a');
    channels.remove('a');
    const handler = vi.fn();
    channels.add('a', handler);
    old.unsubscribe();
    expect(channels.has('a')).toBe(true);
    channels.deliver(envelope('a'));
    expect(handler).toHaveBeenCalledTimes(1);
  });
});

describe('Subscription.ready', () => {
  it('is one promise per channel, resolved when the server confirms', async () => {
    const { channels } = setup();
    const one = channels.add('a');
    const two = channels.add('a');
    expect(two.ready).toBe(one.ready);
    expect(await state(one.ready)).toBe('pending');
    channels.confirm('a', 'a-100');
    expect(await state(one.ready)).toBe('resolved');
    expect(one.position).toBe('a-100');
  });

  it('keeps following the server on later confirmations (reconnects)', async () => {
    const { channels } = setup();
    const subscription = channels.add('a');
    channels.confirm('a', 'a-1');
    channels.confirm('a', 'a-2');
    await subscription.ready;
    expect(subscription.position).toBe('a-2');
  });

  it('ignores the confirmation of a channel not wanted', () => {
    const { channels } = setup();
    channels.confirm('nope', 'x');
    expect(channels.has('nope')).toBe(false);
  });

  it('rejects with the server’s error when refused, and the channel is dropped', async () => {
    const { channels, onChange } = setup();
    const subscription = channels.add('a');
    const error = new TidewireError('TOO_MANY_SUBSCRIPTIONS', 'limit is 1');
    channels.refuse('a', error);
    await expect(subscription.ready).rejects.toBe(error);
    expect(channels.has('a')).toBe(false);
    expect(onChange).toHaveBeenCalledTimes(2);
    // Subscribing again starts afresh.
    const again = channels.add('a');
    expect(again.ready).not.toBe(subscription.ready);
    expect(await state(again.ready)).toBe('pending');
  });

  it('rejects what is pending when cleared, and forgets routes', async () => {
    const { channels } = setup();
    const pending = channels.add('a');
    const confirmed = channels.add('b');
    channels.confirm('b', 'b-1');
    const route = vi.fn();
    channels.register('message', route);
    const error = new Error('destroyed');
    channels.clear(error);
    await expect(pending.ready).rejects.toBe(error);
    await expect(confirmed.ready).resolves.toBeUndefined();
    expect(channels.names()).toEqual([]);
    channels.add('a');
    channels.deliver(envelope('a'));
    expect(route).not.toHaveBeenCalled();
  });

  it('raises no unhandled rejection when nobody awaits it', async () => {
    const { channels } = setup();
    channels.add('a');
    channels.refuse('a', new TidewireError('FORBIDDEN', 'no'));
    // An unhandled rejection would fail the run; give it the turn it needs to surface.
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
});
