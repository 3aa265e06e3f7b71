import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { HubOptions } from '../../src/server/index.js';
import {
  type ReceivedEvent,
  RecordingEventSource,
  closeEventSources,
} from '../support/event-source.js';
import { publishHttp } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { waitFor } from '../support/wait.js';

// The `eventsource` package stands in for a browser's native EventSource: it reconnects by
// itself, honours `retry:` and sends `Last-Event-ID`, exactly as the WHATWG spec asks.

const OPTIONS: HubOptions = { sseRetryMs: 100 };

const hubs: TestHub[] = [];
afterEach(async () => {
  closeEventSources();
  await Promise.all(hubs.splice(0).map((testHub) => testHub.close()));
});

async function hubOn(port = 0): Promise<TestHub> {
  const testHub = await startHub(OPTIONS, port);
  hubs.push(testHub);
  return testHub;
}

/** What an envelope looks like to an EventSource listener on a one-channel stream. */
function received(envelope: Envelope): ReceivedEvent {
  return { type: envelope.event, data: JSON.stringify(envelope), lastEventId: envelope.id };
}

function subscribedEvent(channel: string, position: string, recovered: boolean): ReceivedEvent {
  return {
    type: 'subscribed',
    data: JSON.stringify({ channels: [{ channel, position, recovered }] }),
    lastEventId: position,
  };
}

const TYPES = ['subscribed', 'gap', 'message', 'tick'];

async function publishMany(testHub: TestHub, channel: string, from: number, to: number) {
  const envelopes: Envelope[] = [];
  for (let n = from; n <= to; n++) envelopes.push(await testHub.hub.publish(channel, { n }));
  return envelopes;
}

describe('EventSource (the eventsource package) against /rt/sse', () => {
  it('receives named events with their ids as lastEventId', async () => {
    const testHub = await hubOn();
    const before = await testHub.hub.publish('prices', 'before');
    const client = new RecordingEventSource(`${testHub.url}/rt/sse?channel=prices`, TYPES);
    await client.waitForType('subscribed', 1);
    expect(client.source.readyState).toBe(EventSource.OPEN);
    const message = await testHub.hub.publish('prices', { p: 1 });
    const tick = await testHub.hub.publish('prices', { p: 2 }, { event: 'tick' });
    const answer = await publishHttp(testHub.url, 'prices', { p: 3 }, 'tick');
    expect(answer.status).toBe(201);
    const ticks = await client.waitForType('tick', 2);
    expect(ticks[1]?.lastEventId).toBe(answer.body.id);
    expect(client.events).toEqual([
      subscribedEvent('prices', before.id, false),
      received(message),
      received(tick),
      {
        type: 'tick',
        data: expect.stringContaining(`"id":"${answer.body.id}"`) as unknown,
        lastEventId: answer.body.id,
      },
    ]);
    expect(JSON.parse(ticks[1]?.data as string)).toMatchObject({
      channel: 'prices',
      event: 'tick',
      data: { p: 3 },
    });
    expect(client.requests).toEqual([{ lastEventId: null }]);
    expect(client.opens).toBe(1);
    expect(client.errors).toBe(0);
  });

  it('reconnects by itself after a dropped connection and gets what it missed, once, in order', async () => {
    const testHub = await hubOn();
    const client = new RecordingEventSource(`${testHub.url}/rt/sse?channel=a`, TYPES);
    const [first] = await client.waitForType('subscribed', 1);
    const seen = await publishMany(testHub, 'a', 1, 2);
    await client.waitForType('message', 2);

    client.holdReconnects();
    testHub.server.closeAllConnections();
    // The client noticed and is coming back (held at the door); the server let it go.
    await waitFor(() => client.requests.length === 2, 5000, 'a reconnect attempt');
    await waitFor(() => testHub.hub.stats().connections.sse === 0, 2000, 'the stream to go');
    expect(client.source.readyState).toBe(EventSource.CONNECTING);
    expect(client.errors).toBe(1);
    const missed = await publishMany(testHub, 'a', 3, 5);
    client.releaseReconnects();

    await client.waitForType('subscribed', 2);
    const live = await publishMany(testHub, 'a', 6, 6);
    await client.waitForType('message', 6);
    const last = seen[1] as Envelope;
    expect(client.requests).toEqual([{ lastEventId: null }, { lastEventId: last.id }]);
    expect(client.events).toEqual([
      first,
      ...seen.map(received),
      subscribedEvent('a', last.id, true),
      ...missed.map(received),
      ...live.map(received),
    ]);
    expect(client.opens).toBe(2);
  });

  it('resumes from the subscribed id when the connection dropped before any envelope', async () => {
    const testHub = await hubOn();
    await publishMany(testHub, 'a', 1, 2);
    const client = new RecordingEventSource(`${testHub.url}/rt/sse?channel=a`, TYPES);
    const [first] = await client.waitForType('subscribed', 1);
    client.holdReconnects();
    testHub.server.closeAllConnections();
    await waitFor(() => client.requests.length === 2, 5000, 'a reconnect attempt');
    const missed = await publishMany(testHub, 'a', 3, 4);
    client.releaseReconnects();
    await client.waitForType('message', 2);
    expect(client.requests[1]).toEqual({ lastEventId: first?.lastEventId });
    expect(client.events).toEqual([
      first,
      subscribedEvent('a', first?.lastEventId as string, true),
      ...missed.map(received),
    ]);
  });

  it('resumes every channel of a multi-channel stream after a drop', async () => {
    const testHub = await hubOn();
    const client = new RecordingEventSource(`${testHub.url}/rt/sse?channel=a&channel=b`, TYPES);
    await client.waitForType('subscribed', 1);
    const a1 = await testHub.hub.publish('a', 'a1');
    const b1 = await testHub.hub.publish('b', 'b1');
    await client.waitForType('message', 2);
    client.holdReconnects();
    testHub.server.closeAllConnections();
    await waitFor(() => client.requests.length === 2, 5000, 'a reconnect attempt');
    const a2 = await testHub.hub.publish('a', 'a2');
    const b2 = await testHub.hub.publish('b', 'b2');
    client.releaseReconnects();
    await client.waitForType('message', 4);
    const b3 = await testHub.hub.publish('b', 'b3');
    await client.waitForType('message', 5);
    const envelopes = client.ofType('message').map((e) => JSON.parse(e.data) as Envelope);
    // Backlogs come channel by channel (order holds within a channel), then live traffic.
    expect(envelopes).toEqual([a1, b1, a2, b2, b3]);
    // The ids are cursors of both channels, not envelope ids.
    expect(client.requests[1]?.lastEventId).toBe(client.ofType('message')[1]?.lastEventId);
    expect(client.requests[1]?.lastEventId).not.toBe(b1.id);
    const resubscribed = client.ofType('subscribed')[1] as ReceivedEvent;
    expect(JSON.parse(resubscribed.data)).toEqual({
      channels: [
        { channel: 'a', position: a1.id, recovered: true },
        { channel: 'b', position: b1.id, recovered: true },
      ],
    });
  });

  it('gets a gap, then everything the new hub publishes, across a hub restart on the same port', async () => {
    const oldHub = await hubOn();
    const client = new RecordingEventSource(`${oldHub.url}/rt/sse?channel=a`, TYPES);
    const [first] = await client.waitForType('subscribed', 1);
    const seen = await publishMany(oldHub, 'a', 1, 2);
    await client.waitForType('message', 2);

    client.holdReconnects();
    await oldHub.close();
    await waitFor(() => client.requests.length === 2, 5000, 'a reconnect attempt');
    const newHub = await hubOn(oldHub.port);
    expect(newHub.url).toBe(oldHub.url);
    const whileAway = await publishMany(newHub, 'a', 1, 2);
    client.releaseReconnects();

    await client.waitForType('message', 4);
    const live = await publishMany(newHub, 'a', 3, 3);
    await client.waitForType('message', 5);
    const epoch = whileAway[0]?.id.split('-')[0] as string;
    expect(epoch).not.toBe(seen[0]?.id.split('-')[0]);
    expect(client.requests[1]).toEqual({ lastEventId: seen[1]?.id });
    expect(client.events).toEqual([
      first,
      ...seen.map(received),
      subscribedEvent('a', `${epoch}-0`, false),
      { type: 'gap', data: '{"channel":"a"}', lastEventId: `${epoch}-0` },
      ...whileAway.map(received),
      ...live.map(received),
    ]);
  });

  it('keeps retrying while the server is down and resumes once a hub is back', async () => {
    const oldHub = await hubOn();
    const client = new RecordingEventSource(`${oldHub.url}/rt/sse?channel=a`, TYPES);
    await client.waitForType('subscribed', 1);
    const [seen] = await publishMany(oldHub, 'a', 1, 1);
    await client.waitForType('message', 1);
    await oldHub.close();
    // Refused connections: the client schedules another try each time, it does not give up.
    await waitFor(() => client.requests.length >= 3, 5000, 'repeated reconnect attempts');
    expect(client.source.readyState).toBe(EventSource.CONNECTING);
    const newHub = await hubOn(oldHub.port);
    const [next] = await publishMany(newHub, 'a', 1, 1);
    await client.waitForType('message', 2);
    expect(client.requests.slice(1).map((r) => r.lastEventId)).toEqual(
      client.requests.slice(1).map(() => seen?.id),
    );
    expect(client.ofType('gap')).toEqual([
      {
        type: 'gap',
        data: '{"channel":"a"}',
        lastEventId: `${next?.id.split('-')[0]}-0`,
      },
    ]);
    expect(client.ofType('message')).toEqual([
      received(seen as Envelope),
      received(next as Envelope),
    ]);
    expect(client.source.readyState).toBe(EventSource.OPEN);
  });
});
