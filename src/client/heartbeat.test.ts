import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Liveness, type LivenessOptions, isHidden } from './heartbeat.js';

const QUIET = 25_000;
const TIMEOUT = 10_000;
const HIDDEN_TIMEOUT = 60_000;

interface Watched {
  readonly liveness: Liveness;
  readonly probe: ReturnType<typeof vi.fn>;
  readonly onDead: ReturnType<typeof vi.fn>;
}

let current: Liveness | undefined;

function watch(options: Partial<LivenessOptions> = {}): Watched {
  const probe = vi.fn();
  const onDead = vi.fn();
  const liveness = new Liveness({
    quietMs: QUIET,
    timeoutMs: TIMEOUT,
    hiddenTimeoutMs: HIDDEN_TIMEOUT,
    probe,
    onDead,
    ...options,
  });
  current = liveness;
  return { liveness, probe, onDead };
}

/** Stubs the page's visibility; `afterEach` puts the real (absent) `document` back. */
function setVisibility(state: 'hidden' | 'visible'): void {
  vi.stubGlobal('document', { visibilityState: state });
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  current?.stop();
  current = undefined;
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('Liveness', () => {
  it('probes after quietMs of silence, not before', () => {
    const { probe, onDead } = watch();
    vi.advanceTimersByTime(QUIET - 1);
    expect(probe).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(onDead).not.toHaveBeenCalled();
  });

  it('declares the link dead timeoutMs after an unanswered probe, once, and leaves no timer', () => {
    const { probe, onDead } = watch();
    vi.advanceTimersByTime(QUIET);
    expect(probe).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(TIMEOUT - 1);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onDead).toHaveBeenCalledTimes(1);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * QUIET);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('postpones the probe while something is heard', () => {
    const { liveness, probe } = watch();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(QUIET - 1000);
      liveness.heard();
    }
    expect(probe).not.toHaveBeenCalled();
    vi.advanceTimersByTime(QUIET - 1);
    expect(probe).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(probe).toHaveBeenCalledTimes(1);
  });

  it('cancels the verdict when the answer is heard, and probes again after the next silence', () => {
    const { liveness, probe, onDead } = watch();
    vi.advanceTimersByTime(QUIET);
    vi.advanceTimersByTime(TIMEOUT - 1);
    liveness.heard();
    vi.advanceTimersByTime(QUIET - 1);
    expect(onDead).not.toHaveBeenCalled();
    expect(probe).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    expect(probe).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(TIMEOUT);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('judges by the wall clock: the deadline does not move with later checks', () => {
    const { onDead } = watch({ quietMs: 1000, timeoutMs: 3000 });
    vi.advanceTimersByTime(1000);
    // Checks driven in small steps still end at probe time + timeout, not later.
    for (let i = 0; i < 29; i++) vi.advanceTimersByTime(100);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('re-probes instead of killing when the check fires late (frozen timers)', () => {
    const { probe, onDead } = watch();
    vi.advanceTimersByTime(QUIET);
    expect(probe).toHaveBeenCalledTimes(1);
    // The machine sleeps for ten minutes: the wall clock jumps, no timer runs meanwhile.
    vi.setSystemTime(Date.now() + 10 * 60_000);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(TIMEOUT);
    // The silence is ours, not the link's: ask again rather than declare it dead.
    expect(onDead).not.toHaveBeenCalled();
    expect(probe).toHaveBeenCalledTimes(2);
    // A second probe left unanswered on time does kill.
    vi.advanceTimersByTime(TIMEOUT - 1);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('probes at once, without killing, when the quiet check itself fires late', () => {
    const { probe, onDead } = watch();
    vi.setSystemTime(Date.now() + 5 * QUIET);
    vi.advanceTimersByTime(QUIET);
    expect(probe).toHaveBeenCalledTimes(1);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(TIMEOUT);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('kills a check that is only a little late (under half a timeout)', () => {
    const { onDead } = watch();
    vi.advanceTimersByTime(QUIET);
    vi.setSystemTime(Date.now() + 2000);
    vi.advanceTimersByTime(TIMEOUT);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('takes lateMs, when given, as how late a check must run to re-probe', () => {
    const { probe, onDead } = watch({ lateMs: 1000 });
    vi.advanceTimersByTime(QUIET);
    // Two seconds behind: within half a timeout, yet past lateMs.
    vi.setSystemTime(Date.now() + 2000);
    vi.advanceTimersByTime(TIMEOUT);
    expect(onDead).not.toHaveBeenCalled();
    expect(probe).toHaveBeenCalledTimes(2);
  });

  it('waits hiddenTimeoutMs after a probe while the page is hidden', () => {
    setVisibility('hidden');
    expect(isHidden()).toBe(true);
    const { probe, onDead } = watch();
    vi.advanceTimersByTime(QUIET);
    expect(probe).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(TIMEOUT);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(HIDDEN_TIMEOUT - TIMEOUT - 1);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('relaxes a running deadline when the page becomes hidden after the probe', () => {
    const { onDead } = watch();
    vi.advanceTimersByTime(QUIET);
    setVisibility('hidden');
    vi.advanceTimersByTime(TIMEOUT);
    expect(onDead).not.toHaveBeenCalled();
    vi.advanceTimersByTime(HIDDEN_TIMEOUT - TIMEOUT);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('uses timeoutMs while the page is visible', () => {
    setVisibility('visible');
    expect(isHidden()).toBe(false);
    const { onDead } = watch();
    vi.advanceTimersByTime(QUIET + TIMEOUT);
    expect(onDead).toHaveBeenCalledTimes(1);
  });

  it('is never hidden outside browsers', () => {
    expect((globalThis as { document?: unknown }).document).toBeUndefined();
    expect(isHidden()).toBe(false);
  });

  describe('probeNow', () => {
    it('probes at once and starts the timeout from now', () => {
      const { liveness, probe, onDead } = watch();
      vi.advanceTimersByTime(5000);
      liveness.probeNow();
      expect(probe).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(TIMEOUT - 1);
      expect(onDead).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(onDead).toHaveBeenCalledTimes(1);
    });

    it('is satisfied by an answer', () => {
      const { liveness, probe, onDead } = watch();
      liveness.probeNow();
      vi.advanceTimersByTime(100);
      liveness.heard();
      vi.advanceTimersByTime(QUIET);
      expect(onDead).not.toHaveBeenCalled();
      expect(probe).toHaveBeenCalledTimes(2);
    });

    it('works without a probe function (the wait for the server’s own heartbeat)', () => {
      const { liveness, onDead } = watch({ probe: undefined });
      liveness.probeNow();
      vi.advanceTimersByTime(TIMEOUT);
      expect(onDead).toHaveBeenCalledTimes(1);
    });
  });

  describe('setQuiet', () => {
    it('lengthens the quiet time of the current wait', () => {
      const { liveness, probe } = watch();
      liveness.setQuiet(40_000);
      vi.advanceTimersByTime(40_000 - 1);
      expect(probe).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(probe).toHaveBeenCalledTimes(1);
    });

    it('shortens the quiet time of the current wait', () => {
      const { liveness, probe } = watch();
      vi.advanceTimersByTime(1000);
      liveness.setQuiet(5000);
      vi.advanceTimersByTime(4000 - 1);
      expect(probe).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(probe).toHaveBeenCalledTimes(1);
    });

    it('does not move the deadline of a probe already sent', () => {
      const { liveness, onDead } = watch();
      vi.advanceTimersByTime(QUIET);
      liveness.setQuiet(1000);
      vi.advanceTimersByTime(TIMEOUT);
      expect(onDead).toHaveBeenCalledTimes(1);
    });
  });

  describe('stop', () => {
    it('leaves no timer and never calls back', () => {
      const { liveness, probe, onDead } = watch();
      expect(vi.getTimerCount()).toBe(1);
      liveness.stop();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10 * QUIET);
      expect(probe).not.toHaveBeenCalled();
      expect(onDead).not.toHaveBeenCalled();
    });

    it('leaves no timer while a probe waits for its answer', () => {
      const { liveness, onDead } = watch();
      vi.advanceTimersByTime(QUIET);
      liveness.stop();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(TIMEOUT);
      expect(onDead).not.toHaveBeenCalled();
    });

    it('stays stopped when heard, probed or retuned afterwards', () => {
      const { liveness, probe, onDead } = watch();
      liveness.stop();
      liveness.heard();
      liveness.setQuiet(1000);
      liveness.probeNow();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(10 * QUIET);
      expect(onDead).not.toHaveBeenCalled();
      expect(probe).toHaveBeenCalledTimes(0);
    });
  });
});
