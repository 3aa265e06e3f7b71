/**
 * The last events an `SSE` instance sent, so that a client coming back with `Last-Event-ID`
 * gets what it missed.
 *
 * @module
 */

/** One sent event: its wire text and the id a client will hand back. */
interface BufferedEvent {
  readonly seq: number;
  readonly id: string;
  readonly text: string;
}

/** What a client's `Last-Event-ID` resolves to. */
export type ReplayResult =
  /** The buffer reaches back to it: these are the events sent since, in order. */
  | { readonly kind: 'replay'; readonly events: readonly string[] }
  /** Unknown (another process, or older than the buffer): start as a new client. */
  | { readonly kind: 'unknown' };

/**
 * A bounded ring of sent events. Ids that the buffer assigns are `<epoch>-<seq>`: the epoch
 * is random per instance, so an id from before a restart is never mistaken for a position in
 * this instance's stream (plain counters restart at 0 and would replay the wrong events).
 *
 * @internal
 */
export class ReplayBuffer {
  readonly #capacity: number;
  readonly #epoch = randomEpoch();
  readonly #events: BufferedEvent[] = [];
  /** Index of the oldest event in `#events`, which is used as a ring once full. */
  #head = 0;
  #seq = 0;

  /** @param capacity - Events kept; 0 keeps none (replay off). */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** The id of the newest event: where a client that has seen everything stands. */
  get headId(): string {
    return `${this.#epoch}-${this.#seq}`;
  }

  /** The id the next event gets when its sender gives none. */
  nextId(): string {
    return `${this.#epoch}-${this.#seq + 1}`;
  }

  /** Records a sent event under `id` (its own, or `nextId()`). */
  push(id: string, text: string): void {
    this.#seq++;
    if (this.#capacity === 0) return;
    const event = { seq: this.#seq, id, text };
    if (this.#events.length < this.#capacity) {
      this.#events.push(event);
    } else {
      this.#events[this.#head] = event;
      this.#head = (this.#head + 1) % this.#capacity;
    }
  }

  /** Resolves a client's `Last-Event-ID` to the events sent after it. */
  since(lastEventId: string): ReplayResult {
    const seq = this.#seqOf(lastEventId);
    if (seq === undefined) return { kind: 'unknown' };
    const events: string[] = [];
    for (let i = 0; i < this.#events.length; i++) {
      const event = this.#at(i);
      if (event.seq > seq) events.push(event.text);
    }
    return { kind: 'replay', events };
  }

  /** The sequence number an id stands for, if the buffer still reaches back to it. */
  #seqOf(id: string): number | undefined {
    const oldestSeq = this.#events.length === 0 ? this.#seq + 1 : this.#at(0).seq;
    const own = this.#parseOwnId(id);
    if (own !== undefined) {
      // Seen up to `own`: replay works when nothing after it has been dropped yet.
      return own >= oldestSeq - 1 ? own : undefined;
    }
    // An id the application chose: the newest event that carries it.
    for (let i = this.#events.length - 1; i >= 0; i--) {
      const event = this.#at(i);
      if (event.id === id) return event.seq;
    }
    return undefined;
  }

  #parseOwnId(id: string): number | undefined {
    const prefix = `${this.#epoch}-`;
    if (!id.startsWith(prefix)) return undefined;
    const digits = id.slice(prefix.length);
    if (!/^(0|[1-9][0-9]{0,14})$/.test(digits)) return undefined;
    const seq = Number(digits);
    return seq <= this.#seq ? seq : undefined;
  }

  #at(index: number): BufferedEvent {
    return this.#events[(this.#head + index) % this.#events.length] as BufferedEvent;
  }
}

function randomEpoch(): string {
  return Math.floor(Math.random() * 36 ** 8)
    .toString(36)
    .padStart(8, '0');
}
