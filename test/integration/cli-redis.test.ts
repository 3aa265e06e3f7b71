import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN as bin, ensureCliBuilt, serveCli } from '../support/cli.js';
import { publishHttp, requestJson } from '../support/http-client.js';
import { type ListeningProcess, killListening } from '../support/listening-process.js';
import { findLog, logLines } from '../support/log-lines.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';
import { TestEventStream } from '../support/sse-client.js';
import { waitFor } from '../support/wait.js';

/** `tidewire serve` without the demo ticker, so that a channel holds only what a test sends. */
function serve(args: string[], env: Record<string, string> = {}): Promise<ListeningProcess> {
  return serveCli(['--no-demo', ...args], env);
}

describe.skipIf(redisSkipReason)(
  `tidewire serve --redis${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    let redis: RedisServer;
    beforeAll(async () => {
      await ensureCliBuilt();
      redis = await startRedisServer();
    }, 60_000);
    afterAll(() => redis?.close());
    afterEach(async () => {
      killListening();
      await redis.start();
    });

    it('runs two servers as one: what is published on one streams from the other', async () => {
      const prefix = `cli:${randomUUID()}:`;
      const one = await serve(['--redis', redis.url, '--redis-prefix', prefix]);
      // The second node takes its Redis from the environment, as a container would.
      const two = await serve(['--redis-prefix', prefix], { TIDEWIRE_REDIS_URL: redis.url });
      for (const node of [one, two]) {
        const connected = await waitFor(() => findLog(node.output(), 'redis connected'));
        expect(connected.redis).toMatch(/^redis:\/\/127\.0\.0\.1:\d+\/?$/);
      }

      const stream = await TestEventStream.open(`${one.url}/rt/sse?channel=orders`);
      await stream.waitForType('subscribed', 1);
      const published = [];
      for (let i = 0; i < 5; i++) published.push(await publishHttp(two.url, 'orders', { i }));
      const events = await stream.waitForType('message', 5);
      expect(events.map((event) => JSON.parse(event.data).id)).toEqual(
        published.map((answer) => answer.body.id),
      );
      // Resume on the other node from the first envelope's id: the rest, nothing else.
      stream.close();
      const resumed = await TestEventStream.open(`${two.url}/rt/sse?channel=orders`, {
        'Last-Event-ID': published[0]!.body.id,
      });
      const replayed = await resumed.waitForType('message', 4);
      expect(replayed.map((event) => JSON.parse(event.data).data.i)).toEqual([1, 2, 3, 4]);
      resumed.close();
    });

    it('starts degraded while Redis is down, says so, and recovers when it comes', async () => {
      await redis.stop();
      // With its demo ticker, which fails every second while Redis is away.
      const node = await serveCli(['--redis', redis.url, '--redis-prefix', `cli:${randomUUID()}:`]);
      await waitFor(() => findLog(node.output(), 'redis unreachable, retrying'), 10_000);
      const health = await requestJson(`${node.url}/health`);
      expect(health).toMatchObject({ status: 503, body: { status: 'degraded' } });
      const refused = await publishHttp(node.url, 'x', 1);
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ code: 'BROKER_UNAVAILABLE' });

      // The ticker starts with the server; its first tick fails while Redis is still away.
      await waitFor(() => findLog(node.output(), /^demo ticker: publish failed/), 3_000);

      await redis.start();
      const deadline = Date.now() + 10_000;
      while ((await requestJson(`${node.url}/health`)).status !== 200) {
        expect(Date.now(), 'health back to 200 within 10 s').toBeLessThan(deadline);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(findLog(node.output(), 'broker available: fan-out resumes')).toMatchObject({
        level: 'info',
      });
      expect((await publishHttp(node.url, 'x', 1)).status).toBe(201);
      // The ticker said it failed once, not once a second, and says when it publishes again.
      await waitFor(() => findLog(node.output(), 'demo ticker: publishing again'), 3_000);
      const failures = logLines(node.output()).filter((line) =>
        line.msg.startsWith('demo ticker: publish failed'),
      );
      expect(failures).toHaveLength(1);
    }, 30_000);

    it('never logs the Redis password, from the start to the drain', async () => {
      // A user with a password (ACL), beside the default user that the other tests use.
      const user = `u${randomUUID().slice(0, 8)}`;
      await redis.command('ACL', 'SETUSER', user, 'on', '>hunter2-secret', '~*', '&*', '+@all');
      const url = redis.url.replace('redis://', `redis://${user}:hunter2-secret@`);
      const node = await serve(['--redis-prefix', `cli:${randomUUID()}:`], {
        TIDEWIRE_REDIS_URL: url,
      });
      const connected = await waitFor(() => findLog(node.output(), 'redis connected'));
      expect(connected.redis).toBe(url.replace('hunter2-secret', '***'));
      expect((await publishHttp(node.url, 'x', 1)).status).toBe(201);
      node.child.kill('SIGTERM');
      expect(await node.exited).toBe(0);
      expect(findLog(node.output(), 'hub started')?.config).toMatchObject({
        redis: connected.redis,
      });
      expect(node.output()).not.toContain('hunter2');
    });

    it('refuses a URL that is not Redis, with a message and exit code 1', async () => {
      const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--redis', 'http://x']);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain('not a Redis URL');
    });
  },
);
