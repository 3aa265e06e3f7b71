import { randomBytes } from 'node:crypto';
import type { Logger } from '../server/index.js';

/** Ten ticks a second: fast enough that the dashboard shows latency and loss as they happen. */
export const DEMO_TICK_INTERVAL_MS = 100;
export const DEMO_CHANNEL = 'demo';

/** What each tick carries (event `tick` on channel `demo`). */
export interface DemoTick {
  /** Random per process start: the page resets its counts when it changes. */
  readonly run: string;
  /** 1, 2, 3… within a run, with no hole: the page counts missed and repeated ticks by it. */
  readonly n: number;
  /** A random walk, rounded to 2 decimals: something for the page to chart. */
  readonly price: number;
}

type Publish = (channel: string, data: DemoTick, options: { event: string }) => Promise<unknown>;

/**
 * Publishes a tick every `intervalMs` on channel `demo` until the returned function is
 * called. `n` counts published ticks only: a tick is skipped while the previous publish is
 * still on its way (a slow broker), and a failed one is tried again with the same `n`, so
 * that a hole in `n` on the page always means a lost delivery, never a tick that was not sent.
 */
export function startDemoTicker(
  publish: Publish,
  logger: Logger,
  intervalMs = DEMO_TICK_INTERVAL_MS,
): () => void {
  const run = randomBytes(6).toString('base64url');
  let published = 0;
  let price = 100;
  let isInFlight = false;
  // One line when ticks start failing (the broker is away) and one when they resume, not one
  // per tick.
  let isFailing = false;
  const tick = () => {
    if (isInFlight) return;
    isInFlight = true;
    price = Math.max(1, price + (Math.random() - 0.5));
    const data = { run, n: published + 1, price: Math.round(price * 100) / 100 };
    publish(DEMO_CHANNEL, data, { event: 'tick' }).then(
      () => {
        published = data.n;
        isInFlight = false;
        if (isFailing) logger.info({}, 'demo ticker: publishing again');
        isFailing = false;
      },
      (error: unknown) => {
        isInFlight = false;
        if (!isFailing) {
          logger.warn({ err: error }, 'demo ticker: publish failed, retrying at every tick');
        }
        isFailing = true;
      },
    );
  };
  const timer = setInterval(tick, intervalMs);
  return () => clearInterval(timer);
}
