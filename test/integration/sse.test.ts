import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { HubOptions } from '../../src/server/index.js';
import {
  type ReceivedEvent,
  RecordingEventSource,
  closeEventSources,
} from '../support/event-source.js';
import { publishHttp, requestJson } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { TestEventStream, type WireEvent } from '../support/sse-client.js';
import { SurvivingBroker } from '../support/surviving-broker.js';
import { waitFor } from '../support/wait.js';

// Everything a test opens is closed in afterEach, even when the test fails half-way.
const hubs: TestHub[] = [];
const streams: TestEventStream[] = [];
const rawRequests: http.ClientRequest[] = [];

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  for (const request of rawRequests.splice(0)) request.destroy();
  await Promise.all(hubs.splice(0).map((testHub) => testHub.close()));
});

async function hubWith(options: HubOptions = {}): Promise<TestHub> {
  const testHub = await startHub(options);
  hubs.push(testHub);
  return testHub;
}

function sseUrl(testHub: TestHub, query: string): string {
  return `${testHub.url}/rt/sse?${query}`;
}

async function openStream(url: string, headers: Record<string, string> = {}) {
  const stream = await TestEventStream.open(url, headers);
  streams.push(stream);
  return stream;
}

/** Opens a stream and waits for its `subscribed` event. */
async function subscribed(url: string, headers: Record<string, string> = {}) {
  const stream = await openStream(url, headers);
  expect(stream.status).toBe(200);
  const [event] = await stream.waitForType('subscribed', 1);
  return { stream, event: event as WireEvent };
}

function envelopeOf(event: WireEvent): Envelope {
  return JSON.parse(event.data) as Envelope;
}

/** The exact wire text of one envelope on a single-channel stream. */
function wireText(envelope: Envelope): string {
  return `id: ${envelope.id}\nevent: ${envelope.event}\ndata: ${JSON.stringify(envelope)}\n\n`;
}

function dataLine(event: WireEvent): string {
  return `data: ${event.data}`;
}

async function publishMany(testHub: TestHub, channel: string, count: number, from = 1) {
  const envelopes: Envelope[] = [];
  for (let i = from; i < from + count; i++) {
    envelopes.push(await testHub.hub.publish(channel, { n: i }));
  }
  return envelopes;
}

/**
 * Publishes a last envelope and waits for it: once it arrived, everything published before
 * it has arrived too, so the list of messages can be asserted as complete (no sleep needed
 * to prove that nothing more follows).
 */
async function sentinel(testHub: TestHub, stream: TestEventStream, channel: string) {
  const envelope = await testHub.hub.publish(channel, 'sentinel', { event: 'sentinel' });
  await stream.waitForType('sentinel', 1);
  return envelope;
}

const OPENING = 'retry: 2000\n\n:\n\n';

describe('GET /rt/sse: the stream', () => {
  it('answers 200 with the event-stream headers and starts with retry: then a comment', async () => {
    const testHub = await hubWith({ sseRetryMs: 1234 });
    const stream = await openStream(sseUrl(testHub, 'channel=a'));
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']?.split(';')[0]).toBe('text/event-stream');
    expect(stream.headers['cache-control']?.split(/,\s*/)).toContain('no-cache');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers.connection).toBe('keep-alive');
    expect(stream.headers['content-length']).toBeUndefined();
    await waitFor(() => stream.raw.length >= 'retry: 1234\n\n:\n\n'.length);
    expect(stream.raw.startsWith('retry: 1234\n\n:\n\n')).toBe(true);
  });

  it('sends a subscribed event whose id is the position the stream starts from', async () => {
    const testHub = await hubWith();
    const [, second] = await publishMany(testHub, 'a', 2);
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a'));
    const position = (second as Envelope).id;
    expect(event.id).toBe(position);
    expect(JSON.parse(event.data)).toEqual({
      channels: [{ channel: 'a', position, recovered: false }],
    });
    // Exactly the opening, then the subscribed event: nothing of the history is replayed.
    expect(stream.raw).toBe(
      `${OPENING}id: ${position}\nevent: subscribed\n` +
        `data: {"channels":[{"channel":"a","position":"${position}","recovered":false}]}\n\n`,
    );
  });

  it('delivers envelopes in publish order, each as id:, event: and data: lines', async () => {
    const testHub = await hubWith();
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a'));
    const opening = stream.raw;
    expect(opening).toBe(`${OPENING}id: ${event.id}\nevent: subscribed\n${dataLine(event)}\n\n`);
    const envelopes = await publishMany(testHub, 'a', 3);
    const messages = await stream.waitForType('message', 3);
    expect(messages.map((m) => m.id)).toEqual(envelopes.map((e) => e.id));
    expect(messages.map(envelopeOf)).toEqual(envelopes);
    // The whole stream, byte for byte.
    await waitFor(
      () => stream.raw.length >= opening.length + envelopes.map(wireText).join('').length,
    );
    expect(stream.raw).toBe(opening + envelopes.map(wireText).join(''));
    expect(wireText(envelopes[0] as Envelope)).toBe(
      `id: ${envelopes[0]?.id}\nevent: message\n` +
        `data: {"id":"${envelopes[0]?.id}","channel":"a","event":"message","data":{"n":1},"ts":${envelopes[0]?.ts}}\n\n`,
    );
  });

  it('writes the envelope event name on the event: line', async () => {
    const testHub = await hubWith();
    const { stream } = await subscribed(sseUrl(testHub, 'channel=prices'));
    const tick = await testHub.hub.publish('prices', { p: 1 }, { event: 'tick' });
    const answer = await publishHttp(testHub.url, 'prices', { p: 2 }, 'price.update');
    expect(answer.status).toBe(201);
    const [update] = await stream.waitForType('price.update', 1);
    const [tickEvent] = stream.ofType('tick');
    expect(tickEvent).toEqual({ id: tick.id, event: 'tick', data: JSON.stringify(tick) });
    expect(update?.id).toBe(answer.body.id);
    expect(envelopeOf(update as WireEvent)).toMatchObject({
      id: answer.body.id,
      channel: 'prices',
      event: 'price.update',
      data: { p: 2 },
    });
    expect(stream.raw).toContain(`id: ${tick.id}\nevent: tick\ndata: `);
    expect(stream.raw).toContain(`id: ${answer.body.id}\nevent: price.update\ndata: `);
    expect(stream.ofType('message')).toEqual([]);
  });

  it('keeps data with line breaks on one data: line, and it round-trips', async () => {
    const testHub = await hubWith();
    const { stream } = await subscribed(sseUrl(testHub, 'channel=a'));
    const data = {
      text: 'one\ntwo\r\nthree\rfour',
      list: ['\n', 'a\u2028b'],
      nested: { x: '\n\n' },
    };
    const envelope = await testHub.hub.publish('a', data, { event: 'multi' });
    const [event] = await stream.waitForType('multi', 1);
    const block = stream.raw.slice(stream.raw.indexOf(`id: ${envelope.id}\n`));
    expect(block).toBe(wireText(envelope));
    // id, event, data, then the blank line: one data: line only.
    expect(block.split('\n')).toHaveLength(5);
    expect(block.match(/^data: /gm)).toHaveLength(1);
    expect(envelopeOf(event as WireEvent).data).toEqual(data);
  });

  it('sends a comment heartbeat every sseHeartbeatMs', async () => {
    const testHub = await hubWith({ sseHeartbeatMs: 40 });
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a'));
    // The opening comment is one; wait for three more.
    await waitFor(() => (stream.raw.match(/^:\n\n/gm)?.length ?? 0) >= 4, 2000, 'heartbeats');
    const subscribedText = `id: ${event.id}\nevent: subscribed\n${dataLine(event)}\n\n`;
    // Nothing but heartbeat comments besides the opening and the subscribed event.
    expect(stream.raw.replaceAll(':\n\n', '')).toBe(`retry: 2000\n\n${subscribedText}`);
    expect(stream.events).toHaveLength(1);
  });
});

describe('GET /rt/sse: several channels', () => {
  it.each([['channel=a&channel=b'], ['channel=a,b']])(
    'delivers both channels of %s, with ids that resume both',
    async (query) => {
      const testHub = await hubWith();
      const { stream, event } = await subscribed(sseUrl(testHub, query));
      const data = JSON.parse(event.data) as { channels: Array<Record<string, unknown>> };
      expect(data.channels.map((c) => c.channel)).toEqual(['a', 'b']);
      expect(data.channels.map((c) => c.recovered)).toEqual([false, false]);
      const a1 = await testHub.hub.publish('a', 'a1');
      const b1 = await testHub.hub.publish('b', 'b1');
      const messages = await stream.waitForType('message', 2);
      expect(messages.map(envelopeOf)).toEqual([a1, b1]);
      // A cursor of both channels, not the envelope id.
      const cursor = messages[1]?.id as string;
      expect(cursor).not.toBe(b1.id);
      expect(cursor).not.toBe(a1.id);
      stream.close();

      const a2 = await testHub.hub.publish('a', 'a2');
      const b2 = await testHub.hub.publish('b', 'b2');
      const a3 = await testHub.hub.publish('a', 'a3');
      const again = await subscribed(sseUrl(testHub, query), { 'Last-Event-ID': cursor });
      expect(JSON.parse(again.event.data)).toEqual({
        channels: [
          { channel: 'a', position: a1.id, recovered: true },
          { channel: 'b', position: b1.id, recovered: true },
        ],
      });
      await sentinel(testHub, again.stream, 'b');
      const resumed = again.stream.ofType('message').map(envelopeOf);
      // Order holds within each channel; across channels the backlog goes channel by channel.
      expect(resumed.filter((e) => e.channel === 'a')).toEqual([a2, a3]);
      expect(resumed.filter((e) => e.channel === 'b')).toEqual([b2]);
      expect(resumed).toHaveLength(3);
    },
  );

  it('resumes both channels from the subscribed id of a stream that got no envelope', async () => {
    const testHub = await hubWith();
    await testHub.hub.publish('a', 'before');
    const first = await subscribed(sseUrl(testHub, 'channel=a&channel=b'));
    first.stream.close();
    const a1 = await testHub.hub.publish('a', 'a1');
    const b1 = await testHub.hub.publish('b', 'b1');
    const { stream } = await subscribed(sseUrl(testHub, 'channel=a&channel=b'), {
      'Last-Event-ID': first.event.id as string,
    });
    await sentinel(testHub, stream, 'a');
    expect(stream.ofType('message').map(envelopeOf)).toEqual([a1, b1]);
  });

  it('starts a channel missing from the cursor from now, and resumes the others', async () => {
    const testHub = await hubWith();
    const first = await subscribed(sseUrl(testHub, 'channel=a&channel=b'));
    first.stream.close();
    const a1 = await testHub.hub.publish('a', 'a1');
    await testHub.hub.publish('c', 'c-before');
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a&channel=b&channel=c'), {
      'Last-Event-ID': first.event.id as string,
    });
    const channels = (JSON.parse(event.data) as { channels: Array<Record<string, unknown>> })
      .channels;
    expect(channels.map((c) => [c.channel, c.recovered])).toEqual([
      ['a', true],
      ['b', true],
      ['c', false],
    ]);
    await sentinel(testHub, stream, 'c');
    expect(stream.ofType('message').map(envelopeOf)).toEqual([a1]);
  });
});

describe('GET /rt/sse: resume', () => {
  async function missedWhileAway(how: 'header' | 'query') {
    const testHub = await hubWith();
    const first = await subscribed(sseUrl(testHub, 'channel=a'));
    const seen = await publishMany(testHub, 'a', 2);
    await first.stream.waitForType('message', 2);
    const last = first.stream.lastEventId as string;
    expect(last).toBe(seen[1]?.id);
    first.stream.close();
    const missed = await publishMany(testHub, 'a', 3, 3);
    const { stream, event } =
      how === 'header'
        ? await subscribed(sseUrl(testHub, 'channel=a'), { 'Last-Event-ID': last })
        : await subscribed(sseUrl(testHub, `channel=a&lastEventId=${encodeURIComponent(last)}`));
    expect(event.id).toBe(last);
    expect(JSON.parse(event.data)).toEqual({
      channels: [{ channel: 'a', position: last, recovered: true }],
    });
    const end = await sentinel(testHub, stream, 'a');
    expect(stream.events.map((e) => e.id)).toEqual([last, ...missed.map((e) => e.id), end.id]);
    expect(stream.ofType('message').map(envelopeOf)).toEqual(missed);
  }

  it('sends every missed envelope once, in order, after a Last-Event-ID header', async () => {
    await missedWhileAway('header');
  });

  it('sends every missed envelope once, in order, after a lastEventId query', async () => {
    await missedWhileAway('query');
  });

  it('lets the Last-Event-ID header win over the lastEventId query', async () => {
    const testHub = await hubWith();
    const envelopes = await publishMany(testHub, 'a', 4);
    const [first, , third, fourth] = envelopes as [Envelope, Envelope, Envelope, Envelope];
    const { stream, event } = await subscribed(
      sseUrl(testHub, `channel=a&lastEventId=${first.id}`),
      { 'Last-Event-ID': third.id },
    );
    expect(event.id).toBe(third.id);
    await sentinel(testHub, stream, 'a');
    expect(stream.ofType('message').map(envelopeOf)).toEqual([fourth]);
  });

  it('resumes from the subscribed id of a stream that received no envelope', async () => {
    const testHub = await hubWith();
    await publishMany(testHub, 'a', 2);
    const first = await subscribed(sseUrl(testHub, 'channel=a'));
    expect(first.stream.lastEventId).toBe(first.event.id);
    first.stream.close();
    const between = await publishMany(testHub, 'a', 2, 3);
    const { stream } = await subscribed(sseUrl(testHub, 'channel=a'), {
      'Last-Event-ID': first.event.id as string,
    });
    await sentinel(testHub, stream, 'a');
    expect(stream.ofType('message').map(envelopeOf)).toEqual(between);
  });

  it('sends a gap, then what is held, when history was trimmed past the position', async () => {
    const testHub = await hubWith({ history: { maxCount: 3 } });
    const envelopes = await publishMany(testHub, 'a', 6);
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a'), {
      'Last-Event-ID': envelopes[0]?.id as string,
    });
    // Where the held history starts: just before the oldest envelope kept.
    expect(JSON.parse(event.data)).toEqual({
      channels: [{ channel: 'a', position: envelopes[2]?.id, recovered: false }],
    });
    await stream.waitForType('message', 3);
    expect(stream.events.map((e) => e.event)).toEqual([
      'subscribed',
      'gap',
      'message',
      'message',
      'message',
    ]);
    const gap = stream.ofType('gap')[0] as WireEvent;
    expect(JSON.parse(gap.data)).toEqual({ channel: 'a' });
    expect(gap.id).toBe(envelopes[2]?.id);
    expect(stream.raw).toContain(`event: gap\ndata: {"channel":"a"}\n\n`);
    expect(stream.ofType('message').map(envelopeOf)).toEqual(envelopes.slice(3));
  });

  it('sends a gap for a position of another hub (another epoch), then what is held', async () => {
    const other = await hubWith();
    const foreign = await other.hub.publish('a', 'elsewhere');
    const testHub = await hubWith();
    const held = await publishMany(testHub, 'a', 2);
    expect(held[0]?.id.split('-')[0]).not.toBe(foreign.id.split('-')[0]);
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a'), {
      'Last-Event-ID': foreign.id,
    });
    // The new epoch's position before everything it holds.
    const epoch = held[0]?.id.split('-')[0] as string;
    expect(JSON.parse(event.data)).toEqual({
      channels: [{ channel: 'a', position: `${epoch}-0`, recovered: false }],
    });
    const end = await sentinel(testHub, stream, 'a');
    expect(stream.events.map((e) => e.event)).toEqual([
      'subscribed',
      'gap',
      'message',
      'message',
      'sentinel',
    ]);
    expect(stream.ofType('message').map(envelopeOf)).toEqual(held);
    expect(stream.lastEventId).toBe(end.id);
  });

  it('sends a gap for a position of another epoch in a multi-channel cursor', async () => {
    const other = await hubWith();
    const foreignStream = await subscribed(sseUrl(other, 'channel=a&channel=b'));
    const foreignCursor = foreignStream.event.id as string;
    const testHub = await hubWith();
    const a1 = await testHub.hub.publish('a', 'a1');
    const { stream } = await subscribed(sseUrl(testHub, 'channel=a&channel=b'), {
      'Last-Event-ID': foreignCursor,
    });
    await sentinel(testHub, stream, 'a');
    const gaps = stream.ofType('gap').map((g) => JSON.parse(g.data) as unknown);
    expect(gaps).toEqual([{ channel: 'a' }, { channel: 'b' }]);
    expect(stream.ofType('message').map(envelopeOf)).toEqual([a1]);
  });
});

describe('GET /rt/sse: connection lifecycle', () => {
  it('leaves no connection and no subscription behind when the client disconnects', async () => {
    const testHub = await hubWith();
    const one = await subscribed(sseUrl(testHub, 'channel=a'));
    const two = await subscribed(sseUrl(testHub, 'channel=b&channel=c'));
    expect(testHub.hub.stats()).toEqual({
      connections: { websocket: 0, sse: 2, 'long-polling': 0, polling: 0, http: 0 },
      channels: 3,
      broker: 'available',
      dropped: {},
    });
    one.stream.close();
    await waitFor(() => testHub.hub.stats().connections.sse === 1, 2000, 'one stream gone');
    expect(testHub.hub.stats().channels).toBe(2);
    two.stream.close();
    await waitFor(() => testHub.hub.stats().connections.sse === 0, 2000, 'no stream left');
    expect(testHub.hub.stats()).toEqual({
      connections: { websocket: 0, sse: 0, 'long-polling': 0, polling: 0, http: 0 },
      channels: 0,
      broker: 'available',
      dropped: {},
    });
    // Publishing to the channels the streams left must not fail nor write anywhere.
    await expect(testHub.hub.publish('a', 1)).resolves.toMatchObject({ channel: 'a' });
  });

  it('ends every stream with a retry: line on hub.close(), and sends newcomers back later', async () => {
    const testHub = await hubWith({ sseRetryMs: 1000 });
    const one = await subscribed(sseUrl(testHub, 'channel=a'));
    const two = await subscribed(sseUrl(testHub, 'channel=a&channel=b'));
    const closing = testHub.hub.close({ drainWindowMs: 300 });
    // While the drain runs, a new stream gets 200, a jittered retry: and an immediate end: an
    // error status would make a native EventSource give up for good.
    await expectRetryAndEnd(sseUrl(testHub, 'channel=a'));
    await closing;
    for (const { stream } of [one, two]) {
      await waitFor(() => stream.ended, 2000, 'the stream to end');
      const tail = /: server restarting\nretry: (\d+)\n\n$/.exec(stream.raw);
      expect(tail).not.toBeNull();
      // Jittered around sseRetryMs, so that clients do not all come back at once.
      const retry = Number(tail?.[1]);
      expect(retry).toBeGreaterThanOrEqual(500);
      expect(retry).toBeLessThanOrEqual(1500);
    }
    expect(testHub.hub.stats().connections.sse).toBe(0);
    expect(testHub.hub.stats().channels).toBe(0);
    // Once closed, with the http server still listening: the same answer, no hang.
    await expectRetryAndEnd(sseUrl(testHub, 'channel=a'));
  });
});

/** A draining hub answers a new stream with only a jittered retry: and ends it. */
async function expectRetryAndEnd(url: string): Promise<void> {
  const answer = await fetch(url, { signal: AbortSignal.timeout(2000) });
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const body = await answer.text();
  const match = /^: server restarting\nretry: (\d+)\n\n$/.exec(body);
  expect(match, body).not.toBeNull();
  expect(Number(match?.[1])).toBeGreaterThanOrEqual(500);
  expect(Number(match?.[1])).toBeLessThanOrEqual(1500);
}

describe('GET /rt/sse: errors', () => {
  async function expectError(
    url: string,
    status: number,
    code: string,
    init: RequestInit = {},
  ): Promise<Headers> {
    // A bounded wait: were the request wrongly accepted, the stream would never end.
    const answer = await requestJson(url, { signal: AbortSignal.timeout(2000), ...init });
    expect(answer.status).toBe(status);
    expect(answer.headers.get('content-type')?.split(';')[0]).toBe('application/json');
    expect(answer.body.code).toBe(code);
    expect(typeof answer.body.message).toBe('string');
    expect((answer.body.message as string).length).toBeGreaterThan(0);
    expect(Object.keys(answer.body).sort()).toEqual(['code', 'message']);
    return answer.headers;
  }

  it('answers 400 BAD_REQUEST without a channel', async () => {
    const testHub = await hubWith();
    await expectError(`${testHub.url}/rt/sse`, 400, 'BAD_REQUEST');
    await expectError(`${testHub.url}/rt/sse?lastEventId=x`, 400, 'BAD_REQUEST');
  });

  it('answers 400 BAD_CHANNEL for a bad channel name', async () => {
    const testHub = await hubWith();
    await expectError(sseUrl(testHub, 'channel=has%20space'), 400, 'BAD_CHANNEL');
    await expectError(sseUrl(testHub, 'channel=a&channel=%0Aevil'), 400, 'BAD_CHANNEL');
    await expectError(sseUrl(testHub, `channel=${'x'.repeat(129)}`), 400, 'BAD_CHANNEL');
    await expectError(sseUrl(testHub, 'channel='), 400, 'BAD_CHANNEL');
    expect(testHub.hub.stats().connections.sse).toBe(0);
  });

  it('answers 400 BAD_CURSOR for a bad cursor in the header or the query', async () => {
    const testHub = await hubWith();
    await expectError(sseUrl(testHub, 'channel=a'), 400, 'BAD_CURSOR', {
      headers: { 'Last-Event-ID': 'not a cursor' },
    });
    await expectError(sseUrl(testHub, 'channel=a&lastEventId=%7B%7D'), 400, 'BAD_CURSOR');
    await expectError(sseUrl(testHub, 'channel=a&lastEventId=eyJub3QiOg'), 400, 'BAD_CURSOR');
    // A single-channel position for a subscription to several channels.
    const envelope = await testHub.hub.publish('a', 1);
    await expectError(sseUrl(testHub, 'channel=a&channel=b'), 400, 'BAD_CURSOR', {
      headers: { 'Last-Event-ID': envelope.id },
    });
    // A good query does not save a bad header: the header wins.
    await expectError(sseUrl(testHub, `channel=a&lastEventId=${envelope.id}`), 400, 'BAD_CURSOR', {
      headers: { 'Last-Event-ID': '???' },
    });
    expect(testHub.hub.stats().connections.sse).toBe(0);
    expect(testHub.hub.stats().channels).toBe(0);
  });

  it('answers 400 TOO_MANY_SUBSCRIPTIONS past maxSubscriptionsPerConnection', async () => {
    const testHub = await hubWith({ limits: { maxSubscriptionsPerConnection: 2 } });
    await expectError(
      sseUrl(testHub, 'channel=a&channel=b&channel=c'),
      400,
      'TOO_MANY_SUBSCRIPTIONS',
    );
    await expectError(sseUrl(testHub, 'channel=a,b,c'), 400, 'TOO_MANY_SUBSCRIPTIONS');
    // At the limit is fine, and a repeated name counts once.
    const { event } = await subscribed(sseUrl(testHub, 'channel=a&channel=b&channel=a'));
    const channels = (JSON.parse(event.data) as { channels: Array<{ channel: string }> }).channels;
    expect(channels.map((c) => c.channel)).toEqual(['a', 'b']);
  });

  it('answers 429 TOO_MANY_CONNECTIONS past maxConnectionsPerIp', async () => {
    const testHub = await hubWith({ limits: { maxConnectionsPerIp: 2 } });
    await subscribed(sseUrl(testHub, 'channel=a'));
    const second = await subscribed(sseUrl(testHub, 'channel=b'));
    await expectError(sseUrl(testHub, 'channel=c'), 429, 'TOO_MANY_CONNECTIONS');
    expect(testHub.hub.stats().connections.sse).toBe(2);
    // A freed slot can be used again.
    second.stream.close();
    await waitFor(() => testHub.hub.stats().connections.sse === 1, 2000, 'the slot to free');
    const third = await subscribed(sseUrl(testHub, 'channel=c'));
    expect(third.stream.status).toBe(200);
  });

  it('answers 405 with an Allow header to a POST', async () => {
    const testHub = await hubWith();
    const headers = await expectError(sseUrl(testHub, 'channel=a'), 405, 'METHOD_NOT_ALLOWED', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(headers.get('allow')).toBe('GET');
  });
});

describe('GET /rt/sse: slow consumers', () => {
  /** A raw reader that stops reading as soon as the headers are in. */
  function openPausedReader(url: string) {
    const state = {
      status: 0,
      closed: false,
      text: '',
      response: undefined as http.IncomingMessage | undefined,
    };
    const request = http.get(url, { headers: { Accept: 'text/event-stream' } }, (res) => {
      state.status = res.statusCode ?? 0;
      state.response = res;
      res.pause();
      res.setEncoding('utf8');
      // A 'data' listener does not resume a stream that was paused explicitly.
      res.on('data', (chunk: string) => {
        state.text += chunk;
      });
      res.on('close', () => {
        state.closed = true;
      });
      res.on('error', () => {});
    });
    request.on('error', () => {
      state.closed = true;
    });
    rawRequests.push(request);
    return state;
  }

  /** Resolves once `check` holds, polling on every turn of the event loop (no 10 ms steps). */
  async function spinUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('timed out spinning');
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  it('keeps a reading client whose burst, published at once, is larger than the limit', async () => {
    const testHub = await hubWith({ limits: { maxBufferedBytes: 64 * 1024 } });
    const { stream } = await subscribed(sseUrl(testHub, 'channel=burst'));
    // About 300 KB fanned out within one tick: Node corks it and the kernel takes it over a
    // few loop turns, so for a moment the hub's buffer holds far more than the limit.
    const text = 'x'.repeat(100);
    const published = await Promise.all(
      Array.from({ length: 2000 }, (_, n) => testHub.hub.publish('burst', { n, text })),
    );
    // A generous wait: the test is about the hub not cutting the stream, not about speed, and
    // a loaded CI machine parses 2000 events slowly.
    await stream.waitForType('message', 2000, 12_000);
    expect(stream.ended).toBe(false);
    expect(stream.ofType('message').map((m) => m.id)).toEqual(published.map((e) => e.id));
    expect(testHub.hub.stats().connections.sse).toBe(1);
  });

  it('ends the stream of a reader that stopped reading, while others get everything', async () => {
    const maxBufferedBytes = 64 * 1024;
    const testHub = await hubWith({ limits: { maxBufferedBytes } });
    const { stream: fast } = await subscribed(sseUrl(testHub, 'channel=big'));
    const paused = openPausedReader(sseUrl(testHub, 'channel=big'));
    await waitFor(() => testHub.hub.stats().connections.sse === 2, 2000, 'two streams');
    await waitFor(() => paused.status === 200, 2000, 'the paused reader to start');

    // 16 KiB envelopes, two at a time, each pair read by the fast reader before the next:
    // it never falls behind by more than half the limit.
    // The kernel's own socket buffers take several MiB before the hub's buffer grows (Linux
    // autotunes the send buffer up to tcp_wmem's 4 MiB), so publish until the paused reader
    // is dropped, up to 32 MiB.
    const chunk = 'x'.repeat(16 * 1024);
    const published: string[] = [];
    while (testHub.hub.stats().connections.sse === 2 && published.length < 2048) {
      for (let i = 0; i < 2; i++) {
        published.push((await testHub.hub.publish('big', { n: published.length, chunk })).id);
      }
      await spinUntil(() => fast.events.length === published.length + 1);
    }
    expect(testHub.hub.stats().connections.sse).toBe(1);
    const sentinelEnvelope = await sentinel(testHub, fast, 'big');
    expect(fast.ended).toBe(false);
    expect(fast.ofType('message').map((m) => m.id)).toEqual(published);
    expect(fast.lastEventId).toBe(sentinelEnvelope.id);
    expect(testHub.hub.stats().channels).toBe(1);

    // Read again: the paused stream ends, holding an unbroken prefix of what was published
    // and not its end (the hub's buffer was dropped with it).
    paused.response?.resume();
    await waitFor(() => paused.closed, 10_000, 'the paused reader to see the end');
    const ids = [...paused.text.matchAll(/^id: (.+)\nevent: message\ndata: .*\n\n/gm)].map(
      (m) => m[1],
    );
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.length).toBeLessThan(published.length);
    expect(ids).toEqual(published.slice(0, ids.length));
  });
});

describe('GET /rt/sse: refusals while idle', () => {
  it('does not open a stream for a refused request', async () => {
    const testHub = await hubWith({ limits: { maxConnectionsPerIp: 1 } });
    await expect(requestJson(sseUrl(testHub, 'channel=bad name'))).resolves.toMatchObject({
      status: 400,
    });
    expect(testHub.hub.stats().connections.sse).toBe(0);
    // The refused request took no slot: the one allowed stream still opens.
    const { stream } = await subscribed(sseUrl(testHub, 'channel=a'));
    expect(stream.status).toBe(200);
  });
});

describe('GET /rt/sse?unnamed=1: envelopes as unnamed events, ping heartbeats', () => {
  const brokers: SurvivingBroker[] = [];

  afterEach(async () => {
    closeEventSources();
    await Promise.all(brokers.splice(0).map((broker) => broker.dispose()));
  });

  /** One envelope on an unnamed stream, byte for byte: no `event:` line. */
  function unnamedWireText(envelope: Envelope, id = envelope.id): string {
    return `id: ${id}\ndata: ${JSON.stringify(envelope)}\n\n`;
  }

  const PING = 'event: ping\ndata: {}\n\n';

  /** The `subscribed` event of an unnamed stream, byte for byte. */
  function unnamedSubscribedText(
    id: string,
    channels: Array<{ channel: string; position: string; recovered: boolean }>,
    heartbeatMs: number,
  ): string {
    return `id: ${id}\nevent: subscribed\ndata: ${JSON.stringify({ channels, heartbeatMs })}\n\n`;
  }

  /** On an unnamed stream every envelope is a `message`: they are told apart by their data. */
  function unnamedEnvelopes(stream: TestEventStream): Envelope[] {
    return stream.ofType('message').map(envelopeOf);
  }

  /** `sentinel` for unnamed streams: waits for the envelope by its id in the data. */
  async function unnamedSentinel(testHub: TestHub, stream: TestEventStream, channel: string) {
    const envelope = await testHub.hub.publish(channel, 'sentinel', { event: 'sentinel' });
    await waitFor(
      () => unnamedEnvelopes(stream).some((e) => e.id === envelope.id),
      5000,
      'the sentinel envelope',
    );
    return envelope;
  }

  it('sends a subscribed event whose data also carries the hub sseHeartbeatMs', async () => {
    const testHub = await hubWith({ sseHeartbeatMs: 12_345 });
    const [, second] = await publishMany(testHub, 'a', 2);
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a&unnamed=1'));
    const position = (second as Envelope).id;
    expect(event.id).toBe(position);
    expect(JSON.parse(event.data)).toEqual({
      channels: [{ channel: 'a', position, recovered: false }],
      heartbeatMs: 12_345,
    });
    // The same opening as the named form, then the subscribed event: no history replayed.
    expect(stream.raw).toBe(
      `${OPENING}id: ${position}\nevent: subscribed\n` +
        `data: {"channels":[{"channel":"a","position":"${position}","recovered":false}],` +
        `"heartbeatMs":12345}\n\n`,
    );
  });

  it('writes every envelope as id: and data: lines only, its event name kept in the data', async () => {
    const testHub = await hubWith();
    const { stream } = await subscribed(sseUrl(testHub, 'channel=a&unnamed=1'));
    const opening = stream.raw;
    const envelopes = [
      await testHub.hub.publish('a', { n: 1 }),
      await testHub.hub.publish('a', { n: 2 }, { event: 'tick' }),
      await testHub.hub.publish('a', 'text', { event: 'price.update' }),
      // Named like the heartbeat: as an unnamed event it cannot be taken for one.
      await testHub.hub.publish('a', { n: 4 }, { event: 'ping' }),
    ];
    await stream.waitForType('message', 4);
    const expected = opening + envelopes.map((e) => unnamedWireText(e)).join('');
    await waitFor(() => stream.raw.length >= expected.length);
    expect(stream.raw).toBe(expected);
    expect(unnamedWireText(envelopes[1] as Envelope)).toBe(
      `id: ${envelopes[1]?.id}\n` +
        `data: {"id":"${envelopes[1]?.id}","channel":"a","event":"tick","data":{"n":2},"ts":${envelopes[1]?.ts}}\n\n`,
    );
    expect(unnamedEnvelopes(stream)).toEqual(envelopes);
    expect(stream.raw.match(/^event: .*$/gm)).toEqual(['event: subscribed']);
    expect(stream.ofType('ping')).toEqual([]);
  });

  it('writes the envelopes of several channels with the same cursor ids as the named form', async () => {
    const testHub = await hubWith();
    const query = 'channel=a&channel=b';
    const named = await subscribed(sseUrl(testHub, query));
    const { stream, event } = await subscribed(sseUrl(testHub, `${query}&unnamed=1`));
    expect(event.id).toBe(named.event.id);
    const a1 = await testHub.hub.publish('a', 'a1', { event: 'tick' });
    const b1 = await testHub.hub.publish('b', 'b1');
    await stream.waitForType('message', 2);
    await named.stream.waitForType('message', 1);
    const [tick] = await named.stream.waitForType('tick', 1);
    const [message] = named.stream.ofType('message');
    const cursors = [tick?.id as string, message?.id as string];
    // Cursors of both channels, not the envelope ids.
    expect(cursors).not.toContain(a1.id);
    expect(cursors).not.toContain(b1.id);
    expect(stream.raw).toBe(
      OPENING +
        unnamedSubscribedText(
          event.id as string,
          [
            { channel: 'a', position: `${epochOf(a1)}-0`, recovered: false },
            { channel: 'b', position: `${epochOf(b1)}-0`, recovered: false },
          ],
          15_000,
        ) +
        unnamedWireText(a1, cursors[0]) +
        unnamedWireText(b1, cursors[1]),
    );
    stream.close();

    // The last id resumes both channels, as in the named form.
    const a2 = await testHub.hub.publish('a', 'a2');
    const b2 = await testHub.hub.publish('b', 'b2', { event: 'tick' });
    const again = await subscribed(sseUrl(testHub, `${query}&unnamed=1`), {
      'Last-Event-ID': cursors[1] as string,
    });
    expect(JSON.parse(again.event.data)).toEqual({
      channels: [
        { channel: 'a', position: a1.id, recovered: true },
        { channel: 'b', position: b1.id, recovered: true },
      ],
      heartbeatMs: 15_000,
    });
    await unnamedSentinel(testHub, again.stream, 'b');
    expect(unnamedEnvelopes(again.stream).slice(0, 2)).toEqual([a2, b2]);
    expect(again.stream.ofType('message')).toHaveLength(3);
  });

  it('sends the heartbeat as event: ping with data {}, not as a comment', async () => {
    const testHub = await hubWith({ sseHeartbeatMs: 40 });
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a&unnamed=1'));
    expect(JSON.parse(event.data)).toMatchObject({ heartbeatMs: 40 });
    const pings = await stream.waitForType('ping', 3, 2000);
    // No id: a ping leaves the Last-Event-ID where it was.
    expect(pings.slice(0, 3)).toEqual([
      { event: 'ping', data: '{}' },
      { event: 'ping', data: '{}' },
      { event: 'ping', data: '{}' },
    ]);
    expect(stream.lastEventId).toBe(event.id);
    // Nothing but pings after the opening (its one comment included) and the subscribed event.
    const subscribedText = `id: ${event.id}\nevent: subscribed\n${dataLine(event)}\n\n`;
    expect(stream.raw.replaceAll(PING, '')).toBe(OPENING + subscribedText);
    // Pings go between events, never inside one.
    const envelope = await testHub.hub.publish('a', { n: 1 });
    await stream.waitForType('message', 1);
    await stream.waitForType('ping', pings.length + 1, 2000);
    expect(stream.raw.replaceAll(PING, '')).toBe(
      OPENING + subscribedText + unnamedWireText(envelope),
    );
  });

  it.each([['header'], ['query']])(
    'resumes after a Last-Event-ID %s as the named form does',
    async (how) => {
      const testHub = await hubWith();
      const first = await subscribed(sseUrl(testHub, 'channel=a&unnamed=1'));
      const seen = await publishMany(testHub, 'a', 2);
      await first.stream.waitForType('message', 2);
      const last = first.stream.lastEventId as string;
      expect(last).toBe(seen[1]?.id);
      first.stream.close();
      const missed = await publishMany(testHub, 'a', 3, 3);
      const { stream, event } =
        how === 'header'
          ? await subscribed(sseUrl(testHub, 'channel=a&unnamed=1'), { 'Last-Event-ID': last })
          : await subscribed(sseUrl(testHub, `channel=a&unnamed=1&lastEventId=${last}`));
      expect(event.id).toBe(last);
      expect(JSON.parse(event.data)).toEqual({
        channels: [{ channel: 'a', position: last, recovered: true }],
        heartbeatMs: 15_000,
      });
      const end = await unnamedSentinel(testHub, stream, 'a');
      expect(stream.events.map((e) => e.id)).toEqual([last, ...missed.map((e) => e.id), end.id]);
      expect(unnamedEnvelopes(stream)).toEqual([...missed, end]);
      expect(stream.raw.endsWith([...missed, end].map((e) => unnamedWireText(e)).join(''))).toBe(
        true,
      );
    },
  );

  it('keeps gap a named event, then sends what is held unnamed', async () => {
    const testHub = await hubWith({ history: { maxCount: 3 } });
    const envelopes = await publishMany(testHub, 'a', 6);
    const { stream, event } = await subscribed(sseUrl(testHub, 'channel=a&unnamed=1'), {
      'Last-Event-ID': envelopes[0]?.id as string,
    });
    await stream.waitForType('message', 3);
    const held = envelopes.slice(3);
    expect(stream.raw).toBe(
      OPENING +
        unnamedSubscribedText(
          event.id as string,
          [{ channel: 'a', position: envelopes[2]?.id as string, recovered: false }],
          15_000,
        ) +
        `id: ${envelopes[2]?.id}\nevent: gap\ndata: {"channel":"a"}\n\n` +
        held.map((e) => unnamedWireText(e)).join(''),
    );
  });

  it.each([['channel=a'], ['channel=a&unnamed=0']])(
    'keeps the named form, comment heartbeats and no heartbeatMs for %s',
    async (query) => {
      const testHub = await hubWith({ sseHeartbeatMs: 40 });
      const { stream, event } = await subscribed(sseUrl(testHub, query));
      expect(JSON.parse(event.data)).toEqual({
        channels: [{ channel: 'a', position: event.id, recovered: false }],
      });
      const tick = await testHub.hub.publish('a', { n: 1 }, { event: 'tick' });
      await stream.waitForType('tick', 1);
      // The opening comment is one; wait for three heartbeat comments more.
      await waitFor(() => (stream.raw.match(/^:\n\n/gm)?.length ?? 0) >= 4, 2000, 'heartbeats');
      const subscribedText = `id: ${event.id}\nevent: subscribed\n${dataLine(event)}\n\n`;
      expect(stream.raw.replaceAll(':\n\n', '')).toBe(
        `retry: 2000\n\n${subscribedText}${wireText(tick)}`,
      );
      expect(stream.raw).not.toContain('event: ping');
    },
  );

  /** What an EventSource's `onmessage` gets for an envelope of a one-channel unnamed stream. */
  function asMessage(envelope: Envelope): ReceivedEvent {
    return { type: 'message', data: JSON.stringify(envelope), lastEventId: envelope.id };
  }

  it('lets an EventSource get every envelope through onmessage alone, and pings by their name', async () => {
    const testHub = await hubWith({ sseHeartbeatMs: 40 });
    // Listeners for `ping`, `subscribed` and `gap` only: none for any envelope event name.
    const client = new RecordingEventSource(`${sseUrl(testHub, 'channel=a')}&unnamed=1`, [
      'ping',
      'subscribed',
      'gap',
    ]);
    const [subscribedEvent] = await client.waitForType('subscribed', 1);
    const envelopes = [
      await testHub.hub.publish('a', { n: 1 }),
      await testHub.hub.publish('a', { n: 2 }, { event: 'tick' }),
      await testHub.hub.publish('a', { n: 3 }, { event: 'ping' }),
      await testHub.hub.publish('a', { n: 4 }, { event: 'message' }),
    ];
    await client.waitForType('message', 4);
    await client.waitForType('ping', 2, 2000);
    expect(client.ofType('message')).toEqual(envelopes.map(asMessage));
    // Heartbeats carry {} and no id of their own: each sees the last id in force (none yet
    // when it comes before the subscribed event).
    const ids = ['', subscribedEvent?.lastEventId, ...envelopes.map((e) => e.id)];
    for (const ping of client.ofType('ping')) {
      expect(ping.data).toBe('{}');
      expect(ids).toContain(ping.lastEventId);
    }
    expect(client.ofType('gap')).toEqual([]);
    expect(client.errors).toBe(0);
  });

  it('lets an EventSource resume over a hub restart that kept history, with no gap', async () => {
    const broker = new SurvivingBroker();
    brokers.push(broker);
    const options: HubOptions = { broker, sseRetryMs: 100 };
    const oldHub = await hubWith(options);
    const client = new RecordingEventSource(`${sseUrl(oldHub, 'channel=a')}&unnamed=1`, [
      'subscribed',
      'gap',
    ]);
    await client.waitForType('subscribed', 1);
    const seen = await publishMany(oldHub, 'a', 2);
    await client.waitForType('message', 2);

    client.holdReconnects();
    await oldHub.close();
    await waitFor(() => client.requests.length === 2, 5000, 'a reconnect attempt');
    const newHub = await startHub(options, oldHub.port);
    hubs.push(newHub);
    const whileAway = await publishMany(newHub, 'a', 2, 3);
    client.releaseReconnects();

    await client.waitForType('message', 4);
    // The URL it reconnects to keeps unnamed=1, and the last id resumes from the store.
    expect(client.requests[1]).toEqual({ lastEventId: seen[1]?.id });
    expect(client.ofType('message')).toEqual([...seen, ...whileAway].map(asMessage));
    expect(client.ofType('subscribed').map((e) => JSON.parse(e.data) as unknown)).toEqual([
      {
        channels: [
          { channel: 'a', position: `${epochOf(seen[0] as Envelope)}-0`, recovered: false },
        ],
        heartbeatMs: 15_000,
      },
      { channels: [{ channel: 'a', position: seen[1]?.id, recovered: true }], heartbeatMs: 15_000 },
    ]);
    expect(client.ofType('gap')).toEqual([]);
  });
});

function epochOf(envelope: Envelope): string {
  return envelope.id.split('-')[0] as string;
}
