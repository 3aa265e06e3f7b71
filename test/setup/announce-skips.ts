import { redisSkipReason } from '../support/redis-server.js';

/**
 * Vitest global setup: says, at the start and again at the end of the run, which suites this
 * machine cannot run, so that a skip is never mistaken for a pass. (CI installs everything
 * and sets TIDEWIRE_REQUIRE_REDIS=1, which turns the skip into a failure.)
 */
export default function announceSkips(): () => void {
  const announce = () => {
    if (redisSkipReason) console.warn(`\n[tidewire tests] ${redisSkipReason}\n`);
  };
  announce();
  return announce;
}
