import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { redisBroker } from '../../src/brokers/redis.js';
import type { EncodedEnvelope } from '../../src/core/encoded-envelope.js';
import { HubCore, type Subscriber } from '../../src/core/hub.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * A bug the chaos soak found (a node restarted into a slow Redis): a subscriber that joined a
 * channel while this node's broker subscribe of it was on its way went on as subscribed when
 * that subscribe failed. The node then stood on a channel it never subscribed to at Redis, and
 * its subscribers heard nothing more, with no error and no gap (PITFALLS #20).
 */

function listener() {
  const ids: string[] = [];
  const subscriber: Subscriber = {
    onSubscribed() {},
    onGap() {},
    onEnvelope: (encoded: EncodedEnvelope) => void ids.push(encoded.envelope.id),
  };
  return { ids, subscriber };
}

describe.skipIf(redisSkipReason)(
  `subscribers that join a channel whose broker subscribe fails${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    const closing: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const close of closing.splice(0).reverse()) await close();
    });

    it('fail with it, and hear what is published once they subscribe again', async () => {
      const redis: RedisServer = await startRedisServer();
      closing.push(() => redis.close());
      const prefix = `join:${randomUUID()}:`;
      const node = new HubCore({
        broker: redisBroker({ url: redis.url, prefix, commandTimeoutMs: 300 }),
      });
      const other = new HubCore({ broker: redisBroker({ url: redis.url, prefix }) });
      closing.push(
        () => node.close(),
        () => other.close(),
      );
      await Promise.all([node.start(), other.start()]);

      // Redis answers nothing for a while: the node's subscribe of `x` times out.
      await redis.command('CLIENT', 'PAUSE', '500', 'ALL');
      const first = listener();
      const joining = listener();
      const outcomes = await Promise.allSettled([
        node.subscribe(first.subscriber, ['x']),
        node.subscribe(joining.subscriber, ['x']),
      ]);
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({
          status: 'rejected',
          reason: { code: 'BROKER_UNAVAILABLE' },
        });
      }
      expect(node.isSubscribed(joining.subscriber, 'x')).toBe(false);

      await sleep(300); // Redis answers again
      await node.subscribe(joining.subscriber, ['x']);
      const { id } = await other.publish({ channel: 'x', event: 'message', data: 1 });
      await waitFor(() => joining.ids.length > 0, 5_000, 'the envelope');
      expect(joining.ids).toEqual([id]);
    });
  },
);
