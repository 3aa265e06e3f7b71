import type { Envelope } from '../protocol/envelope.js';

/**
 * The outbox: publishes waiting for their ack, in order. Bounded in count and bytes, each
 * with its own deadline, inspectable and clearable (PITFALLS #15). A message handed to a link
 * stays here until the server acks it; when the link dies first it is sent again on the next
 * one, so a publish is delivered at least once and in order.
 *
 * @internal
 * @module
 */

/** What a link sends for a publish. */
export interface OutgoingPublish {
  readonly ref: string;
  readonly channel: string;
  readonly event: string;
  readonly data: unknown;
  /** The frame's JSON text, encoded once. */
  readonly text: string;
}

export interface OutboxEntry extends OutgoingPublish {
  readonly bytes: number;
  /** Handed to the current link. */
  sent: boolean;
  readonly resolve: (envelope: Envelope) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class Outbox {
  readonly #entries = new Map<string, OutboxEntry>();
  #bytes = 0;

  /** Bytes waiting to be sent (what `bufferedAmount` reports). */
  get unsentBytes(): number {
    return this.unsent().reduce((bytes, entry) => bytes + entry.bytes, 0);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether an entry of `bytes` still fits the bounds. */
  fits(bytes: number, maxMessages: number, maxBytes: number): boolean {
    return this.#entries.size < maxMessages && this.#bytes + bytes <= maxBytes;
  }

  add(entry: OutboxEntry): void {
    this.#entries.set(entry.ref, entry);
    this.#bytes += entry.bytes;
  }

  /** Removes and returns the entry of `ref` (acked, refused or timed out). */
  take(ref: string): OutboxEntry | undefined {
    const entry = this.#entries.get(ref);
    if (!entry) return undefined;
    this.#entries.delete(ref);
    this.#bytes -= entry.bytes;
    clearTimeout(entry.timer);
    return entry;
  }

  /** Entries not yet handed to the link, oldest first. */
  unsent(): OutboxEntry[] {
    return [...this.#entries.values()].filter((entry) => !entry.sent);
  }

  /** The link died: whatever it had not acked goes out again on the next one. */
  requeue(): void {
    for (const entry of this.#entries.values()) entry.sent = false;
  }

  /** The largest entry handed to the link (the likely cause of a "message too big" close). */
  largestSent(): OutboxEntry | undefined {
    let largest: OutboxEntry | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.sent && (!largest || entry.bytes > largest.bytes)) largest = entry;
    }
    return largest;
  }

  /** Rejects and removes every entry. */
  clear(error: Error): void {
    for (const ref of [...this.#entries.keys()]) this.take(ref)?.reject(error);
  }
}
