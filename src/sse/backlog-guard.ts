/**
 * Judges whether the client of a stream is a slow consumer: one that leaves more than its
 * budget of bytes unread (PITFALLS #11).
 *
 * @module
 */

/** How long a backlog over the budget may last before the client counts as slow. */
const GRACE_MS = 100;

/**
 * Right after a burst, `writableLength` counts everything written, read or not: Node corks a
 * chunked response until the end of the tick, and libuv hands a long queue to the kernel over
 * several loop turns. So the guard judges a moment later (`GRACE_MS`): a client whose backlog
 * is still over the budget then is not reading fast enough and is cut; a fast client that got
 * a burst larger than its budget has taken it by then. Memory per client is thus bounded by
 * the budget plus what is written to it within the grace period.
 *
 * @internal
 */
export class BacklogGuard {
  readonly #queuedBytes: () => number;
  readonly #onSlowConsumer: () => void;
  #budget: number;
  #check: ReturnType<typeof setTimeout> | undefined;
  #isStopped = false;

  /**
   * @param queuedBytes - Bytes written but not yet taken by the kernel.
   * @param budget - Bytes the client may leave unread.
   * @param onSlowConsumer - Called once when the budget is exceeded.
   */
  constructor(queuedBytes: () => number, budget: number, onSlowConsumer: () => void) {
    this.#queuedBytes = queuedBytes;
    this.#budget = budget;
    this.#onSlowConsumer = onSlowConsumer;
  }

  /** Adds to the budget, e.g. for a replay written in one go when the stream opens. */
  allow(bytes: number): void {
    this.#budget += bytes;
  }

  /** Call after every write. */
  afterWrite(): void {
    if (this.#check !== undefined || this.#isStopped) return;
    if (this.#queuedBytes() <= this.#budget) return;
    this.#check = setTimeout(() => {
      this.#check = undefined;
      if (this.#isStopped || this.#queuedBytes() <= this.#budget) return;
      this.#isStopped = true;
      this.#onSlowConsumer();
    }, GRACE_MS);
    this.#check.unref?.();
  }

  /** The stream ended: no more checks. */
  stop(): void {
    this.#isStopped = true;
    clearTimeout(this.#check);
    this.#check = undefined;
  }
}
