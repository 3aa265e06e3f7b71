/**
 * The messages between `tidewire bench` and its hub process (`hub-process.ts`) over the IPC
 * channel of `fork()`. Types only: both sides import them.
 *
 * @module
 */

/** The channel every bench client subscribes to and every message is published on. */
export const BENCH_CHANNEL = 'bench';
/** The channel of the warm-up clients, on which nothing is published. */
export const WARM_UP_CHANNEL = 'bench-warm-up';

/** What the bench asks; each request carries an `id` that its reply repeats. */
export type HubRequest =
  | { readonly id: number; readonly op: 'stats'; readonly gc: boolean }
  | {
      readonly id: number;
      readonly op: 'publish';
      readonly count: number;
      readonly rate: number;
      readonly sizeBytes: number;
    };

/** What the hub process answers. */
export type HubMessage =
  | { readonly kind: 'ready'; readonly port: number }
  | { readonly kind: 'reply'; readonly id: number; readonly result: HubStats | PublishDone }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string };

/** Counters of the hub process since it started; the bench subtracts two readings. */
export interface HubStats {
  /** `process.cpuUsage()`, user + system, µs. */
  readonly cpuMicros: number;
  /** `process.hrtime.bigint()` when read, ns, as a decimal string (JSON has no bigint). */
  readonly atNs: string;
  readonly rss: number;
  readonly heapUsed: number;
  readonly traffic: TrafficCounts;
  /** Open connections by transport, as the hub counts them. */
  readonly connections: Readonly<Record<string, number>>;
}

/** What went through the hub's sockets, live and closed ones together. */
export interface TrafficCounts {
  readonly bytesWritten: number;
  readonly bytesRead: number;
  readonly requests: number;
  readonly upgrades: number;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** TCP connections open now. */
  readonly openSockets: number;
}

/** The answer to `publish`, once every message was handed to the hub. */
export interface PublishDone {
  /** `process.hrtime.bigint()` just before the first publish, ns, decimal. */
  readonly startedAtNs: string;
  /** The latest any publish left against its schedule. */
  readonly lagMaxMs: number;
  /** Publishes the hub refused (0 unless something is wrong). */
  readonly errors: number;
}

/** The `data` of every published message: a sequence number and the hub's stamp. */
export interface BenchPayload {
  /** 0 … count-1 in publish order. */
  readonly seq: number;
  /** `process.hrtime.bigint()` just before `hub.publish`, ns, decimal (CLOCK_MONOTONIC). */
  readonly t: string;
  /** Filler up to the message size. */
  readonly pad: string;
}
