import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** How much of the stream a chart shows, in seconds. */
const WINDOW_SECONDS = 60;
const MIN_WINDOW_SECONDS = 10;
/** The latency axis is logarithmic and fixed, so that the four panels read alike. */
const LATENCY_RANGE_MS: [number, number] = [1, 30_000];
const LATENCY_DECADES_MS = [1, 10, 100, 1000, 10_000];

/** The colours a chart takes from the page's theme (CSS custom properties). */
interface Palette {
  readonly text: string;
  readonly grid: string;
  readonly price: string;
  readonly latency: string;
}

/**
 * One panel's chart: the price each envelope carried, drawn at the hub's publish time so the
 * four panels' lines line up, and the latency of each delivery as dots on a log scale. Keeps
 * the last minute; redrawn on demand, rebuilt when the theme changes its colours.
 */
export class StreamChart {
  readonly #host: HTMLElement;
  readonly #hubNowSeconds: () => number;
  readonly #times: number[] = [];
  readonly #prices: number[] = [];
  readonly #latencies: number[] = [];
  #plot: uPlot | undefined;

  constructor(host: HTMLElement, hubNowSeconds: () => number) {
    this.#host = host;
    this.#hubNowSeconds = hubNowSeconds;
    // Built at the first draw: colours and size come from the page, which a host that is not
    // in it yet does not have.
    new ResizeObserver(() => this.#fit()).observe(host);
  }

  /** Adds one delivery: published at `publishedAtMs` (hub time), `latencyMs` late. */
  add(publishedAtMs: number, price: number, latencyMs: number): void {
    this.#times.push(publishedAtMs / 1000);
    this.#prices.push(price);
    // Below a millisecond is below what Date.now() can tell; the log axis starts at 1 ms.
    this.#latencies.push(Math.max(LATENCY_RANGE_MS[0], latencyMs));
  }

  /** Redraws and scrolls the time axis. */
  draw(): void {
    if (!this.#plot && this.#host.isConnected) this.rebuild();
    const plot = this.#plot;
    if (!plot) return;
    const oldest = this.#hubNowSeconds() - WINDOW_SECONDS - 5;
    let stale = 0;
    while (stale < this.#times.length && (this.#times[stale] as number) < oldest) stale += 1;
    if (stale > 0) {
      this.#times.splice(0, stale);
      this.#prices.splice(0, stale);
      this.#latencies.splice(0, stale);
    }
    // The time axis moves every frame even with nothing new: a stalled panel shows its gap.
    plot.setData([this.#times, this.#prices, this.#latencies], true);
  }

  /** Builds the plot (again) with the theme's current colours. */
  rebuild(): void {
    this.#plot?.destroy();
    const palette = readPalette(this.#host);
    const { width, height } = this.#size();
    const axis = {
      stroke: palette.text,
      grid: { stroke: palette.grid, width: 1 },
      ticks: { show: false },
    };
    this.#plot = new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { show: false },
        scales: {
          x: {
            time: true,
            range: () => {
              const now = this.#hubNowSeconds();
              // The first minute fills the width instead of crowding at the right edge.
              const first = this.#times[0] ?? now;
              const span = Math.min(WINDOW_SECONDS, Math.max(MIN_WINDOW_SECONDS, now - first));
              return [now - span, now];
            },
          },
          price: { auto: true },
          ms: { distr: 3, auto: false, range: LATENCY_RANGE_MS },
        },
        series: [
          {},
          {
            label: 'price',
            scale: 'price',
            stroke: palette.price,
            width: 2,
            points: { show: false },
          },
          {
            label: 'latency',
            scale: 'ms',
            stroke: palette.latency,
            paths: () => null,
            points: { show: true, size: 4, fill: palette.latency, width: 0 },
          },
        ],
        axes: [
          {
            ...axis,
            size: 26,
            space: 60,
            values: (_plot, ticks) => ticks.map(formatClock),
          },
          { ...axis, scale: 'price', size: 44 },
          {
            ...axis,
            scale: 'ms',
            side: 1,
            size: 44,
            grid: { show: false },
            // Decades only: a log axis's default ticks crowd a small chart.
            splits: () => LATENCY_DECADES_MS,
            space: 12,
            values: (_plot, ticks) => ticks.map(formatMs),
          },
        ],
      },
      [this.#times, this.#prices, this.#latencies],
      this.#host,
    );
  }

  #size(): { width: number; height: number } {
    return {
      width: Math.max(200, this.#host.clientWidth),
      height: Math.max(120, this.#host.clientHeight),
    };
  }

  #fit(): void {
    this.#plot?.setSize(this.#size());
  }
}

function readPalette(element: HTMLElement): Palette {
  const style = getComputedStyle(element);
  const read = (name: string) => style.getPropertyValue(name).trim();
  return {
    text: read('--chart-text'),
    grid: read('--chart-grid'),
    price: read('--chart-price'),
    latency: read('--chart-latency'),
  };
}

/** A time axis tick: the hub's wall clock, to the second. */
function formatClock(seconds: number): string {
  return new Date(seconds * 1000).toLocaleTimeString('en-GB');
}

/** 1 ms, 10 ms, 100 ms, 1 s, 10 s: the log axis's decades, short. */
function formatMs(ms: number | null): string {
  // uPlot hands null for a tick it leaves unlabelled.
  if (ms === null) return '';
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}
