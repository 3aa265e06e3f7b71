import type { HubOptions } from '../../src/server/index.js';
import { FAST_HUB } from '../support/client-harness.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { sleep } from '../support/wait.js';
import { type Random, increment } from './chaos-harness.js';
import type { GapPolicy } from './ledger.js';
import {
  BIG_HISTORY,
  type Cleanups,
  type Outcome,
  type Rows,
  Scenario,
  clientVariants,
  codeOf,
} from './scenario.js';

const CHANNELS = ['m0', 'm1', 'm2', 'm3'] as const;

/**
 * One in-memory hub on a real http server, restarted now and then on the same port (its
 * history dies with it: clients must hear a `gap` and then get the next hub's history), with
 * clients of every transport, each through a TCP proxy of its own whose connections are reset
 * at random, and two publishers on `hub.publish` that never stop.
 */
export class MemoryHubScenario extends Scenario {
  readonly #hubOptions: HubOptions = { ...FAST_HUB, history: BIG_HISTORY };
  #hub: TestHub | undefined;
  #port = 0;

  static async start(cleanups: Cleanups): Promise<MemoryHubScenario> {
    const scenario = new MemoryHubScenario(cleanups, 'memory');
    await scenario.#start();
    return scenario;
  }

  async #start(): Promise<void> {
    const hub = await startHub(this.#hubOptions);
    this.#hub = hub;
    this.#port = hub.port;
    this.cleanups.add(() => this.#hub?.close());
    const picker = this.random.fork('subscriptions');
    // Drawn before anything is awaited, so that the seed alone decides who gets what.
    const plans = clientVariants().map((variant, i) => ({
      name: `${variant.name}#${i}`,
      variant,
      channels: picker.sample(CHANNELS, picker.int(2, 3)),
    }));
    const members = await Promise.all(
      plans.map(async ({ name, variant, channels }) => {
        const proxy = await this.ownProxy({ host: '127.0.0.1', port: this.#port });
        return this.startMember(name, variant, proxy.url, proxy, channels);
      }),
    );
    this.members.push(...members);
  }

  protected chaos(): Array<Promise<void>> {
    const proxies = this.members.map(({ proxy }) => proxy as TcpProxy);
    return [
      this.#publisher(this.random.fork('publisher 1')),
      this.#publisher(this.random.fork('publisher 2')),
      this.blips(proxies),
      this.unsubscribes('unsubscribes 1'),
      this.unsubscribes('unsubscribes 2'),
      this.bursts(CHANNELS, (channel) => this.#publish(channel)),
      this.every('restarts', [2500, 6000], [1500, 4000], (random) => this.#restart(random)),
    ];
  }

  protected async publishLast(): Promise<Map<string, string>> {
    const last = new Map<string, string>();
    for (const channel of CHANNELS) last.set(channel, await this.#publish(channel));
    return last;
  }

  protected gapPolicy(): GapPolicy {
    return { kind: 'epoch' };
  }

  rows(outcome: Outcome): Rows {
    const { counters } = this;
    return [
      ...this.headRows(outcome, 'each through a TCP proxy of its own'),
      ['channels', `${CHANNELS.length}, history of 1 000 000 envelopes`],
      [
        'envelopes',
        `${outcome.stored} published (${counters.acked} acked by hub.publish, ` +
          `${outcome.unacked} stored with no ack)`,
      ],
      [
        'disconnects',
        `${counters.blips} blips (TCP resets), ${counters.unsubscribes} ` +
          `unsubscribe/resubscribe (${counters.bursts} during a burst)`,
      ],
      [
        'restarts',
        `${counters.restarts} hub restarts (${counters.drainedRestarts} with a drain window), ` +
          '0 Redis restarts',
      ],
      ...this.tailRows(outcome),
    ];
  }

  async #publisher(random: Random): Promise<void> {
    while (this.stopper.isRunning) {
      await this.#publish(random.pick(CHANNELS));
      await this.stopper.sleep(random.between(2, 10));
    }
  }

  /** Publishes on the hub of the moment; one closed for a restart is tried again. */
  async #publish(channel: string): Promise<string> {
    const k = this.nextK();
    const ledger = this.ledger.channel(channel);
    for (;;) {
      const testHub = this.#hub as TestHub;
      ledger.attempt();
      try {
        const { id } = await testHub.hub.publish(channel, { k });
        ledger.ack(id, k);
        this.counters.acked++;
        return id;
      } catch (error) {
        increment(this.counters.refused, codeOf(error));
        await sleep(10);
      }
    }
  }

  /**
   * Closes the hub, with a drain window half of the time (publishes go on into the draining
   * hub: clients closed early in the window miss them, and that history dies with the hub),
   * then starts a new one on the same port after a pause.
   */
  async #restart(random: Random): Promise<void> {
    const old = this.#hub as TestHub;
    const drainWindowMs = random.chance(0.5) ? random.int(100, 400) : 0;
    await old.hub.close({ drainWindowMs });
    await old.close();
    await sleep(random.between(50, 600));
    this.#hub = await startHub(this.#hubOptions, this.#port);
    this.counters.restarts++;
    if (drainWindowMs > 0) this.counters.drainedRestarts++;
  }
}
