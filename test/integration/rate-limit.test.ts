import { afterEach, describe, expect, it } from 'vitest';
import { isTidewireError } from '../../src/client/index.js';
import type { HubOptions } from '../../src/server/index.js';
import { Recorder, Resources, fastOptions } from '../support/client-harness.js';
import type { TestHub } from '../support/hub-server.js';
import {
  type RawAnswer,
  type RawOptions,
  type UpgradeOutcome,
  errorBody,
  rawRequest,
  tryUpgrade,
} from '../support/raw-request.js';
import { sleep, waitFor } from '../support/wait.js';
import type { Frame, TestSocket } from '../support/ws-client.js';

/**
 * The rate limits against a real hub on 127.0.0.1: HTTP requests per client IP
 * (`limits.maxRequestsPerSecondPerIp`: 429 with Retry-After, at the upgrade for WebSocket) and
 * frames per WebSocket (`limits.maxMessagesPerSecond`: RATE_LIMITED error frames, then 4003).
 * Rates are small and every assertion waits on behaviour, never on a duration: a token more
 * or less from a slow machine changes no verdict below.
 */

const resources = new Resources();
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await resources.closeAll();
});

const APP = 'https://app.example';

function hubWith(options: HubOptions): Promise<TestHub> {
  return resources.hub(options);
}

type Endpoint = 'sse' | 'poll' | 'send';

function call(t: TestHub, endpoint: Endpoint, options: RawOptions = {}): Promise<RawAnswer> {
  if (endpoint === 'send') {
    return rawRequest(`${t.url}/rt/send`, {
      method: 'POST',
      body: JSON.stringify({ channel: 'a', data: 'x' }),
      ...options,
      headers: { 'Content-Type': 'application/json', ...options.headers },
    });
  }
  const extra = endpoint === 'poll' ? '&timeout=0' : '';
  return rawRequest(`${t.url}/rt/${endpoint}?channel=a${extra}`, options);
}

async function upgrade(t: TestHub, options: RawOptions = {}): Promise<UpgradeOutcome> {
  const outcome = await tryUpgrade(t.wsUrl, options);
  if (outcome.kind === 'open') sockets.push(outcome.socket);
  return outcome;
}

async function openSocket(t: TestHub): Promise<TestSocket> {
  const outcome = await upgrade(t);
  if (outcome.kind !== 'open') throw new Error(`upgrade refused: ${outcome.answer.status}`);
  return outcome.socket;
}

/** Checks a 429 RATE_LIMITED answer; returns its Retry-After in seconds. */
function expectRateLimited(answer: RawAnswer, what: string): number {
  const body = errorBody(answer);
  expect([what, answer.status, body.code]).toEqual([what, 429, 'RATE_LIMITED']);
  const retryAfter = Number(answer.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1, `${what}: Retry-After`).toBe(true);
  expect(body.message).toBe(`too many requests from this address, retry in ${retryAfter} s`);
  return retryAfter;
}

function expectRefusedUpgrade(outcome: UpgradeOutcome, what: string): number {
  if (outcome.kind !== 'refused') throw new Error(`${what}: the upgrade was accepted`);
  return expectRateLimited(outcome.answer, what);
}

async function droppedMetric(t: TestHub, reason: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const prefix = `tidewire_dropped_total{reason="${reason}"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  if (line === undefined) throw new Error(`no ${prefix.trim()} series`);
  return Number(line.slice(prefix.length));
}

describe('per-IP request rate (limits.maxRequestsPerSecondPerIp)', () => {
  it('answers 429 with Retry-After and RATE_LIMITED past the burst, on SSE, poll, send and the upgrade', async () => {
    // One request per 5 s: everything below happens well within the first token's wait.
    const t = await hubWith({ origins: [APP], limits: { maxRequestsPerSecondPerIp: 0.2 } });
    const page = { headers: { Origin: APP } };
    expect((await call(t, 'poll', page)).status).toBe(200);
    for (const endpoint of ['sse', 'poll', 'send'] as const) {
      const answer = await call(t, endpoint, page);
      expect(expectRateLimited(answer, endpoint)).toBeLessThanOrEqual(5);
      // A page of a listed origin may read the refusal and its Retry-After.
      expect(answer.headers['access-control-allow-origin']).toBe(APP);
      expect(answer.headers['access-control-expose-headers']).toMatch(/\bRetry-After\b/i);
    }
    expect(expectRefusedUpgrade(await upgrade(t), 'upgrade')).toBeLessThanOrEqual(5);
    // Preflights cost nothing, and the backend API and /health are not browser endpoints.
    const preflight = await rawRequest(`${t.url}/rt/send`, {
      method: 'OPTIONS',
      headers: { Origin: APP, 'Access-Control-Request-Method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    const published = await rawRequest(`${t.url}/rt/publish/a`, { method: 'POST', body: '1' });
    expect(published.status).toBe(201);
    expect((await rawRequest(`${t.url}/health`)).status).toBe(200);
    expect(t.hub.stats().dropped.rate_limited).toBe(4);
    expect(await droppedMetric(t, 'rate_limited')).toBe(4);
  });

  it('admits the address again once it waited as long as Retry-After said', async () => {
    const t = await hubWith({ limits: { maxRequestsPerSecondPerIp: 1 } });
    expect((await call(t, 'poll')).status).toBe(200);
    const wait = expectRateLimited(await call(t, 'poll'), 'second poll');
    await sleep(wait * 1000 + 50);
    expect((await call(t, 'poll')).status).toBe(200);
    // The same for an upgrade.
    const again = expectRefusedUpgrade(await upgrade(t), 'upgrade right after');
    await sleep(again * 1000 + 50);
    expect((await upgrade(t)).kind).toBe('open');
  });

  it('limits each address on its own: 127.0.0.2 is not held back by 127.0.0.1', async () => {
    const t = await hubWith({ limits: { maxRequestsPerSecondPerIp: 0.2 } });
    expect((await call(t, 'poll')).status).toBe(200);
    expectRateLimited(await call(t, 'poll'), 'second poll from 127.0.0.1');
    const other = { localAddress: '127.0.0.2' };
    expect((await upgrade(t, other)).kind).toBe('open');
    expectRateLimited(await call(t, 'send', other), 'second request from 127.0.0.2');
    expectRateLimited(await call(t, 'sse'), 'third request from 127.0.0.1');
  });

  it('with trustProxy: 1, limits the client that X-Forwarded-For names, not the proxy', async () => {
    const t = await hubWith({ trustProxy: 1, limits: { maxRequestsPerSecondPerIp: 0.2 } });
    const from = (xff: string) => ({ headers: { 'X-Forwarded-For': xff } });
    expect((await call(t, 'poll', from('203.0.113.1'))).status).toBe(200);
    expectRateLimited(await call(t, 'poll', from('203.0.113.1')), 'client 1 again');
    // Another client behind the same proxy (the same peer, 127.0.0.1) is admitted.
    expect((await call(t, 'poll', from('203.0.113.2'))).status).toBe(200);
    // A client that puts a made-up address in front of its own is still itself.
    expectRateLimited(
      await call(t, 'send', from('198.51.100.7, 203.0.113.1')),
      'spoofing client 1',
    );
    expectRefusedUpgrade(await upgrade(t, from('203.0.113.2')), 'client 2 upgrading');
    expect((await upgrade(t, from('203.0.113.3'))).kind).toBe('open');

    // Without trustProxy the header is anyone's to write: the peer address is limited.
    const direct = await hubWith({ limits: { maxRequestsPerSecondPerIp: 0.2 } });
    expect((await call(direct, 'poll', from('203.0.113.1'))).status).toBe(200);
    expectRateLimited(await call(direct, 'poll', from('203.0.113.2')), 'a new X-Forwarded-For');
  });

  it('has no per-IP limit by default: many clients behind one address all get in', async () => {
    const t = await hubWith({});
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => call(t, i % 3 === 0 ? 'send' : 'poll')),
    );
    expect(answers.filter((a) => a.status >= 400)).toEqual([]);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => upgrade(t)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(20).fill('open'));
    expect(t.hub.stats().dropped.rate_limited).toBeUndefined();
  });
});

const isAnswerTo = (ref: string) => (f: Frame) =>
  typeof f === 'object' && (f.type === 'ack' || f.type === 'error') && f.ref === ref;

describe('per-WebSocket frame rate (limits.maxMessagesPerSecond)', () => {
  it('refuses publishes past the rate with RATE_LIMITED error frames and their refs; the socket stays', async () => {
    const t = await hubWith({ limits: { maxMessagesPerSecond: 5, maxMessageBurst: 5 } });
    const socket = await openSocket(t);
    const refs = Array.from({ length: 9 }, (_, i) => `p${i + 1}`);
    for (const ref of refs) socket.send({ type: 'publish', channel: 'a', data: ref, ref });
    const answers = await waitFor(() => {
      const found = refs.map((ref) => socket.frames.find(isAnswerTo(ref)));
      return found.every((f) => f !== undefined)
        ? (found as Array<Record<string, unknown>>)
        : undefined;
    });
    // The burst (5) goes through; what comes past it is refused, one error frame per publish.
    expect(answers.slice(0, 5).map((f) => f.type)).toEqual(Array(5).fill('ack'));
    const refused = answers.filter((f) => f.type === 'error');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const frame of refused) {
      expect(frame).toEqual({
        type: 'error',
        code: 'RATE_LIMITED',
        message: 'more than 5 frames per second',
        ref: frame.ref,
      });
    }
    // What was refused was not published; the socket is still open and reads on.
    const acked = answers.filter((f) => f.type === 'ack').map((f) => f.ref);
    const history = await rawRequest(
      `${t.url}/rt/poll?channel=a&timeout=0&cursor=${encodeURIComponent(String(answers[0]?.id))}`,
    );
    const later = (JSON.parse(history.body) as { messages: Array<{ data: unknown }> }).messages;
    expect([refs[0], ...later.map((m) => m.data)]).toEqual(acked);
    await sleep(500);
    socket.send({ type: 'ping' });
    await socket.next((f) => typeof f === 'object' && f.type === 'pong');
    expect(socket.closeCode).toBeUndefined();
    expect(t.hub.stats().dropped.rate_limited).toBe(refused.length);
  });

  it('rejects the client’s publish() with a RATE_LIMITED TidewireError, and the client stays open', async () => {
    const t = await hubWith({ limits: { maxMessagesPerSecond: 5, maxMessageBurst: 5 } });
    const client = resources.client(t.url, {
      ...fastOptions('websocket'),
      // No heartbeat pings in the way of the count.
      heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
    });
    const recorder = new Recorder(client);
    await recorder.waitForEvent('open');
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => client.publish('a', { i })),
    );
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(rejected.length).toBeGreaterThanOrEqual(1);
    for (const error of rejected) {
      expect(isTidewireError(error) && [error.code, error.message]).toEqual([
        'RATE_LIMITED',
        'more than 5 frames per second',
      ]);
    }
    expect(results.slice(0, 3).map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(client.readyState).toBe(1);
    expect(recorder.count('close')).toBe(0);
  });

  it('closes a socket that floods other frames past the rate with 4003 and a reason', async () => {
    const t = await hubWith({ limits: { maxMessagesPerSecond: 5, maxMessageBurst: 5 } });
    const socket = await openSocket(t);
    for (let i = 0; i < 30; i++) socket.send({ type: 'ping' });
    expect(await socket.closed()).toEqual({ code: 4003, reason: 'more than 5 frames per second' });
    // The burst was answered before the close.
    expect(socket.ofType('pong').length).toBeGreaterThanOrEqual(5);
  });

  it('leaves a ping past the rate unanswered without closing the socket', async () => {
    const t = await hubWith({ limits: { maxMessagesPerSecond: 5, maxMessageBurst: 5 } });
    const socket = await openSocket(t);
    for (let i = 0; i < 7; i++) socket.send({ type: 'ping' });
    await socket.waitForType('pong', 5);
    await sleep(500); // the bucket refills: a later ping is answered again
    socket.send({ type: 'ping' });
    await socket.waitForType('pong', 6);
    expect(socket.ofType('pong')).toHaveLength(6);
    expect(socket.closeCode).toBeUndefined();
  });

  it('closes with 4003 a socket that sends 256 frames while one waits on an async authorize', async () => {
    const t = await hubWith({
      limits: { maxMessagesPerSecond: 10_000, maxMessageBurst: 10_000 },
      // A hook that never answers for `slow`: every frame after it waits its turn.
      authorize: (_identity, channel) =>
        channel === 'slow' ? new Promise<boolean>(() => {}) : true,
    });
    const socket = await openSocket(t);
    socket.send({ type: 'subscribe', channels: ['slow'], ref: 's1' });
    for (let i = 0; i < 300; i++) socket.send({ type: 'ping' });
    expect(await socket.closed()).toEqual({
      code: 4003,
      reason: 'too many frames waiting for authorization',
    });
    expect(socket.ofType('pong')).toEqual([]);
  });

  it('closes a socket that keeps publishing at several times the rate with 4003', async () => {
    const t = await hubWith({ limits: { maxMessagesPerSecond: 4, maxMessageBurst: 4 } });
    const socket = await openSocket(t);
    let n = 0;
    // 40 a second, ten times the rate: refusals first, then the close.
    const timer = setInterval(() => {
      n++;
      if (socket.ws.readyState === socket.ws.OPEN) {
        socket.send({ type: 'publish', channel: 'a', data: n, ref: `p${n}` });
      }
    }, 25);
    try {
      expect((await socket.closed(10_000)).code).toBe(4003);
    } finally {
      clearInterval(timer);
    }
    expect(socket.ofType('ack').length).toBeGreaterThanOrEqual(4);
    expect(socket.ofType('error').length).toBeGreaterThanOrEqual(1);
    expect(socket.closeReason).toBe('more than 4 frames per second');
  });

  it('the tidewire client reconnects after 4003 (reconnect range); every publish settles, none twice', async () => {
    const t = await hubWith({ limits: { maxMessagesPerSecond: 3, maxMessageBurst: 3 } });
    const start = await rawRequest(`${t.url}/rt/poll?channel=a&timeout=0`);
    const cursor = (JSON.parse(start.body) as { cursor: string }).cursor;
    const client = resources.client(t.url, {
      ...fastOptions('websocket'),
      heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 },
    });
    const recorder = new Recorder(client);
    await recorder.waitForEvent('open');
    const outcomes: Array<{ i: number; error?: unknown }> = [];
    for (let i = 0; i < 12; i++) {
      client.publish('a', { i }).then(
        () => outcomes.push({ i }),
        (error: unknown) => outcomes.push({ i, error }),
      );
    }
    // Twelve frames at once on a burst of 3: some refused, the rest cut with 4003.
    await waitFor(
      () => outcomes.length === 12,
      5000,
      `12 publishes to settle (${outcomes.length})`,
    );
    const closes = recorder.of('close');
    expect(closes.length).toBeGreaterThanOrEqual(1);
    for (const close of closes) {
      expect([close.code, close.reason, close.willReconnect]).toEqual([
        4003,
        'more than 3 frames per second',
        true,
      ]);
    }
    await waitFor(() => recorder.count('open') === closes.length + 1 && client.readyState === 1);
    // Each publish was acked (on this link or after a reconnect) or refused as RATE_LIMITED.
    for (const { error } of outcomes) {
      if (error !== undefined) expect(isTidewireError(error) && error.code).toBe('RATE_LIMITED');
    }
    const acked = outcomes.filter((o) => o.error === undefined).map((o) => o.i);
    expect(acked.length).toBeGreaterThanOrEqual(2);
    // History holds each acked publish once: none was acked on a socket cut before its ack.
    const query = `channel=a&timeout=0&cursor=${encodeURIComponent(cursor)}`;
    const after = await rawRequest(`${t.url}/rt/poll?${query}`);
    const history = (JSON.parse(after.body) as { messages: Array<{ data: { i: number } }> })
      .messages;
    expect(history.map((m) => m.data.i)).toEqual([...acked].sort((a, b) => a - b));
    expect(recorder.of('error').map((e) => (e as { code?: string }).code)).not.toContain('GAVE_UP');
  });
});
