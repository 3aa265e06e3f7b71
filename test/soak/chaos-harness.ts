import { randomInt } from 'node:crypto';
import type { Client, Subscription } from '../../src/client/index.js';
import type { Variant } from '../support/client-harness.js';
import { ChannelLog, type Ledger } from './ledger.js';

/**
 * What the chaos soak (`chaos.test.ts`) runs on: its length and seed, a seeded PRNG, loops
 * that stop together, a client that records everything it receives, and a memory sampler.
 */

/**
 * Chaos time of the whole file, both scenarios together, in ms: `TIDEWIRE_SOAK_MS`, by default
 * 50 s (about a minute with setup and catch-up), `npm run test:soak` 10 minutes.
 */
export const SOAK_MS = readPositiveInteger('TIDEWIRE_SOAK_MS', 50_000);

/** `TIDEWIRE_SOAK_SEED` replays a run's chaos schedule; by default a fresh one, printed. */
export const SOAK_SEED = readPositiveInteger('TIDEWIRE_SOAK_SEED', randomInt(1, 2 ** 31));

function readPositiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * A seeded PRNG (mulberry32). Each stream of decisions (publisher, blips, restarts…) forks its
 * own, so that the decisions of one do not depend on how many the others made: the same seed
 * gives the same schedule, whatever the timing.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A generator of its own, from this one's seed and `label`. */
  fork(label: string): Random {
    let hash = this.#state ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) {
      hash = Math.imul(hash ^ label.charCodeAt(i), 0x85ebca6b);
      hash ^= hash >>> 13;
    }
    return new Random(hash);
  }

  /** In [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** In [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** `count` distinct items, in their original order. */
  sample<T>(items: readonly T[], count: number): T[] {
    const indexes = items.map((_, i) => i);
    for (let i = indexes.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [indexes[i], indexes[j]] = [indexes[j] as number, indexes[i] as number];
    }
    return indexes
      .slice(0, count)
      .sort((a, b) => a - b)
      .map((i) => items[i] as T);
  }
}

/** Stops every chaos loop at once: their sleeps end early, and they see it. */
export class Stopper {
  #isRunning = true;
  readonly #wakers = new Set<() => void>();

  get isRunning(): boolean {
    return this.#isRunning;
  }

  /** Sleeps `ms`, or less when stopped meanwhile; resolves whether it is still running. */
  sleep(ms: number): Promise<boolean> {
    if (!this.#isRunning) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve(this.#isRunning);
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }

  stop(): void {
    this.#isRunning = false;
    for (const wake of [...this.#wakers]) wake();
  }
}

/**
 * Runs `action` after a pause drawn in [minMs, maxMs), again and again, one at a time, until
 * stopped. An action that has begun runs to its end (a restart comes back up), so that once
 * every loop has resolved, everything is up.
 */
export async function repeat(
  stopper: Stopper,
  random: Random,
  [minMs, maxMs]: readonly [number, number],
  action: () => Promise<void>,
  firstPauseMs?: readonly [number, number],
): Promise<void> {
  let pause = firstPauseMs ?? [minMs, maxMs];
  while (await stopper.sleep(random.between(pause[0], pause[1]))) {
    await action();
    pause = [minMs, maxMs];
  }
}

/** Peak resident set and heap of this process, sampled while the soak runs. */
export class MemoryPeak {
  rss = 0;
  heapUsed = 0;
  samples = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  start(intervalMs = 200): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  #sample(): void {
    const { rss, heapUsed } = process.memoryUsage();
    this.rss = Math.max(this.rss, rss);
    this.heapUsed = Math.max(this.heapUsed, heapUsed);
    this.samples++;
  }
}

/** What the publishers send: `k` numbers every publish of a scenario. */
interface SoakData {
  readonly k: number;
}

/**
 * One client of the soak: a tidewire client, a log of each channel it is subscribed to, and
 * the unsubscribe/resubscribe moves of an app that keeps its position.
 */
export class SoakClient {
  readonly logs = new Map<string, ChannelLog>();
  readonly #subscriptions = new Map<string, Subscription>();
  /** Positions of the channels it left for a while, to resume from. */
  readonly #held = new Map<string, string | undefined>();
  opens = 0;
  closes = 0;
  resubscribes = 0;
  /** Envelopes or gaps that reached a channel with no log (a subscription not confirmed). */
  unrecorded = 0;
  /** `error` events by code (a refused subscribe while the broker is away, say). */
  readonly errors = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly variant: Variant,
    readonly client: Client,
    readonly ledger: Ledger,
  ) {
    client.on('open', () => this.opens++);
    client.on('close', () => this.closes++);
    client.on('gap', ({ channel }) => {
      const log = this.logs.get(channel);
      if (log) log.gap();
      else this.unrecorded++;
    });
    client.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      const key = typeof code === 'string' ? code : error.message;
      this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    });
  }

  /** Channels it has a log of (subscribed now, or left for a while). */
  get channels(): string[] {
    return [...this.logs.keys()];
  }

  /** Channels it is subscribed to now. */
  get subscribed(): string[] {
    return [...this.#subscriptions.keys()];
  }

  /** First subscription, before anything is published: its position is where the log starts. */
  async subscribe(channel: string): Promise<void> {
    const subscription = this.#subscribe(channel);
    await subscription.ready;
    const start = subscription.position;
    if (start === undefined) throw new Error(`${this.name}: no position on ${channel}`);
    this.logs.set(channel, new ChannelLog(this.name, this.ledger.channel(channel), start));
  }

  /** Leaves `channel`, keeping the position it holds. */
  unsubscribe(channel: string): void {
    const subscription = this.#subscriptions.get(channel);
    if (!subscription) return;
    this.#held.set(channel, subscription.position);
    this.#subscriptions.delete(channel);
    subscription.unsubscribe();
  }

  /** Subscribes again from the position it held. */
  resubscribe(channel: string): void {
    if (!this.#held.has(channel)) return;
    const since = this.#held.get(channel);
    this.#held.delete(channel);
    this.resubscribes++;
    this.#subscribe(channel, since);
  }

  /** Whether every channel it is subscribed to got the envelope of `targets`. */
  hasReached(targets: ReadonlyMap<string, string>): boolean {
    return this.channels.every(
      (channel) => this.logs.get(channel)?.lastId === targets.get(channel),
    );
  }

  #subscribe(channel: string, since?: string): Subscription {
    const subscription = this.client.subscribe(
      channel,
      (data, envelope) => {
        const log = this.logs.get(envelope.channel);
        if (log) log.envelope(envelope.id, (data as Partial<SoakData> | null)?.k);
        else this.unrecorded++;
      },
      since === undefined ? undefined : { since },
    );
    this.#subscriptions.set(channel, subscription);
    return subscription;
  }
}

/** Bytes in whole MiB: `1 234 567` → `1 MiB`. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** Prints one scenario's figures as one block, aligned. */
export function printFigures(title: string, rows: ReadonlyArray<readonly [string, string]>): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  console.log(`\n[tidewire soak] ${title}\n${lines.join('\n')}\n`);
}

/** `{ a: 2, b: 1 }` → `a 2, b 1`, or `none`. */
export function describeCounts(counts: ReadonlyMap<string, number>): string {
  const parts = [...counts].filter(([, count]) => count > 0).map(([name, n]) => `${name} ${n}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

export function increment(counts: Map<string, number>, key: string, by = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}
