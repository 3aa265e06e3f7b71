/**
 * The soak test's bookkeeping: what was published on each channel (the ledger), what each
 * client received (a log per client and channel), and the checker that compares the two.
 *
 * Everything is by envelope id. An id is `<epoch>-<seq>` (README § The envelope): within an
 * epoch the broker numbers a channel's envelopes 1, 2, 3… with no hole (the `Broker` contract
 * in `src/core/broker.ts`), and a new epoch is a history that starts over. So the ids a channel
 * ever stored are known exactly once the highest seq of each epoch is known, even those of a
 * publish that failed but was stored all the same (a Redis link cut before the answer): the
 * checker's truth is every seq from 1 to the highest one seen, acked or delivered, per epoch.
 */

/** An id as the checker orders it. */
interface ParsedId {
  readonly epoch: string;
  readonly seq: number;
}

function parseId(id: string): ParsedId {
  const match = /^([0-9a-z]+)-(\d+)$/.exec(id);
  if (!match) throw new Error(`not an envelope id: ${JSON.stringify(id)}`);
  return { epoch: match[1] as string, seq: Number(match[2]) };
}

/**
 * One channel's ledger: every id seen (acked to a publisher, or delivered to a client) gets a
 * small integer key, so that client logs are arrays of numbers rather than of strings.
 */
export class ChannelLedger {
  /** key → id */
  readonly ids: string[] = [];
  readonly #keys = new Map<string, number>();
  /** key → the `k` of the publish that was acked with this id */
  readonly acked = new Map<number, number>();
  /** key → the `k` in the data of the envelope as first delivered */
  readonly #delivered = new Map<number, number>();
  /** Epochs in the order they were first met (hub generations follow one another). */
  readonly epochs: string[] = [];
  /** When each publish attempt started (`performance.now()`), in order: see `storedBefore`. */
  readonly #attemptTimes: number[] = [];
  /** Deliveries whose data differed from an earlier delivery or from the ack of that id. */
  dataMismatches = 0;

  constructor(readonly channel: string) {}

  /** The key of `id`, given one at first sight; notes its epoch. */
  intern(id: string): number {
    let key = this.#keys.get(id);
    if (key === undefined) {
      key = this.ids.length;
      this.ids.push(id);
      this.#keys.set(id, key);
      this.noteEpoch(parseId(id).epoch);
    }
    return key;
  }

  keyOf(id: string): number | undefined {
    return this.#keys.get(id);
  }

  noteEpoch(epoch: string): void {
    if (!this.epochs.includes(epoch)) this.epochs.push(epoch);
  }

  /** A publish attempt starts now (for the bound on what history could hold at a time). */
  attempt(atMs = performance.now()): void {
    this.#attemptTimes.push(atMs);
  }

  /** A publish of `k` was acked with `id`. */
  ack(id: string, k: number): void {
    const key = this.intern(id);
    this.acked.set(key, k);
    const delivered = this.#delivered.get(key);
    if (delivered !== undefined && delivered !== k) this.dataMismatches++;
  }

  /** A client got `id` with `k` in its data. */
  delivered(key: number, k: unknown): void {
    const known = this.#delivered.get(key) ?? this.acked.get(key);
    if (typeof k !== 'number' || (known !== undefined && known !== k)) this.dataMismatches++;
    if (!this.#delivered.has(key) && typeof k === 'number') this.#delivered.set(key, k);
  }

  /**
   * How many publish attempts had started by `atMs`: an upper bound on the highest seq stored
   * by then, when attempts are the only publishes of the channel and its epoch never changes
   * (each stored envelope takes one seq; an attempt stores at most one).
   */
  storedBefore(atMs: number): number {
    const times = this.#attemptTimes;
    let low = 0;
    let high = times.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((times[middle] as number) <= atMs) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Every channel's ledger. */
export class Ledger {
  readonly #channels = new Map<string, ChannelLedger>();

  channel(name: string): ChannelLedger {
    let channel = this.#channels.get(name);
    if (!channel) this.#channels.set(name, (channel = new ChannelLedger(name)));
    return channel;
  }

  get channels(): ChannelLedger[] {
    return [...this.#channels.values()];
  }
}

/** What one client received on one channel, in arrival order, gaps included. */
export class ChannelLog {
  /** Envelope keys (≥ 0) and gaps (-1 - index into `gapTimes`). */
  readonly entries: number[] = [];
  readonly gapTimes: number[] = [];
  /** Id of the last envelope received. */
  lastId: string | undefined;

  /**
   * @param start - the position the client started from: the `position` its first
   *   subscription was confirmed at, before anything was published.
   */
  constructor(
    readonly client: string,
    readonly ledger: ChannelLedger,
    readonly start: string,
  ) {
    ledger.noteEpoch(parseId(start).epoch);
  }

  envelope(id: string, k: unknown): void {
    const key = this.ledger.intern(id);
    this.ledger.delivered(key, k);
    this.entries.push(key);
    this.lastId = id;
  }

  gap(atMs = performance.now()): void {
    this.entries.push(-1 - this.gapTimes.length);
    this.gapTimes.push(atMs);
  }

  get deliveries(): number {
    return this.entries.length - this.gapTimes.length;
  }
}

/** Which gaps a channel may legitimately see. */
export type GapPolicy =
  /** None: a history that holds everything, in a store that survives restarts. */
  | { readonly kind: 'none' }
  /**
   * Where the history an id belonged to is gone with its epoch (an in-memory hub restarted):
   * a gap, then the new epoch's history from its start.
   */
  | { readonly kind: 'epoch' }
  /**
   * Where history was trimmed to its last `maxCount` envelopes (exact, as Redis `MAXLEN`)
   * while the client was away. After a gap the first envelope must be the oldest one history
   * held when it was read, which is at most `storedBefore(gap time) - maxCount + 1`: the
   * hub read history before the client heard the gap.
   */
  | {
      readonly kind: 'trimmed';
      readonly maxCount: number;
      readonly storedBefore: (atMs: number) => number;
    };

/** The verdict on one log, or the sum of many. */
export interface Verdict {
  deliveries: number;
  /** Stored envelopes after the client's start that it never got, with no legitimate gap. */
  lost: number;
  /** Of `lost`, those a publisher had been acked for. */
  lostAcked: number;
  /** Envelopes received more than once. */
  duplicated: number;
  /** Envelopes received after a later one of the same channel. */
  reordered: number;
  /** Gaps where history was lost with its epoch (hub restart). */
  epochGaps: number;
  /** Gaps where history had been trimmed. */
  trimGaps: number;
  /** Gaps with no legitimate cause. */
  unexpectedGaps: number;
  /** A move to a new epoch that the client was not told of with a gap. */
  missingGaps: number;
  /** The first problems, for the failure message. */
  problems: string[];
}

export function emptyVerdict(): Verdict {
  return {
    deliveries: 0,
    lost: 0,
    lostAcked: 0,
    duplicated: 0,
    reordered: 0,
    epochGaps: 0,
    trimGaps: 0,
    unexpectedGaps: 0,
    missingGaps: 0,
    problems: [],
  };
}

/** Problems kept for the failure message: a few per log, so that it shows several logs. */
const MAX_PROBLEMS = 12;
const PROBLEMS_PER_LOG = 3;

export function addVerdict(total: Verdict, one: Verdict): Verdict {
  for (const field of [
    'deliveries',
    'lost',
    'lostAcked',
    'duplicated',
    'reordered',
    'epochGaps',
    'trimGaps',
    'unexpectedGaps',
    'missingGaps',
  ] as const) {
    total[field] += one[field];
  }
  total.problems.push(...one.problems.slice(0, MAX_PROBLEMS - total.problems.length));
  return total;
}

/**
 * A channel's truth: every id it stored, in order (epochs in the order met, seqs 1…top in
 * each), with each one's ledger key. Built once chaos is over.
 */
export class Truth {
  /** truth index → ledger key */
  readonly keys: number[] = [];
  /** truth index → epoch ordinal */
  readonly epochOf: number[] = [];
  /** truth index → seq */
  readonly seqOf: number[] = [];
  /** ledger key → truth index */
  readonly #indexOfKey = new Map<number, number>();

  constructor(readonly ledger: ChannelLedger) {
    const top = new Map<string, number>();
    for (const id of [...ledger.ids]) {
      const { epoch, seq } = parseId(id);
      top.set(epoch, Math.max(top.get(epoch) ?? 0, seq));
    }
    // Ids nobody saw (stored by a publish that failed, delivered to no one) get a key here.
    ledger.epochs.forEach((epoch, ordinal) => {
      for (let seq = 1; seq <= (top.get(epoch) ?? 0); seq++) {
        const key = ledger.intern(`${epoch}-${seq}`);
        this.#indexOfKey.set(key, this.keys.length);
        this.keys.push(key);
        this.epochOf.push(ordinal);
        this.seqOf.push(seq);
      }
    });
  }

  get length(): number {
    return this.keys.length;
  }

  /** Ids stored with no ack: publishes that failed, or timed out, after Redis had them. */
  get unacked(): number {
    return this.keys.filter((key) => !this.ledger.acked.has(key)).length;
  }

  indexOf(key: number): number {
    const index = this.#indexOfKey.get(key);
    if (index === undefined) throw new Error(`key ${key} is not in the truth`);
    return index;
  }

  /** The truth index of the first envelope after `position` (an id, or `<epoch>-0`). */
  indexAfter(position: string): number {
    const { epoch, seq } = parseId(position);
    const ordinal = this.ledger.epochs.indexOf(epoch);
    let index = 0;
    while (
      index < this.length &&
      ((this.epochOf[index] as number) < ordinal ||
        (this.epochOf[index] === ordinal && (this.seqOf[index] as number) <= seq))
    ) {
      index++;
    }
    return index;
  }

  epochOrdinal(position: string): number {
    return this.ledger.epochs.indexOf(parseId(position).epoch);
  }

  id(index: number): string {
    return this.ledger.ids[this.keys[index] as number] as string;
  }
}

/**
 * Checks one client's log of one channel against the channel's truth: strictly increasing,
 * each envelope once, everything from the client's start to the end, except exactly where a
 * gap legitimately covers what history no longer held (see `GapPolicy`).
 */
export function checkLog(log: ChannelLog, truth: Truth, policy: GapPolicy): Verdict {
  const verdict = emptyVerdict();
  const problem = (text: string) => {
    if (verdict.problems.length < PROBLEMS_PER_LOG) {
      verdict.problems.push(`${log.client} on ${log.ledger.channel}: ${text}`);
    }
  };
  const countLost = (from: number, to: number, why: string) => {
    if (to <= from) return;
    verdict.lost += to - from;
    for (let index = from; index < to; index++) {
      if (truth.ledger.acked.has(truth.keys[index] as number)) verdict.lostAcked++;
    }
    const range = to - from === 1 ? truth.id(from) : `${truth.id(from)} … ${truth.id(to - 1)}`;
    problem(`lost ${to - from} (${range}) ${why}`);
  };
  const seen = new Uint8Array(truth.length);
  let expected = truth.indexAfter(log.start);
  let lastEpoch = truth.epochOrdinal(log.start);
  let lastId = log.start;
  // Gaps heard since the last envelope, and when the last of them was heard.
  let pendingGaps = 0;
  let lastGapAt = 0;

  for (const entry of log.entries) {
    if (entry < 0) {
      pendingGaps++;
      lastGapAt = log.gapTimes[-1 - entry] as number;
      continue;
    }
    verdict.deliveries++;
    const index = truth.indexOf(entry);
    if (seen[index]) {
      verdict.duplicated++;
      problem(`duplicate ${truth.id(index)} after ${lastId}`);
      continue;
    }
    seen[index] = 1;
    if (index < expected) {
      verdict.reordered++;
      problem(`out of order: ${truth.id(index)} after ${lastId}`);
      continue;
    }
    const epoch = truth.epochOf[index] as number;
    // Skipped envelopes, split into those of older epochs and those of this one.
    const firstOfThisEpoch = Math.max(expected, indexOfEpochStart(truth, epoch, expected, index));
    const olderSkipped = firstOfThisEpoch - expected;
    const sameSkipped = index - firstOfThisEpoch;
    const isNewEpoch = epoch !== lastEpoch;
    const where = `between ${lastId} and ${truth.id(index)}`;

    if (pendingGaps > 0) {
      const judged = judgeGap(policy, {
        isNewEpoch,
        olderSkipped,
        sameSkipped,
        seq: truth.seqOf[index] as number,
        gapAt: lastGapAt,
      });
      if (judged === 'epoch') verdict.epochGaps += pendingGaps;
      else if (judged === 'trimmed') verdict.trimGaps += pendingGaps;
      else {
        verdict.unexpectedGaps += pendingGaps;
        problem(`unexpected gap ${where} (${olderSkipped + sameSkipped} skipped)`);
      }
      if (judged !== 'epoch') countLost(expected, firstOfThisEpoch, `(older epochs) ${where}`);
      if (judged !== 'trimmed') countLost(firstOfThisEpoch, index, `with a gap ${where}`);
    } else {
      if (isNewEpoch) {
        verdict.missingGaps++;
        problem(`moved to a new epoch with no gap ${where}`);
      }
      countLost(expected, index, `with no gap ${where}`);
    }
    pendingGaps = 0;
    expected = index + 1;
    lastEpoch = epoch;
    lastId = truth.id(index);
  }
  if (pendingGaps > 0) {
    verdict.unexpectedGaps += pendingGaps;
    problem(`gap after the last envelope ${lastId}`);
  }
  countLost(expected, truth.length, `at the end, after ${lastId}`);
  return verdict;
}

/** Truth index of the first envelope of `epoch` within [from, to], or `to`. */
function indexOfEpochStart(truth: Truth, epoch: number, from: number, to: number): number {
  let index = to;
  while (index > from && truth.epochOf[index - 1] === epoch) index--;
  return index;
}

function judgeGap(
  policy: GapPolicy,
  skip: {
    isNewEpoch: boolean;
    olderSkipped: number;
    sameSkipped: number;
    seq: number;
    gapAt: number;
  },
): 'epoch' | 'trimmed' | 'unexpected' {
  if (policy.kind === 'epoch') {
    // History of the epoch the client stood in is gone: a gap, then the new history from its
    // start (skipping some of it would be a loss, counted apart).
    return skip.isNewEpoch ? 'epoch' : 'unexpected';
  }
  if (policy.kind === 'trimmed' && !skip.isNewEpoch && skip.olderSkipped === 0) {
    const oldestHeld = policy.storedBefore(skip.gapAt) - policy.maxCount + 1;
    return skip.sameSkipped > 0 && skip.seq <= oldestHeld ? 'trimmed' : 'unexpected';
  }
  return 'unexpected';
}
