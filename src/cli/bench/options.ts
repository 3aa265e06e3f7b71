/**
 * The options of `tidewire bench`: parsers that refuse a bad value with a message naming what
 * was expected (commander prints it and exits 1), the defaults, and `--quick`.
 *
 * @module
 */
import { InvalidArgumentError } from 'commander';
import type { BenchSettings, BenchTransport } from './results.js';

export const BENCH_TRANSPORTS: readonly BenchTransport[] = [
  'websocket',
  'sse',
  'long-polling',
  'polling',
];

/** The full run: enough clients and messages for stable percentiles, about a minute in all. */
export const DEFAULTS = {
  clients: 200,
  rate: 20,
  durationSeconds: 10,
  sizeBytes: 256,
  // The client's own default (README § The client): the bench measures what users get.
  pollIntervalMs: 2000,
} as const;

/**
 * `--quick`: the CI smoke run. Small enough that all four transports take well under a
 * minute on a loaded two-core machine (most of it is short polling's settle time).
 */
export const QUICK = { clients: 25, rate: DEFAULTS.rate, durationSeconds: 2 } as const;

/** Bounds that keep a typo from exhausting the machine (ephemeral ports, memory). */
export const LIMITS = {
  clients: 20_000,
  rate: 10_000,
  durationSeconds: 3600,
  /** The hub's default `maxMessageBytes`. */
  sizeBytes: 65_536,
  /** The payload's sequence number and stamp need about 50 bytes of JSON. */
  minSizeBytes: 64,
  /** Deliveries recorded per transport: a latency (8 bytes) and a seen flag each. */
  deliveries: 20_000_000,
} as const;

/** The flags as commander hands them over: undefined when not given. */
export interface BenchFlags {
  readonly clients?: number;
  readonly rate?: number;
  readonly duration?: number;
  readonly size?: number;
  readonly transports?: readonly BenchTransport[];
  readonly pollInterval?: number;
  readonly quick?: boolean;
  readonly out: string;
  readonly json?: string;
}

/** A bad combination of values; the CLI prints `error: <message>` and exits 1. */
export class BenchOptionError extends Error {
  override readonly name = 'BenchOptionError';
}

/** Fills in the defaults (those of `--quick` when given) and checks what no flag can alone. */
export function resolveSettings(flags: BenchFlags): BenchSettings {
  const quick = flags.quick === true;
  const clients = flags.clients ?? (quick ? QUICK.clients : DEFAULTS.clients);
  const rate = flags.rate ?? (quick ? QUICK.rate : DEFAULTS.rate);
  const durationSeconds =
    flags.duration ?? (quick ? QUICK.durationSeconds : DEFAULTS.durationSeconds);
  const messages = Math.round(rate * durationSeconds);
  if (messages < 1) {
    throw new BenchOptionError(
      `--rate ${rate} for --duration ${durationSeconds} publishes no message: ` +
        'rate × duration must be at least 1',
    );
  }
  if (messages * clients > LIMITS.deliveries) {
    throw new BenchOptionError(
      `${clients} clients × ${messages} messages is ${messages * clients} deliveries per ` +
        `transport, more than the ${LIMITS.deliveries} the bench records`,
    );
  }
  return {
    clients,
    rate,
    durationSeconds,
    sizeBytes: flags.size ?? DEFAULTS.sizeBytes,
    transports: flags.transports ?? BENCH_TRANSPORTS,
    pollIntervalMs: flags.pollInterval ?? DEFAULTS.pollIntervalMs,
    messages,
    quick,
  };
}

/** A commander parser for an integer in `[min, max]`. */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    }
    return value;
  };
}

/** A commander parser for a number in `(0, max]` (decimals allowed: `--rate 0.5`). */
export function positiveUpTo(max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0 || value > max) {
      throw new InvalidArgumentError(`expected a number above 0 and at most ${max}.`);
    }
    return value;
  };
}

/** A commander parser for `--transports websocket,sse`: known names, each once, in order. */
export function parseTransports(text: string): BenchTransport[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const known = (name: string): name is BenchTransport =>
    (BENCH_TRANSPORTS as readonly string[]).includes(name);
  const unknown = names.filter((name) => !known(name));
  if (names.length === 0 || unknown.length > 0) {
    const what = unknown.length > 0 ? `unknown ${unknown.map((n) => `"${n}"`).join(', ')}: ` : '';
    throw new InvalidArgumentError(
      `${what}expected a comma-separated list of ${BENCH_TRANSPORTS.join(', ')}.`,
    );
  }
  return [...new Set(names.filter(known))];
}
