import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/core/broker.js';
import { parsePosition } from '../../src/core/position.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import { waitFor } from '../support/wait.js';

/**
 * Makes a broker with the given history bounds. Every test gets a fresh `store` name; brokers
 * made with the same name are nodes of one store (where the engine has shared stores).
 */
export type BrokerFactory = (
  history: { maxCount: number; maxAgeMs: number },
  store: string,
) => Promise<Broker>;

export interface BrokerContractOptions {
  /** Whether brokers of one store are nodes of one hub (Redis) rather than apart (memory). */
  readonly isShared?: boolean;
}

/**
 * The contract of `core/broker.ts`, run against every broker implementation (cf centrifuge's
 * map_broker_shared_test.go): ids, order, history bounds, read-after-write, fan-out.
 */
export function runBrokerContract(
  name: string,
  makeBroker: BrokerFactory,
  options: BrokerContractOptions = {},
): void {
  describe(`${name} broker contract`, () => {
    const open: Broker[] = [];
    let store = '';
    beforeEach(() => {
      store = randomUUID();
    });
    afterEach(async () => {
      await Promise.all(open.splice(0).map((broker) => broker.close()));
    });

    async function start(history = { maxCount: 1000, maxAgeMs: 60_000 }) {
      const broker = await makeBroker(history, store);
      const delivered: Envelope[] = [];
      await broker.start({ onEnvelope: (envelope) => delivered.push(envelope) });
      open.push(broker);
      return { broker, delivered };
    }

    const publish = (broker: Broker, channel: string, data: unknown) =>
      broker.publish({ channel, event: 'message', data });

    it('numbers envelopes of a channel one by one within an epoch', async () => {
      const { broker } = await start();
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await publish(broker, 'a', i)).id);
      const positions = ids.map(parsePosition);
      expect(new Set(positions.map((p) => p.epoch)).size).toBe(1);
      expect(positions.map((p) => p.seq)).toEqual([1, 2, 3, 4, 5]);
    });

    it('keeps channels apart', async () => {
      const { broker } = await start();
      await publish(broker, 'a', 1);
      const b = await publish(broker, 'b', 2);
      expect(parsePosition(b.id).seq).toBe(1);
      expect(b).toMatchObject({ channel: 'b', event: 'message', data: 2 });
    });

    it('reads what was published after a position, and reads its own writes', async () => {
      const { broker } = await start();
      const first = await publish(broker, 'a', 'x');
      const second = await publish(broker, 'a', 'y');
      const read = await broker.read('a', parsePosition(first.id));
      expect(read.top).toBe(2);
      expect(read.envelopes).toEqual([second]);
      expect((await broker.read('a')).envelopes).toEqual([]);
    });

    it('bounds history by count without renumbering', async () => {
      const { broker } = await start({ maxCount: 3, maxAgeMs: 60_000 });
      const all: Envelope[] = [];
      for (let i = 0; i < 7; i++) all.push(await publish(broker, 'a', i));
      const read = await broker.read('a', parsePosition(all[0]!.id));
      expect(read.envelopes.map((e) => e.data)).toEqual([4, 5, 6]);
      expect(read.top).toBe(7);
    });

    it('bounds history by age', async () => {
      const { broker } = await start({ maxCount: 100, maxAgeMs: 150 });
      const old = await publish(broker, 'a', 'old');
      await new Promise((resolve) => setTimeout(resolve, 250));
      const fresh = await publish(broker, 'a', 'fresh');
      const read = await broker.read('a', { epoch: parsePosition(old.id).epoch, seq: 0 });
      expect(read.envelopes).toEqual([fresh]);
    });

    it('returns every envelope held for a position of another epoch', async () => {
      const { broker } = await start();
      const envelopes = [await publish(broker, 'a', 1), await publish(broker, 'a', 2)];
      const read = await broker.read('a', { epoch: 'otherepoch', seq: 1 });
      expect(read.envelopes).toEqual(envelopes);
    });

    it('fans out only the channels subscribed to, in publish order', async () => {
      const { broker, delivered } = await start();
      await broker.subscribe('a');
      await publish(broker, 'b', 'not subscribed');
      const sent = [await publish(broker, 'a', 1), await publish(broker, 'a', 2)];
      await waitFor(() => delivered.length >= 2);
      expect(delivered).toEqual(sent);
      await broker.unsubscribe('a');
      await publish(broker, 'a', 3);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(delivered).toHaveLength(2);
    });

    it('carries binary envelopes and says it is available', async () => {
      const { broker } = await start();
      const envelope = await broker.publish({
        channel: 'a',
        event: 'bin',
        data: 'AAEC',
        binary: true,
      });
      expect(envelope).toMatchObject({ event: 'bin', data: 'AAEC', binary: true });
      expect(broker.isAvailable()).toBe(true);
    });

    // Only engines whose nodes share a store have these (the memory broker is one process).
    if (options.isShared)
      describe('nodes of one store', () => {
        it('fans out to the nodes that subscribed, with ids every node agrees on', async () => {
          const a = await start();
          const b = await start();
          const c = await start();
          await b.broker.subscribe('a');
          await c.broker.subscribe('a');
          const sent = [await publish(a.broker, 'a', 1), await publish(c.broker, 'a', 2)];
          await waitFor(() => b.delivered.length >= 2 && c.delivered.length >= 2);
          expect(b.delivered).toEqual(sent);
          expect(c.delivered).toEqual(sent);
          expect(a.delivered).toEqual([]);
          expect((await b.broker.read('a', { epoch: 'x', seq: 0 })).envelopes).toEqual(sent);
        });

        it('numbers concurrent publishes of many nodes once each, fanned out in id order', async () => {
          const nodes = [await start(), await start(), await start()];
          for (const node of nodes) await node.broker.subscribe('a');
          const results = await Promise.all(
            Array.from({ length: 60 }, (_, i) => publish(nodes[i % 3]!.broker, 'a', i)),
          );
          const seqs = results.map((envelope) => parsePosition(envelope.id).seq);
          expect([...seqs].sort((x, y) => x - y)).toEqual(
            Array.from({ length: 60 }, (_, i) => i + 1),
          );
          expect(new Set(results.map((envelope) => parsePosition(envelope.id).epoch)).size).toBe(1);
          await waitFor(() => nodes.every((node) => node.delivered.length >= 60));
          for (const node of nodes) {
            expect(node.delivered.map((envelope) => parsePosition(envelope.id).seq)).toEqual(
              Array.from({ length: 60 }, (_, i) => i + 1),
            );
          }
        });

        it('gives a channel read on one node the position the next publish on another follows', async () => {
          const a = await start();
          const b = await start();
          const read = await a.broker.read('fresh');
          expect(read.top).toBe(0);
          const envelope = await publish(b.broker, 'fresh', 'x');
          expect(parsePosition(envelope.id)).toEqual({ epoch: read.epoch, seq: 1 });
        });
      });
  });
}
