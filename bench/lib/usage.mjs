/**
 * What a phase cost: CPU of the hub process (the bench's own, where the nodes run), of the
 * subscriber process and of redis-server, and the hub's event-loop utilisation. On a
 * two-core machine these say which process saturated first, which the throughput alone
 * cannot tell.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { nowMicros } from './clock.mjs';

/** Linux counts /proc/stat in USER_HZ ticks, 100 a second on every common build. */
const MICROS_PER_TICK = 10_000;

/**
 * Starts measuring. `redis` (optional) is the handle of `redis-server.mjs`; its command
 * statistics are reset so that `stop()` reads this phase's alone.
 *
 * @returns `{ stop({ messages, subscriberCpuMicros }) }`, which resolves with the figures.
 */
export async function startUsage(redis) {
  if (redis) await redis.resetStats();
  const redisCpu = redis ? await redis.cpuMicros() : 0;
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const machine = machineMicros();
  const startedAt = nowMicros();
  return {
    async stop({ messages, subscriberCpuMicros }) {
      const wall = nowMicros() - startedAt;
      const own = process.cpuUsage(cpu);
      const redisCpuMicros = redis ? (await redis.cpuMicros()) - redisCpu : 0;
      const percent = (micros) => (100 * micros) / wall;
      const ours = own.user + own.system + subscriberCpuMicros + redisCpuMicros;
      const now = machineMicros();
      const figures = {
        seconds: wall / 1e6,
        hubCpuPercent: percent(own.user + own.system),
        hubEventLoopPercent: 100 * performance.eventLoopUtilization(elu).utilization,
        subscriberCpuPercent: percent(subscriberCpuMicros),
        // Loopback TCP costs the kernel interrupt work that is charged to no process: a
        // share of the machine the three processes do not show.
        softirqCpuPercent:
          now && machine ? percent(now.interrupts - machine.interrupts) : undefined,
        // What other processes used meanwhile: a run next to a busy neighbour says so.
        otherCpuPercent:
          now && machine
            ? Math.max(0, percent(now.processes - machine.processes - ours))
            : undefined,
      };
      if (!redis) return figures;
      const { evalsha = { calls: 0, usec: 0 }, eval: evalStats } = await redis.commandStats();
      // Time inside the Lua scripts by Redis's own count: nearly all of them are publishes
      // (EVALSHA; an EVAL after a NOSCRIPT), the rest history reads.
      const scriptCalls = evalsha.calls + (evalStats?.calls ?? 0);
      const scriptMicros = evalsha.usec + (evalStats?.usec ?? 0);
      return {
        ...figures,
        redisCpuPercent: percent(redisCpuMicros),
        redisCpuMicrosPerPublish: redisCpuMicros / messages,
        redisScriptCalls: scriptCalls,
        redisMicrosPerScriptCall: scriptCalls ? scriptMicros / scriptCalls : 0,
      };
    },
  };
}

/**
 * CPU time of the whole machine since boot (all cores, µs): `processes` (user, nice, system,
 * steal) and `interrupts` (irq, softirq); undefined off Linux.
 */
function machineMicros() {
  let line;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    processes: (user + nice + system + steal) * MICROS_PER_TICK,
    interrupts: (irq + softirq) * MICROS_PER_TICK,
  };
}
