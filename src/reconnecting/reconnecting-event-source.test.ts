import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FetchLike, ReconnectingEventSourceOptions } from './options.js';
import { ReconnectingEventSource } from './reconnecting-event-source.js';

// Timing only (watchdog, retry delays), under fake timers, with a scripted fetch; the
// integration suite runs the same class against a real node:http server.

interface Call {
  readonly headers: Headers;
  readonly push: (text: string) => void;
  readonly end: () => void;
}

const encoder = new TextEncoder();

/** A fetch that opens an event stream the test writes to. */
function streamingFetch(calls: Call[]): FetchLike {
  return async (_url, init) => {
    let stream!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream = controller;
      },
    });
    init.signal?.addEventListener('abort', () => stream.error(init.signal?.reason));
    calls.push({
      headers: new Headers(init.headers),
      push: (text) => stream.enqueue(encoder.encode(text)),
      end: () => stream.close(),
    });
    return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
  };
}

const sources: ReconnectingEventSource[] = [];

function create(calls: Call[], options: ReconnectingEventSourceOptions = {}) {
  const source = new ReconnectingEventSource('http://example.test/events', {
    fetch: streamingFetch(calls),
    ...options,
  });
  sources.push(source);
  const errors: string[] = [];
  source.onerror = (event) => errors.push(event.message);
  return { source, errors };
}

/** Advances fake time and lets the stream's promises settle. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});

afterEach(() => {
  for (const source of sources.splice(0)) source.close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('heartbeatTimeoutMs', () => {
  it('aborts a stream after heartbeatTimeoutMs without a byte; any byte postpones it', async () => {
    const calls: Call[] = [];
    const { source, errors } = create(calls, { baseMs: 10 });
    await advance(0);
    expect(source.readyState).toBe(ReconnectingEventSource.OPEN);
    await advance(40_000);
    calls[0]?.push(': still here\n\n');
    await advance(44_999);
    expect(errors).toEqual([]);
    await advance(1);
    expect(errors).toEqual(['no data for 45000 ms: heartbeat timeout']);
    expect(source.readyState).toBe(ReconnectingEventSource.CONNECTING);
    await advance(10);
    expect(calls).toHaveLength(2);
  });

  it('grants one more full timeout when its timer fires late, instead of killing the link', async () => {
    const calls: Call[] = [];
    const { errors } = create(calls);
    await advance(44_000);
    // The laptop sleeps for two minutes: the watchdog fires long after it was due.
    vi.setSystemTime(Date.now() + 120_000);
    await advance(1_000);
    expect(errors).toEqual([]);
    await advance(44_999);
    expect(errors).toEqual([]);
    await advance(1);
    expect(errors).toHaveLength(1);
  });

  it('turns off with 0', async () => {
    const calls: Call[] = [];
    const { errors } = create(calls, { heartbeatTimeoutMs: 0 });
    await advance(600_000);
    expect(errors).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('retry delays', () => {
  it("waits the server's retry: after a clean end, clamped to capMs", async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const calls: Call[] = [];
    create(calls, { capMs: 20_000 });
    await advance(0);
    calls[0]?.push('retry: 86400000\nid: 9\n\n');
    calls[0]?.end();
    await advance(19_999);
    expect(calls).toHaveLength(1);
    await advance(1);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.headers.get('last-event-id')).toBe('9');
  });

  it('starts from options.lastEventId', async () => {
    const calls: Call[] = [];
    const { source } = create(calls, { lastEventId: 'resume-here' });
    await advance(0);
    expect(calls[0]?.headers.get('last-event-id')).toBe('resume-here');
    expect(source.lastEventId).toBe('resume-here');
  });
});

describe('close and browser hooks', () => {
  it('retries at once when back online; close() leaves no timer and no listener', async () => {
    const window = new EventTarget();
    const add = vi.spyOn(window, 'addEventListener');
    const remove = vi.spyOn(window, 'removeEventListener');
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window));
    const calls: Call[] = [];
    const { source } = create(calls, { baseMs: 60_000, capMs: 60_000 });
    await advance(0);
    calls[0]?.end();
    await advance(0);
    expect(calls).toHaveLength(1);
    window.dispatchEvent(new Event('online'));
    await advance(0);
    expect(calls).toHaveLength(2);
    source.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(add.mock.calls.map((call) => call[0])).toEqual(['online']);
    expect(remove.mock.calls).toEqual(add.mock.calls);
  });

  it('throws a TypeError for a URL that does not parse', () => {
    expect(() => new ReconnectingEventSource('/relative', { fetch: streamingFetch([]) })).toThrow(
      TypeError,
    );
  });
});
