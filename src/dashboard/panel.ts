import { type Client, type Envelope, type TransportName, createClient } from '../client/index.js';
import { StreamChart } from './chart.js';
import { element, formatBytes, formatLatency, setText } from './dom.js';
import { LatencyWindow } from './latency-window.js';
import type { Network } from './network.js';
import { SequenceCheck } from './sequence-check.js';

/** The channel and event of the hub's demo ticker (`tidewire serve --demo`). */
export const DEMO_CHANNEL = 'demo';
const TICK_EVENT = 'tick';
/** Percentiles cover the last 30 s: how the transport does now. */
const LATENCY_SPAN_MS = 30_000;
/** Lifecycle lines kept under each panel. */
const LOG_LINES = 4;

/** One transport's panel: what it is called and how it carries messages. */
export interface PanelSpec {
  readonly transport: TransportName;
  readonly title: string;
  readonly how: string;
}

/** What the dashboard gives every panel. */
export interface PanelContext {
  readonly origin: string;
  readonly basePath: string;
  readonly network: Network;
  /** The hub's clock minus the page's, in ms. */
  readonly clockOffsetMs: () => number;
}

/** The tick the demo ticker publishes. */
interface Tick {
  readonly run: string;
  readonly n: number;
  readonly price: number;
}

type PanelState = 'connecting' | 'open' | 'lost' | 'reconnecting' | 'closed';

/**
 * One panel: a real client held to one transport, subscribed to the demo ticker, with its
 * traffic seen through its own tap of the page's network. Shows the stream as it arrives,
 * its latency, what it cost, and every reconnect, with the proof that nothing was lost.
 */
export class Panel {
  readonly root: HTMLElement;
  readonly #client: Client;
  readonly #tap: ReturnType<Network['tap']>;
  readonly #context: PanelContext;
  readonly #chart: StreamChart;
  readonly #latencies = new LatencyWindow(LATENCY_SPAN_MS);
  readonly #sequence = new SequenceCheck();
  readonly #fields: Record<string, HTMLElement> = {};
  readonly #stateBadge: HTMLElement;
  readonly #log: HTMLElement;
  #state: PanelState = 'connecting';
  #received = 0;
  #opens = 0;
  #retryAt: number | undefined;
  #attempt = 0;

  constructor(spec: PanelSpec, context: PanelContext) {
    this.#context = context;
    this.#tap = context.network.tap();
    const drop = element('button', 'drop', 'Drop');
    drop.title = 'Cut this panel’s connection, as a lost network would';
    drop.addEventListener('click', () => this.#tap.drop());
    this.#stateBadge = element('span', 'state', 'connecting');
    const chartHost = element('div', 'chart');
    this.#log = element('ol', 'log');
    this.root = element(
      'section',
      'panel',
      element('header', '', element('h2', '', spec.title), this.#stateBadge, drop),
      element('p', 'how', spec.how),
      chartHost,
      this.#statList(),
      this.#log,
    );
    this.root.dataset.transport = spec.transport;
    this.#chart = new StreamChart(chartHost, () => (Date.now() + context.clockOffsetMs()) / 1000);
    this.#client = createClient(context.origin, {
      basePath: context.basePath,
      transports: [spec.transport],
      WebSocket: this.#tap.WebSocket,
      fetch: this.#tap.fetch,
      // SSE over fetch, so that the panel can count its bytes and cut its stream.
      EventSource: false,
    });
    this.#listen();
    this.#client.subscribe(DEMO_CHANNEL, (_data, envelope) => this.#onEnvelope(envelope));
  }

  /** Refreshes the numbers and the chart. */
  render(nowMs: number): void {
    const { counters } = this.#tap;
    const set = (name: string, text: string) => setText(this.#fields[name] as HTMLElement, text);
    set('p50', formatLatency(this.#latencies.percentile(0.5, nowMs)));
    set('p99', formatLatency(this.#latencies.percentile(0.99, nowMs)));
    set('messages', this.#received.toLocaleString('en'));
    set('missed', String(this.#sequence.missed + this.#sequence.duplicated));
    set('requests', counters.requests.toLocaleString('en'));
    set('bytes', formatBytes(counters.bytesIn));
    set('perMessage', this.#received > 0 ? formatBytes(counters.bytesIn / this.#received) : '–');
    set('reconnects', String(Math.max(0, this.#opens - 1)));
    const isClean = this.#sequence.missed === 0 && this.#sequence.duplicated === 0;
    this.root.classList.toggle('has-missed', !isClean);
    this.root.dataset.state = this.#state;
    setText(this.#stateBadge, this.#stateText(nowMs));
    this.#chart.draw();
  }

  /** Draws the chart again in the theme's colours. */
  restyle(): void {
    this.#chart.rebuild();
  }

  /** Missed plus duplicated ticks: what the dashboard's total shows. */
  get missed(): number {
    return this.#sequence.missed + this.#sequence.duplicated;
  }

  #onEnvelope(envelope: Envelope): void {
    if (envelope.event !== TICK_EVENT || !isTick(envelope.data)) return;
    const { run, n, price } = envelope.data;
    if (!this.#sequence.take(run, n)) return;
    this.#received += 1;
    const now = Date.now();
    const latencyMs = Math.max(0, now + this.#context.clockOffsetMs() - envelope.ts);
    this.#latencies.add(now, latencyMs);
    this.#chart.add(envelope.ts, price, latencyMs);
  }

  #listen(): void {
    const client = this.#client;
    client.on('open', ({ transport }) => {
      this.#opens += 1;
      this.#state = 'open';
      this.#retryAt = undefined;
      this.#note(this.#opens === 1 ? `open over ${transport}` : `back over ${transport}, resumed`);
    });
    client.on('close', ({ reason, willReconnect }) => {
      this.#state = willReconnect ? 'lost' : 'closed';
      this.#note(`lost: ${reason}`);
    });
    client.on('reconnecting', ({ attempt, delayMs }) => {
      this.#state = 'reconnecting';
      this.#attempt = attempt;
      this.#retryAt = Date.now() + delayMs;
      this.#note(`retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s`);
    });
    client.on('gap', ({ channel }) => {
      this.#note(`gap on ${channel}: history did not reach back`);
    });
    client.on('error', (error) => this.#note(`error: ${error.message}`));
  }

  #stateText(nowMs: number): string {
    if (this.#state !== 'reconnecting' || this.#retryAt === undefined) return this.#state;
    const seconds = Math.max(0, (this.#retryAt - nowMs) / 1000);
    return `retry ${this.#attempt} in ${seconds.toFixed(1)} s`;
  }

  #note(text: string): void {
    const time = new Date().toLocaleTimeString('en-GB');
    this.#log.prepend(element('li', '', element('time', '', time), ` ${text}`));
    while (this.#log.children.length > LOG_LINES) this.#log.lastElementChild?.remove();
  }

  #statList(): HTMLElement {
    const stats: [name: string, label: string, hint: string][] = [
      ['p50', 'p50', 'median latency, publish to delivery, last 30 s'],
      ['p99', 'p99', '99th percentile latency, last 30 s'],
      ['messages', 'messages', 'ticks received'],
      ['missed', 'missed', 'ticks skipped or received twice: must stay 0'],
      ['requests', 'requests', 'HTTP requests, WebSocket upgrades included'],
      ['bytes', 'bytes in', 'bytes from the server, headers and framing included'],
      ['perMessage', 'bytes/msg', 'bytes in per tick received'],
      ['reconnects', 'reconnects', 'times the link came back'],
    ];
    const list = element('dl', 'stats');
    for (const [name, label, hint] of stats) {
      const value = element('dd', '', '–');
      value.dataset.stat = name;
      this.#fields[name] = value;
      const item = element('div', `stat stat-${name}`, element('dt', '', label), value);
      item.title = hint;
      list.append(item);
    }
    return list;
  }
}

function isTick(data: unknown): data is Tick {
  if (typeof data !== 'object' || data === null) return false;
  const { run, n, price } = data as Record<string, unknown>;
  return typeof run === 'string' && typeof n === 'number' && typeof price === 'number';
}
