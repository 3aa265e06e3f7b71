/**
 * Reports what the hub refused or closed (foreign origins, bad tokens, rate limits, slow
 * consumers…). The hub counts these rather than logging each one, since a flood of them (an
 * attack, a client stuck in a loop) would flood the logs; this turns the counts into lines: the
 * first at once, then at most one per interval, each with the counts since the line before.
 *
 * @module
 */

export type DropCounts = Readonly<Partial<Record<string, number>>>;

export interface DropReportOptions {
  /** How often the counts are read. Default 1000 ms. */
  readonly checkMs?: number;
  /** Least time between two lines. Default 60 000 ms. */
  readonly intervalMs?: number;
}

/** Starts reporting; returns the function that stops it. */
export function reportDrops(
  read: () => DropCounts,
  log: (fields: object, message: string) => void,
  options: DropReportOptions = {},
): () => void {
  const { checkMs = 1000, intervalMs = 60_000 } = options;
  let reported: DropCounts = {};
  let reportedAt = -Infinity;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - reportedAt < intervalMs) return;
    const counts = read();
    const since = difference(counts, reported);
    if (Object.keys(since).length === 0) return;
    log({ dropped: since, total: counts }, 'requests refused or connections closed by the hub');
    reported = { ...counts };
    reportedAt = now;
  }, checkMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

/** The reasons whose count grew, with how much. */
function difference(counts: DropCounts, before: DropCounts): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [reason, count = 0] of Object.entries(counts)) {
    const delta = count - (before[reason] ?? 0);
    if (delta > 0) grown[reason] = delta;
  }
  return grown;
}
