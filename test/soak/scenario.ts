import { expect } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { VARIANTS, type Variant, fastOptions } from '../support/client-harness.js';
import { type ProxyTarget, type TcpProxy, startTcpProxy } from '../support/tcp-proxy.js';
import { sleep, waitFor } from '../support/wait.js';
import {
  MemoryPeak,
  Random,
  SOAK_MS,
  SOAK_SEED,
  SoakClient,
  Stopper,
  describeCounts,
  increment,
  mebibytes,
  repeat,
} from './chaos-harness.js';
import {
  type GapPolicy,
  Ledger,
  Truth,
  type Verdict,
  addVerdict,
  checkLog,
  emptyVerdict,
} from './ledger.js';

/**
 * What both chaos scenarios share: clients of every transport and their logs, the ledger,
 * the chaos moves every scenario makes (blips, unsubscribes, bursts), the catch-up once chaos
 * stops, the verdict, and the rows of the figures.
 */

/** Chaos time of each scenario: half of `TIDEWIRE_SOAK_MS`. */
export const CHAOS_MS = Math.round(SOAK_MS / 2);
/** How long the clients get, once chaos stops, to receive the last envelope of each channel. */
export const CATCH_UP_MS = 30_000;
/** A test's timeout: chaos, catch-up, and a minute for setup and teardown. */
export const SCENARIO_TIMEOUT_MS = CHAOS_MS + CATCH_UP_MS + 60_000;
/** A history that holds a whole run, so that only a restart or a trimmed channel has gaps. */
export const BIG_HISTORY = { maxCount: 1_000_000, maxAgeMs: 3_600_000 } as const;
const CLIENTS_PER_VARIANT = 4;

export const quietLogger = { info() {}, warn() {}, error() {} };

/** What a scenario opened, closed in `afterEach`: last opened first. */
export class Cleanups {
  readonly #cleanups: Array<() => unknown> = [];

  add(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  async run(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // Going on with the rest matters more than one that failed to close.
      }
    }
  }
}

export interface Member {
  readonly soak: SoakClient;
  /** Its own TCP proxy, when it has one (else it shares a load balancer). */
  readonly proxy: TcpProxy | undefined;
}

/** What a scenario counts as it goes. */
export interface Counters {
  /** Publish attempts refused or failed, by code (each one retried). */
  readonly refused: Map<string, number>;
  acked: number;
  blips: number;
  unsubscribes: number;
  bursts: number;
  restarts: number;
  drainedRestarts: number;
  redisRestarts: number;
  /** `CLIENT PAUSE`s: Redis up, answering nothing for a while. */
  redisStalls: number;
  blackholes: number;
}

/** What a scenario ends with. */
export interface Outcome {
  readonly total: Verdict;
  readonly truths: ReadonlyMap<string, Truth>;
  /** Ids every channel stored, acked or not. */
  readonly stored: number;
  /** Of `stored`, those no publisher was acked for. */
  readonly unacked: number;
  readonly unrecorded: number;
  readonly dataMismatches: number;
  readonly chaosMs: number;
  readonly catchUpMs: number;
  readonly isCaughtUp: boolean;
}

export type Rows = Array<readonly [string, string]>;

/** `VARIANTS`, `CLIENTS_PER_VARIANT` times over, interleaved. */
export function clientVariants(): Variant[] {
  return Array.from(
    { length: VARIANTS.length * CLIENTS_PER_VARIANT },
    (_, i) => VARIANTS[i % VARIANTS.length] as Variant,
  );
}

export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : String(error);
}

/** Resolves after the microtasks queued so far: a client's queued sync has gone out. */
function nextMicrotask(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(resolve));
}

/**
 * One scenario: set up by a subclass (hubs, clients), then `run` makes chaos for a while,
 * stops it, publishes the last envelope of every channel, waits for every client to have it,
 * and judges every client's log against the ledger.
 */
export abstract class Scenario {
  readonly ledger = new Ledger();
  readonly counters: Counters = {
    refused: new Map(),
    acked: 0,
    blips: 0,
    unsubscribes: 0,
    bursts: 0,
    restarts: 0,
    drainedRestarts: 0,
    redisRestarts: 0,
    redisStalls: 0,
    blackholes: 0,
  };
  readonly members: Member[] = [];
  readonly peak = new MemoryPeak();
  protected readonly stopper = new Stopper();
  protected readonly random: Random;
  #lastK = 0;

  constructor(
    protected readonly cleanups: Cleanups,
    label: string,
  ) {
    this.random = new Random(SOAK_SEED).fork(label);
  }

  /** The chaos: loops that run until the stopper stops, then finish what they began. */
  protected abstract chaos(): Array<Promise<void>>;

  /** Publishes the last envelope of every channel; the id of each. */
  protected abstract publishLast(): Promise<Map<string, string>>;

  /** Which gaps `channel` may see. */
  protected abstract gapPolicy(channel: string): GapPolicy;

  /** Everything is back (a node on its broker, say) before the last publishes. */
  protected async settle(): Promise<void> {}

  async run(chaosMs: number): Promise<Outcome> {
    this.peak.start();
    const startedAt = Date.now();
    const loops = this.chaos();
    await this.stopper.sleep(chaosMs);
    this.stopper.stop();
    await Promise.all(loops);
    const chaosEndedAt = Date.now();
    await this.settle();
    const caughtUp = await this.#catchUp(await this.publishLast());
    this.peak.stop();
    return { ...this.#judge(), chaosMs: chaosEndedAt - startedAt, ...caughtUp };
  }

  /** The `k` of the next publish: every publish of a scenario has its own. */
  protected nextK(): number {
    return ++this.#lastK;
  }

  protected async ownProxy(target: ProxyTarget | (() => ProxyTarget)): Promise<TcpProxy> {
    const proxy = await startTcpProxy(target);
    this.cleanups.add(() => proxy.close());
    return proxy;
  }

  /** A client of `variant` on `url`, subscribed to `channels` before anything is published. */
  protected async startMember(
    name: string,
    variant: Variant,
    url: string,
    proxy: TcpProxy | undefined,
    channels: readonly string[],
  ): Promise<Member> {
    const client = createClient(url, fastOptions(variant.transport, variant.options));
    this.cleanups.add(() => client.destroy());
    const soak = new SoakClient(name, variant, client, this.ledger);
    await Promise.all(channels.map((channel) => soak.subscribe(channel)));
    return { soak, proxy };
  }

  /**
   * Runs `action` with a PRNG of its own (forked by `label`) after a pause drawn in
   * `pauseMs`, the first one in `firstPauseMs`, again and again until chaos stops.
   */
  protected every(
    label: string,
    pauseMs: readonly [number, number],
    firstPauseMs: readonly [number, number],
    action: (random: Random) => Promise<void>,
  ): Promise<void> {
    const random = this.random.fork(label);
    return repeat(this.stopper, random, pauseMs, () => action(random), firstPauseMs);
  }

  /** Random blips: one client's connections reset, now and then every client's at once. */
  protected blips(proxies: readonly TcpProxy[]): Promise<void> {
    const random = this.random.fork('blips');
    return repeat(this.stopper, random, [150, 600], async () => {
      const targets = random.chance(0.05) ? proxies : [random.pick(proxies)];
      for (const proxy of targets) proxy.dropAll();
      this.counters.blips += targets.length;
    });
  }

  /** A client leaves a channel for a while and comes back from the position it held. */
  protected unsubscribes(label: string): Promise<void> {
    const random = this.random.fork(label);
    return repeat(this.stopper, random, [300, 1500], async () => {
      const { soak } = random.pick(this.members);
      if (soak.subscribed.length === 0) return;
      const channel = random.pick(soak.subscribed);
      soak.unsubscribe(channel);
      this.counters.unsubscribes++;
      const pause = random.next();
      // At once (the unsubscribe is on the wire, the old subscription's envelopes are on
      // their way: a component unmounted and mounted again), soon, or a while later.
      if (pause < 0.25) await nextMicrotask();
      else await sleep(pause < 0.4 ? random.between(0, 20) : random.between(100, 1500));
      soak.resubscribe(channel);
    });
  }

  /**
   * A burst of publishes on one channel (a backend flushing a batch) while some of its
   * subscribers leave and come back at once: envelopes of their old subscription are still
   * on their way when the new one starts.
   */
  protected bursts(
    channels: readonly string[],
    publish: (channel: string) => Promise<unknown>,
  ): Promise<void> {
    const random = this.random.fork('bursts');
    return repeat(this.stopper, random, [300, 1200], async () => {
      const channel = random.pick(channels);
      const burst = Array.from({ length: random.int(5, 20) }, () => publish(channel));
      const on = this.members.filter(({ soak }) => soak.subscribed.includes(channel));
      const churned = random.sample(on, Math.min(on.length, random.int(1, 3)));
      for (const { soak } of churned) soak.unsubscribe(channel);
      await nextMicrotask();
      for (const { soak } of churned) soak.resubscribe(channel);
      this.counters.unsubscribes += churned.length;
      this.counters.bursts++;
      await Promise.all(burst);
    });
  }

  /** Waits until every client has the last envelope of each of its channels, or the deadline. */
  async #catchUp(targets: ReadonlyMap<string, string>) {
    const startedAt = Date.now();
    let isCaughtUp = true;
    try {
      await waitFor(
        () => this.members.every(({ soak }) => soak.hasReached(targets)),
        CATCH_UP_MS,
        'every client to catch up',
      );
    } catch {
      isCaughtUp = false; // what is missing is counted as lost, and reported
    }
    await sleep(300); // a repeat would come right after the last envelope
    return { catchUpMs: Date.now() - startedAt, isCaughtUp };
  }

  #judge() {
    const truths = new Map(this.ledger.channels.map((c) => [c.channel, new Truth(c)] as const));
    const total = emptyVerdict();
    let unrecorded = 0;
    for (const { soak } of this.members) {
      unrecorded += soak.unrecorded;
      for (const [channel, log] of soak.logs) {
        addVerdict(total, checkLog(log, truths.get(channel) as Truth, this.gapPolicy(channel)));
      }
    }
    const sum = (f: (truth: Truth) => number) => [...truths.values()].reduce((n, t) => n + f(t), 0);
    return {
      total,
      truths,
      stored: sum((truth) => truth.length),
      unacked: sum((truth) => truth.unacked),
      unrecorded,
      dataMismatches: this.ledger.channels.reduce((n, c) => n + c.dataMismatches, 0),
    };
  }

  /** The first rows of the figures: time and clients. */
  protected headRows(outcome: Outcome, how: string): Rows {
    const byVariant = new Map<string, number>();
    for (const { soak } of this.members) increment(byVariant, soak.variant.name);
    const count = (f: (soak: SoakClient) => number) =>
      this.members.reduce((sum, { soak }) => sum + f(soak), 0);
    const timedOut = outcome.isCaughtUp ? '' : ' (TIMED OUT)';
    return [
      [
        'duration',
        `${seconds(outcome.chaosMs)} of chaos, then ${seconds(outcome.catchUpMs)} to catch up${timedOut}`,
      ],
      ['clients', `${this.members.length} (${describeCounts(byVariant)}), ${how}`],
      ['subscriptions', `${count((soak) => soak.channels.length)}`],
      [
        'client links',
        `${count((soak) => soak.opens)} opened, ${count((soak) => soak.closes)} closed`,
      ],
    ];
  }

  /** The last rows of the figures: what the clients got, and memory. */
  protected tailRows({ total, unrecorded, dataMismatches }: Outcome): Rows {
    const gaps = total.epochGaps + total.trimGaps + total.unexpectedGaps;
    const acked = total.lost > 0 ? ` (${total.lostAcked} of them acked)` : '';
    return [
      ['deliveries', `${total.deliveries}`],
      [
        'gaps',
        `${gaps}: ${total.epochGaps} after a hub restart (new epoch), ${total.trimGaps} where ` +
          `history was trimmed, ${total.unexpectedGaps} unexpected`,
      ],
      ['lost', `${total.lost}${acked}`],
      ['duplicated', `${total.duplicated}`],
      ['out of order', `${total.reordered}`],
      ['missing gaps', `${total.missingGaps} (a new epoch with no gap)`],
      ['data mismatches', `${dataMismatches}`],
      ['unrecorded', `${unrecorded} (envelopes or gaps of a channel with no log)`],
      ['publishes refused', `${describeCounts(this.counters.refused)} (each one retried)`],
      [
        'peak memory',
        `rss ${mebibytes(this.peak.rss)}, heap ${mebibytes(this.peak.heapUsed)} ` +
          `(${this.peak.samples} samples; hubs, proxies, publishers and clients all run in this process)`,
      ],
    ];
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** What must hold after every scenario, in one comparison so that a failure shows it all. */
export function expectClean({ total, unrecorded, dataMismatches }: Outcome): void {
  expect({
    lost: total.lost,
    duplicated: total.duplicated,
    reordered: total.reordered,
    unexpectedGaps: total.unexpectedGaps,
    missingGaps: total.missingGaps,
    dataMismatches,
    unrecorded,
    problems: total.problems,
  }).toEqual({
    lost: 0,
    duplicated: 0,
    reordered: 0,
    unexpectedGaps: 0,
    missingGaps: 0,
    dataMismatches: 0,
    unrecorded: 0,
    problems: [],
  });
}
