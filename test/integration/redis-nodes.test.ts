import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisBroker } from '../../src/brokers/redis.js';
import type { ClientOptions, Envelope, TransportName } from '../../src/client/index.js';
import type { TestHub } from '../support/hub-server.js';
import {
  Recorder,
  Resources,
  VARIANTS,
  fastOptions,
  range,
  stream,
} from '../support/client-harness.js';
import { poll } from '../support/http-client.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';
import {
  type RoundRobinProxy,
  type Routed,
  startRoundRobinProxy,
} from '../support/round-robin-proxy.js';
import { TestEventStream } from '../support/sse-client.js';
import { sleep, waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

/**
 * Several hub nodes as one, on a real redis-server (PITFALLS #2, #3, #19): a client on one
 * node receives what the others publish; a client behind a load balancer with no sticky
 * sessions, moved from node to node mid-stream, loses, repeats and skips nothing; polls of one
 * client land on every node in turn; SSE and WebSocket resume across nodes. Every test has its
 * own key prefix, so the nodes of one test share history with each other and with no one else.
 */

const CHANNELS = ['a', 'b'] as const;

describe.skipIf(redisSkipReason)(
  `hub nodes on one Redis${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    let redis: RedisServer;
    const resources = new Resources();
    const proxies: RoundRobinProxy[] = [];
    const streams: TestEventStream[] = [];
    const sockets: TestSocket[] = [];

    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(() => redis?.close());
    afterEach(async () => {
      for (const eventStream of streams.splice(0)) eventStream.close();
      for (const socket of sockets.splice(0)) socket.close();
      await resources.closeAll();
      await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    });

    /** Three nodes (by default) on one Redis and one fresh prefix. */
    async function startNodes(count = 3): Promise<TestHub[]> {
      const prefix = `nodes:${randomUUID()}:`;
      const nodes = await Promise.all(
        range(1, count).map(() =>
          resources.hub({
            broker: redisBroker({ url: redis.url, prefix, reconnectMaxDelayMs: 200 }),
          }),
        ),
      );
      await Promise.all(nodes.map((node) => node.hub.ready));
      return nodes;
    }

    async function roundRobin(nodes: readonly TestHub[]): Promise<RoundRobinProxy> {
      const proxy = await startRoundRobinProxy(
        nodes.map(({ port }) => ({ host: '127.0.0.1', port })),
      );
      proxies.push(proxy);
      return proxy;
    }

    /**
     * A publish function for `stream` that spreads the stream over `publishers` (by `n`) and
     * keeps every envelope it was answered, in publish order.
     */
    function spreadOver(publishers: readonly TestHub[]) {
      const published: Envelope[] = [];
      const publish = async (channel: string, data: { n: number }) => {
        const node = publishers[data.n % publishers.length] as TestHub;
        published.push(await node.hub.publish(channel, data));
      };
      const of = (channel: string) => published.filter((envelope) => envelope.channel === channel);
      return { publish, of };
    }

    /** `stream`, slowed to a pace where a drop lands mid-stream rather than after it. */
    async function pacedStream(
      from: number,
      to: number,
      publish: (channel: string, data: { n: number }) => Promise<unknown>,
      pauseMs = 2,
    ): Promise<void> {
      for (let n = from; n <= to; n++) {
        await stream(n, n, CHANNELS, publish);
        await sleep(pauseMs);
      }
    }

    const isStreamOrPoll = ({ kind, url }: Routed) =>
      kind === 'upgrade' || url.startsWith('/rt/sse') || url.startsWith('/rt/poll');

    describe.each(VARIANTS)('client over $name', ({ transport, options }) => {
      const clientOptions = (extra: ClientOptions = {}) =>
        fastOptions(transport, { ...options, ...extra });

      it('receives on node A what nodes B and C publish, alternately, once each and in order', async () => {
        const [a, b, c] = (await startNodes()) as [TestHub, TestHub, TestHub];
        const recorder = new Recorder(resources.client(a.url, clientOptions()));
        await Promise.all(CHANNELS.map((channel) => recorder.subscribe(channel).ready));

        const { publish, of } = spreadOver([b, c]);
        await stream(0, 79, CHANNELS, publish);

        for (const channel of CHANNELS) await recorder.waitForN(channel, 79);
        for (const channel of CHANNELS) {
          // The very envelopes B and C answered: one numbering per channel across the nodes.
          expect(recorder.envelopes(channel)).toEqual(of(channel));
          expect(recorder.sequence(channel)).toEqual(range(0, 79));
        }
        expect(recorder.of('gap')).toEqual([]);
      });

      it('moves between nodes behind a round-robin proxy, dropped mid-stream, and loses, repeats and skips nothing', async () => {
        const nodes = await startNodes();
        const proxy = await roundRobin(nodes);
        const recorder = new Recorder(resources.client(proxy.url, clientOptions()));
        await Promise.all(CHANNELS.map((channel) => recorder.subscribe(channel).ready));

        const { publish, of } = spreadOver(nodes);
        const drops = 4;
        for (let round = 0; round < drops; round++) {
          const from = round * 30;
          const publishing = pacedStream(from, from + 29, publish);
          // Mid-stream: some of this round is in, the rest still to be published.
          await recorder.waitForN('a', from + 5);
          proxy.dropAll();
          await publishing;
        }
        await pacedStream(drops * 30, drops * 30 + 19, publish);

        const last = drops * 30 + 19;
        for (const channel of CHANNELS) await recorder.waitForN(channel, last);
        for (const channel of CHANNELS) {
          expect(recorder.sequence(channel)).toEqual(range(0, last));
          expect(recorder.envelopes(channel)).toEqual(of(channel));
        }
        expect(recorder.of('gap')).toEqual([]);
        // It really moved: its streams (or polls) were served by more than one node.
        const served = proxy.servedBy(isStreamOrPoll);
        expect(served.filter((count) => count > 0).length).toBeGreaterThanOrEqual(2);
        if (!transport.endsWith('polling')) {
          // Each drop cut the stream: the client saw it and came back (elsewhere).
          expect(recorder.count('close')).toBeGreaterThanOrEqual(drops);
          expect(served.reduce((x, y) => x + y)).toBeGreaterThanOrEqual(drops + 1);
        }
      });
    });

    describe.each(['long-polling', 'polling'] as const)(
      '%s behind a round-robin proxy',
      (transport: TransportName) => {
        it('polls each node in turn and loses and repeats nothing', async () => {
          const nodes = await startNodes();
          const proxy = await roundRobin(nodes);
          const recorder = new Recorder(resources.client(proxy.url, fastOptions(transport)));
          await Promise.all(CHANNELS.map((channel) => recorder.subscribe(channel).ready));

          const { publish, of } = spreadOver(nodes);
          // Over ~0.6 s: a dozen short polls at least, and many held ones.
          await pacedStream(0, 99, publish, 6);
          for (const channel of CHANNELS) await recorder.waitForN(channel, 99);

          for (const channel of CHANNELS) {
            expect(recorder.sequence(channel)).toEqual(range(0, 99));
            expect(recorder.envelopes(channel)).toEqual(of(channel));
          }
          expect(recorder.of('gap')).toEqual([]);
          const polls = proxy.routed.filter(({ url }) => url.startsWith('/rt/poll'));
          // Nothing but polls went through: each went to the node after the previous one's.
          expect(polls).toHaveLength(proxy.routed.length);
          expect(polls.map(({ node }) => node)).toEqual(polls.map((_, i) => i % 3));
          for (const count of proxy.servedBy()) expect(count).toBeGreaterThanOrEqual(3);
          if (transport === 'long-polling') {
            // Held polls, not just an answer each time: some waited for the next envelope.
            expect(polls.some(({ url }) => /[?&]timeout=[1-9]/.test(url))).toBe(true);
          }
        });
      },
    );

    describe('raw polls across nodes', () => {
      it('answers a long poll held on one node with what another node publishes', async () => {
        const [a, b] = (await startNodes(2)) as [TestHub, TestHub];
        const start = await poll(a.url, ['a']);
        expect(start.body.messages).toEqual([]);
        const held = poll(a.url, ['a'], start.body.cursor, 5_000);
        await waitFor(() => a.hub.stats().connections['long-polling'] === 1, 5000, 'a held poll');
        const startedAt = Date.now();
        const envelope = await b.hub.publish('a', { n: 0 });
        const answer = await held;
        expect(answer.status).toBe(200);
        expect(answer.body.messages).toEqual([envelope]);
        expect(Date.now() - startedAt).toBeLessThan(2_000);
        expect(answer.body.cursor).toBe(envelope.id);
      });

      it('reads on any node what another has just published, from each cursor, once', async () => {
        const [a, b, c] = (await startNodes()) as [TestHub, TestHub, TestHub];
        const { body: start } = await poll(c.url, CHANNELS.slice());
        const { publish, of } = spreadOver([a]);
        await stream(0, 4, CHANNELS, publish);

        // Read your writes: B took no part in any of it, and has it all (channel by channel).
        const first = await poll(b.url, CHANNELS.slice(), start.cursor);
        expect(first.body.messages).toEqual([...of('a'), ...of('b')]);
        const second = await poll(c.url, CHANNELS.slice(), first.body.cursor);
        expect(second.body.messages).toEqual([]);
        await stream(5, 6, CHANNELS, publish);
        const third = await poll(b.url, CHANNELS.slice(), second.body.cursor);
        expect(third.body.messages).toEqual([...of('a'), ...of('b')].filter(isN(5, 6)));
      });
    });

    describe('resume across nodes', () => {
      it('resumes an SSE stream of node A on node B by Last-Event-ID, once and in order', async () => {
        const [a, b, c] = (await startNodes()) as [TestHub, TestHub, TestHub];
        const first = await openStream(`${a.url}/rt/sse?channel=a`);
        await first.waitForType('subscribed', 1);
        await stream(0, 4, ['a'], spreadOver([b, c]).publish);
        await first.waitForType('message', 5);
        const lastEventId = first.lastEventId as string;
        first.close();

        const missed = spreadOver([c]);
        await stream(5, 9, ['a'], missed.publish);
        const second = await openStream(`${b.url}/rt/sse?channel=a`, {
          'Last-Event-ID': lastEventId,
        });
        const [subscribed] = await second.waitForType('subscribed', 1);
        expect(JSON.parse(subscribed!.data)).toEqual({
          channels: [{ channel: 'a', position: lastEventId, recovered: true }],
        });
        await second.waitForType('message', 5);
        const live = spreadOver([a]);
        await stream(10, 11, ['a'], live.publish);
        await second.waitForType('message', 7);
        const messages = second.ofType('message');
        expect(messages.map((event) => JSON.parse(event.data) as Envelope)).toEqual([
          ...missed.of('a'),
          ...live.of('a'),
        ]);
        expect(messages.map((event) => event.id)).toEqual(
          [...missed.of('a'), ...live.of('a')].map((envelope) => envelope.id),
        );
        expect(second.ofType('gap')).toEqual([]);
      });

      it('resumes two channels of node A on node C from the lastEventId cursor', async () => {
        const [a, b, c] = (await startNodes()) as [TestHub, TestHub, TestHub];
        const query = 'channel=a&channel=b';
        const first = await openStream(`${a.url}/rt/sse?${query}`);
        await first.waitForType('subscribed', 1);
        await stream(0, 2, CHANNELS, spreadOver([a]).publish);
        await first.waitForType('message', 6);
        const cursor = first.lastEventId as string;
        first.close();

        const missed = spreadOver([b]);
        await stream(3, 5, CHANNELS, missed.publish);
        const second = await openStream(
          `${c.url}/rt/sse?${query}&lastEventId=${encodeURIComponent(cursor)}`,
        );
        await second.waitForType('message', 6);
        await sleep(50);
        const received = second
          .ofType('message')
          .map((event) => JSON.parse(event.data) as Envelope);
        for (const channel of CHANNELS) {
          expect(received.filter((envelope) => envelope.channel === channel)).toEqual(
            missed.of(channel),
          );
        }
        expect(received).toHaveLength(6);
        expect(second.ofType('gap')).toEqual([]);
      });

      it('resumes a WebSocket subscription of node A on node B with since, once and in order', async () => {
        const [a, b, c] = (await startNodes()) as [TestHub, TestHub, TestHub];
        const first = await openSocket(a);
        await subscribe(first, ['a']);
        await stream(0, 4, ['a'], spreadOver([c]).publish);
        const seen = await first.waitForType('message', 5);
        const since = seen.at(-1)!.id as string;
        first.close();

        const missed = spreadOver([a, c]);
        await stream(5, 9, ['a'], missed.publish);
        const second = await openSocket(b);
        const [subscribed] = await subscribe(second, ['a'], { a: since });
        expect(subscribed).toEqual({
          type: 'subscribed',
          channel: 'a',
          position: since,
          recovered: true,
        });
        const live = spreadOver([c]);
        await stream(10, 11, ['a'], live.publish);
        const messages = await second.waitForType('message', 7);
        await sleep(50);
        expect(second.ofType('message')).toEqual(
          [...missed.of('a'), ...live.of('a')].map((envelope) => ({
            type: 'message',
            ...envelope,
          })),
        );
        expect(messages).toHaveLength(7);
        expect(second.ofType('gap')).toEqual([]);
      });
    });

    async function openStream(url: string, headers: Record<string, string> = {}) {
      const eventStream = await TestEventStream.open(url, headers);
      streams.push(eventStream);
      expect(eventStream.status).toBe(200);
      return eventStream;
    }

    async function openSocket(node: TestHub): Promise<TestSocket> {
      const socket = await connectWs(node.wsUrl);
      sockets.push(socket);
      return socket;
    }
  },
);

function isN(...values: number[]) {
  return (envelope: Envelope) => values.includes((envelope.data as { n: number }).n);
}
