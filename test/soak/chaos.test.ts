import { afterEach, describe, expect, it } from 'vitest';
import { redisSkipReason } from '../support/redis-server.js';
import { SOAK_SEED, printFigures } from './chaos-harness.js';
import { MemoryHubScenario } from './memory-scenario.js';
import { RedisNodesScenario } from './redis-scenario.js';
import { CHAOS_MS, Cleanups, SCENARIO_TIMEOUT_MS, expectClean } from './scenario.js';

/**
 * The chaos soak (issue 6): clients of every transport, subscribed to a few channels each,
 * while publishers publish without pause and the network, the hubs and Redis fail at random.
 * Every envelope a publisher was acked for (and every one the broker stored without an ack)
 * is in a ledger; at the end every client must have received, per channel, exactly the
 * ledger's envelopes from where it started, once each and in order, except where a `gap`
 * legitimately stands for what history no longer held (`ledger.ts` says when that is).
 *
 * Bounded: `TIDEWIRE_SOAK_MS` of chaos for the file (default 50 s, half per scenario, about
 * a minute in all); `npm run test:soak` runs 10 minutes. The seed is printed, and
 * `TIDEWIRE_SOAK_SEED` replays the chaos schedule (which client, which node, how long),
 * though not the exact timing. Hubs, proxies, clients and publishers run in this process
 * (redis-server in its own): the peak memory printed is theirs together.
 */

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const replay = `seed ${SOAK_SEED} (TIDEWIRE_SOAK_SEED=${SOAK_SEED} replays it)`;
/** Below this, a scenario may end before its first restart: the counts are not checked. */
const isLongEnough = CHAOS_MS >= 10_000;

describe('chaos soak', () => {
  it(
    'in-memory hub: clients of every transport through blips, unsubscribes and hub restarts get every envelope once, in order, and a gap only for a lost epoch',
    async () => {
      const scenario = await MemoryHubScenario.start(cleanups);
      const outcome = await scenario.run(CHAOS_MS);
      printFigures(`in-memory hub, ${replay}`, scenario.rows(outcome));

      expectClean(outcome);
      // In memory a publish is stored and acked in one step.
      expect(outcome.unacked).toBe(0);
      if (isLongEnough) {
        expect(scenario.counters.restarts).toBeGreaterThan(0);
        // Clients that stood in a channel across a restart heard of it.
        expect(outcome.total.epochGaps).toBeGreaterThan(0);
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  describe.skipIf(redisSkipReason)(
    `on Redis${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
    () => {
      it(
        'three hub nodes on a persistent Redis: clients of every transport through blips, node restarts and Redis restarts get every envelope once, in order, with a gap only where history was trimmed',
        async () => {
          const scenario = await RedisNodesScenario.start(cleanups);
          const outcome = await scenario.run(CHAOS_MS);
          const history = await scenario.checkHistory(outcome.truths);
          printFigures(`3 nodes on a persistent Redis, ${replay}`, scenario.rows(outcome));

          expectClean(outcome);
          expect(history.mismatches, history.problems.join('\n')).toBe(0);
          // A persistent Redis keeps each channel's numbering through every restart.
          for (const { channel, epochs } of scenario.ledger.channels) {
            expect(epochs, channel).toHaveLength(1);
          }
          if (isLongEnough) {
            expect(scenario.counters.restarts).toBeGreaterThan(0);
            expect(scenario.counters.redisRestarts).toBeGreaterThan(0);
            // The first blackhole came before any Redis restart, while `trim` moved on.
            expect(outcome.total.trimGaps).toBeGreaterThan(0);
          }
        },
        SCENARIO_TIMEOUT_MS,
      );
    },
  );
});
