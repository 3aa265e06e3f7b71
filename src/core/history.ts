import type { Envelope } from '../protocol/envelope.js';

/**
 * The history of one channel in memory: envelopes with contiguous sequences, bounded by count
 * and age. Because sequences are contiguous, the envelope after `seq` is found by arithmetic,
 * not by search.
 */
export class ChannelHistory {
  /** Sequence of the newest envelope ever appended (0 when none). */
  top = 0;
  /** Time of the last append or read, for dropping idle channels. */
  lastActive: number;
  #items: Envelope[] = [];
  // Index of the oldest live item; the array is compacted when half of it is dead, so that
  // trimming from the front stays O(1) amortised instead of shifting every item.
  #start = 0;

  constructor(
    readonly epoch: string,
    now: number,
  ) {
    this.lastActive = now;
  }

  get size(): number {
    return this.#items.length - this.#start;
  }

  /** Appends the envelope of sequence `top + 1` and trims to `maxCount`. */
  append(envelope: Envelope, maxCount: number): void {
    this.top += 1;
    this.#items.push(envelope);
    this.lastActive = envelope.ts;
    if (this.size > maxCount) this.#drop(this.size - maxCount);
  }

  /** Drops envelopes published before `oldestTs`. */
  trimOlderThan(oldestTs: number): void {
    let count = 0;
    for (let i = this.#start; i < this.#items.length; i++) {
      if ((this.#items[i] as Envelope).ts >= oldestTs) break;
      count++;
    }
    if (count > 0) this.#drop(count);
  }

  /** Envelopes with a sequence above `seq`, oldest first; all held when `seq` is undefined. */
  after(seq: number | undefined): Envelope[] {
    const firstSeq = this.top - this.size + 1;
    const from = seq === undefined ? 0 : Math.max(0, seq + 1 - firstSeq);
    return this.#items.slice(this.#start + from);
  }

  #drop(count: number): void {
    this.#start += count;
    if (this.#start >= 1024 && this.#start * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#start);
      this.#start = 0;
    }
  }
}
