/**
 * What `tidewire bench` measures, as plain data: the JSON of `--json`, the data inlined in
 * `bench-report.html` (the page's charts read it, so this file imports nothing: it is shared
 * with the browser bundle), and what the table prints.
 *
 * Units are in the names: `Ms`, `Micros`, `Bytes`, `Seconds`, `Percent`.
 *
 * @module
 */

/** The id of the `<script type="application/json">` that holds the report's data. */
export const REPORT_DATA_ID = 'bench-data';

/** The four transports, in the order the client prefers them (SPEC.md § Client defaults). */
export type BenchTransport = 'websocket' | 'sse' | 'long-polling' | 'polling';

/** The settings of a run, every default filled in. */
export interface BenchSettings {
  /** Clients per transport, all subscribed to one channel. */
  readonly clients: number;
  /** Messages published per second. */
  readonly rate: number;
  /** Seconds of publishing per transport. */
  readonly durationSeconds: number;
  /** Bytes of each message's `data` as JSON. */
  readonly sizeBytes: number;
  /** The transports measured, in this order. */
  readonly transports: readonly BenchTransport[];
  /** The short-polling client's pause between polls. */
  readonly pollIntervalMs: number;
  /** Messages published per transport: `rate × duration`, rounded. */
  readonly messages: number;
  readonly quick: boolean;
}

/** Nearest-rank summary of latency samples, in ms. */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** What the hub process did while the messages were published and delivered. */
export interface ServerFigures {
  /** Bytes the hub wrote to client sockets during the phase (TCP payload: HTTP and frames). */
  readonly bytesWritten: number;
  /** Bytes the hub read from client sockets during the phase: what clients sent. */
  readonly bytesRead: number;
  /** HTTP requests the hub received during the phase (polls, streams, sends). */
  readonly requests: number;
  /** WebSocket upgrades during the phase (0 once every client is connected). */
  readonly upgrades: number;
  /** TCP connections clients opened during the phase (HTTP keep-alive keeps it low). */
  readonly connectionsOpened: number;
  /**
   * With every client connected and nothing published: TCP connections open to the hub, and
   * connections the hub holds by its own count (WebSockets, SSE streams, held long polls).
   * Short-polling clients hold nothing between polls, and the bench's clients share one
   * process's keep-alive connections, so these can be below the number of clients.
   */
  readonly openSockets: number;
  readonly hubConnections: number;
  /** `bytesWritten / delivered`. */
  readonly bytesPerDelivery: number;
  /** `bytesRead / delivered`. */
  readonly clientBytesPerDelivery: number;
  /** `(requests + upgrades) / delivered`. */
  readonly requestsPerDelivery: number;
  /** CPU time (user + system) of the hub process during the phase. */
  readonly cpuMicros: number;
  /** `cpuMicros` over the phase's wall time: 100 is one core busy all along. */
  readonly cpuPercent: number;
  readonly cpuMicrosPerDelivery: number;
  /** The hub's RSS growth from no client to every client connected, per client. */
  readonly rssPerConnectionBytes: number;
  /** The same for the V8 heap in use after a full GC, per client. */
  readonly heapPerConnectionBytes: number;
  /** RSS and heap after a full GC, before any client connected and with all connected. */
  readonly memory: {
    readonly rssBefore: number;
    readonly rssAfter: number;
    readonly heapBefore: number;
    readonly heapAfter: number;
  };
  /** How late the latest publish left against its schedule (a busy hub shows here). */
  readonly publishLagMaxMs: number;
}

/** One transport's run. */
export interface TransportResult {
  readonly transport: BenchTransport;
  readonly clients: number;
  /** Messages published. */
  readonly messages: number;
  /** `clients × messages`: every client gets every message once. */
  readonly expected: number;
  /** Distinct messages that reached a client, summed over clients. */
  readonly delivered: number;
  /** `expected - delivered`. */
  readonly lost: number;
  /** Messages a client got again after it already had them. */
  readonly duplicated: number;
  /** Deliveries with a lower sequence number than one the client already had. */
  readonly outOfOrder: number;
  /** `gap` events, `error` events and reconnects the clients saw: each 0 in a clean run. */
  readonly gaps: number;
  readonly errors: number;
  readonly reconnects: number;
  /** Seconds to connect every client and have every subscription confirmed. */
  readonly connectSeconds: number;
  /** Seconds from the first publish to the last delivery, plus one publish interval. */
  readonly seconds: number;
  /** `delivered / seconds`. */
  readonly deliveriesPerSecond: number;
  /** Publish (the hub's stamp, just before `hub.publish`) to the client's handler. */
  readonly latencyMs: LatencySummary;
  /**
   * Latency at the percentiles of `LATENCY_CURVE_PERCENTILES`, one value each: the page
   * draws the percentile curves from it.
   */
  readonly latencyCurveMs: readonly number[];
  /** Deliveries per bin of `binMs` from the first publish on. */
  readonly timeline: { readonly binMs: number; readonly counts: readonly number[] };
  readonly server: ServerFigures;
}

/** The machine a run was made on. */
export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  /** The 1-minute load average when the run started: a busy machine reads slower. */
  readonly loadAverage: number;
}

/** Everything `tidewire bench` found: the `--json` file and the report's data. */
export interface BenchReport {
  readonly tool: 'tidewire bench';
  readonly version: string;
  /** ISO 8601, when the run started. */
  readonly date: string;
  /** How the run was started: `tidewire bench …`. */
  readonly command: string;
  readonly machine: MachineInfo;
  readonly settings: BenchSettings;
  /** The percentiles of every `latencyCurveMs`. */
  readonly latencyCurvePercentiles: readonly number[];
  readonly transports: readonly TransportResult[];
  /** Whether every transport delivered every message exactly once. */
  readonly ok: boolean;
}
