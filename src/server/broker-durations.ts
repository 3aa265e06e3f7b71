import type { Metric, Registry } from 'prom-client';
import type { BrokerOperation } from '../core/hub.js';

/**
 * From 100 µs (the in-memory broker) to 5 s (a Redis that struggles): prom-client's default
 * buckets start at 5 ms and would put every in-memory call and most Redis calls in one bucket.
 */
const BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const NAME = 'tidewire_broker_duration_seconds';

interface Series {
  readonly labels: { readonly operation: BrokerOperation; readonly outcome: 'ok' | 'error' };
  /** Calls per bucket, not cumulative; the last one is past every bound (`+Inf` only). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One sample as prom-client's registry renders it. */
interface Sample {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/**
 * `tidewire_broker_duration_seconds{operation,outcome}`, kept as plain bucket counts: recording
 * a broker call is a few additions. prom-client's `Histogram.observe` builds a label key on
 * every call, about 0.5 µs, as long as an in-memory publish takes; this sits on the path of
 * every publish. The registry renders it through `get()`, the one method it asks of a metric.
 */
export class BrokerDurations {
  readonly name = NAME;
  readonly help = 'Duration of broker calls (publish, history read), by outcome.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = {
    publish: { ok: series('publish', 'ok'), error: series('publish', 'error') },
    read: { ok: series('read', 'ok'), error: series('read', 'error') },
  };

  /** Registers it in `registry`, as prom-client's own metrics do with `registers`. */
  registerIn(registry: Registry): void {
    // Not one of prom-client's classes, but what its registry reads of one (name, help, type,
    // get, reset).
    registry.registerMetric(this as unknown as Metric);
  }

  record(operation: BrokerOperation, ok: boolean, seconds: number): void {
    const target = this.#series[operation][ok ? 'ok' : 'error'];
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > (BUCKETS[bucket] as number)) bucket++;
    target.counts[bucket] = (target.counts[bucket] as number) + 1;
    target.sum += seconds;
    target.count += 1;
  }

  /** The samples, as prom-client's `Histogram.get()` gives them: cumulative buckets, sum, count. */
  async get(): Promise<{ name: string; help: string; type: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const { ok, error } of Object.values(this.#series)) {
      for (const { labels, counts, sum, count } of [ok, error]) {
        let cumulative = 0;
        BUCKETS.forEach((le, index) => {
          cumulative += counts[index] as number;
          values.push({
            metricName: `${NAME}_bucket`,
            labels: { le, ...labels },
            value: cumulative,
          });
        });
        values.push({
          metricName: `${NAME}_bucket`,
          labels: { le: '+Inf', ...labels },
          value: count,
        });
        values.push({ metricName: `${NAME}_sum`, labels: { ...labels }, value: sum });
        values.push({ metricName: `${NAME}_count`, labels: { ...labels }, value: count });
      }
    }
    return { name: NAME, help: this.help, type: this.type, values };
  }

  /** `registry.resetMetrics()` calls it. */
  reset(): void {
    for (const { ok, error } of Object.values(this.#series)) {
      for (const target of [ok, error]) {
        target.counts.fill(0);
        target.sum = 0;
        target.count = 0;
      }
    }
  }
}

function series(operation: BrokerOperation, outcome: 'ok' | 'error'): Series {
  return {
    labels: { operation, outcome },
    counts: new Float64Array(BUCKETS.length + 1),
    sum: 0,
    count: 0,
  };
}
