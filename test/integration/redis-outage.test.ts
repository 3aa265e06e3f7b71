import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisBrokerOptions, redisBroker } from '../../src/brokers/redis.js';
import { Client, type Envelope } from '../../src/client/index.js';
import type { Logger } from '../../src/server/index.js';
import type { TestHub } from '../support/hub-server.js';
import {
  Recorder,
  Resources,
  VARIANTS,
  type Variant,
  fastOptions,
  range,
  stream,
} from '../support/client-harness.js';
import { poll, publishHttp, requestJson } from '../support/http-client.js';
import {
  type RedisServer,
  type RedisServerOptions,
  redisSkipReason,
  startRedisServer,
} from '../support/redis-server.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Redis going away under three running hub nodes (PITFALLS #20: an outage must never silently
 * stop delivery): publishes fail at once and loudly while it is down, open connections stay,
 * `/health` says so, the logs say so; once it is back, every subscriber gets what was
 * published, once and in order, or a `gap` where Redis lost it. Real redis-server processes,
 * stopped and started; clients of every transport, spread over the nodes.
 */

const CHANNELS = ['a', 'b'] as const;
/** Small, so that a test would see a publish hang well within its own time. */
const COMMAND_TIMEOUT_MS = 1_000;

interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly object: object;
}

interface Node extends TestHub {
  readonly logs: LogLine[];
}

interface Subscriber {
  readonly variant: Variant;
  readonly node: Node;
  readonly proxy: TcpProxy;
  readonly recorder: Recorder;
}

describe.skipIf(redisSkipReason)(
  `hub nodes through a Redis outage${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    const resources = new Resources();
    const servers: RedisServer[] = [];

    afterEach(async () => {
      await resources.closeAll();
      await Promise.all(servers.splice(0).map((server) => server.close()));
    });

    async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
      const server = await startRedisServer(options);
      servers.push(server);
      return server;
    }

    /** Nodes on one Redis and one fresh prefix, each with a logger that records. */
    async function startNodes(
      redis: RedisServer,
      count = 3,
      brokerOptions: RedisBrokerOptions = {},
    ): Promise<Node[]> {
      const prefix = `outage:${randomUUID()}:`;
      const nodes = await Promise.all(
        range(1, count).map(async () => {
          const logs: LogLine[] = [];
          const record =
            (level: LogLine['level']) =>
            (object: object, message = '') =>
              logs.push({ level, message, object });
          const logger: Logger = {
            info: record('info'),
            warn: record('warn'),
            error: record('error'),
          };
          const broker = redisBroker({
            url: redis.url,
            prefix,
            reconnectMaxDelayMs: 200,
            commandTimeoutMs: COMMAND_TIMEOUT_MS,
            ...brokerOptions,
          });
          const testHub = await resources.hub({ broker, logger });
          return Object.assign(testHub, { logs });
        }),
      );
      await Promise.all(nodes.map((node) => node.hub.ready));
      return nodes;
    }

    /** One client per variant, each on another node than the previous one, subscribed. */
    async function subscribeEverywhere(nodes: readonly Node[]): Promise<Subscriber[]> {
      const subscribers = await Promise.all(
        VARIANTS.map(async (variant, i) => {
          const node = nodes[i % nodes.length] as Node;
          // Through a proxy of its own, so that a test can cut this client's link alone.
          const proxy = await resources.proxy({ host: '127.0.0.1', port: node.port });
          const options = fastOptions(variant.transport, variant.options);
          const recorder = new Recorder(resources.client(proxy.url, options));
          return { variant, node, proxy, recorder };
        }),
      );
      await Promise.all(
        subscribers.flatMap(({ recorder }) =>
          CHANNELS.map((channel) => recorder.subscribe(channel).ready),
        ),
      );
      return subscribers;
    }

    async function everyoneHas(subscribers: readonly Subscriber[], n: number): Promise<void> {
      for (const { recorder } of subscribers) {
        for (const channel of CHANNELS) await recorder.waitForN(channel, n);
      }
    }

    /**
     * The publisher of a backend that retries: each publish goes to the node of its `n`, and
     * one that fails because the broker is unavailable is tried again until it succeeds.
     */
    function retryingPublisher(nodes: readonly Node[]) {
      const acked: Envelope[] = [];
      const failures: Array<{ code: unknown; ms: number }> = [];
      const publish = async (channel: string, data: { n: number }) => {
        const node = nodes[data.n % nodes.length] as Node;
        for (;;) {
          const startedAt = Date.now();
          try {
            acked.push(await node.hub.publish(channel, data));
            return;
          } catch (error) {
            const code = (error as { code?: unknown }).code;
            failures.push({ code, ms: Date.now() - startedAt });
            if (code !== 'BROKER_UNAVAILABLE') throw error;
            await sleep(20);
          }
        }
      };
      const of = (channel: string) => acked.filter((envelope) => envelope.channel === channel);
      return { publish, of, failures };
    }

    const health = (node: Node) => requestJson(`${node.url}/health`);

    async function waitForHealth(nodes: readonly Node[], status: number): Promise<void> {
      const deadline = Date.now() + 5_000;
      for (const node of nodes) {
        while ((await health(node)).status !== status) {
          if (Date.now() > deadline) throw new Error(`${node.url}/health never answered ${status}`);
          await sleep(20);
        }
      }
    }

    const isStreaming = ({ variant }: Subscriber) => !variant.transport.endsWith('polling');

    it('fails publishes at once while a persistent Redis is down, keeps connections, and then delivers every acked envelope once, in order', async () => {
      const redis = await startRedis({ persistent: true });
      const nodes = await startNodes(redis);
      const subscribers = await subscribeEverywhere(nodes);
      const publisher = retryingPublisher(nodes);
      await stream(0, 29, CHANNELS, publisher.publish);
      await everyoneHas(subscribers, 29);
      const streaming = subscribers.filter(isStreaming);
      const polling = subscribers.filter((subscriber) => !isStreaming(subscriber));
      const closesBefore = streaming.map(({ recorder }) => recorder.count('close'));
      const pollingClosesBefore = polling.map(({ recorder }) => recorder.count('close'));
      const streamsBefore = nodes.map((node) => {
        const { websocket, sse } = node.hub.stats().connections;
        return { websocket, sse };
      });
      expect(publisher.failures).toEqual([]);

      await redis.stop();
      // The backend goes on publishing: every publish fails until Redis is back, then goes in.
      const meanwhile = stream(30, 59, CHANNELS, publisher.publish);
      meanwhile.catch(() => {}); // awaited below; not unhandled should the test fail first
      await waitForHealth(nodes, 503);
      for (const node of nodes) {
        expect((await health(node)).body).toMatchObject({ status: 'degraded' });
        expect(node.hub.stats().broker).toBe('unavailable');
        const startedAt = Date.now();
        await expect(node.hub.publish('a', { n: -1 })).rejects.toMatchObject({
          name: 'TidewireError',
          code: 'BROKER_UNAVAILABLE',
          message: expect.stringMatching(/redis/i),
        });
        expect(Date.now() - startedAt).toBeLessThan(COMMAND_TIMEOUT_MS);
        const answer = await publishHttp(node.url, 'a', { n: -1 });
        expect(answer.status).toBe(503);
        expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
        expect(answer.body).toEqual({ code: 'BROKER_UNAVAILABLE', message: expect.any(String) });
      }
      // A client on a stream publishes: refused at once, and its stream stays.
      for (const { recorder } of streaming) {
        const refused = recorder.client.publish('side', { n: -1 }, { timeoutMs: 1_000 });
        await expect(refused).rejects.toMatchObject({
          code: 'BROKER_UNAVAILABLE',
        });
      }
      // A polling client has no link once its polls fail (each one needs the broker): what
      // it publishes then waits in its outbox, and goes out once, when Redis is back.
      for (const [i, { recorder }] of polling.entries()) {
        await recorder.waitForEvent('close', pollingClosesBefore[i]! + 1);
      }
      const queued = polling.map(({ recorder }, i) =>
        recorder.client.publish('side', { n: i }, { timeoutMs: 8_000 }),
      );
      await sleep(300); // an outage that lasts: heartbeats go on meanwhile

      // Streams stay open through it: no close, none fewer on any node.
      expect(streaming.map(({ recorder }) => recorder.count('close'))).toEqual(closesBefore);
      expect(streaming.map(({ recorder }) => recorder.client.readyState)).toEqual(
        streaming.map(() => Client.OPEN),
      );
      for (const [i, node] of nodes.entries()) {
        const { websocket, sse } = node.hub.stats().connections;
        expect({ websocket, sse }).toEqual(streamsBefore[i]);
      }
      // Publishes failed at once, each with the same clear code.
      expect(publisher.failures.length).toBeGreaterThan(0);
      for (const failure of publisher.failures) {
        expect(failure.code).toBe('BROKER_UNAVAILABLE');
        expect(failure.ms).toBeLessThan(COMMAND_TIMEOUT_MS);
      }

      await redis.start();
      await meanwhile;
      await waitForHealth(nodes, 200);
      expect((await health(nodes[0]!)).body).toEqual({ status: 'ok' });
      expect(nodes[0]!.hub.stats().broker).toBe('available');
      await stream(60, 89, CHANNELS, publisher.publish);
      // The queued publishes went in once each: they are the whole history of their channel.
      const sent = await Promise.all(queued);
      const epoch = sent[0]!.id.split('-')[0]!;
      const side = await poll(nodes[0]!.url, ['side'], `${epoch}-0`);
      expect(side.body.messages).toEqual(
        [...sent].sort((x, y) => x.id.localeCompare(y.id, 'en', { numeric: true })),
      );
      expect(sent.map(({ data }) => data)).toEqual(polling.map((_, i) => ({ n: i })));

      await everyoneHas(subscribers, 89);
      await sleep(100); // a repeat would come right after
      for (const { variant, recorder } of subscribers) {
        for (const channel of CHANNELS) {
          expect(recorder.sequence(channel), `${variant.name} on ${channel}`).toEqual(range(0, 89));
          expect(recorder.envelopes(channel)).toEqual(publisher.of(channel));
        }
      }
      expect(streaming.map(({ recorder }) => recorder.count('close'))).toEqual(closesBefore);
    });

    it('reports a gap to every client each time a Redis without persistence is back, then delivers what follows', async () => {
      const redis = await startRedis();
      const nodes = await startNodes(redis);
      const subscribers = await subscribeEverywhere(nodes);
      const publisher = retryingPublisher(nodes);
      await stream(0, 19, CHANNELS, publisher.publish);
      await everyoneHas(subscribers, 19);

      // Twice: which of a node's two links comes back first is up to chance each time.
      for (const round of [1, 2]) {
        await redis.stop();
        await waitForHealth(nodes, 503);
        await redis.start();
        // Redis lost the history: each client hears of it by itself, before anything new
        for (const { recorder } of subscribers) {
          await recorder.waitForEvent('gap', round * CHANNELS.length);
        }
        // and knows where it now stands: a stream cut and back, or the next polls, resume
        // from there, with no second gap.
        const streaming = subscribers.filter(isStreaming);
        const opensBefore = streaming.map(({ recorder }) => recorder.count('open'));
        for (const { proxy } of subscribers) proxy.dropAll();
        for (const [i, { recorder }] of streaming.entries()) {
          await recorder.waitForEvent('open', opensBefore[i]! + 1);
        }
        await sleep(200);
        await stream(round * 20, round * 20 + 19, CHANNELS, publisher.publish);
        await everyoneHas(subscribers, round * 20 + 19);
      }

      await sleep(100);
      for (const { variant, recorder } of subscribers) {
        for (const channel of CHANNELS) {
          expect(recorder.sequence(channel), `${variant.name} on ${channel}`).toEqual([
            ...range(0, 19),
            'gap',
            ...range(20, 39),
            'gap',
            ...range(40, 59),
          ]);
          expect(recorder.envelopes(channel)).toEqual(publisher.of(channel));
        }
      }
      // Each restart began a new history (a new epoch in every id).
      const epochs = new Set(publisher.of('a').map(({ id }) => id.split('-')[0]));
      expect(epochs.size).toBe(3);
    });

    it('delivers what was published while only the pub/sub links were down, by resync, with no gap and no repeat', async () => {
      const redis = await startRedis();
      const nodes = await startNodes(redis);
      const subscribers = await subscribeEverywhere(nodes);
      const published: Envelope[] = [];
      const publish = async (channel: string, data: { n: number }) => {
        const node = nodes[data.n % nodes.length] as Node;
        published.push(await node.hub.publish(channel, data));
      };
      await stream(0, 9, CHANNELS, publish);
      await everyoneHas(subscribers, 9);

      for (let round = 1; round <= 3; round++) {
        // Every subscribed fan-out link at once; the command links stay. (A node with only a
        // poll between two polls has nothing subscribed: its link is no pub/sub client then.)
        const killed = await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
        expect(Number(killed)).toBeGreaterThanOrEqual(2); // the nodes with streams
        // These go into history while no node listens: only a resync can bring them now,
        // for nothing is published after them until every client has them.
        await stream(round * 10, round * 10 + 9, CHANNELS, publish);
        await everyoneHas(subscribers, round * 10 + 9);
      }

      await sleep(100);
      for (const { variant, recorder } of subscribers) {
        for (const channel of CHANNELS) {
          expect(recorder.sequence(channel), `${variant.name} on ${channel}`).toEqual(range(0, 39));
          expect(recorder.envelopes(channel)).toEqual(
            published.filter((envelope) => envelope.channel === channel),
          );
        }
      }
    });

    it('logs a warning when Redis goes away and an info line when it is back, once each', async () => {
      const redis = await startRedis();
      const [node] = (await startNodes(redis, 1)) as [Node];
      expect(node.logs).toEqual([]);

      await redis.stop();
      await waitFor(() => node.logs.length > 0, 5_000, 'a log line');
      expect(node.logs).toEqual([
        {
          level: 'warn',
          message: expect.stringMatching(/broker unavailable/),
          object: { broker: expect.stringMatching(/redis/) },
        },
      ]);
      await sleep(500); // several reconnect attempts fail meanwhile: no line for each
      expect(node.logs).toHaveLength(1);

      await redis.start();
      await waitFor(() => node.logs.length > 1, 5_000, 'a second log line');
      await sleep(100);
      expect(node.logs.slice(1)).toEqual([
        {
          level: 'info',
          message: expect.stringMatching(/broker available/),
          object: { broker: expect.stringMatching(/redis/) },
        },
      ]);
    });

    it('fails a publish to a Redis that does not answer within the command timeout, never hangs', async () => {
      const redis = await startRedis();
      const [node] = (await startNodes(redis, 1, { commandTimeoutMs: 200 })) as [Node];
      await node.hub.publish('a', { n: 0 });

      // Redis is up, the link is open, and nothing is answered for a while.
      await redis.command('CLIENT', 'PAUSE', '1500', 'ALL');
      let startedAt = Date.now();
      await expect(node.hub.publish('a', { n: 1 })).rejects.toMatchObject({
        code: 'BROKER_UNAVAILABLE',
      });
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      startedAt = Date.now();
      const answer = await publishHttp(node.url, 'a', { n: 2 });
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      await sleep(1_600);
    });
  },
);
