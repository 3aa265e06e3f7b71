/**
 * Keeps a burst of one event from flooding the logs (a broker outage fails every channel's
 * resync at once; a slow network closes many slow consumers): past a few lines of one message,
 * or a few dozen lines in all, lines are counted instead of written, and one line per message
 * says how many were left out once the window ends.
 *
 * @module
 */
import type { Logger } from '../server/index.js';

type Level = 'info' | 'warn' | 'error';

export interface LogLimits {
  /** Lines of one message per window. Default 5. */
  readonly perMessage?: number;
  /** Lines of all messages per window. Default 30. */
  readonly total?: number;
  /** Default 10 000 ms. */
  readonly windowMs?: number;
}

interface Tally {
  readonly level: Level;
  written: number;
  suppressed: number;
}

/** A `Logger` that writes to `target` within `limits`; `flush()` says what it left out. */
export function limitLogger(target: Logger, limits: LogLimits = {}): Logger & { flush(): void } {
  const { perMessage = 5, total = 30, windowMs = 10_000 } = limits;
  let tallies = new Map<string, Tally>();
  let written = 0;
  // Lines of messages first seen once the total was reached: one count, not one tally each.
  let overflow = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const ended = tallies;
    const overflowed = overflow;
    tallies = new Map();
    written = 0;
    overflow = 0;
    for (const [message, tally] of ended) {
      if (tally.suppressed > 0) {
        target[tally.level]({ suppressed: tally.suppressed, windowMs }, `${message} (repeated)`);
      }
    }
    if (overflowed > 0) {
      target.warn({ suppressed: overflowed, windowMs }, 'log lines suppressed');
    }
  };

  const at =
    (level: Level) =>
    (object: object, message = ''): void => {
      if (!timer) {
        timer = setTimeout(flush, windowMs);
        timer.unref?.();
      }
      let tally = tallies.get(message);
      if (!tally) {
        if (written >= total) {
          overflow += 1;
          return;
        }
        tally = { level, written: 0, suppressed: 0 };
        tallies.set(message, tally);
      }
      if (tally.written >= perMessage || written >= total) {
        tally.suppressed += 1;
        return;
      }
      tally.written += 1;
      written += 1;
      target[level](object, message);
    };

  return { info: at('info'), warn: at('warn'), error: at('error'), flush };
}
