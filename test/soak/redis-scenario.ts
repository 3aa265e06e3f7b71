import { randomUUID } from 'node:crypto';
import { type RedisBroker, type RedisBrokerOptions, redisBroker } from '../../src/brokers/redis.js';
import { type Hub, createHub } from '../../src/server/index.js';
import { FAST_HUB } from '../support/client-harness.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { type RedisServer, startRedisServer } from '../support/redis-server.js';
import { type RoundRobinProxy, startRoundRobinProxy } from '../support/round-robin-proxy.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { sleep, waitFor } from '../support/wait.js';
import { type Random, increment, repeat } from './chaos-harness.js';
import type { GapPolicy, Truth } from './ledger.js';
import {
  BIG_HISTORY,
  type Cleanups,
  type Outcome,
  type Rows,
  Scenario,
  clientVariants,
  codeOf,
  quietLogger,
} from './scenario.js';

/** Channels with a history that holds the whole run: no gap is allowed on them. */
const BIG = ['r0', 'r1', 'r2'] as const;
/** Published only by a backend whose broker keeps its last `TRIM_COUNT` envelopes. */
export const TRIM = 'trim';
const TRIM_COUNT = 30;
/** Long enough for `TRIM_COUNT` envelopes to go by on `TRIM` (about 35 a second). */
const BLACKHOLE_MS = 2500;
const NODES = 3;

interface Node {
  readonly port: number;
  testHub: TestHub;
  broker: RedisBroker;
  isUp: boolean;
}

/** The authoritative history against the truth (see `compareWithHistory`). */
export interface HistoryCheck {
  readonly held: number;
  readonly mismatches: number;
  readonly problems: string[];
}

/**
 * Three hub nodes on one persistent redis-server (AOF, fsync always: a restart keeps history
 * and numbering), restarted at random, as is Redis itself. Half the clients reach the nodes
 * through a TCP proxy of their own that sends each new connection to the next node (a
 * balancer without health checks: a node that is down refuses), half through one HTTP
 * balancer that sends each request to the next node; no sticky sessions either way. Two
 * publishers go through random nodes, in process or over `POST /rt/publish`, and retry what
 * fails. A backend with a broker of its own keeps `TRIM` short, and clients blackholed for a
 * while come back to a trimmed history: the only gaps allowed.
 */
export class RedisNodesScenario extends Scenario {
  readonly #nodes: Node[] = [];
  #redis: RedisServer | undefined;
  #brokerOptions: RedisBrokerOptions = {};
  #trimmer: Hub | undefined;
  #balancer: RoundRobinProxy | undefined;
  history: HistoryCheck = { held: 0, mismatches: 0, problems: [] };

  static async start(cleanups: Cleanups): Promise<RedisNodesScenario> {
    const scenario = new RedisNodesScenario(cleanups, 'redis');
    await scenario.#startServers();
    await scenario.#startClients();
    return scenario;
  }

  async #startServers(): Promise<void> {
    const redis = await startRedisServer({ persistent: true });
    this.#redis = redis;
    this.cleanups.add(() => redis.close());
    this.#brokerOptions = {
      url: redis.url,
      prefix: `soak:${randomUUID()}:`,
      ...BIG_HISTORY,
      reconnectMaxDelayMs: 200,
      commandTimeoutMs: 1000,
      startTimeoutMs: 1000,
    };
    this.#nodes.push(...(await Promise.all(Array.from({ length: NODES }, () => this.#node()))));
    this.cleanups.add(() => Promise.all(this.#nodes.map(({ testHub }) => testHub.close())));
    // `MAXLEN` is applied by each publish, with the publishing broker's bound.
    const trimmer = createHub({
      broker: redisBroker({ ...this.#brokerOptions, maxCount: TRIM_COUNT }),
      logger: quietLogger,
    });
    this.#trimmer = trimmer;
    this.cleanups.add(() => trimmer.close());
    await trimmer.ready;
  }

  /** A node on a fresh broker: a new one, or one coming back on its port. */
  async #node(port = 0): Promise<Node> {
    const broker = redisBroker(this.#brokerOptions);
    const testHub = await startHub({ ...FAST_HUB, broker }, port);
    await testHub.hub.ready;
    return { port: testHub.port, testHub, broker, isUp: true };
  }

  async #startClients(): Promise<void> {
    const balancer = await startRoundRobinProxy(
      this.#nodes.map(({ port }) => ({ host: '127.0.0.1', port })),
    );
    this.#balancer = balancer;
    this.cleanups.add(() => balancer.close());
    const picker = this.random.fork('subscriptions');
    // Drawn before anything is awaited, so that the seed alone decides who gets what. Clients
    // with a proxy of their own (the ones a blackhole can hit) all follow `TRIM`.
    const plans = clientVariants().map((variant, i) => {
      const isBalanced = i % 2 === 1;
      const channels = isBalanced
        ? picker.sample([...BIG, TRIM], picker.int(2, 3))
        : [...picker.sample(BIG, picker.int(1, 2)), TRIM];
      return { name: `${variant.name}#${i}`, variant, isBalanced, channels, first: i };
    });
    const members = await Promise.all(
      plans.map(async ({ name, variant, isBalanced, channels, first }) => {
        if (isBalanced) return this.startMember(name, variant, balancer.url, undefined, channels);
        let turn = first;
        const proxy = await this.ownProxy(() => ({
          host: '127.0.0.1',
          port: (this.#nodes[turn++ % this.#nodes.length] as Node).port,
        }));
        return this.startMember(name, variant, proxy.url, proxy, channels);
      }),
    );
    this.members.push(...members);
  }

  protected chaos(): Array<Promise<void>> {
    const proxies = this.members.flatMap(({ proxy }) => (proxy ? [proxy] : []));
    const publishRandom = this.random.fork('burst publishes');
    return [
      this.#publisher(this.random.fork('publisher 1')),
      this.#publisher(this.random.fork('publisher 2')),
      this.#trimPublisher(this.random.fork('trim publisher')),
      this.blips(proxies),
      this.#balancerBlips(),
      this.unsubscribes('unsubscribes 1'),
      this.unsubscribes('unsubscribes 2'),
      this.bursts(BIG, (channel) => this.#publish(channel, publishRandom)),
      this.every('node restarts', [2500, 6000], [2000, 4000], (r) => this.#restartNode(r)),
      // The first Redis outage comes after the first blackhole, so that `TRIM` moves on then.
      this.every('redis restarts', [4000, 9000], [5000, 8000], (r) => this.#restartRedis(r)),
      this.every('redis stalls', [3000, 7000], [5000, 8000], (r) => this.#stallRedis(r)),
      this.every('blackholes', [5000, 9000], [500, 1500], (r) => this.#blackhole(r)),
    ];
  }

  protected override async settle(): Promise<void> {
    await waitFor(
      () => this.#nodes.every(({ testHub }) => testHub.hub.stats().broker === 'available'),
      10_000,
      'every node back on Redis',
    );
  }

  protected async publishLast(): Promise<Map<string, string>> {
    const last = new Map<string, string>();
    const random = this.random.fork('last');
    for (const channel of BIG) last.set(channel, await this.#publish(channel, random));
    last.set(TRIM, await this.#publishTrimmed());
    return last;
  }

  protected gapPolicy(channel: string): GapPolicy {
    if (channel !== TRIM) return { kind: 'none' };
    const ledger = this.ledger.channel(TRIM);
    return { kind: 'trimmed', maxCount: TRIM_COUNT, storedBefore: (t) => ledger.storedBefore(t) };
  }

  /** Reads what Redis holds now and compares it with the truth (call after `run`). */
  async checkHistory(truths: ReadonlyMap<string, Truth>): Promise<HistoryCheck> {
    this.history = await compareWithHistory((this.#nodes[0] as Node).broker, truths);
    return this.history;
  }

  rows(outcome: Outcome): Rows {
    const { counters, history } = this;
    const proxied = this.members.filter(({ proxy }) => proxy).length;
    return [
      ...this.headRows(
        outcome,
        `${proxied} through a TCP proxy each (next node per connection), ` +
          `${this.members.length - proxied} through one HTTP balancer (next node per request)`,
      ),
      [
        'channels',
        `${BIG.length} with a history of 1 000 000 (no gap allowed), '${TRIM}' of ${TRIM_COUNT}`,
      ],
      [
        'envelopes',
        `${outcome.stored} published (${counters.acked} acked, ` +
          `${outcome.unacked} stored by a publish that failed)`,
      ],
      [
        'history',
        `Redis holds ${history.held} envelopes, ${history.mismatches} differ from the ledger`,
      ],
      [
        'disconnects',
        `${counters.blips} blips (TCP resets), ${counters.blackholes} blackholes of ` +
          `${BLACKHOLE_MS} ms, ${counters.unsubscribes} unsubscribe/resubscribe ` +
          `(${counters.bursts} during a burst)`,
      ],
      [
        'restarts',
        `${counters.restarts} node restarts (${counters.drainedRestarts} with a drain window), ` +
          `${counters.redisRestarts} Redis restarts, ${counters.redisStalls} Redis stalls`,
      ],
      ...this.tailRows(outcome),
    ];
  }

  async #publisher(random: Random): Promise<void> {
    while (this.stopper.isRunning) {
      await this.#publish(random.pick(BIG), random);
      await this.stopper.sleep(random.between(2, 10));
    }
  }

  async #trimPublisher(random: Random): Promise<void> {
    while (this.stopper.isRunning) {
      await this.#publishTrimmed();
      await this.stopper.sleep(random.between(15, 35));
    }
  }

  /**
   * A backend that retries what fails, on a random node that is up, in process or over HTTP.
   * A publish that failed may still have been stored (a link cut before Redis answered): the
   * truth knows it by its seq (see `ledger.ts`), and a retry then stores it twice.
   */
  async #publish(channel: string, random: Random): Promise<string> {
    const k = this.nextK();
    const ledger = this.ledger.channel(channel);
    for (;;) {
      const up = this.#nodes.filter(({ isUp }) => isUp);
      if (up.length === 0) {
        await sleep(10);
        continue;
      }
      const { testHub } = random.pick(up);
      ledger.attempt();
      try {
        const id = random.chance(0.3)
          ? await publishOverHttp(testHub.url, channel, { k })
          : (await testHub.hub.publish(channel, { k })).id;
        return this.#acked(channel, id, k);
      } catch (error) {
        increment(this.counters.refused, codeOf(error));
        await sleep(20);
      }
    }
  }

  /** A publish on `TRIM`, by the backend with the small history; retried while it fails. */
  async #publishTrimmed(): Promise<string> {
    const k = this.nextK();
    for (;;) {
      // Counted before it starts: `storedBefore` bounds the seq Redis could have given by then.
      this.ledger.channel(TRIM).attempt();
      try {
        const { id } = await (this.#trimmer as Hub).publish(TRIM, { k });
        return this.#acked(TRIM, id, k);
      } catch (error) {
        increment(this.counters.refused, codeOf(error));
        await sleep(20);
      }
    }
  }

  #acked(channel: string, id: string, k: number): string {
    this.ledger.channel(channel).ack(id, k);
    this.counters.acked++;
    return id;
  }

  #balancerBlips(): Promise<void> {
    const count = this.members.filter(({ proxy }) => !proxy).length;
    return repeat(this.stopper, this.random.fork('balancer blips'), [1500, 4000], async () => {
      this.#balancer?.dropAll();
      this.counters.blips += count;
    });
  }

  /**
   * A node goes away (a drain window half of the time) and comes back on its port, now and
   * then into a stalled Redis.
   */
  async #restartNode(random: Random): Promise<void> {
    const node = random.pick(this.#nodes);
    const drainWindowMs = random.chance(0.5) ? random.int(100, 300) : 0;
    node.isUp = false;
    await node.testHub.hub.close({ drainWindowMs });
    await node.testHub.close();
    await sleep(random.between(200, 1500));
    const { testHub, broker } = await this.#node(node.port);
    Object.assign(node, { testHub, broker, isUp: true });
    this.counters.restarts++;
    if (drainWindowMs > 0) this.counters.drainedRestarts++;
    // Sometimes into a slow Redis: its clients come back all at once, and the first broker
    // subscribe of each channel on this node times out while others join it.
    if (random.chance(0.4)) await this.#stallRedis(random);
  }

  async #restartRedis(random: Random): Promise<void> {
    const redis = this.#redis as RedisServer;
    await redis.stop();
    await sleep(random.between(200, 1500));
    await redis.start();
    this.counters.redisRestarts++;
  }

  /**
   * Redis stalls (a slow fork, a long command): connections stay up, and every command,
   * subscribes and publishes included, waits past the nodes' 1 s command timeout. A publish
   * that timed out may still be stored once Redis goes on.
   */
  async #stallRedis(random: Random): Promise<void> {
    const redis = this.#redis as RedisServer;
    const ms = Math.round(random.between(1200, 2000));
    try {
      await redis.command('CLIENT', 'PAUSE', String(ms), 'ALL');
    } catch {
      return; // Redis is restarting: that is chaos enough
    }
    this.counters.redisStalls++;
    await sleep(ms);
  }

  /**
   * A client's link goes silent (it notices by its heartbeat, and its new connections go
   * silent too) until history of `TRIM` has moved on past where it stood.
   */
  async #blackhole(random: Random): Promise<void> {
    const { proxy } = random.pick(this.members.filter((member) => member.proxy));
    const silenced = proxy as TcpProxy;
    silenced.setMode('blackhole');
    await sleep(BLACKHOLE_MS);
    silenced.setMode('forward');
    silenced.dropAll();
    this.counters.blackholes++;
  }
}

/** `POST /rt/publish/:channel`, bounded in time; the envelope id, or throws with the code. */
async function publishOverHttp(base: string, channel: string, data: unknown): Promise<string> {
  const response = await fetch(`${base}/rt/publish/${channel}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json().catch(() => ({}))) as { id?: unknown; code?: unknown };
  if (response.status === 201 && typeof body.id === 'string') return body.id;
  throw Object.assign(new Error(`HTTP ${response.status}`), {
    code: typeof body.code === 'string' ? body.code : `HTTP ${response.status}`,
  });
}

/**
 * The authoritative history, read from Redis after the run, against the truth: a channel
 * with a big history holds every id of its truth, each acked one with the data it was acked
 * for; `TRIM` holds the last `TRIM_COUNT` ids of its truth.
 */
async function compareWithHistory(
  broker: RedisBroker,
  truths: ReadonlyMap<string, Truth>,
): Promise<HistoryCheck> {
  let held = 0;
  let mismatches = 0;
  const problems: string[] = [];
  for (const [channel, truth] of truths) {
    const epoch = truth.ledger.epochs[0] as string;
    const { envelopes } = await broker.read(channel, { epoch, seq: 0 });
    held += envelopes.length;
    const count = channel === TRIM ? Math.min(TRIM_COUNT, truth.length) : truth.length;
    const expected = Array.from({ length: count }, (_, i) => truth.id(truth.length - count + i));
    const ids = envelopes.map(({ id }) => id);
    if (ids.join() !== expected.join()) {
      mismatches++;
      problems.push(`${channel}: Redis holds ${ids.length} ids, the truth says ${count}`);
    }
    for (const { id, data } of envelopes) {
      const key = truth.ledger.keyOf(id);
      const k = key === undefined ? undefined : truth.ledger.acked.get(key);
      if (k !== undefined && (data as { k?: unknown }).k !== k) {
        mismatches++;
        problems.push(`${channel}: ${id} holds ${JSON.stringify(data)}, acked with k=${k}`);
      }
    }
  }
  return { held, mismatches, problems };
}
