/**
 * Prometheus metrics of one hub, with prom-client. The hot paths never touch prom-client: the
 * transports bump plain counters (`counters.ts`), and the registry reads those, and the
 * connection and subscription counts, when it is scraped. Only broker calls (one per publish,
 * one per channel subscribed) are recorded as they happen, into plain bucket counts
 * (`broker-durations.ts`).
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, type Metric, Registry, collectDefaultMetrics } from 'prom-client';
import type { BrokerOperation, TransportName } from '../core/hub.js';
import { TidewireError } from '../protocol/errors.js';
import { judgeBearer } from './bearer.js';
import { BrokerDurations } from './broker-durations.js';
import type { DropReason, HubCounters } from './counters.js';
import { sendError } from './http-util.js';

/** What the metrics read when scraped; every function is called at scrape time only. */
export interface MetricsSource {
  readonly counters: HubCounters;
  connectionsByTransport(): Record<TransportName, number>;
  bufferedBytes(): number;
  channels(): number;
  subscriptions(): number;
  isBrokerAvailable(): boolean;
}

export interface MetricsOptions {
  /** The registry to report into (an app's own); default: one of the hub's own. */
  readonly registry?: Registry | undefined;
  /** Node's process metrics too. Default: true with the hub's own registry, false with an app's. */
  readonly processMetrics?: boolean | undefined;
  /** Bearer token that `GET /metrics` requires. */
  readonly token?: string | undefined;
}

/**
 * Every `DropReason`, so that each `tidewire_dropped_total{reason}` series exists from the
 * start (a series that appears only at its first increment hides that first one from `rate()`).
 */
const DROP_REASONS = [
  'origin',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'too_many_connections',
  'too_large',
  'slow_consumer',
  'idle_timeout',
  'shutting_down',
] as const satisfies readonly DropReason[];
// Fails to compile when counters.ts gains a reason that the list above lacks.
type UnlistedReason = Exclude<DropReason, (typeof DROP_REASONS)[number]>;
const _everyReasonListed: [UnlistedReason] extends [never] ? true : UnlistedReason = true;

/** The metrics of one hub: a registry, the `GET /metrics` answer and the broker timer. */
export class HubMetrics {
  /** Where the hub's series are; `text()` renders it. */
  readonly registry: Registry;
  readonly #token: string | undefined;
  readonly #isOwnRegistry: boolean;
  readonly #brokerDurations = new BrokerDurations();

  constructor(source: MetricsSource, options: MetricsOptions = {}) {
    this.#isOwnRegistry = options.registry === undefined;
    this.registry = options.registry ?? new Registry();
    this.#token = options.token;
    const taken = SERIES_NAMES.find((name) => this.registry.getSingleMetric(name));
    if (taken) {
      // Misuse: two hubs would report each other's numbers under one name.
      throw new TypeError(
        `metricsRegistry already has ${taken} (from another hub?): give each hub its own registry`,
      );
    }
    const registers = [this.registry];
    addScrapedSeries(source, registers);
    this.#brokerDurations.registerIn(this.registry);
    if (options.processMetrics ?? this.#isOwnRegistry) addProcessMetrics(this.registry);
  }

  /** Records one broker call (the hub core's `onBrokerCall`). */
  readonly observeBroker = (operation: BrokerOperation, ok: boolean, seconds: number): void => {
    this.#brokerDurations.record(operation, ok, seconds);
  };

  /** The registry's Prometheus text (`hub.metrics()`). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Answers `GET`/`HEAD /metrics` (the router checked the method). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      this.#checkToken(req);
    } catch (error) {
      sendError(res, error);
      return;
    }
    this.text().then(
      (text) => {
        res.writeHead(200, {
          'Content-Type': this.registry.contentType,
          'Content-Length': Buffer.byteLength(text),
          'Cache-Control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => sendError(res, error),
    );
  };

  /** Takes the hub's series out of an app's registry, so that a new hub may report there. */
  close(): void {
    if (this.#isOwnRegistry) return;
    for (const name of SERIES_NAMES) this.registry.removeSingleMetric(name);
  }

  #checkToken(req: IncomingMessage): void {
    if (this.#token === undefined) return;
    // As the publish token (SPEC.md § Endpoints): 401 without a bearer token, 403 with a wrong one.
    const verdict = judgeBearer(req, this.#token);
    if (verdict === 'missing') {
      throw new TidewireError('UNAUTHORIZED', 'metrics need "Authorization: Bearer <token>"');
    }
    if (verdict === 'wrong') throw new TidewireError('FORBIDDEN', 'the metrics token is not valid');
  }
}

const SERIES_NAMES = [
  'tidewire_connections',
  'tidewire_subscriptions',
  'tidewire_channels',
  'tidewire_published_total',
  'tidewire_delivered_total',
  'tidewire_dropped_total',
  'tidewire_send_buffer_bytes',
  'tidewire_broker_available',
  'tidewire_broker_duration_seconds',
];

/** The series read from the hub when scraped: each `collect` sets what it reports. */
function addScrapedSeries(source: MetricsSource, registers: Registry[]): void {
  const { counters } = source;
  // Each metric registers itself in `registers` when constructed.
  new Gauge({
    name: 'tidewire_connections',
    help: 'Open connections by transport (WebSockets, SSE streams, held polls).',
    labelNames: ['transport'] as const,
    registers,
    collect() {
      for (const [transport, count] of Object.entries(source.connectionsByTransport())) {
        this.set({ transport }, count);
      }
    },
  });
  new Gauge({
    name: 'tidewire_subscriptions',
    help: 'Subscriptions on this node: one per connection and channel.',
    registers,
    collect() {
      this.set(source.subscriptions());
    },
  });
  new Gauge({
    name: 'tidewire_channels',
    help: 'Channels with at least one subscriber on this node.',
    registers,
    collect() {
      this.set(source.channels());
    },
  });
  new Counter({
    name: 'tidewire_published_total',
    help: 'Envelopes published through this node (server and client publishes).',
    registers,
    collect() {
      this.reset();
      this.inc(counters.published);
    },
  });
  new Counter({
    name: 'tidewire_delivered_total',
    help: 'Envelopes handed to subscribers, by transport.',
    labelNames: ['transport'] as const,
    registers,
    collect() {
      this.reset();
      for (const [transport, count] of Object.entries(counters.delivered)) {
        this.inc({ transport }, count);
      }
    },
  });
  new Counter({
    name: 'tidewire_dropped_total',
    help: 'Requests refused and connections closed by the hub, by reason.',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, counters.dropped.get(reason) ?? 0);
    },
  });
  new Gauge({
    name: 'tidewire_send_buffer_bytes',
    help: 'Bytes written to connections that their peers have not read yet, all connections.',
    registers,
    collect() {
      this.set(source.bufferedBytes());
    },
  });
  new Gauge({
    name: 'tidewire_broker_available',
    help: 'Whether the broker can publish and read now (1) or not (0).',
    registers,
    collect() {
      this.set(source.isBrokerAvailable() ? 1 : 0);
    },
  });
}

/**
 * Node's process metrics (CPU, memory, event loop lag, GC) are one set per process: each
 * `collectDefaultMetrics` starts its own event-loop monitor and GC observer, which nothing
 * stops. So they are collected once, into a registry of their own, and the same metric objects
 * are registered in every hub's registry.
 */
let processRegistry: Registry | undefined;

function addProcessMetrics(registry: Registry): void {
  if (registry.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) {
    // An OpenMetrics registry renames the counters it renders, in place: it cannot share them.
    if (!registry.getSingleMetric(PROCESS_PROBE)) collectDefaultMetrics({ register: registry });
    return;
  }
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  // getMetricsAsArray() returns the metric objects themselves, typed as their description.
  for (const metric of processRegistry.getMetricsAsArray() as unknown as Metric[]) {
    const { name } = metric as unknown as { name: string };
    // An app's registry that collects them already keeps its own.
    if (!registry.getSingleMetric(name)) registry.registerMetric(metric);
  }
}

/** One of the default metrics: a registry that has it has them all. */
const PROCESS_PROBE = 'process_cpu_user_seconds_total';
