/**
 * Counts what a panel missed or got twice, from the demo ticker's numbering: each tick carries
 * the ticker's `run` (new at every server start) and `n`, which counts 1, 2, 3… within it.
 * This is the dashboard's proof that reconnects lose nothing: a resume that skipped a tick
 * shows here as missed, one that replayed a tick as duplicated.
 */
export class SequenceCheck {
  missed = 0;
  duplicated = 0;
  #run: string | undefined;
  #last = 0;

  /** Takes the next tick; answers whether it is new (not a duplicate). */
  take(run: string, n: number): boolean {
    if (run !== this.#run) {
      // A restarted server starts a new numbering; history from before it is gone, and a gap
      // (which the panel counts apart) says so.
      this.#run = run;
      this.#last = n;
      return true;
    }
    if (n <= this.#last) {
      this.duplicated += 1;
      return false;
    }
    this.missed += n - this.#last - 1;
    this.#last = n;
    return true;
  }
}
