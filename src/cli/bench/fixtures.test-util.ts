import type { BenchReport, BenchTransport, TransportResult } from './results.js';
import { LATENCY_CURVE_PERCENTILES } from './stats.js';

/** A transport result with plausible figures, for the table and report tests. */
export function fakeResult(transport: BenchTransport, scale = 1): TransportResult {
  return {
    transport,
    clients: 200,
    messages: 200,
    expected: 40_000,
    delivered: 40_000,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    gaps: 0,
    errors: 0,
    reconnects: 0,
    connectSeconds: 0.4,
    seconds: 10.01,
    deliveriesPerSecond: 3996.0039,
    latencyMs: {
      count: 40_000,
      min: 0.2,
      mean: 1.1 * scale,
      p50: 0.9 * scale,
      p95: 2.345 * scale,
      p99: 12.5 * scale,
      max: 140 * scale,
    },
    latencyCurveMs: LATENCY_CURVE_PERCENTILES.map((p) => (0.2 + p / 10) * scale),
    timeline: { binMs: 100, counts: [400, 400, 400] },
    server: {
      bytesWritten: 14_640_000,
      bytesRead: 0,
      requests: 0,
      upgrades: 0,
      connectionsOpened: 0,
      openSockets: 200,
      hubConnections: 200,
      bytesPerDelivery: 366,
      clientBytesPerDelivery: 0,
      requestsPerDelivery: 0,
      cpuMicros: 400_000,
      cpuPercent: 4,
      cpuMicrosPerDelivery: 10,
      rssPerConnectionBytes: 10_650,
      heapPerConnectionBytes: 3_700,
      memory: { rssBefore: 60e6, rssAfter: 62e6, heapBefore: 8e6, heapAfter: 8.7e6 },
      publishLagMaxMs: 1.2,
    },
  };
}

export function fakeReport(results: TransportResult[]): BenchReport {
  return {
    tool: 'tidewire bench',
    version: '0.1.0',
    date: '2026-11-24T10:00:00.000Z',
    command: 'tidewire bench',
    machine: {
      cpu: 'AMD EPYC',
      cores: 2,
      memoryGiB: 24,
      os: 'Linux 6 x64',
      node: 'v20.20.2',
      loadAverage: 0.5,
    },
    settings: {
      clients: 200,
      rate: 20,
      durationSeconds: 10,
      sizeBytes: 256,
      transports: results.map((r) => r.transport),
      pollIntervalMs: 2000,
      messages: 200,
      quick: false,
    },
    latencyCurvePercentiles: LATENCY_CURVE_PERCENTILES,
    transports: results,
    ok: results.every((r) => r.lost === 0 && r.duplicated === 0),
  };
}
