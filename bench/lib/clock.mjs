/**
 * The benchmark's one clock, in microseconds.
 *
 * `process.hrtime` reads CLOCK_MONOTONIC on Linux (libuv `uv_hrtime`), which every process of
 * the machine shares: the subscriber process can subtract a stamp the publishing process
 * took. `performance.now()` cannot be used across processes (each has its own time origin),
 * and `Date.now()` has millisecond steps and may jump.
 *
 * `Number()` of the nanosecond count loses precision only past 2^53 ns (about 104 days of
 * uptime), and then by a few nanoseconds: nothing at the microsecond scale we report.
 */
export function nowMicros() {
  return Number(process.hrtime.bigint()) / 1e3;
}
