import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/client/index.js';
import { Resources, fastOptions } from '../support/client-harness.js';

/**
 * A bug the chaos soak found: a WebSocket client that unsubscribes and subscribes again from the
 * position it holds, within one task, while envelopes of its old subscription are on their way,
 * got those envelopes and then the same ones again, replayed from history for the new
 * subscription. (SSE and polling restart their request on such a change: what was in flight
 * for the old one can no longer arrive.)
 */

const resources = new Resources();
afterEach(() => resources.closeAll());

describe('a WebSocket client that leaves a channel and comes back at once', () => {
  it('gets what was in flight for its old subscription once, in order', async () => {
    const testHub = await resources.hub();
    const client = resources.client(testHub.url, fastOptions('websocket'));
    const received: string[] = [];
    const handler = (_data: unknown, envelope: Envelope) => received.push(envelope.id);
    let subscription = client.subscribe('a', handler);
    await subscription.ready;

    const published: Envelope[] = [];
    for (let round = 0; round < 40; round++) {
      // Fanned out before the unsubscribe leaves: on the wire when the client subscribes again.
      const burst = Array.from({ length: 5 }, (_, i) => testHub.hub.publish('a', { round, i }));
      const held = subscription.position;
      subscription.unsubscribe();
      await new Promise<void>((resolve) => queueMicrotask(resolve)); // the unsubscribe is sent
      subscription = client.subscribe('a', handler, { since: held });
      published.push(...(await Promise.all(burst)));
      await subscription.ready;
    }

    const last = published.at(-1)!.id;
    await expect.poll(() => received.at(-1), { timeout: 5_000 }).toBe(last);
    await new Promise((resolve) => setTimeout(resolve, 100)); // a repeat would come right after
    expect(received).toEqual(published.map((envelope) => envelope.id));
  });
});
