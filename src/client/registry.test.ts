import { type Mock, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquire, forget, release } from './registry.js';

interface FakeClient {
  readonly name: string;
  readonly destroy: Mock<() => void>;
}

const made: FakeClient[] = [];
let keySeq = 0;
let key = '';

function factory(name = `client-${made.length}`) {
  return (): FakeClient => {
    const client = { name, destroy: vi.fn<() => void>() };
    made.push(client);
    return client;
  };
}

beforeEach(() => {
  vi.useFakeTimers();
  // The registry is module state: a key of its own per test.
  key = `http://hub-${++keySeq}.test/rt`;
});

afterEach(() => {
  for (const client of made.splice(0)) forget(client);
  vi.useRealTimers();
});

describe('acquire', () => {
  it('creates one client per key and hands the same one back', () => {
    const create = vi.fn(factory());
    const first = acquire(key, create);
    const second = acquire(key, create);
    expect(second).toBe(first);
    expect(create).toHaveBeenCalledTimes(1);
  });

  it('keeps keys apart', () => {
    const a = acquire(key, factory('a'));
    const b = acquire(`${key}/other`, factory('b'));
    expect(a).not.toBe(b);
  });
});

describe('release', () => {
  it('says whether the client is a shared one', () => {
    const client = acquire(key, factory());
    expect(release(client, 100)).toBe(true);
    expect(release({ destroy: vi.fn() }, 100)).toBe(false);
  });

  it('keeps the client while references remain', () => {
    const client = acquire(key, factory());
    acquire(key, factory());
    release(client, 100);
    vi.advanceTimersByTime(10_000);
    expect(client.destroy).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
    expect(acquire(key, factory())).toBe(client);
  });

  it('destroys the client delayMs after the last release, not before', () => {
    const client = acquire(key, factory());
    release(client, 1000);
    vi.advanceTimersByTime(999);
    expect(client.destroy).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(client.destroy).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('makes a new client for the key once the old one is destroyed', () => {
    const client = acquire(key, factory());
    release(client, 10);
    vi.advanceTimersByTime(10);
    const next = acquire(key, factory());
    expect(next).not.toBe(client);
    expect(release(client, 10)).toBe(false);
  });

  it('is cancelled by an acquire during the delay (mount, unmount, mount)', () => {
    const create = vi.fn(factory());
    const client = acquire(key, create);
    release(client, 1000);
    vi.advanceTimersByTime(500);
    expect(acquire(key, create)).toBe(client);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(client.destroy).not.toHaveBeenCalled();
    expect(create).toHaveBeenCalledTimes(1);
    // The count is right again: one release now is the last one.
    release(client, 1000);
    vi.advanceTimersByTime(1000);
    expect(client.destroy).toHaveBeenCalledTimes(1);
  });

  it('does not let a release beyond the last one push the count below zero', () => {
    const client = acquire(key, factory());
    release(client, 1000);
    vi.advanceTimersByTime(600);
    // A cleanup that runs twice: no new delay, and no debt that later holders pay for.
    release(client, 1000);
    vi.advanceTimersByTime(400);
    expect(client.destroy).toHaveBeenCalledTimes(1);

    const other = acquire(key, factory());
    release(other, 1000);
    release(other, 1000);
    const a = acquire(key, factory());
    const b = acquire(key, factory());
    expect(a).toBe(other);
    expect(b).toBe(other);
    release(other, 1000);
    vi.advanceTimersByTime(10_000);
    // One holder still holds it.
    expect(other.destroy).not.toHaveBeenCalled();
  });
});

describe('forget', () => {
  it('drops the key at once and cancels a pending destroy', () => {
    const client = acquire(key, factory());
    release(client, 1000);
    forget(client);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(client.destroy).not.toHaveBeenCalled();
    expect(acquire(key, factory())).not.toBe(client);
  });

  it('ignores a client that is not shared', () => {
    const client = acquire(key, factory());
    forget({ destroy: vi.fn() });
    expect(acquire(key, factory())).toBe(client);
  });
});
