/**
 * One transport's run, start to end: a fresh hub process, N clients on that transport, memory
 * before and after they connect, the paced publishing, the wait for the last deliveries, and
 * the figures. Whatever happens, the clients are closed and the hub process is gone after.
 *
 * @module
 */
import { DeliveryLog, type DeliveryFigures } from './delivery-log.js';
import { type HubChild, startHubChild } from './hub-child.js';
import { type HubStats, type PublishDone, WARM_UP_CHANNEL } from './hub-ipc.js';
import { connectLoad, type Load } from './load.js';
import type { Progress } from './progress.js';
import type { BenchSettings, BenchTransport, ServerFigures, TransportResult } from './results.js';
import { timelineBinMs } from './stats.js';

/** A pause after the last client subscribed, so that connecting is over before memory is read. */
const SETTLE_AFTER_CONNECT_MS = 300;
/**
 * Clients connected before the memory baseline, on a channel of their own, and kept until
 * memory was read: the first connections of a fresh process also pay for what is made once
 * (compiled and optimised code, lazily built tables), which is no cost of a connection. Kept,
 * not closed, because the pages a closed connection freed would be reused by the measured
 * ones and hide their cost. Without them, 25 clients read twice the heap per connection of
 * 200.
 */
const WARM_UP_CLIENTS = 50;
/** Time for the hub to see the warm-up clients' closes before publishing starts. */
const SETTLE_AFTER_WARM_UP_MS = 300;
/**
 * After the last publish, the wait for deliveries ends when nothing arrived for this long
 * (plus a short poll's interval): a transport that lost messages is reported, not waited for.
 */
const QUIET_MS = 3000;

export interface TransportRun {
  readonly transport: BenchTransport;
  readonly settings: BenchSettings;
  /** `bench-hub.js`, the hub process's script. */
  readonly hubScript: URL;
  readonly progress: Progress;
}

export async function runTransport(run: TransportRun): Promise<TransportResult> {
  const { transport, settings, progress } = run;
  progress.phase('starting the hub');
  const hub = await startHubChild(run.hubScript, settings.messages);
  const loads: Load[] = [];
  try {
    const binMs = timelineBinMs(settings.durationSeconds, settings.rate);
    const log = new DeliveryLog(settings.clients, settings.messages, binMs);
    const connected = await connectMeasured(hub, run, log, loads);
    const delivered = await publishMeasured(hub, run, log);
    progress.phase('closing');
    const figures = log.figures();
    return {
      transport,
      clients: settings.clients,
      messages: settings.messages,
      ...deliveryFields(figures),
      ...connected.load.incidents,
      connectSeconds: connected.seconds,
      ...rateFields(figures, delivered.published, settings.rate),
      server: serverFigures({ ...connected, ...delivered }, figures.delivered, settings),
    };
  } finally {
    // Destroyed clients stop reconnecting: nothing is left to keep the process alive.
    for (const load of loads) load.close();
    await hub.stop();
  }
}

/**
 * Connects the warm-up clients, reads the hub's memory, connects the measured clients,
 * reads it again, then lets the warm-up clients go. Every load opened is added to `loads`,
 * which the caller closes whatever happens.
 */
async function connectMeasured(hub: HubChild, run: TransportRun, log: DeliveryLog, loads: Load[]) {
  const { transport, settings, progress } = run;
  const { pollIntervalMs } = settings;
  progress.phase('warming up');
  const warmUpClients = Math.min(WARM_UP_CLIENTS, settings.clients);
  const warmUp = await connectLoad({
    url: hub.url,
    transport,
    clients: warmUpClients,
    pollIntervalMs,
    channel: WARM_UP_CHANNEL,
    // Nothing is published on their channel: nothing is recorded.
    log: new DeliveryLog(warmUpClients, 1, 1000),
  });
  loads.push(warmUp);
  const fresh = await hub.stats(true);
  progress.phase('connecting', settings.clients, 'clients');
  const startedAt = performance.now();
  const onReady = (ready: number) => progress.update(ready);
  const clients = settings.clients;
  const load = await connectLoad({
    url: hub.url,
    transport,
    clients,
    pollIntervalMs,
    log,
    onReady,
  });
  loads.push(load);
  const seconds = (performance.now() - startedAt) / 1000;
  progress.phase('measuring memory');
  await sleep(SETTLE_AFTER_CONNECT_MS);
  const connected = await hub.stats(true);
  warmUp.close();
  await sleep(SETTLE_AFTER_WARM_UP_MS);
  return { load, seconds, fresh, connected };
}

/** Publishes, waits for the deliveries, and reads the hub's counters before and after. */
async function publishMeasured(hub: HubChild, run: TransportRun, log: DeliveryLog) {
  const { transport, settings, progress } = run;
  progress.phase('publishing', log.expected, 'deliveries');
  const before = await hub.stats(false);
  const published = await publishWatched(hub, settings, log, progress);
  progress.phase('awaiting deliveries', log.expected, 'deliveries');
  await waitForDeliveries(log, settings, transport, progress);
  const after = await hub.stats(false);
  return { published, before, after };
}

/** Publishes while redrawing the progress with the deliveries so far. */
async function publishWatched(
  hub: HubChild,
  settings: BenchSettings,
  log: DeliveryLog,
  progress: Progress,
): Promise<PublishDone> {
  // Time zero of the timeline; the hub's first publish follows within an IPC hop.
  log.start(process.hrtime.bigint());
  const ticker = setInterval(() => progress.update(log.delivered), 100);
  try {
    const published = await hub.publish(settings.messages, settings.rate, settings.sizeBytes);
    if (published.errors > 0) throw new Error(`the hub refused ${published.errors} publishes`);
    return published;
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Waits until every delivery arrived, or none arrived for `QUIET_MS` (plus one poll interval
 * for short polling, whose clients come back only that often), or a bounded time passed.
 */
async function waitForDeliveries(
  log: DeliveryLog,
  settings: BenchSettings,
  transport: BenchTransport,
  progress: Progress,
): Promise<void> {
  const quietMs = QUIET_MS + (transport === 'polling' ? settings.pollIntervalMs : 0);
  const giveUpAt = performance.now() + Math.max(30_000, 4 * quietMs);
  let seen = log.delivered;
  let quietSince = performance.now();
  while (log.delivered < log.expected && performance.now() < giveUpAt) {
    progress.update(log.delivered);
    if (log.delivered !== seen) {
      seen = log.delivered;
      quietSince = performance.now();
    } else if (performance.now() - quietSince > quietMs) {
      break;
    }
    await sleep(20);
  }
  progress.update(log.delivered);
}

function deliveryFields(figures: DeliveryFigures) {
  const { expected, delivered, lost, duplicated, outOfOrder, latencyMs, latencyCurveMs, timeline } =
    figures;
  return { expected, delivered, lost, duplicated, outOfOrder, latencyMs, latencyCurveMs, timeline };
}

/**
 * `seconds` runs from the first publish to the last delivery, plus one publish interval: N
 * messages span N - 1 intervals, and without it a transport that keeps up would read faster
 * than the rate asked (512/s for 500 asked, in a 2 s run).
 */
function rateFields(figures: DeliveryFigures, published: PublishDone, rate: number) {
  const startedAtNs = BigInt(published.startedAtNs);
  const seconds =
    figures.lastAtNs === undefined ? 0 : Number(figures.lastAtNs - startedAtNs) / 1e9 + 1 / rate;
  return { seconds, deliveriesPerSecond: seconds > 0 ? figures.delivered / seconds : 0 };
}

interface Readings {
  /** No client yet (after a full GC). */
  readonly fresh: HubStats;
  /** Every client subscribed (after a full GC). */
  readonly connected: HubStats;
  /** Just before publishing, and once the last delivery arrived. */
  readonly before: HubStats;
  readonly after: HubStats;
  readonly published: PublishDone;
}

function serverFigures(
  { fresh, connected, before, after, published }: Readings,
  delivered: number,
  settings: BenchSettings,
): ServerFigures {
  const traffic = (key: Exclude<keyof HubStats['traffic'], 'openSockets'>) =>
    after.traffic[key] - before.traffic[key];
  // 0 with nothing delivered: JSON has no NaN, and such a run fails anyway.
  const perDelivery = (value: number) => (delivered > 0 ? value / delivered : 0);
  const cpuMicros = after.cpuMicros - before.cpuMicros;
  const wallMicros = Number(BigInt(after.atNs) - BigInt(before.atNs)) / 1e3;
  const requests = traffic('requests');
  const upgrades = traffic('upgrades');
  return {
    bytesWritten: traffic('bytesWritten'),
    bytesRead: traffic('bytesRead'),
    requests,
    upgrades,
    connectionsOpened: traffic('connections'),
    // Both readings hold the warm-up clients: the difference is the measured clients'.
    openSockets: connected.traffic.openSockets - fresh.traffic.openSockets,
    hubConnections: held(connected) - held(fresh),
    bytesPerDelivery: perDelivery(traffic('bytesWritten')),
    clientBytesPerDelivery: perDelivery(traffic('bytesRead')),
    requestsPerDelivery: perDelivery(requests + upgrades),
    cpuMicros,
    cpuPercent: wallMicros > 0 ? (100 * cpuMicros) / wallMicros : 0,
    cpuMicrosPerDelivery: perDelivery(cpuMicros),
    rssPerConnectionBytes: (connected.rss - fresh.rss) / settings.clients,
    heapPerConnectionBytes: (connected.heapUsed - fresh.heapUsed) / settings.clients,
    memory: {
      rssBefore: fresh.rss,
      rssAfter: connected.rss,
      heapBefore: fresh.heapUsed,
      heapAfter: connected.heapUsed,
    },
    publishLagMaxMs: published.lagMaxMs,
  };
}

/** Connections the hub holds by its own count, all transports together. */
function held(stats: HubStats): number {
  return Object.values(stats.connections).reduce((sum, n) => sum + n, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
