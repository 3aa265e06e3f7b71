/**
 * The load: N real `tidewire/client` clients, each held to one transport, each subscribed to
 * the bench channel, each delivery written to a `DeliveryLog`. They run in the bench's own
 * process, apart from the hub's, as clients run apart from servers in production.
 *
 * @module
 */
import { WebSocket } from 'ws';
import { type Client, createClient } from '../../client/index.js';
import type { WebSocketConstructor } from '../../client/options.js';
import type { DeliveryLog } from './delivery-log.js';
import { BENCH_CHANNEL } from './hub-ipc.js';
import { readPayload } from './payload.js';
import type { BenchTransport } from './results.js';

/** Node 20 has no global WebSocket: the client takes `ws`'s. */
const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/**
 * Clients connecting at once: well under the server's listen backlog (511), and few enough
 * that connecting does not starve the hub's event loop of everything else.
 */
const CONNECT_CONCURRENCY = 50;

export interface LoadOptions {
  /** The hub's origin. */
  readonly url: string;
  readonly transport: BenchTransport;
  readonly clients: number;
  readonly pollIntervalMs: number;
  /** Default: the bench channel. */
  readonly channel?: string;
  /** Where deliveries are recorded; client `i` records as client `i`. */
  readonly log: DeliveryLog;
  /** Called with the number of clients subscribed so far. */
  readonly onReady?: (ready: number) => void;
}

/** The clients of one run and what went wrong on their links. */
export interface Load {
  /** `gap` events, `error` events and reconnects so far: each 0 in a clean run. */
  readonly incidents: { gaps: number; errors: number; reconnects: number };
  /** Destroys every client (closes its connection). */
  close(): void;
}

/** Connects `clients` clients and resolves once every subscription is confirmed. */
export async function connectLoad(options: LoadOptions): Promise<Load> {
  const clients: Client[] = [];
  const incidents = { gaps: 0, errors: 0, reconnects: 0 };
  let isClosed = false;
  const load: Load = {
    incidents,
    close() {
      isClosed = true;
      for (const client of clients) client.destroy();
    },
  };
  const timeoutMs = Math.max(30_000, options.clients * 20);
  let ready = 0;
  let next = 0;
  const opener = async () => {
    while (!isClosed && next < options.clients) {
      const index = next++;
      const client = openClient(index, options, incidents);
      clients.push(client.client);
      await client.ready;
      options.onReady?.(++ready);
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const message = `${ready} of ${options.clients} ${options.transport} clients subscribed after ${timeoutMs} ms`;
      reject(new Error(message));
    }, timeoutMs);
  });
  const openers = Array.from({ length: Math.min(CONNECT_CONCURRENCY, options.clients) }, opener);
  try {
    await Promise.race([Promise.all(openers), timeout]);
  } catch (error) {
    load.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return load;
}

function openClient(
  index: number,
  { url, transport, pollIntervalMs, log, channel = BENCH_CHANNEL }: LoadOptions,
  incidents: Load['incidents'],
): { client: Client; ready: Promise<void> } {
  const client = createClient(url, {
    transports: [transport],
    WebSocket: NodeWebSocket,
    // Node 20 has no EventSource: SSE runs over fetch and tidewire's parser, as in workers.
    EventSource: false,
    pollIntervalMs,
  });
  client.on('gap', () => (incidents.gaps += 1));
  client.on('error', () => (incidents.errors += 1));
  client.on('reconnecting', () => (incidents.reconnects += 1));
  const subscription = client.subscribe(channel, (data) => {
    // Stamped first: latency ends when the application's handler runs.
    const atNs = process.hrtime.bigint();
    const payload = readPayload(data);
    if (payload) log.record(index, payload.seq, payload.stampNs, atNs);
    else log.stray();
  });
  return { client, ready: subscription.ready };
}
