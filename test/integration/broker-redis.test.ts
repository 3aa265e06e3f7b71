import { afterAll, beforeAll, describe } from 'vitest';
import { RedisBroker } from '../../src/brokers/redis.js';
import { runBrokerContract } from '../contract/broker-contract.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';

describe.skipIf(redisSkipReason)(
  `redis broker${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.close());

    // Each test is its own Redis namespace (cf centrifuge's getUniquePrefix); the nodes of one
    // test share it.
    runBrokerContract(
      'redis',
      async (history, store) =>
        new RedisBroker({ url: redis.url, prefix: `test:${store}:`, ...history }),
      { isShared: true },
    );
  },
);
