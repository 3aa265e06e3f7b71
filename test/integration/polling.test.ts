import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type HubOptions, createHub } from '../../src/server/index.js';
import { type JsonAnswer, type PollAnswer, poll, requestJson } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { waitFor } from '../support/wait.js';

/**
 * `GET /rt/poll`: long and short polling against a real hub on 127.0.0.1 (SPEC.md § Endpoints).
 */

const quietLogger = { info() {}, warn() {}, error() {} };
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hubWith(options: HubOptions = {}): Promise<TestHub> {
  const started = await startHub(options);
  cleanups.push(() => started.close());
  return started;
}

/** A poll whose answer is awaited later, with the time it took and a way to abort it. */
function heldPoll(url: string, channels: string[], cursor: string | undefined, timeout: number) {
  const controller = new AbortController();
  const query = new URLSearchParams();
  for (const channel of channels) query.append('channel', channel);
  if (cursor !== undefined) query.set('cursor', cursor);
  query.set('timeout', String(timeout));
  const started = Date.now();
  const answer = requestJson<PollAnswer>(`${url}/rt/poll?${query}`, {
    signal: controller.signal,
  }).then((result) => ({ ...result, elapsed: Date.now() - started }));
  return { answer, abort: () => controller.abort() };
}

/** Waits until the hub holds `count` long polls (each subscribed: the memory broker is sync). */
function heldCount(testHub: TestHub, count: number): Promise<true> {
  return waitFor(
    () => testHub.hub.stats().connections['long-polling'] === count,
    5000,
    `${count} held polls`,
  );
}

/** The current cursor of `channels`: a short poll without a cursor starts from now. */
async function cursorNow(url: string, channels: string[]): Promise<string> {
  const { status, body } = await poll(url, channels);
  expect(status).toBe(200);
  expect(body.messages).toEqual([]);
  return body.cursor;
}

async function publishMany(testHub: TestHub, channel: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) ids.push((await testHub.hub.publish(channel, { n: i })).id);
  return ids;
}

function ids(answer: JsonAnswer<PollAnswer>): unknown[] {
  return answer.body.messages.map((m) => m.id);
}

function toBase64Url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

describe('GET /rt/poll: first poll', () => {
  it('answers at once with no messages and a cursor when there is no cursor and timeout=0', async () => {
    const t = await hubWith();
    await t.hub.publish('a', 'before');
    const started = Date.now();
    const { status, headers, body } = await poll(t.url, ['a']);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(body.messages).toEqual([]);
    expect(typeof body.cursor).toBe('string');
    // Starting from now: what was published before is not in the next answer, what follows is.
    const next = await t.hub.publish('a', 'after');
    const second = await poll(t.url, ['a'], body.cursor);
    expect(ids(second)).toEqual([next.id]);
    expect(second.body.cursor).toBe(next.id);
  });

  it('counts a timeout=0 poll as short polling and a held one as long polling', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    expect(t.hub.stats().connections.polling).toBe(0);
    const held = heldPoll(t.url, ['a'], cursor, 10_000);
    await heldCount(t, 1);
    expect(t.hub.stats().connections.polling).toBe(0);
    expect(t.hub.stats().channels).toBe(1);
    await t.hub.publish('a', 1);
    expect((await held.answer).status).toBe(200);
    await waitFor(() => t.hub.stats().connections['long-polling'] === 0);
    expect(t.hub.stats().channels).toBe(0);
  });
});

describe('GET /rt/poll: long polling', () => {
  it('wakes a held poll with the published envelope well before its timeout', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    const held = heldPoll(t.url, ['a'], cursor, 10_000);
    await heldCount(t, 1);
    const envelope = await t.hub.publish('a', { price: 12.5 }, { event: 'tick' });
    const { status, body, elapsed } = await held.answer;
    expect(status).toBe(200);
    expect(elapsed).toBeLessThan(3000);
    expect(body).toEqual({ messages: [envelope], cursor: envelope.id });
    expect(envelope).toEqual({
      id: envelope.id,
      channel: 'a',
      event: 'tick',
      data: { price: 12.5 },
      ts: envelope.ts,
    });
  });

  it('wakes every held poll of a channel with one publish', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    const polls = [1, 2, 3, 4].map(() => heldPoll(t.url, ['a'], cursor, 10_000));
    await heldCount(t, 4);
    expect(t.hub.stats().channels).toBe(1);
    const envelope = await t.hub.publish('a', 'hello');
    const answers = await Promise.all(polls.map((p) => p.answer));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.elapsed).toBeLessThan(3000);
      expect(answer.body).toEqual({ messages: [envelope], cursor: envelope.id });
    }
  });

  it('answers at once when envelopes after the cursor are pending', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    const published = await publishMany(t, 'a', 3);
    const held = heldPoll(t.url, ['a'], cursor, 10_000);
    const answer = await held.answer;
    expect(answer.elapsed).toBeLessThan(3000);
    expect(ids(answer)).toEqual(published);
    expect(answer.body.messages.map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(answer.body.cursor).toBe(published[2]);
  });

  it('returns a burst published in one go in one answer', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    const held = heldPoll(t.url, ['a'], cursor, 10_000);
    await heldCount(t, 1);
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) => t.hub.publish('a', { i })),
    );
    const answer = await held.answer;
    expect(ids(answer)).toEqual(burst.map((e) => e.id));
    expect(answer.body.messages.map((m) => m.data)).toEqual(
      Array.from({ length: 10 }, (_, i) => ({ i })),
    );
    expect(answer.body.cursor).toBe(burst[9]?.id);
  });

  it('answers empty at its timeout with the cursor unchanged', async () => {
    const t = await hubWith();
    await t.hub.publish('a', 'already seen');
    const cursor = (await poll(t.url, ['a'])).body.cursor;
    const { status, body, elapsed } = await heldPoll(t.url, ['a'], cursor, 400).answer;
    expect(status).toBe(200);
    expect(body).toEqual({ messages: [], cursor });
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(3000);
    // Nothing was left behind by the timed-out poll.
    expect(t.hub.stats().connections['long-polling']).toBe(0);
    expect(t.hub.stats().channels).toBe(0);
  });

  it('clamps a timeout above limits.maxPollTimeoutMs', async () => {
    const t = await hubWith({ limits: { maxPollTimeoutMs: 300 } });
    const cursor = await cursorNow(t.url, ['a']);
    const { body, elapsed } = await heldPoll(t.url, ['a'], cursor, 60_000).answer;
    expect(body).toEqual({ messages: [], cursor });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
  });

  it('holds for the default timeout, clamped too, when no timeout is given', async () => {
    const t = await hubWith({ limits: { maxPollTimeoutMs: 300 } });
    const cursor = await cursorNow(t.url, ['a']);
    const started = Date.now();
    const { status, body } = await requestJson<PollAnswer>(
      `${t.url}/rt/poll?channel=a&cursor=${cursor}`,
    );
    const elapsed = Date.now() - started;
    expect(status).toBe(200);
    expect(body).toEqual({ messages: [], cursor });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3000);
  });
});

describe('GET /rt/poll: chained polls', () => {
  it('receive every envelope exactly once and in order while publishes run concurrently', async () => {
    const t = await hubWith();
    const total = 200;
    const startCursor = await cursorNow(t.url, ['a']);

    const publisher = (async () => {
      const published: string[] = [];
      while (published.length < total) {
        // Bursts of 1-5 at random moments: some land between polls, some on a held poll,
        // some while a poll is subscribing.
        const size = Math.min(1 + Math.floor(Math.random() * 5), total - published.length);
        const burst = await Promise.all(
          Array.from({ length: size }, () => t.hub.publish('a', published.length)),
        );
        published.push(...burst.map((e) => e.id));
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
      }
      return published;
    })();

    const chain = async (timeout: number) => {
      const received: unknown[] = [];
      let cursor = startCursor;
      let requests = 0;
      while (received.length < total) {
        const { status, body } = await poll(t.url, ['a'], cursor, timeout);
        expect(status).toBe(200);
        for (const message of body.messages) received.push(message.type ?? message.id);
        cursor = body.cursor;
        requests += 1;
        if (requests > 5000) throw new Error('too many polls');
      }
      return { received, cursor };
    };

    const [published, longPolls, shortPolls] = await Promise.all([
      publisher,
      chain(5000),
      chain(0),
    ]);
    expect(published).toHaveLength(total);
    expect(new Set(published).size).toBe(total);
    expect(longPolls.received).toEqual(published);
    expect(longPolls.cursor).toBe(published[total - 1]);
    expect(shortPolls.received).toEqual(published);
    expect(shortPolls.cursor).toBe(published[total - 1]);
  });

  it('receive every envelope over HTTP publishes as well, read-your-writes per publish', async () => {
    const t = await hubWith();
    let cursor = await cursorNow(t.url, ['a']);
    for (let i = 0; i < 20; i++) {
      const { status, body } = await requestJson<{ id: string }>(`${t.url}/rt/publish/a`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ i }),
      });
      expect(status).toBe(201);
      const answer = await poll(t.url, ['a'], cursor);
      expect(ids(answer)).toEqual([body.id]);
      expect(answer.body.messages[0]?.data).toEqual({ i });
      cursor = answer.body.cursor;
    }
  });
});

describe('GET /rt/poll: several channels', () => {
  it('resumes every channel from a multi-channel cursor', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a', 'b']);
    expect(cursor.startsWith('eyJ')).toBe(true);
    const a1 = await t.hub.publish('a', 'a1');
    const b1 = await t.hub.publish('b', 'b1');
    const a2 = await t.hub.publish('a', 'a2');
    await t.hub.publish('c', 'not polled');

    const first = await poll(t.url, ['a', 'b'], cursor);
    const byChannel = (answer: JsonAnswer<PollAnswer>, channel: string) =>
      answer.body.messages.filter((m) => m.channel === channel).map((m) => m.id);
    expect(first.body.messages).toHaveLength(3);
    expect(byChannel(first, 'a')).toEqual([a1.id, a2.id]);
    expect(byChannel(first, 'b')).toEqual([b1.id]);

    // The returned cursor carries both positions: nothing repeats, and a held poll on both
    // channels is woken by a publish on the second.
    const again = await poll(t.url, ['a', 'b'], first.body.cursor);
    expect(again.body).toEqual({ messages: [], cursor: first.body.cursor });
    const held = heldPoll(t.url, ['a', 'b'], first.body.cursor, 10_000);
    await heldCount(t, 1);
    expect(t.hub.stats().channels).toBe(2);
    const b2 = await t.hub.publish('b', 'b2');
    const woken = await held.answer;
    expect(woken.elapsed).toBeLessThan(3000);
    expect(woken.body.messages).toEqual([b2]);

    // The comma form names the same channels and accepts the same cursor.
    const a3 = await t.hub.publish('a', 'a3');
    const comma = await requestJson<PollAnswer>(
      `${t.url}/rt/poll?channel=a,b&timeout=0&cursor=${woken.body.cursor}`,
    );
    expect(comma.status).toBe(200);
    expect(comma.body.messages).toEqual([a3]);
  });

  it('starts a channel missing from the cursor from now', async () => {
    const t = await hubWith();
    const cursorA = await cursorNow(t.url, ['a']);
    await t.hub.publish('b', 'b before');
    const a1 = await t.hub.publish('a', 'a1');
    const multi = toBase64Url(JSON.stringify({ a: cursorA }));
    const answer = await poll(t.url, ['a', 'b'], multi);
    expect(answer.body.messages).toEqual([a1]);
    const b1 = await t.hub.publish('b', 'b1');
    const next = await poll(t.url, ['a', 'b'], answer.body.cursor);
    expect(next.body.messages).toEqual([b1]);
  });
});

describe('GET /rt/poll: maxPollBatch', () => {
  it('splits a backlog of 12 over 3 answers of at most 5 without loss', async () => {
    const t = await hubWith({ limits: { maxPollBatch: 5 } });
    const cursor = await cursorNow(t.url, ['a']);
    const published = await publishMany(t, 'a', 12);
    const first = await poll(t.url, ['a'], cursor);
    const second = await poll(t.url, ['a'], first.body.cursor);
    const third = await poll(t.url, ['a'], second.body.cursor);
    expect(ids(first)).toEqual(published.slice(0, 5));
    expect(first.body.cursor).toBe(published[4]);
    expect(ids(second)).toEqual(published.slice(5, 10));
    expect(second.body.cursor).toBe(published[9]);
    expect(ids(third)).toEqual(published.slice(10));
    expect(third.body.cursor).toBe(published[11]);
    const fourth = await poll(t.url, ['a'], third.body.cursor);
    expect(fourth.body).toEqual({ messages: [], cursor: published[11] });
  });

  it('splits a live burst on a held poll the same way', async () => {
    const t = await hubWith({ limits: { maxPollBatch: 5 } });
    const cursor = await cursorNow(t.url, ['a']);
    const held = heldPoll(t.url, ['a'], cursor, 10_000);
    await heldCount(t, 1);
    const burst = (
      await Promise.all(Array.from({ length: 12 }, (_, i) => t.hub.publish('a', i)))
    ).map((e) => e.id);
    const first = await held.answer;
    const second = await poll(t.url, ['a'], first.body.cursor, 10_000);
    const third = await poll(t.url, ['a'], second.body.cursor, 10_000);
    expect([ids(first), ids(second), ids(third)]).toEqual([
      burst.slice(0, 5),
      burst.slice(5, 10),
      burst.slice(10),
    ]);
  });

  it('never loses envelopes of the other channels of a multi-channel poll', async () => {
    const t = await hubWith({ limits: { maxPollBatch: 5 } });
    let cursor = await cursorNow(t.url, ['a', 'b']);
    const a = await publishMany(t, 'a', 7);
    const b = await publishMany(t, 'b', 6);
    const received: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const answer = await poll(t.url, ['a', 'b'], cursor);
      expect(answer.body.messages.length).toBeLessThanOrEqual(5);
      received.push(...ids(answer));
      cursor = answer.body.cursor;
    }
    expect(received.filter((id) => a.includes(id as string))).toEqual(a);
    expect(received.filter((id) => b.includes(id as string))).toEqual(b);
    expect(received).toHaveLength(13);
  });
});

describe('GET /rt/poll: gaps', () => {
  it('answers a gap entry, then what is still held, when history was trimmed', async () => {
    const t = await hubWith({ history: { maxCount: 3 } });
    const cursor = await cursorNow(t.url, ['a']);
    const published = await publishMany(t, 'a', 5);
    const answer = await poll(t.url, ['a'], cursor);
    expect(answer.status).toBe(200);
    expect(answer.body.messages[0]).toEqual({ type: 'gap', channel: 'a' });
    expect(answer.body.messages.slice(1).map((m) => m.id)).toEqual(published.slice(2));
    expect(answer.body.cursor).toBe(published[4]);
    // The returned cursor is back in history: no second gap.
    const next = await poll(t.url, ['a'], answer.body.cursor);
    expect(next.body).toEqual({ messages: [], cursor: published[4] });
  });

  it('gives no gap for a cursor right before the oldest envelope held', async () => {
    const t = await hubWith({ history: { maxCount: 3 } });
    const published = await publishMany(t, 'a', 5);
    const answer = await poll(t.url, ['a'], published[1]);
    expect(ids(answer)).toEqual(published.slice(2));
    const trimmed = await poll(t.url, ['a'], published[0]);
    expect(trimmed.body.messages.map((m) => m.type ?? m.id)).toEqual([
      'gap',
      ...published.slice(2),
    ]);
  });

  it('answers a gap for a cursor of another hub instance, then what this hub holds', async () => {
    const other = await hubWith();
    const foreign = (await other.hub.publish('a', 'elsewhere')).id;
    const t = await hubWith();
    const held = await publishMany(t, 'a', 2);
    const answer = await poll(t.url, ['a'], foreign);
    expect(answer.status).toBe(200);
    expect(answer.body.messages[0]).toEqual({ type: 'gap', channel: 'a' });
    expect(answer.body.messages.slice(1).map((m) => m.id)).toEqual(held);
    expect(answer.body.cursor).toBe(held[1]);
  });

  it('answers a lone gap for a foreign cursor on a channel with nothing held', async () => {
    const other = await hubWith();
    const foreign = await cursorNow(other.url, ['a', 'b']);
    const t = await hubWith();
    const answer = await poll(t.url, ['a', 'b'], foreign);
    expect(answer.body.messages).toEqual([
      { type: 'gap', channel: 'a' },
      { type: 'gap', channel: 'b' },
    ]);
    const next = await poll(t.url, ['a', 'b'], answer.body.cursor);
    expect(next.body).toEqual({ messages: [], cursor: answer.body.cursor });
  });
});

describe('GET /rt/poll: clients that leave', () => {
  it('leaves nothing behind when the client aborts a held poll', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a', 'b']);
    const held = heldPoll(t.url, ['a', 'b'], cursor, 20_000);
    await heldCount(t, 1);
    expect(t.hub.stats().channels).toBe(2);
    held.abort();
    await expect(held.answer).rejects.toThrow(/abort/i);
    await waitFor(() => t.hub.stats().connections['long-polling'] === 0, 5000, 'poll removed');
    expect(t.hub.stats().channels).toBe(0);
    // The hub keeps working for the next poll with the same cursor.
    const envelope = await t.hub.publish('a', 'after abort');
    expect((await poll(t.url, ['a', 'b'], cursor)).body.messages).toEqual([envelope]);
  });
});

describe('GET /rt/poll: errors', () => {
  async function expectError(t: TestHub, query: string, status: number, code: string) {
    const answer = await requestJson<{ code: string; message: string }>(
      `${t.url}/rt/poll?${query}`,
    );
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
    expect(typeof answer.body.message).toBe('string');
    expect(answer.body.message.length).toBeGreaterThan(0);
    expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
  }

  it('answers 400 BAD_REQUEST without a channel', async () => {
    const t = await hubWith();
    await expectError(t, 'timeout=0', 400, 'BAD_REQUEST');
    await expectError(t, '', 400, 'BAD_REQUEST');
  });

  it('answers 400 BAD_CHANNEL for a bad channel name', async () => {
    const t = await hubWith();
    await expectError(t, 'channel=bad%20name&timeout=0', 400, 'BAD_CHANNEL');
    await expectError(t, 'channel=&timeout=0', 400, 'BAD_CHANNEL');
    await expectError(t, `channel=${'x'.repeat(129)}&timeout=0`, 400, 'BAD_CHANNEL');
    await expectError(t, 'channel=a&channel=b%3Fc&timeout=0', 400, 'BAD_CHANNEL');
  });

  it('answers 400 BAD_CURSOR for cursors this hub never issued', async () => {
    const t = await hubWith();
    const single = await cursorNow(t.url, ['a']);
    const garbage = [
      'not a cursor',
      'zzzz',
      toBase64Url('hello world'),
      toBase64Url('[1,2,3]'),
      toBase64Url('null'),
      toBase64Url('{"a":5}'),
      toBase64Url('{"a":"nope"}'),
      toBase64Url('{"bad channel":"abc-1"}'),
      `${single}x`,
    ];
    for (const cursor of garbage) {
      await expectError(
        t,
        `channel=a&timeout=0&cursor=${encodeURIComponent(cursor)}`,
        400,
        'BAD_CURSOR',
      );
    }
    // A single-channel position on a two-channel poll.
    await expectError(t, `channel=a&channel=b&timeout=0&cursor=${single}`, 400, 'BAD_CURSOR');
    // A refused poll leaves nothing behind.
    expect(t.hub.stats().connections).toEqual({
      websocket: 0,
      sse: 0,
      'long-polling': 0,
      polling: 0,
      http: 0,
    });
  });

  it('answers 400 BAD_REQUEST for a negative or non-numeric timeout', async () => {
    const t = await hubWith();
    for (const timeout of ['-1', 'abc', '1.5', 'Infinity']) {
      await expectError(t, `channel=a&timeout=${timeout}`, 400, 'BAD_REQUEST');
    }
  });

  it('answers 400 TOO_MANY_SUBSCRIPTIONS past maxSubscriptionsPerConnection', async () => {
    const t = await hubWith({ limits: { maxSubscriptionsPerConnection: 3 } });
    await expectError(
      t,
      'channel=a&channel=b&channel=c&channel=d&timeout=0',
      400,
      'TOO_MANY_SUBSCRIPTIONS',
    );
    await expectError(t, 'channel=a,b,c,d&timeout=0', 400, 'TOO_MANY_SUBSCRIPTIONS');
    // At the limit, and with duplicates that name the same channel, it is fine.
    expect((await poll(t.url, ['a', 'b', 'c', 'a'])).status).toBe(200);
  });

  it('answers 429 TOO_MANY_CONNECTIONS past maxConnectionsPerIp held polls', async () => {
    const t = await hubWith({ limits: { maxConnectionsPerIp: 2 } });
    const cursor = await cursorNow(t.url, ['a']);
    const held = [heldPoll(t.url, ['a'], cursor, 10_000), heldPoll(t.url, ['a'], cursor, 10_000)];
    await heldCount(t, 2);
    await expectError(t, `channel=a&timeout=0&cursor=${cursor}`, 429, 'TOO_MANY_CONNECTIONS');
    const envelope = await t.hub.publish('a', 'release');
    for (const answer of await Promise.all(held.map((h) => h.answer))) {
      expect(answer.body.messages).toEqual([envelope]);
    }
    await waitFor(() => t.hub.stats().connections['long-polling'] === 0);
    expect((await poll(t.url, ['a'], cursor)).body.messages).toEqual([envelope]);
  });

  it('answers 405 with Allow: GET to POST /rt/poll', async () => {
    const t = await hubWith();
    const answer = await requestJson<{ code: string }>(`${t.url}/rt/poll?channel=a`, {
      method: 'POST',
    });
    expect(answer.status).toBe(405);
    expect(answer.body.code).toBe('METHOD_NOT_ALLOWED');
    expect(answer.headers.get('allow')).toBe('GET');
  });
});

describe('GET /rt/poll: hub.close()', () => {
  it('answers held polls at once with their cursor', async () => {
    const t = await hubWith();
    await t.hub.publish('a', 'seen');
    const cursor = (await poll(t.url, ['a'])).body.cursor;
    const multi = await cursorNow(t.url, ['a', 'b']);
    const held = [
      heldPoll(t.url, ['a'], cursor, 20_000),
      heldPoll(t.url, ['a', 'b'], multi, 20_000),
    ];
    await heldCount(t, 2);
    const closing = t.hub.close();
    const answers = await Promise.all(held.map((h) => h.answer));
    await closing;
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, { messages: [], cursor }],
      [200, { messages: [], cursor: multi }],
    ]);
    for (const answer of answers) expect(answer.elapsed).toBeLessThan(3000);
  });

  it('answers new polls with 503 SHUTTING_DOWN once closed', async () => {
    // hub.handler() in a server of our own: it keeps answering after hub.close().
    const hub = createHub({ logger: quietLogger });
    const server = http.createServer(hub.handler());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cursor = await cursorNow(url, ['a']);
    const held = heldPoll(url, ['a'], cursor, 20_000);
    await waitFor(() => hub.stats().connections['long-polling'] === 1);
    await hub.close();
    const answer = await held.answer;
    expect([answer.status, answer.body]).toEqual([200, { messages: [], cursor }]);
    for (const query of [`channel=a&timeout=0&cursor=${cursor}`, 'channel=a&timeout=5000']) {
      const refused = await requestJson<{ code: string }>(`${url}/rt/poll?${query}`);
      expect([refused.status, refused.body.code]).toEqual([503, 'SHUTTING_DOWN']);
    }
    expect(hub.stats().connections['long-polling']).toBe(0);
  });

  it('tells clients not to reuse the socket of a draining hub (Connection: close)', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    const held = rawGet(`${t.url}/rt/poll?channel=a&timeout=20000&cursor=${cursor}`);
    await heldCount(t, 1);
    const closing = t.hub.close({ drainWindowMs: 300 });
    const refused = await rawGet(`${t.url}/rt/poll?channel=a&timeout=0`);
    expect([refused.status, refused.connection]).toEqual([503, 'close']);
    const answered = await held;
    expect([answered.status, answered.connection]).toEqual([200, 'close']);
    expect(JSON.parse(answered.body)).toEqual({ messages: [], cursor });
    await closing;
  });

  it('refuses new polls with 503 while an attached hub drains over a window', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, ['a']);
    // Three held polls, each answered at a random moment of the window: the drain (and so the
    // hub) is still on when the next request arrives.
    const held = [1, 2, 3].map(() => heldPoll(t.url, ['a'], cursor, 20_000));
    await heldCount(t, 3);
    const closing = t.hub.close({ drainWindowMs: 1500 });
    const refused = await requestJson<{ code: string }>(
      `${t.url}/rt/poll?channel=a&timeout=0&cursor=${cursor}`,
    );
    expect([refused.status, refused.body.code]).toEqual([503, 'SHUTTING_DOWN']);
    for (const answer of await Promise.all(held.map((h) => h.answer))) {
      expect([answer.status, answer.body]).toEqual([200, { messages: [], cursor }]);
      expect(answer.elapsed).toBeLessThan(5000);
    }
    await closing;
  });
});

/** A GET over node:http, which (unlike fetch) shows the Connection header. */
function rawGet(
  url: string,
): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }),
        );
      })
      .on('error', reject);
  });
}
