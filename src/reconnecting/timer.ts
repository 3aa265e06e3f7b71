/**
 * One owned timer.
 *
 * @module
 */

/**
 * The longest delay `setTimeout` takes: it runs anything longer at once.
 *
 * @internal
 */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * A single `setTimeout` slot: setting it again replaces the pending callback, `clear()` is
 * safe at any time.
 *
 * @internal
 */
export class Timer {
  #handle: ReturnType<typeof setTimeout> | undefined;

  /** Runs `callback` in `ms` (replacing what was pending). */
  set(ms: number, callback: () => void): void {
    clearTimeout(this.#handle);
    this.#handle = setTimeout(callback, Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
  }

  /** Drops what is pending; clearing a timer that has run does nothing. */
  clear(): void {
    clearTimeout(this.#handle);
  }
}
