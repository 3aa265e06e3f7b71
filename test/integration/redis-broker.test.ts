import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBroker, type RedisBrokerOptions } from '../../src/brokers/redis.js';
import type { ChannelRead } from '../../src/core/broker.js';
import { type Position, parsePosition } from '../../src/core/position.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import { TidewireError } from '../../src/protocol/errors.js';
import { type RedisServer, redisSkipReason, startRedisServer } from '../support/redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * What only the Redis broker has: a store that can go away and come back, a pub/sub link that
 * can drop on its own, scripts Redis can forget, keys that must not outlive their use, a
 * client the user owns. The generic contract runs in broker-redis.test.ts.
 */

/** A broker and everything it told its handler. */
interface Node {
  readonly broker: RedisBroker;
  readonly delivered: Envelope[];
  /** The JSON text the broker handed with each delivered envelope (what transports send). */
  readonly jsons: Array<string | undefined>;
  readonly resyncs: string[][];
  readonly availability: Array<[available: boolean, detail: string]>;
  /** Runs inside the broker's onResync call, as the hub's would. */
  onResync?: (channels: readonly string[]) => void;
}

const positionOf = (envelope: Envelope): Position => parsePosition(envelope.id);

describe.skipIf(redisSkipReason)(
  `RedisBroker${redisSkipReason ? ` (${redisSkipReason})` : ''}`,
  () => {
    // One Redis for the tests that leave it running; a test that stops or kills something
    // gets its own (`ownRedis`), so that nothing else sees its outage.
    let shared: RedisServer;
    let admin: Redis;
    const brokers: RedisBroker[] = [];
    const servers: RedisServer[] = [];
    const clients: Redis[] = [];
    let prefix = '';

    beforeAll(async () => {
      shared = await startRedisServer();
      admin = new Redis(shared.url);
    });
    afterAll(async () => {
      admin?.disconnect();
      await shared?.close();
    });
    afterEach(async () => {
      await Promise.all(brokers.splice(0).map((broker) => broker.close()));
      for (const client of clients.splice(0)) client.disconnect();
      await Promise.all(servers.splice(0).map((server) => server.close()));
    });
    // Each test is its own namespace (cf centrifuge's getUniquePrefix).
    const newPrefix = () => {
      prefix = `test:${randomUUID()}:`;
    };
    newPrefix();
    afterEach(newPrefix);

    async function ownRedis(options: { persistent?: boolean } = {}): Promise<RedisServer> {
      const server = await startRedisServer(options);
      servers.push(server);
      return server;
    }

    async function startNode(options: RedisBrokerOptions = {}): Promise<Node> {
      const broker = new RedisBroker({
        url: shared.url,
        prefix,
        reconnectMaxDelayMs: 100,
        ...options,
      });
      brokers.push(broker);
      const node: Node = { broker, delivered: [], jsons: [], resyncs: [], availability: [] };
      await broker.start({
        onEnvelope: (envelope, json) => {
          node.delivered.push(envelope);
          node.jsons.push(json);
        },
        onResync: (channels) => {
          node.resyncs.push([...channels].sort());
          node.onResync?.(channels);
        },
        onAvailabilityChange: (available, detail) => node.availability.push([available, detail]),
      });
      return node;
    }

    const publish = (node: Node, channel: string, data: unknown) =>
      node.broker.publish({ channel, event: 'message', data });

    /** Publishes while Redis holds writes, then stops Redis: how that publish ended, and when. */
    async function publishAsRedisStops(redis: RedisServer, node: Node) {
      // Redis holds write commands (scripts included) unanswered: the publish is sent and waits.
      await redis.command('CLIENT', 'PAUSE', '10000', 'WRITE');
      const started = performance.now();
      const inFlight = publish(node, 'a', 'in flight').then(
        (envelope) => ({ envelope }),
        (error: unknown) => ({ error }),
      );
      await sleep(100);
      await redis.stop();
      const outcome = await inFlight;
      return { outcome, elapsedMs: performance.now() - started };
    }

    /** Starts Redis again and reads channel `a` from before `first`, once nothing can be resent. */
    async function historyAfterRestart(redis: RedisServer, node: Node, first: Envelope) {
      await redis.start();
      await waitFor(() => node.broker.isAvailable(), 5_000, 'the broker to reconnect');
      await sleep(200);
      return node.broker.read('a', { ...positionOf(first), seq: 0 });
    }

    /** Runs `operation`, which must reject with BROKER_UNAVAILABLE; returns how long it took. */
    async function expectUnavailable(operation: () => Promise<unknown>): Promise<number> {
      const started = performance.now();
      const error = await operation().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(TidewireError);
      expect(error).toMatchObject({ code: 'BROKER_UNAVAILABLE' });
      expect((error as Error).message).toMatch(/^redis is unavailable: \S/);
      return elapsed;
    }

    describe('while Redis is down', () => {
      it('rejects publish, read and subscribe at once with BROKER_UNAVAILABLE', async () => {
        const redis = await ownRedis();
        // A long command timeout: a rejection that waited for it would show in the timings.
        const node = await startNode({ url: redis.url, commandTimeoutMs: 10_000 });
        await node.broker.subscribe('a');
        expect(node.broker.isAvailable()).toBe(true);

        await redis.stop();
        await waitFor(() => !node.broker.isAvailable(), 5_000, 'the broker to notice');
        expect(node.availability).toEqual([
          [false, expect.stringMatching(/^redis connection lost/)],
        ]);

        const timings = [
          await expectUnavailable(() => publish(node, 'a', 'lost?')),
          await expectUnavailable(() => node.broker.read('a')),
          await expectUnavailable(() => node.broker.subscribe('b')),
        ];
        for (const ms of timings) expect(ms).toBeLessThan(2_000);
        expect(node.broker.isAvailable()).toBe(false);
      });

      it('reconnects by itself once Redis is back, subscribed again, and asks for a resync', async () => {
        const redis = await ownRedis();
        const node = await startNode({ url: redis.url });
        const publisher = await startNode({ url: redis.url });
        await node.broker.subscribe('a');
        await node.broker.subscribe('b');

        await redis.stop();
        await waitFor(() => !node.broker.isAvailable(), 5_000, 'the broker to notice');
        expect(node.resyncs).toEqual([]);
        await redis.start();
        await waitFor(() => node.broker.isAvailable(), 5_000, 'the broker to reconnect');

        expect(node.availability.map(([available]) => available)).toEqual([false, true]);
        expect(node.availability[1]?.[1]).toMatch(/reachable/);
        await waitFor(() => node.resyncs.length > 0, 2_000, 'onResync');
        expect(node.resyncs).toEqual([['a', 'b']]);

        // Fan-out works again without a new subscribe() (the publisher needs to be back too).
        await waitFor(() => publisher.broker.isAvailable(), 5_000, 'the publisher to reconnect');
        const sent = [await publish(publisher, 'a', 1), await publish(publisher, 'b', 2)];
        await waitFor(() => node.delivered.length >= 2, 2_000, 'fan-out after the restart');
        expect(node.delivered).toEqual(sent);
      });

      it('rejects a publish that was in flight when Redis went away, and did not store it', async () => {
        const redis = await ownRedis({ persistent: true });
        const node = await startNode({ url: redis.url, commandTimeoutMs: 10_000 });
        const before = await publish(node, 'a', 'stored');
        const { outcome, elapsedMs } = await publishAsRedisStops(redis, node);
        expect(elapsedMs).toBeLessThan(2_000);
        expect(outcome).toMatchObject({ error: { code: 'BROKER_UNAVAILABLE' } });
        // Nothing was stored behind the rejection, and nothing is resent on reconnect.
        expect(await historyAfterRestart(redis, node, before)).toEqual({
          epoch: positionOf(before).epoch,
          top: 1,
          envelopes: [before],
        });
      });

      it('starts degraded after startTimeoutMs and becomes available when Redis starts', async () => {
        const redis = await ownRedis();
        await redis.stop();
        const started = performance.now();
        const node = await startNode({ url: redis.url, startTimeoutMs: 300 });
        const elapsed = performance.now() - started;
        expect(elapsed).toBeGreaterThanOrEqual(290);
        expect(elapsed).toBeLessThan(2_000);
        expect(node.broker.isAvailable()).toBe(false);
        expect(node.availability).toEqual([
          [false, expect.stringMatching(/^redis is unreachable/)],
        ]);
        await expectUnavailable(() => publish(node, 'a', 'too early'));
        await expectUnavailable(() => node.broker.subscribe('a'));

        await redis.start();
        await waitFor(() => node.broker.isAvailable(), 5_000, 'the broker to connect');
        expect(node.availability.at(-1)?.[0]).toBe(true);
        await node.broker.subscribe('a');
        const envelope = await publish(node, 'a', 'on time');
        await waitFor(() => node.delivered.length > 0, 2_000, 'fan-out');
        expect(node.delivered).toEqual([envelope]);
      });
    });

    describe('when the pub/sub link drops', () => {
      it('subscribes again, then asks for a resync; history from the last delivered position has exactly what fan-out missed', async () => {
        const redis = await ownRedis();
        const node = await startNode({ url: redis.url });
        const publisher = await startNode({ url: redis.url });
        await node.broker.subscribe('a');
        const published: Envelope[] = [];
        // What the hub does, inside the onResync call: read from the last envelope of the
        // unbroken run that fan-out delivered.
        let resyncRead: Promise<ChannelRead> | undefined;
        let publishedBeforeResync = 0;
        // And publish one right then: the node is subscribed again before onResync, so
        // fan-out must deliver it (were it called before, this one would be lost to both).
        let atResync: Promise<void> | undefined;
        node.onResync = () => {
          const lastBefore = unbrokenRun(node.delivered).at(-1) as Envelope;
          resyncRead = node.broker.read('a', positionOf(lastBefore));
          atResync = publish(publisher, 'a', 'at resync').then((envelope) => {
            published.push(envelope);
          });
          publishedBeforeResync = published.length;
        };

        // Keep publishing from another node while the link is killed and comes back.
        let publishing = true;
        const publishes = (async () => {
          for (let i = 0; publishing; i++) {
            published.push(await publish(publisher, 'a', i));
            await sleep(2);
          }
        })();
        await waitFor(() => node.delivered.length >= 5, 2_000, 'fan-out before the kill');
        await redis.command('CLIENT', 'KILL', 'TYPE', 'pubsub');
        await waitFor(() => node.resyncs.length > 0, 5_000, 'onResync');
        // Publish some more after the resync, then stop and let fan-out drain.
        await waitFor(() => published.length >= publishedBeforeResync + 10, 5_000, 'publishes');
        publishing = false;
        await publishes;
        await atResync;
        published.sort((x, y) => positionOf(x).seq - positionOf(y).seq);
        await waitFor(
          () => node.delivered.at(-1)?.id === published.at(-1)?.id,
          2_000,
          'fan-out to catch up',
        );

        expect(node.resyncs).toEqual([['a']]);
        const deliveredIds = new Set(node.delivered.map((envelope) => envelope.id));
        const missed = published.filter((envelope) => !deliveredIds.has(envelope.id));
        expect(node.delivered.filter((envelope) => envelope.data === 'at resync')).toHaveLength(1);
        expect(missed.length).toBeGreaterThan(0);
        // Fan-out delivered an unbroken run, lost one stretch, then everything after it.
        const firstMissed = published.indexOf(missed[0] as Envelope);
        expect(published.slice(firstMissed, firstMissed + missed.length)).toEqual(missed);
        expect(node.delivered).toEqual(
          published.filter(
            (_, index) => index < firstMissed || index >= firstMissed + missed.length,
          ),
        );
        // The read at onResync starts with exactly the missed stretch; the rest of it is what
        // fan-out delivered anyway (the hub drops those as duplicates).
        const read = (await (resyncRead as Promise<ChannelRead>)).envelopes;
        expect(read.slice(0, missed.length)).toEqual(missed);
        for (const envelope of read.slice(missed.length)) {
          expect(deliveredIds.has(envelope.id)).toBe(true);
        }
      });
    });

    describe('across a restart of Redis', () => {
      it('keeps epochs and ids when Redis persists its data', async () => {
        const redis = await ownRedis({ persistent: true });
        const node = await startNode({ url: redis.url });
        const sent = [
          await publish(node, 'a', 1),
          await publish(node, 'a', 2),
          await publish(node, 'a', 3),
        ];
        await redis.stop();
        await redis.start();
        await waitFor(() => node.broker.isAvailable(), 5_000, 'the broker to reconnect');

        const { epoch } = positionOf(sent[0] as Envelope);
        const read = await node.broker.read('a', positionOf(sent[0] as Envelope));
        expect(read).toEqual({ epoch, top: 3, envelopes: sent.slice(1) });
        const next = await publish(node, 'a', 4);
        expect(positionOf(next)).toEqual({ epoch, seq: 4 });
      });

      it('starts a new epoch when Redis lost its data', async () => {
        const redis = await ownRedis();
        const node = await startNode({ url: redis.url });
        const old = [await publish(node, 'a', 1), await publish(node, 'a', 2)];
        await redis.stop();
        await redis.start();
        await waitFor(() => node.broker.isAvailable(), 5_000, 'the broker to reconnect');

        const read = await node.broker.read('a', positionOf(old[0] as Envelope));
        expect(read.epoch).not.toBe(positionOf(old[0] as Envelope).epoch);
        expect(read).toMatchObject({ top: 0, envelopes: [] });
        const next = await publish(node, 'a', 3);
        expect(positionOf(next)).toEqual({ epoch: read.epoch, seq: 1 });
      });
    });

    describe('scripts', () => {
      it('publishes and reads again after Redis forgot its scripts (SCRIPT FLUSH)', async () => {
        const node = await startNode();
        const first = await publish(node, 'a', 1);
        expect(await shared.command('SCRIPT', 'FLUSH')).toBe('OK');
        const second = await publish(node, 'a', 2);
        expect(positionOf(second)).toEqual({ ...positionOf(first), seq: 2 });
        expect(await shared.command('SCRIPT', 'FLUSH')).toBe('OK');
        expect((await node.broker.read('a', positionOf(first))).envelopes).toEqual([second]);
      });
    });

    describe('keys', () => {
      it('gives every key it writes a TTL: history for maxAgeMs, numbering for idleChannelTtlMs', async () => {
        const node = await startNode({ maxAgeMs: 60_000, idleChannelTtlMs: 120_000 });
        await node.broker.subscribe('a');
        await publish(node, 'a', 1);
        await node.broker.read('b');
        const keys = (await admin.keys(`${prefix}*`)).sort();
        expect(keys).toEqual([`${prefix}{a}:history`, `${prefix}{a}:meta`, `${prefix}{b}:meta`]);
        const ttl = async (key: string) => admin.pttl(key);
        expect(await ttl(`${prefix}{a}:history`)).toBeGreaterThan(50_000);
        expect(await ttl(`${prefix}{a}:history`)).toBeLessThanOrEqual(60_000);
        expect(await ttl(`${prefix}{a}:meta`)).toBeGreaterThan(110_000);
        expect(await ttl(`${prefix}{a}:meta`)).toBeLessThanOrEqual(120_000);
        // Only read, never published: kept no longer than the history age.
        expect(await ttl(`${prefix}{b}:meta`)).toBeGreaterThan(50_000);
        expect(await ttl(`${prefix}{b}:meta`)).toBeLessThanOrEqual(60_000);
        // Through the helper's raw RESP connection too (what an operator would see).
        expect(Number(await shared.command('PTTL', `${prefix}{a}:history`))).toBeGreaterThan(0);
      });

      it('lets a channel that is only read expire after maxAgeMs, and keeps the numbering of one published to', async () => {
        const node = await startNode({ maxAgeMs: 300, idleChannelTtlMs: 60_000 });
        const first = await node.broker.read('ghost');
        expect((await node.broker.read('ghost')).epoch).toBe(first.epoch);
        const envelope = await publish(node, 'kept', 1);
        expect(await admin.exists(`${prefix}{ghost}:meta`)).toBe(1);

        await sleep(500);
        // The history aged out with its key; the numbering stays, so a client that comes back
        // is told of a gap rather than handed a position of a new epoch.
        expect((await admin.keys(`${prefix}*`)).sort()).toEqual([`${prefix}{kept}:meta`]);
        const read = await node.broker.read('kept', { ...positionOf(envelope), seq: 0 });
        expect(read).toEqual({ epoch: positionOf(envelope).epoch, top: 1, envelopes: [] });
        expect((await node.broker.read('ghost')).epoch).not.toBe(first.epoch);
      });

      it('keeps two prefixes on one Redis apart', async () => {
        const one = await startNode({ prefix: `${prefix}one:` });
        const two = await startNode({ prefix: `${prefix}two:` });
        await one.broker.subscribe('a');
        await two.broker.subscribe('a');
        const ofOne = [await publish(one, 'a', 'one 1'), await publish(one, 'a', 'one 2')];
        const ofTwo = await publish(two, 'a', 'two 1');
        expect(positionOf(ofTwo).seq).toBe(1);
        expect(positionOf(ofTwo).epoch).not.toBe(positionOf(ofOne[0] as Envelope).epoch);

        const everything = { epoch: 'other', seq: 0 };
        expect((await one.broker.read('a', everything)).envelopes).toEqual(ofOne);
        expect((await two.broker.read('a', everything)).envelopes).toEqual([ofTwo]);
        await waitFor(() => one.delivered.length >= 2 && two.delivered.length >= 1);
        await sleep(50);
        expect(one.delivered).toEqual(ofOne);
        expect(two.delivered).toEqual([ofTwo]);
      });
    });

    describe('envelopes', () => {
      it('carry data through Redis exactly, in history and in fan-out', async () => {
        const publisher = await startNode();
        const node = await startNode();
        const channel = 'ünï "chän"\n{x}';
        await node.broker.subscribe(channel);
        const values: unknown[] = [
          {
            nested: { list: [1, { deeper: [[], {}] }], empty: {} },
            emptyArray: [],
            emptyObject: {},
            unicode: 'héllo 世界 🌊 \u2028\u2029 \ud800',
            quotes: 'say "hi"\n\r\t back\\slash \'single\' </script>',
            big: 1e21,
            huge: 1.7976931348623157e308,
            precise: 0.30000000000000004,
            maxSafe: Number.MAX_SAFE_INTEGER,
            beyondSafe: 2 ** 53 + 2,
            tiny: -1.5e-7,
            nothing: null,
            no: false,
            blank: '',
          },
          [],
          {},
          '',
          'text',
          0,
          2 ** 64,
          -(2 ** 70) - 0.5,
          null,
          true,
        ];
        const sent: Envelope[] = [];
        for (const data of values) {
          sent.push(await publisher.broker.publish({ channel, event: 'ëvent "q"', data }));
        }
        for (const [index, envelope] of sent.entries()) {
          expect(envelope.data).toEqual(values[index]);
          expect(envelope).not.toHaveProperty('binary');
        }
        const read = await node.broker.read(channel, {
          ...positionOf(sent[0] as Envelope),
          seq: 0,
        });
        expect(read.envelopes).toEqual(sent);
        await waitFor(() => node.delivered.length >= sent.length, 2_000, 'fan-out');
        expect(node.delivered).toEqual(sent);
        // The text handed along for the transports is the envelope's own JSON, byte for byte.
        expect(node.jsons).toEqual(sent.map((envelope) => JSON.stringify(envelope)));
      });

      it('keep binary: true on binary envelopes only', async () => {
        const node = await startNode();
        await node.broker.subscribe('bin');
        const binary = await node.broker.publish({
          channel: 'bin',
          event: 'file',
          data: 'AAEC/w==',
          binary: true,
        });
        const text = await publish(node, 'bin', 'AAEC/w==');
        expect(binary).toMatchObject({ data: 'AAEC/w==', binary: true });
        const read = await node.broker.read('bin', { ...positionOf(binary), seq: 0 });
        await waitFor(() => node.delivered.length >= 2, 2_000, 'fan-out');
        for (const [stored, plain] of [read.envelopes, node.delivered]) {
          expect(stored).toEqual(binary);
          expect(stored).toHaveProperty('binary', true);
          expect(plain).toEqual(text);
          expect(plain).not.toHaveProperty('binary');
        }
        expect(node.jsons).toEqual([JSON.stringify(binary), JSON.stringify(text)]);
      });
    });

    describe('the client option', () => {
      it("runs on the user's client and leaves it open after close", async () => {
        const client = new Redis(shared.url);
        clients.push(client);
        await waitFor(() => client.status === 'ready', 5_000, 'the client to connect');
        const node = await startNode({ client });
        expect(node.broker.isAvailable()).toBe(true);
        await node.broker.subscribe('a');
        const envelope = await publish(node, 'a', 'via the user client');
        await waitFor(() => node.delivered.length > 0, 2_000, 'fan-out');
        expect(node.delivered).toEqual([envelope]);

        await node.broker.close();
        expect(node.broker.isAvailable()).toBe(false);
        expect(client.status).toBe('ready');
        expect(await client.ping()).toBe('PONG');
        expect(await client.get('missing')).toBeNull();
        // The fan-out connection it made for itself is gone.
        const pubsubClients = async () =>
          String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
        for (let i = 0; i < 100 && (await pubsubClients()).includes('id='); i++) await sleep(20);
        expect(await pubsubClients()).toBe('');
      });
    });

    describe('the client option, when Redis fails', () => {
      it("keeps its fail-fast settings on a user's client that queues and resends", async () => {
        const redis = await ownRedis({ persistent: true });
        // ioredis's defaults: offline queue, 20 retries, resend what was unanswered.
        const client = new Redis(redis.url);
        clients.push(client);
        await waitFor(() => client.status === 'ready', 5_000, 'the client to connect');
        const listeners = () => client.listenerCount('error') + client.listenerCount('ready');
        const listenersBefore = listeners();
        const node = await startNode({ client, commandTimeoutMs: 10_000 });
        expect(listeners()).toBe(listenersBefore);

        const before = await publish(node, 'a', 'stored');
        const { outcome, elapsedMs } = await publishAsRedisStops(redis, node);
        expect(outcome).toMatchObject({
          error: { code: 'BROKER_UNAVAILABLE', message: expect.stringMatching(/dropped before/) },
        });
        expect(elapsedMs).toBeLessThan(2_000);
        await expectUnavailable(() => publish(node, 'a', 'while down'));
        expect((await historyAfterRestart(redis, node, before)).envelopes).toEqual([before]);
      });
    });

    describe('construction', () => {
      it('throws a TypeError for a URL that is not redis:// or rediss://', () => {
        for (const url of ['http://x', 'not a url', '', 'redis-ish://host']) {
          expect(() => new RedisBroker({ url })).toThrow(TypeError);
        }
        expect(() => new RedisBroker({ url: 'not a url' })).toThrow(/not a Redis URL/);
        for (const url of ['redis://127.0.0.1:6379', 'rediss://user:pw@example.com:6380/2']) {
          expect(() => new RedisBroker({ url })).not.toThrow();
        }
      });
    });
  },
);

/** The envelopes from the start of `delivered` whose sequences follow one another. */
function unbrokenRun(delivered: readonly Envelope[]): Envelope[] {
  const run: Envelope[] = [];
  for (const envelope of delivered) {
    const previous = run.at(-1);
    if (previous && positionOf(envelope).seq !== positionOf(previous).seq + 1) break;
    run.push(envelope);
  }
  return run;
}
