import { afterEach, describe, expect, it } from 'vitest';
import {
  Client,
  type ClientOptions,
  type Envelope,
  type TransportName,
} from '../../src/client/index.js';
import {
  Recorder,
  Resources,
  VARIANTS,
  countingPlatform,
  fastOptions,
  hubPublisher,
  range,
  stream,
} from '../support/client-harness.js';
import { waitFor } from '../support/wait.js';

/**
 * The client's delivery contract, the same on every transport (STYLE.md § Tests): what a
 * subscriber receives across a server restart (every envelope once and in order, or a `gap`
 * where the history is gone), what `publish()` and `send()` do while the server is down,
 * subscribe and unsubscribe, `since`, `readyState` and the lifecycle events. Real hubs on
 * 127.0.0.1, real sockets, small timings (`fastOptions`).
 */

const resources = new Resources();
afterEach(() => resources.closeAll());

/**
 * A stream (WebSocket, SSE) ends with its server: the client says so and comes back. A poll
 * is a request at a time: a restart between two polls may go unnoticed, and that is fine.
 */
function expectReconnectedIfStreaming(recorder: Recorder, transport: TransportName): void {
  if (transport.endsWith('polling')) return;
  expect(recorder.of('close')[0]).toMatchObject({ transport, willReconnect: true });
  expect(recorder.of('open')).toEqual([{ transport }, { transport }]);
}

const CHANNEL_SETS: Array<{ channels: readonly string[] }> = [
  { channels: ['a'] },
  { channels: ['a', 'b', 'c'] },
];

describe.each(VARIANTS)('client over $name', ({ transport, options }) => {
  const clientOptions = (extra: ClientOptions = {}) =>
    fastOptions(transport, { ...options, ...extra });

  describe('a server stopped and restarted mid-stream', () => {
    it.each(CHANNEL_SETS)(
      'resumes every envelope once, in order, with no gap, on a surviving broker ($channels)',
      async ({ channels }) => {
        const broker = resources.broker();
        const first = await resources.hub({ broker });
        const client = resources.client(first.url, clientOptions());
        const recorder = new Recorder(client);
        await Promise.all(channels.map((channel) => recorder.subscribe(channel).ready));

        await stream(0, 59, channels, hubPublisher(first.hub));
        // Mid-stream: the client has some of it, the rest may be in flight when the hub stops.
        await recorder.waitForN('a', 0);
        await first.close();
        // Another node of the same store publishes while this one is down.
        await stream(60, 119, channels, (channel, data) =>
          broker.publish({ channel, event: 'message', data }),
        );
        const second = await resources.hub({ broker }, first.port);
        // Published at once, before the client is back, then once it has caught up.
        await stream(120, 159, channels, hubPublisher(second.hub));
        for (const channel of channels) await recorder.waitForN(channel, 159);
        await stream(160, 200, channels, hubPublisher(second.hub));

        for (const channel of channels) await recorder.waitForN(channel, 200);
        for (const channel of channels) expect(recorder.sequence(channel)).toEqual(range(0, 200));
        expect(recorder.of('gap')).toEqual([]);
        expectReconnectedIfStreaming(recorder, transport);
      },
    );

    it.each(CHANNEL_SETS)(
      'reports a gap, then delivers all the new hub publishes, once, on a plain hub ($channels)',
      async ({ channels }) => {
        const first = await resources.hub();
        const client = resources.client(first.url, clientOptions());
        const recorder = new Recorder(client);
        await Promise.all(channels.map((channel) => recorder.subscribe(channel).ready));

        await stream(0, 59, channels, hubPublisher(first.hub));
        // What the old hub published is gone with it: only what arrived counts.
        for (const channel of channels) await recorder.waitForN(channel, 59);
        await first.close();
        const second = await resources.hub({}, first.port);
        await stream(60, 139, channels, hubPublisher(second.hub));
        for (const channel of channels) await recorder.waitForN(channel, 139);
        await stream(140, 200, channels, hubPublisher(second.hub));

        for (const channel of channels) await recorder.waitForN(channel, 200);
        for (const channel of channels) {
          expect(recorder.sequence(channel)).toEqual([...range(0, 59), 'gap', ...range(60, 200)]);
        }
        expect(recorder.of('gap').map((gap) => gap.channel)).toEqual(channels);
        expectReconnectedIfStreaming(recorder, transport);
      },
    );
  });

  describe('publishes made while the server is down', () => {
    it('waits in the outbox and reaches the hub after the restart, in call order, each acked', async () => {
      const first = await resources.hub();
      const client = resources.client(first.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      await first.close();
      await recorder.waitForEvent('close');
      expect(client.readyState).not.toBe(Client.OPEN);

      const errors: Error[] = [];
      client.on('error', (error) => errors.push(error));
      // publish() and send() interleaved: one outbox, one order.
      const acks = [client.publish('a', { n: 0 }), client.publish('a', { n: 1 }, { event: 'e' })];
      client.send('a', { n: 2 }, { event: 'sent' });
      acks.push(client.publish('a', { n: 3 }, { event: 'e' }));
      client.send('a', { n: 4 }, { event: 'sent' });
      acks.push(client.publish('a', { n: 5 }, { event: 'e' }));
      expect(client.bufferedAmount).toBeGreaterThan(0);
      expect(client.outbox.size).toBe(6);

      const second = await resources.hub({}, first.port);
      const received: Envelope[] = [];
      second.hub.onMessage((_connection, envelope) => received.push(envelope));
      const acked = await Promise.all(acks);

      await recorder.waitForN('a', 5);
      expect(received.map(({ data, event }) => [data, event])).toEqual([
        [{ n: 0 }, 'message'],
        [{ n: 1 }, 'e'],
        [{ n: 2 }, 'sent'],
        [{ n: 3 }, 'e'],
        [{ n: 4 }, 'sent'],
        [{ n: 5 }, 'e'],
      ]);
      // Each publish() resolves with the envelope every subscriber got: same id, same time.
      expect(acked).toEqual([0, 1, 3, 5].map((i) => received[i]));
      for (const envelope of acked) {
        expect(envelope).toEqual({
          id: expect.any(String),
          channel: 'a',
          event: envelope.event,
          data: envelope.data,
          ts: expect.any(Number),
        });
      }
      // The new hub is a new history: the client says so, then gets its own sends.
      expect(recorder.sequence('a')).toEqual(['gap', ...range(0, 5)]);
      expect(client.bufferedAmount).toBe(0);
      expect(client.outbox.size).toBe(0);
      expect(errors).toEqual([]);
    });

    it('drops a publish whose timeout passed while down: it is never sent late', async () => {
      const first = await resources.hub();
      const client = resources.client(first.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      await first.close();
      await recorder.waitForEvent('close');
      const late = client.publish('a', { n: 0 }, { timeoutMs: 50 });
      await expect(late).rejects.toMatchObject({ code: 'ACK_TIMEOUT' });
      expect(client.bufferedAmount).toBe(0);

      const second = await resources.hub({}, first.port);
      const received: Envelope[] = [];
      second.hub.onMessage((_connection, envelope) => received.push(envelope));
      // Sent after n=0 would have been, in order: its ack means n=0 is not coming.
      const acked = await client.publish('a', { n: 1 });
      expect(received).toEqual([acked]);
    });

    it('rejects what the outbox held when it is cleared, and sends none of it', async () => {
      const first = await resources.hub();
      const client = resources.client(first.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      await first.close();
      await recorder.waitForEvent('close');
      const dropped = [client.publish('a', { n: 0 }), client.publish('a', { n: 1 })];
      expect(client.outbox.size).toBe(2);
      client.outbox.clear();
      for (const publish of dropped) await expect(publish).rejects.toThrow(/cleared/);
      expect(client.outbox.size).toBe(0);
      expect(client.bufferedAmount).toBe(0);

      const second = await resources.hub({}, first.port);
      const received: Envelope[] = [];
      second.hub.onMessage((_connection, envelope) => received.push(envelope));
      const acked = await client.publish('a', { n: 2 });
      expect(received).toEqual([acked]);
    });
  });

  describe('subscribe and unsubscribe', () => {
    it('publish() resolves with the envelope that subscribers receive', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      expect(client.transport).toBe(transport);
      const fromHub = await testHub.hub.publish('a', { n: 0 }, { event: 'tick' });
      const fromClient = await client.publish('a', { n: 1 }, { event: 'say' });
      await recorder.waitForN('a', 1);
      expect(recorder.envelopes('a')).toEqual([fromHub, fromClient]);
      expect(fromClient).toMatchObject({ channel: 'a', event: 'say', data: { n: 1 } });
    });

    it('opens and publishes without subscribing to anything', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      const received: Envelope[] = [];
      testHub.hub.onMessage((_connection, envelope) => received.push(envelope));
      const acked = await client.publish('a', { n: 0 });
      expect(received).toEqual([acked]);
      expect(recorder.of('open')).toEqual([{ transport }]);
      expect(client.readyState).toBe(Client.OPEN);
    });

    it('stops delivering after unsubscribe, and a new subscribe starts from now', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      const routed: unknown[] = [];
      client.register('message', (data) => routed.push(data));
      const a = recorder.subscribe('a');
      await Promise.all([a.ready, recorder.subscribe('b').ready]);
      await testHub.hub.publish('a', { n: 0 });
      await recorder.waitForN('a', 0);

      a.unsubscribe();
      if (transport !== 'polling') {
        // The server forgets it too (a held poll counts while it is held).
        await waitFor(() => testHub.hub.stats().channels === 1, 5000, 'the hub to drop a');
      }
      await testHub.hub.publish('a', { n: 1 });
      // b's envelope, published after a's, is the barrier: a's would have come first.
      await testHub.hub.publish('b', { n: 0 });
      await recorder.waitForN('b', 0);
      expect(recorder.sequence('a')).toEqual([0]);
      expect(routed).toEqual([{ n: 0 }, { n: 0 }]);

      const again = recorder.subscribe('a');
      await again.ready;
      await testHub.hub.publish('a', { n: 2 });
      await recorder.waitForN('a', 2);
      // n=1 was published while unsubscribed: a new subscription does not replay it.
      expect(recorder.sequence('a')).toEqual([0, 2]);
    });

    it('keeps the channel while another handler of it remains', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      const other: unknown[] = [];
      const first = client.subscribe('a', (data) => other.push(data));
      await Promise.all([first.ready, recorder.subscribe('a').ready]);
      first.unsubscribe();
      await testHub.hub.publish('a', { n: 0 });
      await recorder.waitForN('a', 0);
      expect(other).toEqual([]);
    });

    it('subscribes before connecting (autoConnect: false) and from connect on', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions({ autoConnect: false }));
      const recorder = new Recorder(client);
      const subscription = recorder.subscribe('a');
      expect(client.readyState).toBe(Client.CLOSED);
      expect(subscription.position).toBeUndefined();
      client.connect();
      expect(client.readyState).toBe(Client.CONNECTING);
      await subscription.ready;
      expect(subscription.position).toEqual(expect.any(String));
      const envelope = await testHub.hub.publish('a', { n: 0 });
      await recorder.waitForN('a', 0);
      expect(subscription.position).toBe(envelope.id);
    });

    it('subscribes while the server is down, and receives once it is back', async () => {
      const first = await resources.hub();
      const client = resources.client(first.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      await first.close();
      await recorder.waitForEvent('close');
      const b = recorder.subscribe('b');
      const second = await resources.hub({}, first.port);
      await b.ready;
      await second.hub.publish('b', { n: 0 });
      await second.hub.publish('a', { n: 0 });
      await recorder.waitForN('b', 0);
      await recorder.waitForN('a', 0);
      expect(recorder.sequence('b')).toEqual([0]);
      // a resumed from a position of the old hub: the new one says so.
      expect(recorder.sequence('a')).toEqual(['gap', 0]);
    });

    it('carries several channels on one link, each in its own order', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      const channels = ['a', 'b', 'c'];
      await Promise.all(channels.map((channel) => recorder.subscribe(channel).ready));
      if (transport !== 'polling') {
        // One stream, or one held poll, for the three channels.
        await waitFor(() => {
          const { connections, channels: held } = testHub.hub.stats();
          return connections[transport] === 1 && held === 3;
        }, 5000);
      }
      await stream(0, 29, channels, hubPublisher(testHub.hub));
      for (const channel of channels) await recorder.waitForN(channel, 29);
      for (const channel of channels) expect(recorder.sequence(channel)).toEqual(range(0, 29));
      if (!transport.endsWith('polling')) {
        const { connections } = testHub.hub.stats();
        expect(Object.values(connections).reduce((x, y) => x + y)).toBe(1);
      }
    });

    it('loses and repeats nothing on a channel while others come and go mid-stream', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      // SSE and polls carry their channels in the URL: each change is a new stream or poll,
      // which must resume a from where it stood.
      for (let round = 0; round < 4; round++) {
        const publishing = stream(round * 20, round * 20 + 19, ['a'], hubPublisher(testHub.hub));
        const other = recorder.subscribe(`other-${round}`);
        await other.ready;
        other.unsubscribe();
        await publishing;
      }
      await recorder.waitForN('a', 79);
      await testHub.hub.publish('a', { n: 80 });
      await recorder.waitForN('a', 80);
      expect(recorder.sequence('a')).toEqual(range(0, 80));
    });

    it('routes envelopes by event, apart from lifecycle events of the same name', async () => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, clientOptions());
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      const routed: string[] = [];
      const unregister = client.register('close', (_data, envelope) => routed.push(envelope.id));
      client.register('reconnecting', (_data, envelope) => routed.push(envelope.id));
      const close = await testHub.hub.publish('a', { n: 0 }, { event: 'close' });
      const reconnecting = await testHub.hub.publish('a', { n: 1 }, { event: 'reconnecting' });
      await recorder.waitForN('a', 1);
      expect(routed).toEqual([close.id, reconnecting.id]);
      expect(recorder.count('close')).toBe(0);
      expect(recorder.count('reconnecting')).toBe(0);
      unregister();
      client.unregister('reconnecting');
      await testHub.hub.publish('a', { n: 2 }, { event: 'close' });
      await testHub.hub.publish('a', { n: 3 }, { event: 'reconnecting' });
      await recorder.waitForN('a', 3);
      expect(routed).toHaveLength(2);
      expect(() => client.on('tick' as 'open', () => {})).toThrow(/not a lifecycle event/);
    });
  });

  describe('the since option', () => {
    it('resumes from an id saved by an earlier client, once and in order', async () => {
      const testHub = await resources.hub();
      const earlier = new Recorder(resources.client(testHub.url, clientOptions()));
      await earlier.subscribe('a').ready;
      await stream(0, 4, ['a'], hubPublisher(testHub.hub));
      await earlier.waitForN('a', 4);
      const saved = earlier.envelopes('a')[1]!.id;
      earlier.client.destroy();
      await stream(5, 7, ['a'], hubPublisher(testHub.hub));

      const later = new Recorder(resources.client(testHub.url, clientOptions()));
      const subscription = later.subscribe('a', saved);
      expect(subscription.position).toBe(saved);
      await subscription.ready;
      await stream(8, 9, ['a'], hubPublisher(testHub.hub));
      await later.waitForN('a', 9);
      expect(later.sequence('a')).toEqual(range(2, 9));
      expect(later.of('gap')).toEqual([]);
    });

    it('reports a gap when history no longer reaches back to it, then what is held', async () => {
      const testHub = await resources.hub({ history: { maxCount: 3 } });
      const earlier = new Recorder(resources.client(testHub.url, clientOptions()));
      await earlier.subscribe('a').ready;
      await stream(0, 0, ['a'], hubPublisher(testHub.hub));
      await earlier.waitForN('a', 0);
      const saved = earlier.envelopes('a')[0]!.id;
      earlier.client.destroy();
      await stream(1, 9, ['a'], hubPublisher(testHub.hub));

      const later = new Recorder(resources.client(testHub.url, clientOptions()));
      await later.subscribe('a', saved).ready;
      await later.waitForN('a', 9);
      expect(later.sequence('a')).toEqual(['gap', 7, 8, 9]);
    });
  });

  describe('readyState and lifecycle events', () => {
    it('goes CONNECTING, OPEN, CONNECTING again while reconnecting, OPEN, CLOSED', async () => {
      const first = await resources.hub();
      const client = resources.client(first.url, clientOptions());
      const recorder = new Recorder(client);
      expect(client.readyState).toBe(Client.CONNECTING);
      await recorder.waitForEvent('open');
      expect(client.readyState).toBe(Client.OPEN);
      expect(recorder.of('open')).toEqual([{ transport }]);
      await recorder.subscribe('a').ready;

      await first.close();
      await recorder.waitForEvent('reconnecting');
      const second = await resources.hub({}, first.port);
      await recorder.waitForEvent('open', 2);
      expect(client.readyState).toBe(Client.OPEN);
      expect(client.transport).toBe(transport);
      await second.hub.publish('a', { n: 0 });
      await recorder.waitForN('a', 0);

      const close = recorder.of('close')[0]!;
      expect(close).toMatchObject({ transport, willReconnect: true });
      expect(close.reason).toEqual(expect.any(String));
      const reconnecting = recorder.of('reconnecting');
      expect(reconnecting[0]).toEqual({ attempt: 1, delayMs: expect.any(Number) });
      expect(reconnecting.map((event) => event.attempt)).toEqual(range(1, reconnecting.length));
      for (const { attempt, delayMs } of reconnecting) {
        // Full jitter: below min(cap, base · 2^(attempt - 1)).
        expect(delayMs).toBeGreaterThanOrEqual(0);
        expect(delayMs).toBeLessThan(Math.min(200, 20 * 2 ** (attempt - 1)));
      }
      // Never OPEN while the link is down: CONNECTING until the next one is up.
      const whileDown = recorder.readyStates.filter(({ kind }) =>
        ['close', 'reconnecting'].includes(kind),
      );
      expect(whileDown).toEqual(
        whileDown.map(({ kind }) => ({ kind, readyState: Client.CONNECTING })),
      );
      expect(recorder.readyStates.filter(({ kind }) => kind === 'open')).toEqual([
        { kind: 'open', readyState: Client.OPEN },
        { kind: 'open', readyState: Client.OPEN },
      ]);

      client.destroy();
      expect(client.readyState).toBe(Client.CLOSED);
      expect(recorder.of('close').at(-1)).toEqual({
        transport,
        reason: 'destroyed',
        willReconnect: false,
      });
      expect(() => client.subscribe('b')).toThrow(/destroyed/);
      await expect(client.publish('a', 1)).rejects.toMatchObject({ code: 'DESTROYED' });
    });

    it('rejects what waits when destroyed, and never reconnects after', async () => {
      const first = await resources.hub();
      const platform = countingPlatform(options);
      const client = resources.client(first.url, clientOptions(platform.options));
      const recorder = new Recorder(client);
      // The same client left alive: once it is back, the destroyed one had its chance too.
      const control = new Recorder(resources.client(first.url, clientOptions()));
      await Promise.all([recorder.subscribe('a').ready, control.subscribe('a').ready]);
      await first.close();
      await recorder.waitForEvent('close');
      const pending = client.publish('a', { n: 0 });
      client.destroy();
      await expect(pending).rejects.toMatchObject({ code: 'DESTROYED' });
      const attempts = platform.total;

      const second = await resources.hub({}, first.port);
      const received: Envelope[] = [];
      second.hub.onMessage((_connection, envelope) => received.push(envelope));
      await second.hub.publish('a', { n: 1 });
      await control.waitForN('a', 1);
      expect(platform.total).toBe(attempts);
      expect(received).toEqual([]);
    });
  });
});
