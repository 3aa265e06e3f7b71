import { afterEach, describe, expect, it } from 'vitest';
import {
  Client,
  type ClientOptions,
  type Envelope,
  type TransportName,
} from '../../src/client/index.js';
import type { TestHub } from '../support/hub-server.js';
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
import type { TcpProxy } from '../support/tcp-proxy.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * The client on a network that fails: a link that goes silent (a dead NAT entry), a blip that
 * resets every connection, a proxy that refuses WebSocket upgrades. The client sits behind a
 * TCP proxy (`test/support/tcp-proxy.ts`) in front of a real hub.
 */

const resources = new Resources();
afterEach(() => resources.closeAll());

async function hubBehindProxy(): Promise<{ testHub: TestHub; proxy: TcpProxy }> {
  const testHub = await resources.hub();
  const proxy = await resources.proxy({ host: '127.0.0.1', port: testHub.port });
  return { testHub, proxy };
}

/** What clients published, as the hub received it. */
function received(testHub: TestHub): Envelope[] {
  const envelopes: Envelope[] = [];
  testHub.hub.onMessage((_connection, envelope) => envelopes.push(envelope));
  return envelopes;
}

describe.each(VARIANTS)('client over $name', ({ transport, options }) => {
  const clientOptions = (extra: ClientOptions = {}) =>
    fastOptions(transport, { ...options, ...extra });

  it('notices a blackholed link by its heartbeat, replaces it, and loses nothing', async () => {
    const { testHub, proxy } = await hubBehindProxy();
    const sent = received(testHub);
    const client = resources.client(proxy.url, clientOptions());
    const recorder = new Recorder(client);
    await recorder.subscribe('a').ready;
    await stream(0, 9, ['a'], hubPublisher(testHub.hub));
    await recorder.waitForN('a', 9);

    // The silent link stays silent; the next one the client opens goes through.
    client.on('close', () => proxy.setMode('forward'));
    proxy.setMode('blackhole');
    await stream(10, 19, ['a'], hubPublisher(testHub.hub));
    const ack = client.publish('up', { n: 0 });
    await recorder.waitForEvent('close');
    await stream(20, 29, ['a'], hubPublisher(testHub.hub));

    await recorder.waitForN('a', 29);
    expect(recorder.sequence('a')).toEqual(range(0, 29));
    expect(recorder.of('close')).toEqual([
      {
        transport,
        reason: expect.stringMatching(/^(no sign of life|no answer) within \d+ ms$/),
        willReconnect: true,
      },
    ]);
    expect(await ack).toMatchObject({ channel: 'up', data: { n: 0 } });
    expect(sent.map((envelope) => envelope.data)).toEqual([{ n: 0 }]);
    expect(recorder.of('open')).toEqual([{ transport }, { transport }]);
    expect(recorder.of('gap')).toEqual([]);
  });

  it('comes back after a network blip and resumes where it stood', async () => {
    const { testHub, proxy } = await hubBehindProxy();
    const sent = received(testHub);
    const client = resources.client(proxy.url, clientOptions());
    const recorder = new Recorder(client);
    await Promise.all([recorder.subscribe('a').ready, recorder.subscribe('b').ready]);
    await stream(0, 19, ['a', 'b'], hubPublisher(testHub.hub));
    await recorder.waitForN('a', 0);

    proxy.dropAll();
    const ack = client.publish('up', { n: 0 });
    await stream(20, 39, ['a', 'b'], hubPublisher(testHub.hub));
    // A stream or socket always dies with the blip. A poll only when one was in flight: a blip
    // that falls between two polls (the client reading an answer, busy machine) resets an idle
    // keep-alive socket, and the next poll simply opens a new one, with nothing to notice.
    if (transport === 'websocket' || transport === 'sse') await recorder.waitForEvent('open', 2);
    await stream(40, 59, ['a', 'b'], hubPublisher(testHub.hub));

    for (const channel of ['a', 'b']) await recorder.waitForN(channel, 59);
    for (const channel of ['a', 'b']) expect(recorder.sequence(channel)).toEqual(range(0, 59));
    expect(await ack).toMatchObject({ channel: 'up', data: { n: 0 } });
    if (transport === 'websocket') {
      // Its bytes died with the socket: sent again once, received once.
      expect(sent.map((envelope) => envelope.data)).toEqual([{ n: 0 }]);
    } else {
      // At least once, as documented: the POST went out on a connection of its own that the
      // blip spared, but the link that ended with the stream aborts it and the outbox sends it
      // again, so the hub may get it twice (reported; see the client's HttpLink).
      expect(sent.length).toBeGreaterThanOrEqual(1);
      expect(new Set(sent.map((envelope) => JSON.stringify(envelope.data)))).toEqual(
        new Set([JSON.stringify({ n: 0 })]),
      );
    }
    // A poll between two requests may not notice the blip at all (above).
    if (transport === 'websocket' || transport === 'sse') {
      expect(recorder.of('close')[0]).toMatchObject({ transport, willReconnect: true });
    }
  });

  it('gives up after maxRetries failed attempts: CLOSED, pending publishes rejected', async () => {
    const testHub = await resources.hub();
    const client = resources.client(
      testHub.url,
      clientOptions({ reconnect: { baseMs: 20, capMs: 50, maxRetries: 2 } }),
    );
    const recorder = new Recorder(client);
    await recorder.subscribe('a').ready;
    // Published as the link drops: the attempts that follow may all fail within a few ms.
    let pending: Promise<Envelope> | undefined;
    const off = client.on('close', () => {
      off();
      pending = client.publish('a', { n: 0 });
      // It may reject before the test gets to await it: handled here, checked below.
      pending.catch(() => {});
    });
    await testHub.close();
    await waitFor(() => pending !== undefined);
    await expect(pending).rejects.toMatchObject({ code: 'GAVE_UP' });
    expect(client.readyState).toBe(Client.CLOSED);
    expect(recorder.of('reconnecting').map((event) => event.attempt)).toEqual([1, 2]);
    expect(recorder.of('error')).toEqual([expect.objectContaining({ code: 'GAVE_UP' })]);
    // The link that died and the first attempt say the client tries again; the last, that it
    // stops, and readyState says CLOSED already.
    expect(recorder.of('close').map((close) => close.willReconnect)).toEqual([true, true, false]);
    expect(recorder.readyStates.filter(({ kind }) => kind === 'close').at(-1)).toEqual({
      kind: 'close',
      readyState: Client.CLOSED,
    });
  });
});

describe('transport fallback', () => {
  it.each([
    { transports: undefined, expected: 'sse' },
    { transports: ['websocket', 'long-polling'], expected: 'long-polling' },
  ] as Array<{ transports: TransportName[] | undefined; expected: TransportName }>)(
    'falls back to $expected when a proxy refuses WebSocket upgrades ($transports)',
    async ({ transports, expected }) => {
      const { testHub, proxy } = await hubBehindProxy();
      proxy.setMode('refuse-upgrades');
      const sent = received(testHub);
      const client = resources.client(proxy.url, fastOptions(undefined, { transports }));
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      expect(client.transport).toBe(expected);
      const envelope = await testHub.hub.publish('a', { n: 0 });
      const ack = await client.publish('a', { n: 1 });
      await recorder.waitForN('a', 1);
      expect(recorder.envelopes('a')).toEqual([envelope, ack]);
      expect(sent).toEqual([ack]);
      // One refused WebSocket, then the fallback: no backoff spent on a transport that never worked.
      expect(recorder.of('open')).toEqual([{ transport: expected }]);
      expect(recorder.of('close')).toEqual([
        expect.objectContaining({ transport: 'websocket', willReconnect: true }),
      ]);
      expect(recorder.count('reconnecting')).toBe(0);
    },
  );

  it.each([
    { transports: ['websocket', 'sse'], fallback: 'sse' },
    { transports: ['websocket', 'long-polling'], fallback: 'long-polling' },
  ] as Array<{ transports: TransportName[]; fallback: TransportName }>)(
    'climbs back from $fallback to websocket once upgrades pass, losing nothing',
    async ({ transports, fallback }) => {
      const { testHub, proxy } = await hubBehindProxy();
      proxy.setMode('refuse-upgrades');
      const platform = countingPlatform();
      const client = resources.client(
        proxy.url,
        fastOptions(undefined, { ...platform.options, transports, upgradeIntervalMs: 50 }),
      );
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      expect(client.transport).toBe(fallback);
      // The refused upgrade, a refused probe (a second one means the first failed): the
      // fallback link carries on meanwhile.
      await waitFor(() => platform.counts.WebSocket >= 3, 5000, 'two probes');
      expect(client.transport).toBe(fallback);

      // A steady stream, through the switch.
      let isStreaming = true;
      let next = 0;
      const streaming = (async () => {
        while (isStreaming) {
          await testHub.hub.publish('a', { n: next++ });
          await sleep(2);
        }
      })();
      await recorder.waitForN('a', 10);
      proxy.setMode('forward');
      await waitFor(() => client.transport === 'websocket' && client.readyState === 1, 5000);
      await recorder.waitForN('a', next + 10);
      isStreaming = false;
      await streaming;

      await recorder.waitForN('a', next - 1);
      expect(recorder.sequence('a')).toEqual(range(0, next - 1));
      expect(recorder.of('open')).toEqual([{ transport: fallback }, { transport: 'websocket' }]);
    },
  );
});

describe('a link with nothing to watch', () => {
  it.each(VARIANTS.filter(({ transport }) => transport === 'sse'))(
    'keeps an SSE client ($name) without channels open: no stream is no dead link',
    async ({ transport, options }) => {
      const testHub = await resources.hub();
      const client = resources.client(testHub.url, fastOptions(transport, options));
      const closes: string[] = [];
      client.on('close', ({ reason }) => closes.push(reason));
      await waitFor(() => client.readyState === 1);
      // Several heartbeat windows (200 ms quiet + 300 ms timeout) without a byte from the hub.
      await sleep(1500);
      expect(closes).toEqual([]);
      expect((await client.publish('a', 'hi')).data).toBe('hi');
      // Once it streams, it is watched like any stream, and hears what is published.
      const got: unknown[] = [];
      await client.subscribe('a', (data) => got.push(data)).ready;
      await testHub.hub.publish('a', 1);
      await waitFor(() => got.length === 1);
      expect(closes).toEqual([]);
    },
  );
});
