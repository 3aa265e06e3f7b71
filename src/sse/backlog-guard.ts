/**
 * Judges whether the client of a stream is a slow consumer: one that leaves more than its
 * budget of bytes unread (PITFALLS #11).
 *
 * @module
 */

/** What a `BacklogGuard` watches. */
export interface BacklogOwner {
  /** Bytes written but not yet taken by the kernel. */
  bufferedBytes(): number;
  /** Called once, when the budget stays exceeded past the grace period. */
  onSlowConsumer(): void;
}

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
  readonly #owner: BacklogOwner;
  #budget: number;
  #check: ReturnType<typeof setTimeout> | undefined;
  #isStopped = false;

  /**
   * @param owner - The stream: its queued bytes, and what to do once it is too slow. An object
   *   rather than two callbacks, so that a connection can be its own owner: a server holds
   *   thousands, and two closures each would weigh on every idle one.
   * @param budget - Bytes the client may leave unread.
   */
  constructor(owner: BacklogOwner, budget: number) {
    this.#owner = owner;
    this.#budget = budget;
  }

  /** Adds to the budget, e.g. for a replay written in one go when the stream opens. */
  allow(bytes: number): void {
    this.#budget += bytes;
  }

  /** Call after every write. */
  afterWrite(): void {
    if (this.#check !== undefined || this.#isStopped) return;
    if (this.#owner.bufferedBytes() <= this.#budget) return;
    this.#check = setTimeout(() => {
      this.#check = undefined;
      if (this.#isStopped || this.#owner.bufferedBytes() <= this.#budget) return;
      this.#isStopped = true;
      this.#owner.onSlowConsumer();
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
