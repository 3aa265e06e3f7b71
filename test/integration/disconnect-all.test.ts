import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import type { DisconnectAllOptions, Hub } from '../../src/server/index.js';
import {
  Recorder,
  Resources,
  TRANSPORTS,
  fastOptions,
  hubPublisher,
  range,
  stream,
} from '../support/client-harness.js';
import { requestJson } from '../support/http-client.js';
import type { TestHub } from '../support/hub-server.js';
import { TestEventStream } from '../support/sse-client.js';
import { sleep, waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

/**
 * `hub.disconnectAll()`: every open connection is told to come back, as a drain would tell
 * it, while the hub stays up. Raw clients check what each transport is told; the real client
 * on each transport checks that it comes back and misses nothing. Real sockets on 127.0.0.1.
 */

const SSE_RETRY_MS = 1000;
const ZERO_CONNECTIONS = { websocket: 0, sse: 0, 'long-polling': 0, polling: 0, http: 0 };

const resources = new Resources();
const sockets: TestSocket[] = [];
const streams: TestEventStream[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const eventStream of streams.splice(0)) eventStream.close();
  await resources.closeAll();
});

async function openSocket(testHub: TestHub, channels: string[]): Promise<TestSocket> {
  const socket = await connectWs(testHub.wsUrl);
  sockets.push(socket);
  await subscribe(socket, channels);
  return socket;
}

async function openStream(url: string): Promise<TestEventStream> {
  const eventStream = await TestEventStream.open(url);
  streams.push(eventStream);
  await eventStream.waitForType('subscribed', 1);
  return eventStream;
}

/** Waits until the hub counts exactly these connections of these transports. */
async function expectConnections(testHub: TestHub, want: Partial<Record<string, number>>) {
  const counts = () => testHub.hub.stats().connections as Record<string, number>;
  await waitFor(
    () => Object.entries(want).every(([name, count]) => counts()[name] === count),
    5000,
    `connections ${JSON.stringify(want)} (have ${JSON.stringify(counts())})`,
  );
}

describe('hub.disconnectAll', () => {
  it('is typed (options?: { windowMs?: number }) => Promise<number>', () => {
    expectTypeOf<Hub['disconnectAll']>().toEqualTypeOf<
      (options?: DisconnectAllOptions) => Promise<number>
    >();
    expectTypeOf<DisconnectAllOptions>().toEqualTypeOf<{ readonly windowMs?: number }>();
  });

  it('closes a WebSocket with 1012 and a reason, and resolves with the count', async () => {
    const testHub = await resources.hub();
    const socket = await openSocket(testHub, ['a']);
    expect(await testHub.hub.disconnectAll()).toBe(1);
    expect(await socket.closed()).toEqual({ code: 1012, reason: 'disconnected by the server' });
    expect(testHub.hub.stats().connections).toEqual(ZERO_CONNECTIONS);
  });

  it('ends an SSE stream with a jittered retry: after its reason', async () => {
    const testHub = await resources.hub({ sseRetryMs: SSE_RETRY_MS });
    const eventStream = await openStream(`${testHub.url}/rt/sse?channel=a`);
    expect(await testHub.hub.disconnectAll()).toBe(1);
    await waitFor(() => eventStream.ended, 5000, 'the stream to end');
    const retry = Number(
      /: disconnected by the server\nretry: (\d+)\n\n$/.exec(eventStream.raw)?.[1],
    );
    expect(retry).toBeGreaterThanOrEqual(SSE_RETRY_MS * 0.5);
    expect(retry).toBeLessThanOrEqual(SSE_RETRY_MS * 1.5);
  });

  it('answers a held long poll at once, with the cursor it was given', async () => {
    const testHub = await resources.hub();
    const start = await requestJson<{ cursor: string }>(
      `${testHub.url}/rt/poll?channel=a&timeout=0`,
    );
    const cursor = encodeURIComponent(start.body.cursor);
    const held = requestJson(`${testHub.url}/rt/poll?channel=a&timeout=20000&cursor=${cursor}`);
    await expectConnections(testHub, { 'long-polling': 1 });
    const startedAt = Date.now();
    expect(await testHub.hub.disconnectAll()).toBe(1);
    const answer = await held;
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(answer.status).toBe(200);
    // So that the next poll opens a new connection, as after a drain.
    expect(answer.headers.get('connection')).toBe('close');
    expect(answer.body).toEqual({ messages: [], cursor: start.body.cursor });
  });

  it('spreads the closes over windowMs and keeps the connections made meanwhile', async () => {
    const windowMs = 800;
    const testHub = await resources.hub();
    const old = await Promise.all(range(1, 12).map(() => openSocket(testHub, ['a'])));
    const closedAt: number[] = [];
    for (const socket of old) socket.ws.once('close', () => closedAt.push(Date.now()));
    const startedAt = Date.now();
    const disconnecting = testHub.hub.disconnectAll({ windowMs });
    // The hub accepts newcomers at once, unlike during a drain: this one stays open.
    const newcomer = await openSocket(testHub, ['a']);
    expect(await disconnecting).toBe(12);
    expect(closedAt).toHaveLength(12);
    const span = Math.max(...closedAt) - Math.min(...closedAt);
    // 12 uniform draws over 800 ms span less than 400 ms about once in 500 000 runs.
    expect(span).toBeGreaterThanOrEqual(windowMs / 2);
    expect(Math.max(...closedAt) - startedAt).toBeLessThan(windowMs + 1000);
    expect(newcomer.closeCode).toBeUndefined();
    expect(testHub.hub.stats().connections.websocket).toBe(1);
  });

  it('counts only what it closed itself when a shutdown overlaps its window', async () => {
    const testHub = await resources.hub();
    const old = await Promise.all(range(1, 8).map(() => openSocket(testHub, ['a'])));
    const disconnecting = testHub.hub.disconnectAll({ windowMs: 2000 });
    // close() drains at once: each socket is told once, by whichever reaches it first.
    await testHub.hub.close();
    expect(await disconnecting).toBe(0);
    for (const socket of old) {
      expect(await socket.closed()).toEqual({ code: 1012, reason: 'server restarting' });
    }
  });

  it('resolves with 0 when nothing is open, refuses a bad window, and refuses once closing', async () => {
    const testHub = await resources.hub();
    expect(await testHub.hub.disconnectAll()).toBe(0);
    for (const windowMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(testHub.hub.disconnectAll({ windowMs })).rejects.toThrow(RangeError);
    }
    await testHub.close();
    await expect(testHub.hub.disconnectAll()).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});

describe.each(TRANSPORTS)('hub.disconnectAll with the client over %s', (transport) => {
  it('reconnects and receives every envelope before, during and after, once and in order', async () => {
    const testHub = await resources.hub();
    const publish = hubPublisher(testHub.hub);
    // Long polls held longer than the test: only disconnectAll answers them early.
    const client = resources.client(testHub.url, fastOptions(transport, { pollTimeoutMs: 20_000 }));
    const recorder = new Recorder(client);
    await recorder.subscribe('a').ready;
    if (transport !== 'polling') await expectConnections(testHub, { [transport]: 1 });

    await stream(1, 50, ['a'], publish);
    await recorder.waitForN('a', 50);
    // During: publishing goes on while the closes are spread over the window.
    let isDisconnecting = true;
    const disconnecting = testHub.hub.disconnectAll({ windowMs: 200 }).finally(() => {
      isDisconnecting = false;
    });
    let n = 51;
    while (isDisconnecting || n <= 100) {
      await publish('a', { n: n++ });
      // Paced, so that history (1000 envelopes) still holds what the client will ask for.
      await sleep(2);
    }
    const closed = await disconnecting;
    await stream(n, n + 49, ['a'], publish);

    await recorder.waitForN('a', n + 49);
    expect(recorder.sequence('a')).toEqual(range(1, n + 49));
    expect(recorder.of('gap')).toEqual([]);
    if (transport === 'websocket' || transport === 'sse') {
      expect(closed).toBe(1);
      expect(recorder.of('close')[0]).toMatchObject({ transport, willReconnect: true });
      if (transport === 'websocket') expect(recorder.of('close')[0]?.code).toBe(1012);
      expect(recorder.of('open')).toEqual([{ transport }, { transport }]);
    } else {
      // A poll lives until it is answered: one answered by an envelope before its turn in
      // the window is gone, and the next one is new. (The held-poll test above checks the
      // close itself.)
      expect(closed).toBeLessThanOrEqual(1);
    }
    if (transport === 'polling') return; // held only while it is answered: nothing to count
    // The new connection is there, on the hub that stayed up.
    await expectConnections(testHub, { [transport]: 1 });
  });
});
