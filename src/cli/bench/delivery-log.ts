/**
 * The ledger of one transport's run: for every client and every message, whether it arrived,
 * how late, and whether again or out of order. Every message is published once to every
 * client, so `clients × messages` deliveries are expected, each exactly once.
 *
 * @module
 */
import type { LatencySummary } from './results.js';
import { BinCounter, percentileCurve, sortedCopy, summarize } from './stats.js';

/** What the ledger found, once the run is over. */
export interface DeliveryFigures {
  readonly expected: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** Deliveries that were no message of this run (0 unless something is wrong). */
  readonly strays: number;
  readonly latencyMs: LatencySummary;
  readonly latencyCurveMs: number[];
  readonly timeline: { readonly binMs: number; readonly counts: number[] };
  /** `process.hrtime.bigint()` of the last delivery; undefined with none. */
  readonly lastAtNs: bigint | undefined;
}

export class DeliveryLog {
  /** `seen[client × messages + seq]`: 1 once that client had that message. */
  readonly #seen: Uint8Array;
  /** One latency per first delivery, in arrival order. */
  readonly #latencyMs: Float64Array;
  /** The highest sequence number each client had so far, -1 before any. */
  readonly #lastSeq: Int32Array;
  readonly #timeline: BinCounter;
  #originNs: bigint | undefined;
  #lastAtNs: bigint | undefined;
  #delivered = 0;
  #duplicated = 0;
  #outOfOrder = 0;
  #strays = 0;

  constructor(
    readonly clients: number,
    readonly messages: number,
    binMs: number,
  ) {
    this.#seen = new Uint8Array(clients * messages);
    this.#latencyMs = new Float64Array(clients * messages);
    this.#lastSeq = new Int32Array(clients).fill(-1);
    this.#timeline = new BinCounter(binMs);
  }

  get expected(): number {
    return this.clients * this.messages;
  }

  /** Distinct deliveries so far. */
  get delivered(): number {
    return this.#delivered;
  }

  /** Sets time zero of the timeline: when publishing starts. */
  start(originNs: bigint): void {
    this.#originNs = originNs;
  }

  /**
   * Records that `client` got message `seq`, stamped `stampNs` by the hub, at `atNs`. Both
   * are `process.hrtime.bigint()` readings: CLOCK_MONOTONIC, the same clock in every process.
   */
  record(client: number, seq: number, stampNs: bigint, atNs: bigint): void {
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.messages || client >= this.clients) {
      this.#strays += 1;
      return;
    }
    const slot = client * this.messages + seq;
    if (this.#seen[slot] === 1) {
      this.#duplicated += 1;
      return;
    }
    this.#seen[slot] = 1;
    if (seq < this.#lastSeq[client]!) this.#outOfOrder += 1;
    else this.#lastSeq[client] = seq;
    this.#latencyMs[this.#delivered] = Number(atNs - stampNs) / 1e6;
    this.#delivered += 1;
    this.#lastAtNs = atNs;
    this.#timeline.add(Number(atNs - (this.#originNs ?? atNs)) / 1e6);
  }

  /** Counts something that arrived but is no message of the run. */
  stray(): void {
    this.#strays += 1;
  }

  figures(): DeliveryFigures {
    const sorted = sortedCopy(this.#latencyMs, this.#delivered);
    return {
      expected: this.expected,
      delivered: this.#delivered,
      lost: this.expected - this.#delivered,
      duplicated: this.#duplicated,
      outOfOrder: this.#outOfOrder,
      strays: this.#strays,
      latencyMs: summarize(sorted),
      latencyCurveMs: percentileCurve(sorted),
      timeline: { binMs: this.#timeline.binMs, counts: [...this.#timeline.counts] },
      lastAtNs: this.#lastAtNs,
    };
  }
}
