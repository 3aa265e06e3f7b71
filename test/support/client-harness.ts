import { EventSource } from 'eventsource';
import { WebSocket } from 'ws';
import { type Client, type ClientEvents, createClient } from '../../src/client/index.js';
import type {
  ClientOptions,
  EventSourceConstructor,
  TransportName,
  WebSocketConstructor,
} from '../../src/client/options.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { Hub, HubOptions } from '../../src/server/index.js';
import { type TestHub, startHub } from './hub-server.js';
import { SurvivingBroker } from './surviving-broker.js';
import { type ProxyTarget, type TcpProxy, startTcpProxy } from './tcp-proxy.js';
import { waitFor } from './wait.js';

/**
 * What the client contract suites (`test/integration/client-*.test.ts`) share: the four
 * transports, small timings, one place that closes whatever a test opened, and a recorder of
 * everything a client saw, envelopes and lifecycle events in one ordered log.
 */

export const TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'long-polling', 'polling'];

/** Node 20 has no global WebSocket: the client takes `ws`'s. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/** One way to run the client: a transport, and what the platform gives it. */
export interface Variant {
  readonly name: string;
  readonly transport: TransportName;
  readonly options: ClientOptions;
}

/**
 * The four transports, and SSE once more over an EventSource (the `eventsource` package, as
 * a browser's would be used): Node has none, so plain `sse` runs over fetch and the parser.
 */
export const VARIANTS: readonly Variant[] = [
  ...TRANSPORTS.map((transport) => ({ name: transport, transport, options: {} })),
  {
    name: 'sse over EventSource',
    transport: 'sse',
    options: { EventSource: EventSource as unknown as EventSourceConstructor },
  },
];

/** A hub whose heartbeats fit a test: an SSE client notices a silent link in a few 100 ms. */
export const FAST_HUB: HubOptions = { sseHeartbeatMs: 100 };

/**
 * Client timings for tests: a dead link is noticed within ~0.5 s on every transport (the long
 * poll deadline is `pollTimeoutMs` + `heartbeat.timeoutMs`), reconnects come within 200 ms.
 */
export function fastOptions(transport: TransportName | undefined, extra: ClientOptions = {}) {
  return {
    WebSocket: NodeWebSocket,
    heartbeat: { intervalMs: 200, timeoutMs: 300 },
    reconnect: { baseMs: 20, capMs: 200 },
    pollIntervalMs: 50,
    pollTimeoutMs: 300,
    connectTimeoutMs: 2000,
    ...(transport ? { transports: [transport] } : {}),
    ...extra,
  } satisfies ClientOptions;
}

/**
 * Wraps the platform constructors a client connects with (WebSocket, EventSource, fetch) to
 * count every connection attempt and request: what proves that a client stays quiet, or that
 * it tried.
 */
export function countingPlatform(options: ClientOptions = {}) {
  const counts = { WebSocket: 0, EventSource: 0, fetch: 0 };
  const count = <T extends object>(name: keyof typeof counts, base: T): T =>
    new Proxy(base, {
      construct(target, args, newTarget) {
        counts[name]++;
        return Reflect.construct(target as new (...a: unknown[]) => object, args, newTarget);
      },
      apply(target, self, args) {
        counts[name]++;
        return Reflect.apply(target as (...a: unknown[]) => unknown, self, args);
      },
    });
  const platform: ClientOptions = {
    WebSocket: count('WebSocket', options.WebSocket ?? NodeWebSocket),
    fetch: count('fetch', options.fetch ?? globalThis.fetch.bind(globalThis)),
    ...(options.EventSource ? { EventSource: count('EventSource', options.EventSource) } : {}),
  };
  return {
    counts,
    options: platform,
    get total() {
      return counts.WebSocket + counts.EventSource + counts.fetch;
    },
  };
}

/** Everything a test opened, closed in `afterEach` (clients first, brokers last). */
export class Resources {
  readonly #clients: Client[] = [];
  readonly #hubs: TestHub[] = [];
  readonly #proxies: TcpProxy[] = [];
  readonly #brokers: SurvivingBroker[] = [];

  client(url: string, options: ClientOptions): Client {
    const client = createClient(url, options);
    this.#clients.push(client);
    return client;
  }

  async hub(options: HubOptions = FAST_HUB, port = 0): Promise<TestHub> {
    const testHub = await startHub({ ...FAST_HUB, ...options }, port);
    this.#hubs.push(testHub);
    return testHub;
  }

  async proxy(target: ProxyTarget | (() => ProxyTarget)): Promise<TcpProxy> {
    const proxy = await startTcpProxy(target);
    this.#proxies.push(proxy);
    return proxy;
  }

  broker(): SurvivingBroker {
    const broker = new SurvivingBroker();
    this.#brokers.push(broker);
    return broker;
  }

  async closeAll(): Promise<void> {
    for (const client of this.#clients.splice(0)) client.destroy();
    await Promise.all(this.#proxies.splice(0).map((proxy) => proxy.close()));
    await Promise.all(this.#hubs.splice(0).map((testHub) => testHub.close()));
    await Promise.all(this.#brokers.splice(0).map((broker) => broker.dispose()));
  }
}

type LifecycleKind = keyof ClientEvents;

/** One entry of a recorder's log: an envelope, or a lifecycle event and its payload. */
export type LogEntry =
  | { readonly kind: 'envelope'; readonly envelope: Envelope }
  | { readonly kind: LifecycleKind; readonly payload: unknown };

/**
 * Records what one client saw: every envelope of the channels it subscribed through
 * `subscribe`, and every lifecycle event, in one log in arrival order, with the client's
 * `readyState` at each lifecycle event.
 */
export class Recorder {
  readonly log: LogEntry[] = [];
  readonly readyStates: Array<{ readonly kind: string; readonly readyState: number }> = [];

  constructor(readonly client: Client) {
    for (const kind of ['open', 'close', 'reconnecting', 'gap', 'error'] as const) {
      client.on(kind, (payload: unknown) => {
        this.log.push({ kind, payload });
        this.readyStates.push({ kind, readyState: client.readyState });
      });
    }
  }

  /** Subscribes and records the envelopes of `channel`. */
  subscribe(channel: string, since?: string) {
    return this.client.subscribe(
      channel,
      (_data, envelope) => this.log.push({ kind: 'envelope', envelope }),
      since === undefined ? undefined : { since },
    );
  }

  envelopes(channel?: string): Envelope[] {
    const all = this.log.flatMap((entry) => (entry.kind === 'envelope' ? [entry.envelope] : []));
    return channel === undefined ? all : all.filter((envelope) => envelope.channel === channel);
  }

  /** The `data` of every envelope of `channel`, in order. */
  data(channel: string): unknown[] {
    return this.envelopes(channel).map((envelope) => envelope.data);
  }

  /** The `n` of the counter envelopes of `channel`, with `gap` where the client reported one. */
  sequence(channel: string): Array<number | 'gap'> {
    return this.log.flatMap((entry): Array<number | 'gap'> => {
      if (entry.kind === 'envelope') {
        return entry.envelope.channel === channel ? [(entry.envelope.data as { n: number }).n] : [];
      }
      const isGap =
        entry.kind === 'gap' && (entry.payload as { channel: string }).channel === channel;
      return isGap ? ['gap'] : [];
    });
  }

  /** The payloads of every lifecycle event of `kind`, in order. */
  of<K extends LifecycleKind>(kind: K): Array<ClientEvents[K]> {
    return this.log.flatMap((entry) =>
      entry.kind === kind && 'payload' in entry ? [entry.payload as ClientEvents[K]] : [],
    );
  }

  count(kind: LifecycleKind): number {
    return this.of(kind).length;
  }

  /** Waits until `channel` got an envelope whose data equals `{ n }`. */
  async waitForN(channel: string, n: number, timeoutMs = 5000): Promise<void> {
    await waitFor(
      () => this.data(channel).some((data) => (data as { n?: number }).n === n),
      timeoutMs,
      `n=${n} on ${channel} (got ${this.data(channel).length}: ${JSON.stringify(this.sequence(channel).slice(-5))}…)`,
    );
  }

  /** Waits for the `count`-th lifecycle event of `kind`. */
  async waitForEvent(kind: LifecycleKind, count = 1, timeoutMs = 5000) {
    await waitFor(() => this.count(kind) >= count, timeoutMs, `${count} × ${kind}`);
  }
}

/** `[from, from + 1, …, to]`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Lets other work run: sockets flush, clients read, between bursts of a stream. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Publishes `{ n }` for every n in [from, to] on every channel, yielding to I/O as it goes. */
export async function stream(
  from: number,
  to: number,
  channels: readonly string[],
  publish: (channel: string, data: { n: number }) => Promise<unknown>,
): Promise<void> {
  for (let n = from; n <= to; n++) {
    for (const channel of channels) await publish(channel, { n });
    if (n % 4 === 3) await yieldToIo();
  }
}

/** `stream`'s publish function for a hub. */
export function hubPublisher(hub: Hub) {
  return (channel: string, data: unknown) => hub.publish(channel, data);
}
