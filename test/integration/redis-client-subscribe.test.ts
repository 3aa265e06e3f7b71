import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisBroker } from '../../src/brokers/redis.js';
import {
  Recorder,
  Resources,
  VARIANTS,
  fastOptions,
  hubPublisher,
  range,
  stream,
} from '../support/client-harness.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';

/**
 * A client that subscribes while the hub's Redis is away: the hub refuses with
 * `BROKER_UNAVAILABLE` (503), which is not a refusal of the channel but a "later": the client
 * keeps the subscription, retries with backoff, and receives once Redis is back.
 */
describe.skipIf(redisSkipReason)(
  `subscribing while Redis is down${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    let redis: RedisServer;
    const resources = new Resources();
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.close());
    afterEach(async () => {
      await resources.closeAll();
      await redis.start();
    });

    for (const variant of VARIANTS) {
      it(`keeps the subscription and receives once Redis is back (${variant.name})`, async () => {
        const testHub = await resources.hub({
          broker: redisBroker({
            url: redis.url,
            prefix: `sub:${randomUUID()}:`,
            reconnectMaxDelayMs: 100,
          }),
        });
        await testHub.hub.ready;
        await redis.stop();

        const client = resources.client(
          testHub.url,
          fastOptions(variant.transport, variant.options),
        );
        const recorder = new Recorder(client);
        const subscription = recorder.subscribe('news');
        await recorder.waitForEvent('error', 1);
        expect(recorder.of('error')[0]).toMatchObject({ code: 'BROKER_UNAVAILABLE' });

        await redis.start();
        await subscription.ready;
        await stream(1, 20, ['news'], hubPublisher(testHub.hub));
        await recorder.waitForN('news', 20);
        expect(recorder.sequence('news')).toEqual(range(1, 20));
      });

      it(`backs off further at each refusal while Redis is away (${variant.name})`, async () => {
        const testHub = await resources.hub({
          broker: redisBroker({ url: redis.url, prefix: `sub:${randomUUID()}:` }),
        });
        await testHub.hub.ready;
        await redis.stop();
        // The hub answers every attempt (an error frame, a 503): that must not reset the
        // backoff, or all clients would retry at the base delay for the whole outage.
        const client = resources.client(
          testHub.url,
          fastOptions(variant.transport, {
            ...variant.options,
            reconnect: { baseMs: 10, capMs: 60_000 },
          }),
        );
        const recorder = new Recorder(client);
        recorder.subscribe('news');
        await recorder.waitForEvent('reconnecting', 5);
        // (More may have come since: the delays start at 10 ms.)
        const attempts = recorder.of('reconnecting').map(({ attempt }) => attempt);
        expect(attempts.slice(0, 5)).toEqual([1, 2, 3, 4, 5]);
      });
    }
  },
);
