import type { TransportName } from '../core/hub.js';

/**
 * Why the hub refused a request or ended a connection it did not want to end: the `reason`
 * label of `tidewire_dropped_total`.
 */
export type DropReason =
  | 'origin'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'too_many_connections'
  | 'too_large'
  | 'slow_consumer'
  | 'idle_timeout'
  | 'shutting_down';

/**
 * Plain counters that the hot paths bump (a `+= 1`, no label lookup per delivery); the
 * Prometheus registry reads them when scraped (`metrics.ts`).
 */
export class HubCounters {
  /** Envelopes this node published (server-side and client publishes). */
  published = 0;
  /** Envelopes handed to subscribers, per transport. */
  readonly delivered: Record<TransportName, number> = {
    websocket: 0,
    sse: 0,
    'long-polling': 0,
    polling: 0,
    http: 0,
  };
  readonly dropped = new Map<DropReason, number>();

  drop(reason: DropReason): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }
}
