/**
 * Dead-link detection by wall-clock deadlines (PITFALLS #8, #17).
 *
 * After `quietMs` with nothing heard the link is asked for a sign of life: a ping where the
 * transport can send one, otherwise the wait for the server's own heartbeat. Nothing heard
 * within the timeout after that means a dead link. Every judgement compares `Date.now()`
 * with the time of the last probe, never counts timer ticks; and a check that runs much later
 * than it was scheduled (a throttled background tab, a laptop waking up) re-probes instead of
 * killing: the silence it sees is our own, not the link's. While the page is hidden the
 * timeout is `hiddenTimeoutMs`; `probeNow()` serves `visibilitychange` and `online`.
 * `tidewire/reconnecting` builds its WebSocket heartbeat and its event-stream watchdog on it
 * too, with a `lateMs` of its own.
 *
 * @internal
 * @module
 */

export interface LivenessOptions {
  /** Quiet time before a probe, in ms. */
  quietMs: number;
  readonly timeoutMs: number;
  readonly hiddenTimeoutMs: number;
  /**
   * How far behind schedule, in ms, a check must run to count as late. Default half the
   * timeout, at least a second.
   */
  readonly lateMs?: number | undefined;
  /** Sends a ping, where the transport can. */
  readonly probe?: (() => void) | undefined;
  readonly onDead: () => void;
}

export class Liveness {
  readonly #options: LivenessOptions;
  /** When the current wait began: the last sign of life, or the last probe. */
  #since = Date.now();
  #isProbing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #isStopped = false;

  constructor(options: LivenessOptions) {
    this.#options = options;
    this.#schedule();
  }

  /** Something arrived: the link is alive. */
  heard(): void {
    this.#since = Date.now();
    this.#isProbing = false;
  }

  /** The server's heartbeat interval, where it tells it (SSE); applies to the current wait. */
  setQuiet(quietMs: number): void {
    this.#options.quietMs = quietMs;
    if (!this.#isStopped) this.#schedule();
  }

  /** Asks for a sign of life now (page shown again, network back). */
  probeNow(): void {
    if (this.#isStopped) return;
    this.#probe();
    this.#schedule();
  }

  /** For good: nothing restarts a stopped watch (every timer has an owner, STYLE.md). */
  stop(): void {
    this.#isStopped = true;
    clearTimeout(this.#timer);
  }

  /** Runs at `checkAt`, or later when our timers were frozen. */
  #check(checkAt: number): void {
    const now = Date.now();
    const wait = this.#wait();
    if (this.#isProbing && now - checkAt > (this.#options.lateMs ?? Math.max(1000, wait / 2))) {
      // Behind schedule: the silence is ours, not the link's, so it proves nothing.
      this.#probe();
    } else if (now - this.#since >= wait) {
      if (this.#isProbing) {
        this.stop();
        this.#options.onDead();
        return;
      }
      this.#probe();
    }
    this.#schedule();
  }

  #probe(): void {
    this.#since = Date.now();
    this.#isProbing = true;
    this.#options.probe?.();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const now = Date.now();
    const checkAt = Math.max(now, this.#since + this.#wait());
    this.#timer = setTimeout(() => this.#check(checkAt), checkAt - now);
  }

  /** The length of the current wait: for a sign of life, or for the answer to a probe. */
  #wait(): number {
    if (!this.#isProbing) return this.#options.quietMs;
    return isHidden() ? this.#options.hiddenTimeoutMs : this.#options.timeoutMs;
  }
}

/** Whether the page is hidden (a background tab); false outside browsers. */
export function isHidden(): boolean {
  return (
    (globalThis as { document?: { visibilityState?: string } }).document?.visibilityState ===
    'hidden'
  );
}
