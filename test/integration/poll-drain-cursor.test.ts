import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { redisBroker } from '../../src/brokers/redis.js';
import { decodeCursor } from '../../src/core/cursor.js';
import { poll } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

/**
 * A bug the chaos soak found: a node that drained while a poll's subscribe was still reading
 * from a stalled Redis answered that poll with the cursor of an empty map (`e30`). The client
 * took it for a position and sent it back on every poll after, each refused with
 * `BAD_CURSOR`: it never received again. A poll answered early now returns the positions it
 * was asked from, in the multi-channel form whenever it has several channels.
 */
describe.skipIf(redisSkipReason)(
  `a poll answered by a drain before its subscribe completed${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    const closing: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const close of closing.splice(0).reverse()) await close();
    });

    async function nodeOn(redis: RedisServer, prefix: string): Promise<TestHub> {
      const testHub = await startHub({
        broker: redisBroker({ url: redis.url, prefix, commandTimeoutMs: 5000 }),
      });
      closing.push(() => testHub.close());
      await testHub.hub.ready;
      return testHub;
    }

    it('returns the cursor it was asked from, which the next node accepts', async () => {
      const redis = await startRedisServer();
      closing.push(() => redis.close());
      const prefix = `poll-drain:${randomUUID()}:`;
      const draining = await nodeOn(redis, prefix);
      await draining.hub.publish('a', 1);
      await draining.hub.publish('a', 2);
      await draining.hub.publish('b', 3);
      const start = await poll(draining.url, ['a', 'b']);
      expect(start.status).toBe(200);
      const asked = decodeCursor(start.body.cursor, ['a', 'b']);
      expect([...asked.keys()]).toEqual(['a', 'b']);

      // Redis answers nothing: the polls' subscribes wait on their reads while the node drains.
      await redis.command('CLIENT', 'PAUSE', '1500', 'ALL');
      const resumed = poll(draining.url, ['a', 'b'], start.body.cursor);
      const fresh = poll(draining.url, ['a', 'b']);
      await waitFor(() => draining.hub.stats().connections.polling === 2, 2000, 'both polls held');
      const closed = draining.hub.close();
      const [resumedAnswer, freshAnswer] = await Promise.all([resumed, fresh]);
      await closed;

      expect(resumedAnswer.status).toBe(200);
      expect(resumedAnswer.body.messages).toEqual([]);
      expect(resumedAnswer.body.cursor).not.toBe('e30');
      expect(decodeCursor(resumedAnswer.body.cursor, ['a', 'b'])).toEqual(asked);
      // Nothing known: an empty cursor, which a poll may send back as "no position".
      expect(freshAnswer.status).toBe(200);
      expect(freshAnswer.body.cursor).toBe('');

      const next = await nodeOn(redis, prefix);
      await next.hub.publish('b', 4);
      const after = await poll(next.url, ['a', 'b'], resumedAnswer.body.cursor);
      expect(after.status).toBe(200);
      expect(after.body.messages.map(({ data }) => data)).toEqual([4]);
      const again = await poll(next.url, ['a', 'b'], freshAnswer.body.cursor);
      expect(again.status).toBe(200);
    });
  },
);
