import type { Envelope } from '../protocol/envelope.js';
import type { Position } from './position.js';

/**
 * The boundary between the hub and where envelopes are ordered, stored and fanned out.
 * The in-memory broker serves one process; a Redis broker serves many nodes as one. The hub
 * and the transports never know which one they run on.
 *
 * @module
 */

/** What the hub asks a broker to publish. */
export interface PublishRequest {
  readonly channel: string;
  readonly event: string;
  readonly data: unknown;
  readonly binary?: true;
}

/** What a broker knows of one channel at the time of a read. */
export interface ChannelRead {
  /** Epoch of the channel's current history (see `position.ts`). */
  readonly epoch: string;
  /** Sequence of the newest envelope published in this epoch; 0 when none was. */
  readonly top: number;
  /**
   * Oldest first: the envelopes held with a sequence above `since.seq` when `since` is of the
   * current epoch, every envelope held when it is of another epoch, none when no `since` was
   * given.
   */
  readonly envelopes: readonly Envelope[];
}

/** How a broker calls the hub back. Brokers never import the hub. */
export interface BrokerHandler {
  /**
   * An envelope was published on a channel this node subscribed to, on this node or another.
   * Called in publish order per channel, at most once per envelope. `json`, when the broker
   * has it, is the envelope's exact JSON text (as `JSON.stringify` writes it): fan-out then
   * does not encode it again.
   */
  onEnvelope(envelope: Envelope, json?: string): void;
  /**
   * Fan-out of `channels` may have missed envelopes (the broker's link to its store dropped
   * and is back, subscribed again): the hub re-reads their history and delivers what its
   * subscribers lack, or a `gap` where history no longer has it.
   */
  onResync?(channels: readonly string[]): void;
  /** The broker lost its store or has it back: for logs and `/health`. */
  onAvailabilityChange?(available: boolean, detail: string): void;
}

/**
 * Contract every broker implements (and the broker contract suite checks):
 * - `publish` assigns the id and `ts`, stores the envelope in the channel's history and fans it
 *   out to every node that subscribed to the channel; ids are `<epoch>-<seq>` with `seq`
 *   strictly increasing by one per channel within an epoch. It resolves only once the envelope
 *   is in history, so that any later `read` on any node includes it (read your writes), and
 *   rejects (never drops silently) when the envelope could not be stored.
 * - History per channel is bounded by count and age; trimming never renumbers.
 * - A channel whose history is lost or reset (a new process, a flushed store) gets a new epoch.
 */
export interface Broker {
  /** Called once by the hub before any other method. */
  start(handler: BrokerHandler): Promise<void>;
  publish(request: PublishRequest): Promise<Envelope>;
  /** Reads a channel's state and the envelopes after `since` (see `ChannelRead`). */
  read(channel: string, since?: Position): Promise<ChannelRead>;
  /** This node wants fan-out of `channel`. The hub calls it once per channel, not per client. */
  subscribe(channel: string): Promise<void>;
  /** This node no longer has subscribers on `channel`. */
  unsubscribe(channel: string): Promise<void>;
  /** Whether the broker can currently publish and read (for `/health`). */
  isAvailable(): boolean;
  close(): Promise<void>;
}

/** Bounds on each channel's history (SPEC.md: 1000 envelopes, 5 minutes by default). */
export interface HistoryOptions {
  /** Most envelopes kept per channel. Default 1000. */
  readonly maxCount?: number;
  /** Oldest envelope kept, in ms. Default 300 000 (5 minutes). */
  readonly maxAgeMs?: number;
}

export const DEFAULT_HISTORY = { maxCount: 1000, maxAgeMs: 5 * 60_000 } as const;
