import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { WebSocket as WsWebSocket } from 'ws';
import { ReconnectingError } from './errors.js';
import type { ReconnectingCloseEvent, ReconnectingErrorEvent } from './events.js';
import type { ReconnectingWebSocketOptions, WebSocketConstructor } from './options.js';
import { ReconnectingWebSocket } from './reconnecting-websocket.js';
import type { SendData } from './send-queue.js';

// Timing only (backoff, timeouts, heartbeat), under fake timers, with a scripted socket; the
// integration suite runs the same class against a real `ws` server.

class FakeSocket {
  static instances: FakeSocket[] = [];
  readonly url: string;
  readyState = 0;
  protocol = '';
  extensions = '';
  bufferedAmount = 0;
  binaryType = 'blob';
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: unknown) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  readonly sent: SendData[] = [];
  closedWith: [number | undefined, string | undefined] | undefined;

  constructor(url: string) {
    this.url = url;
    FakeSocket.instances.push(this);
  }

  send(data: SendData): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 2;
    this.closedWith = [code, reason];
  }

  /** The server accepts. */
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(data: unknown): void {
    this.onmessage?.({ data });
  }

  /** The connection ends (a refused connect when it never opened). */
  end(code = 1006, reason = '', wasClean = false): void {
    this.readyState = 3;
    this.onclose?.({ code, reason, wasClean });
  }
}

const URL = 'ws://example.test/feed';
const sockets: ReconnectingWebSocket[] = [];

function latest(): FakeSocket {
  const socket = FakeSocket.instances.at(-1);
  if (socket === undefined) throw new Error('no socket yet');
  return socket;
}

function create(options: ReconnectingWebSocketOptions = {}) {
  const socket = new ReconnectingWebSocket(URL, undefined, { WebSocket: FakeSocket, ...options });
  sockets.push(socket);
  const closes: ReconnectingCloseEvent[] = [];
  const messages: unknown[] = [];
  const errors: string[] = [];
  socket.onclose = (event) => closes.push(event);
  socket.onmessage = (event) => messages.push(event.data);
  socket.onerror = (event) => errors.push(event.message);
  return { socket, closes, messages, errors };
}

/** Runs due timers up to `ms` from now; answers how many sockets were created meanwhile. */
function advance(ms: number): number {
  const before = FakeSocket.instances.length;
  vi.advanceTimersByTime(ms);
  return FakeSocket.instances.length - before;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.instances = [];
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('backoff', () => {
  it('draws each delay from a full-jitter window that doubles up to capMs', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    create({ baseMs: 100, capMs: 1000 });
    const delays = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      latest().end();
      const expected = Math.floor(0.999 * Math.min(1000, 100 * 2 ** attempt));
      expect(advance(expected - 1)).toBe(0);
      expect(advance(1)).toBe(1);
      delays.push(expected);
    }
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('starts again from baseMs once a socket stayed open minUptimeMs, not before', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    create({ baseMs: 100, capMs: 10_000, minUptimeMs: 1000 });
    latest().end();
    advance(99);
    latest().open();
    advance(999);
    latest().end();
    // Open for 999 ms: still a failure, the second delay.
    expect(advance(198)).toBe(0);
    expect(advance(1)).toBe(1);
    latest().open();
    advance(1000);
    latest().end();
    expect(advance(99)).toBe(1);
  });

  it('stays CLOSED after maxRetries consecutive failures', () => {
    const { socket, closes } = create({ maxRetries: 2, baseMs: 10 });
    latest().end();
    advance(10);
    latest().end();
    advance(10);
    latest().end();
    expect(advance(60_000)).toBe(0);
    expect(socket.readyState).toBe(ReconnectingWebSocket.CLOSED);
    expect(closes).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops a socket that does not open within connectTimeoutMs', () => {
    const { closes, errors } = create({ connectTimeoutMs: 500, baseMs: 10 });
    const first = latest();
    advance(499);
    expect(first.closedWith).toBeUndefined();
    expect(advance(1 + 10)).toBe(1);
    expect(first.closedWith).toEqual([4000, 'connect timeout']);
    expect(errors).toEqual(['connect timeout']);
    expect(closes[0]).toMatchObject({ code: 1006, reason: 'connect timeout', wasClean: false });
  });
});

describe('heartbeat', () => {
  const heartbeat = { intervalMs: 25_000, timeoutMs: 10_000 };

  it('probes after intervalMs of silence and drops the link timeoutMs later', () => {
    const { socket, closes } = create({ heartbeat, baseMs: 10 });
    const first = latest();
    first.open();
    advance(24_999);
    expect(first.sent).toEqual([]);
    advance(1);
    expect(first.sent).toEqual(['ping']);
    advance(9_999);
    expect(closes).toEqual([]);
    advance(1);
    expect(first.closedWith).toEqual([4000, 'heartbeat timeout']);
    expect(closes[0]).toMatchObject({ code: 1006, reason: 'heartbeat timeout' });
    expect(socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    expect(advance(10)).toBe(1);
  });

  it('takes any message as life, and swallows the pong', () => {
    const { closes, messages } = create({ heartbeat });
    const first = latest();
    first.open();
    advance(20_000);
    first.receive('news');
    advance(20_000);
    expect(first.sent).toEqual([]);
    advance(5_000);
    expect(first.sent).toEqual(['ping']);
    advance(9_000);
    first.receive('pong');
    advance(24_000);
    expect(first.sent).toEqual(['ping']);
    expect(closes).toEqual([]);
    expect(messages).toEqual(['news']);
  });

  it('matches the pong with a function', () => {
    const { closes, messages } = create({
      heartbeat: {
        ...heartbeat,
        message: '{"type":"ping"}',
        pong: (data) => data === '{"type":"pong"}',
      },
    });
    latest().open();
    advance(25_000);
    expect(latest().sent).toEqual(['{"type":"ping"}']);
    latest().receive('{"type":"pong"}');
    advance(10_000);
    expect(closes).toEqual([]);
    expect(messages).toEqual([]);
  });

  it('takes a timer more than a second late for a frozen one: it probes again', () => {
    const { closes } = create({ heartbeat });
    const first = latest();
    first.open();
    advance(25_000);
    // The timeout fires two seconds after it was due: a throttled tab, a laptop waking up.
    vi.setSystemTime(Date.now() + 2000);
    advance(10_000);
    expect(closes).toEqual([]);
    expect(first.sent).toEqual(['ping', 'ping']);
    // The fresh probe gets a fresh timeout, on time this time.
    advance(9_999);
    expect(closes).toEqual([]);
    advance(1);
    expect(closes).toHaveLength(1);
  });

  it('waits no longer than setTimeout can for an interval or timeout past it, rather than spin', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    create({ heartbeat: { intervalMs: Infinity, timeoutMs: Infinity } });
    latest().open();
    const scheduled = setTimeoutSpy.mock.calls.length;
    advance(60_000);
    expect(latest().sent).toEqual([]);
    expect(setTimeoutSpy.mock.calls.length).toBe(scheduled);
  });
});

describe('browser hooks', () => {
  function fakeBrowser() {
    const window = new EventTarget();
    const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    const add = [vi.spyOn(window, 'addEventListener'), vi.spyOn(document, 'addEventListener')];
    const remove = [
      vi.spyOn(window, 'removeEventListener'),
      vi.spyOn(document, 'removeEventListener'),
    ];
    vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
    vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window));
    vi.stubGlobal('document', document);
    return { window, document, add, remove };
  }

  it('retries at once when the browser comes back online', () => {
    const { window } = fakeBrowser();
    create({ baseMs: 60_000 });
    latest().end();
    expect(FakeSocket.instances).toHaveLength(1);
    window.dispatchEvent(new Event('online'));
    expect(FakeSocket.instances).toHaveLength(2);
    // Online while a socket connects changes nothing.
    window.dispatchEvent(new Event('online'));
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('probes at once on offline and when the page becomes visible', () => {
    const { window, document } = fakeBrowser();
    create({ heartbeat: {} });
    latest().open();
    window.dispatchEvent(new Event('offline'));
    expect(latest().sent).toEqual(['ping']);
    document.dispatchEvent(new Event('visibilitychange'));
    expect(latest().sent).toEqual(['ping', 'ping']);
  });

  it('close() clears every timer and removes every browser listener', () => {
    const { add, remove } = fakeBrowser();
    const { socket, closes } = create({ heartbeat: {} });
    latest().open();
    socket.send('x');
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    socket.close(1000, 'done');
    expect(latest().closedWith).toEqual([1000, 'done']);
    latest().end(1000, 'done', true);
    expect(socket.readyState).toBe(ReconnectingWebSocket.CLOSED);
    expect(closes.map((event) => event.code)).toEqual([1000]);
    expect(vi.getTimerCount()).toBe(0);
    const types = (spies: typeof add) => spies.map((spy) => spy.mock.calls.map((call) => call[0]));
    expect(types(add)).toEqual([['online', 'offline'], ['visibilitychange']]);
    expect(remove.map((spy) => spy.mock.calls)).toEqual(add.map((spy) => spy.mock.calls));
  });
});

describe('send', () => {
  it('flushes the queue in order before dispatching open', () => {
    const { socket } = create();
    socket.send('a');
    socket.send(Uint8Array.of(1));
    socket.addEventListener('open', () => socket.send('c'));
    latest().open();
    expect(latest().sent).toEqual(['a', Uint8Array.of(1), 'c']);
    expect(socket.bufferedAmount).toBe(0);
  });

  it('throws past maxQueuedMessages or maxQueuedBytes rather than drop', () => {
    const byCount = create({ maxQueuedMessages: 2 }).socket;
    byCount.send('a');
    byCount.send('b');
    expect(() => byCount.send('c')).toThrow(ReconnectingError);
    const byBytes = create({ maxQueuedBytes: 4 }).socket;
    byBytes.send('é');
    expect(byBytes.bufferedAmount).toBe(2);
    expect(() => byBytes.send('abc')).toThrow(/maxQueuedBytes 4/);
    byBytes.send('ab');
    expect(byBytes.bufferedAmount).toBe(4);
  });
});

describe('misuse', () => {
  it('throws a TypeError without a WebSocket constructor', () => {
    expect(() => new ReconnectingWebSocket(URL)).toThrow(/no WebSocket constructor/);
  });

  it('validates close() arguments as the standard does', () => {
    const { socket } = create();
    expect(() => socket.close(1001)).toThrow(RangeError);
    expect(() => socket.close(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
  });

  it('reconnect() drops the socket and connects now, then close() is final', () => {
    const { socket, closes } = create({ baseMs: 60_000 });
    const first = latest();
    first.open();
    socket.reconnect();
    expect(first.closedWith).toEqual([1000, 'reconnect']);
    expect(closes[0]).toMatchObject({ code: 1000, reason: 'reconnect' });
    expect(advance(0)).toBe(1);
    socket.close();
    expect(() => socket.reconnect()).toThrow(ReconnectingError);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('types', () => {
  it('takes the WebSocket of browsers and of the ws package, and types its events', () => {
    expectTypeOf<typeof globalThis.WebSocket>().toExtend<WebSocketConstructor>();
    expectTypeOf<typeof WsWebSocket>().toExtend<WebSocketConstructor>();
    const socket = create().socket;
    socket.addEventListener('close', (event) => {
      expectTypeOf(event).toEqualTypeOf<ReconnectingCloseEvent>();
    });
    socket.addEventListener('error', (event) => {
      expectTypeOf(event).toEqualTypeOf<ReconnectingErrorEvent>();
    });
    socket.addEventListener('message', (event) => {
      expectTypeOf(event).toEqualTypeOf<MessageEvent>();
    });
  });
});
