import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchEnvironment } from './environment.js';

/** A window and a document to dispatch on; `afterEach` puts the real (absent) ones back. */
function fakeBrowser() {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const added = [vi.spyOn(window, 'addEventListener'), vi.spyOn(document, 'addEventListener')];
  vi.stubGlobal('addEventListener', window.addEventListener.bind(window));
  vi.stubGlobal('removeEventListener', window.removeEventListener.bind(window));
  vi.stubGlobal('document', document);
  return { window, document, added };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('watchEnvironment', () => {
  it('calls each handler on its event until stopped', () => {
    const { window, document } = fakeBrowser();
    const onOnline = vi.fn();
    const onOffline = vi.fn();
    const onVisible = vi.fn();
    const stop = watchEnvironment({ onOnline, onOffline, onVisible });
    window.dispatchEvent(new Event('online'));
    window.dispatchEvent(new Event('offline'));
    document.dispatchEvent(new Event('visibilitychange'));
    expect([onOnline, onOffline, onVisible].map((handler) => handler.mock.calls.length)).toEqual([
      1, 1, 1,
    ]);
    stop();
    window.dispatchEvent(new Event('online'));
    window.dispatchEvent(new Event('offline'));
    document.dispatchEvent(new Event('visibilitychange'));
    expect([onOnline, onOffline, onVisible].map((handler) => handler.mock.calls.length)).toEqual([
      1, 1, 1,
    ]);
  });

  it('calls onVisible only when the page becomes visible, not when it is hidden', () => {
    const { document } = fakeBrowser();
    const onVisible = vi.fn();
    const stop = watchEnvironment({ onVisible });
    document.visibilityState = 'hidden';
    document.dispatchEvent(new Event('visibilitychange'));
    expect(onVisible).not.toHaveBeenCalled();
    document.visibilityState = 'visible';
    document.dispatchEvent(new Event('visibilitychange'));
    expect(onVisible).toHaveBeenCalledTimes(1);
    stop();
  });

  it('listens to no hint it has no handler for', () => {
    const { added } = fakeBrowser();
    watchEnvironment({ onOffline: () => {} })();
    expect(added.map((spy) => spy.mock.calls.map((call) => call[0]))).toEqual([['offline'], []]);
  });

  it('does nothing outside browsers, nor with a document that takes no listener', () => {
    const handlers = { onOnline: vi.fn(), onOffline: vi.fn(), onVisible: vi.fn() };
    expect(globalThis.addEventListener).toBeUndefined();
    watchEnvironment(handlers)();
    vi.stubGlobal('document', { visibilityState: 'visible' });
    watchEnvironment(handlers)();
    expect(Object.values(handlers).flatMap((handler) => handler.mock.calls)).toEqual([]);
  });
});
