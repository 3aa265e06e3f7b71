import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ConnectionInfo,
  type Envelope,
  type Hub,
  type HubOptions,
  createHub,
} from '../../src/server/index.js';
import { type PollAnswer, poll, publishHttp, requestJson } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { waitFor } from '../support/wait.js';
import { connectWs } from '../support/ws-client.js';

/**
 * The HTTP API: `POST /rt/publish/:channel`, `POST /rt/send`, routing, `/health`, and the hub
 * mounted by `hub.handler()` (plain http, Express) and `hub.attach()` (SPEC.md § Endpoints).
 */

const quietLogger = { info() {}, warn() {}, error() {} };
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface ErrorBody {
  code: string;
  message: string;
}

async function hubWith(options: HubOptions = {}): Promise<TestHub> {
  const started = await startHub(options);
  cleanups.push(() => started.close());
  return started;
}

/** Listens on 127.0.0.1:0 and registers the hub and server for closing; returns the origin. */
async function serve(hub: Hub, server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await hub.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** POST with a raw body and headers of our choosing. */
function post(
  url: string,
  body: string | Uint8Array<ArrayBuffer> | undefined,
  headers: HeadersInit = {},
) {
  return requestJson<Record<string, unknown>>(url, {
    method: 'POST',
    headers,
    ...(body === undefined ? {} : { body }),
  });
}

/**
 * POST over node:http with `Transfer-Encoding: chunked` and no Content-Length, so that the
 * server only learns the size while reading.
 */
function postChunked(
  url: string,
  chunks: string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text) as Record<string, unknown>,
          });
        } catch (error) {
          reject(error as Error);
        }
      });
    });
    // The server may answer 413 and stop reading before every chunk went out.
    request.on('error', reject);
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

/** What a poll from `cursor` on `channel` returns at once. */
async function messagesAfter(baseUrl: string, channel: string, cursor: string, path = '/rt') {
  const query = new URLSearchParams({ channel, cursor, timeout: '0' });
  const { status, body } = await requestJson<PollAnswer>(`${baseUrl}${path}/poll?${query}`);
  expect(status).toBe(200);
  return body.messages;
}

async function cursorNow(baseUrl: string, channel: string, path = '/rt'): Promise<string> {
  const query = new URLSearchParams({ channel, timeout: '0' });
  const { status, body } = await requestJson<PollAnswer>(`${baseUrl}${path}/poll?${query}`);
  expect(status).toBe(200);
  expect(body.messages).toEqual([]);
  return body.cursor;
}

/** Checks that `envelope` is exactly what was published, `ts` within the publish. */
function expectEnvelope(
  envelope: Record<string, unknown> | undefined,
  expected: { id: string; channel: string; event?: string; data: unknown; binary?: true },
  window: { before: number; after: number },
) {
  const { event = 'message', ...rest } = expected;
  expect(envelope).toEqual({ ...rest, event, ts: envelope?.ts });
  expect(envelope?.ts).toBeGreaterThanOrEqual(window.before);
  expect(envelope?.ts).toBeLessThanOrEqual(window.after);
}

describe('POST /rt/publish/:channel', () => {
  it('publishes a JSON object that a poll returns as an envelope', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'prices');
    const before = Date.now();
    const data = { symbol: 'ACME', price: 12.5, tags: ['a', null, true], nested: { n: -1 } };
    const { status, headers, body } = await publishHttp(t.url, 'prices', data);
    const after = Date.now();
    expect(status).toBe(201);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(Object.keys(body)).toEqual(['id', 'ts']);
    const [envelope, ...rest] = await messagesAfter(t.url, 'prices', cursor);
    expect(rest).toEqual([]);
    expectEnvelope(envelope, { id: body.id, channel: 'prices', data }, { before, after });
    expect(envelope?.ts).toBe(body.ts);
  });

  it('publishes JSON strings, numbers, booleans, arrays and null as they are', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'a');
    const values: unknown[] = ['hello', '', 42, 0, -3.25, true, false, [1, 'x', null], null, {}];
    const ids: string[] = [];
    for (const value of values) {
      const { status, body } = await publishHttp(t.url, 'a', value);
      expect(status).toBe(201);
      ids.push(body.id);
    }
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => m.id)).toEqual(ids);
    expect(messages.map((m) => m.data)).toEqual(values);
    expect(new Set(messages.map((m) => m.event))).toEqual(new Set(['message']));
  });

  it('publishes null for an empty body, with or without a Content-Type', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'a');
    const withType = await post(`${t.url}/rt/publish/a`, '', {
      'Content-Type': 'application/json',
    });
    const withoutType = await post(`${t.url}/rt/publish/a`, undefined);
    const blank = await post(`${t.url}/rt/publish/a`, '  \n', {
      'Content-Type': 'application/json',
    });
    expect([withType.status, withoutType.status, blank.status]).toEqual([201, 201, 201]);
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => [m.id, m.data])).toEqual([
      [withType.body.id, null],
      [withoutType.body.id, null],
      [blank.body.id, null],
    ]);
  });

  it('publishes a text/plain body as a string, unparsed', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'a');
    const texts = ['{"not":"parsed"}', 'héllo ✓ 日本', '42', ''];
    for (const text of texts) {
      const { status } = await post(`${t.url}/rt/publish/a`, text, {
        'Content-Type': 'text/plain; charset=utf-8',
      });
      expect(status).toBe(201);
    }
    expect((await messagesAfter(t.url, 'a', cursor)).map((m) => m.data)).toEqual(texts);
  });

  it('sets the event from ?event=', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'a');
    const tick = await publishHttp(t.url, 'a', 1, 'tick');
    const spaced = await publishHttp(t.url, 'a', 2, 'price changed: ACME');
    const plain = await publishHttp(t.url, 'a', 3);
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => [m.id, m.event, m.data])).toEqual([
      [tick.body.id, 'tick', 1],
      [spaced.body.id, 'price changed: ACME', 2],
      [plain.body.id, 'message', 3],
    ]);
  });

  it('publishes application/octet-stream bytes 0..255 as base64 with binary: true', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'bin');
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const before = Date.now();
    const { status, body } = await post(`${t.url}/rt/publish/bin?event=blob`, bytes, {
      'Content-Type': 'application/octet-stream',
    });
    const after = Date.now();
    expect(status).toBe(201);
    const [envelope] = await messagesAfter(t.url, 'bin', cursor);
    expectEnvelope(
      envelope,
      {
        id: body.id as string,
        channel: 'bin',
        event: 'blob',
        data: Buffer.from(bytes).toString('base64'),
        binary: true,
      },
      { before, after },
    );
    expect([...Buffer.from(envelope?.data as string, 'base64')]).toEqual([...bytes]);
  });

  it('decodes URL-encoded channel names in the path', async () => {
    const t = await hubWith();
    const names = ['a/b', 'user:42@eu', 'x.y_z-1'];
    const cursors = await Promise.all(names.map((name) => cursorNow(t.url, name)));
    const slash = await post(`${t.url}/rt/publish/a%2Fb`, '"slash"', {
      'Content-Type': 'application/json',
    });
    const mixed = await publishHttp(t.url, 'user:42@eu', 'mixed');
    const plain = await post(`${t.url}/rt/publish/x.y_z-1`, '"plain"', {
      'Content-Type': 'application/json',
    });
    expect([slash.status, mixed.status, plain.status]).toEqual([201, 201, 201]);
    const received = await Promise.all(
      names.map((name, i) => messagesAfter(t.url, name, cursors[i] as string)),
    );
    expect(received.map((messages) => messages.map((m) => [m.channel, m.id, m.data]))).toEqual([
      [['a/b', slash.body.id, 'slash']],
      [['user:42@eu', mixed.body.id, 'mixed']],
      [['x.y_z-1', plain.body.id, 'plain']],
    ]);
  });

  it('reads its own writes: a poll with the previous cursor includes the envelope', async () => {
    const t = await hubWith();
    let cursor = await cursorNow(t.url, 'a');
    for (let i = 0; i < 25; i++) {
      const { status, body } = await publishHttp(t.url, 'a', { i });
      expect(status).toBe(201);
      const messages = await messagesAfter(t.url, 'a', cursor);
      expect(messages.map((m) => [m.id, m.data])).toEqual([[body.id, { i }]]);
      cursor = body.id;
    }
  });
});

describe('POST /rt/publish/:channel: publish token', () => {
  it('answers 401 UNAUTHORIZED without a bearer token', async () => {
    const t = await hubWith({ publishToken: 's3cret' });
    const cursor = await cursorNow(t.url, 'a');
    const { status, headers, body } = await publishHttp(t.url, 'a', 'x');
    expect(status).toBe(401);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect((body as unknown as ErrorBody).code).toBe('UNAUTHORIZED');
    // Another scheme, or the scheme without a token, carries no bearer token either.
    for (const authorization of ['Basic czNjcmV0', 'Bearer', 'Bearer   ', 's3cret']) {
      const other = await post(`${t.url}/rt/publish/a`, '1', {
        'Content-Type': 'application/json',
        Authorization: authorization,
      });
      expect([authorization, other.status, other.body.code]).toEqual([
        authorization,
        401,
        'UNAUTHORIZED',
      ]);
    }
    expect(await messagesAfter(t.url, 'a', cursor)).toEqual([]);
  });

  it('answers 403 FORBIDDEN with a wrong token', async () => {
    const t = await hubWith({ publishToken: 's3cret' });
    const cursor = await cursorNow(t.url, 'a');
    for (const authorization of [
      'Bearer wrong',
      'Bearer s3cre',
      'Bearer s3cretX',
      'Bearer S3CRET',
    ]) {
      const { status, body } = await post(`${t.url}/rt/publish/a`, '1', {
        'Content-Type': 'application/json',
        Authorization: authorization,
      });
      expect([authorization, status, body.code]).toEqual([authorization, 403, 'FORBIDDEN']);
    }
    expect(await messagesAfter(t.url, 'a', cursor)).toEqual([]);
  });

  it('publishes with the right token', async () => {
    const t = await hubWith({ publishToken: 's3cret' });
    const cursor = await cursorNow(t.url, 'a');
    const { status, body } = await publishHttp(t.url, 'a', 'ok', undefined, 's3cret');
    expect(status).toBe(201);
    const lower = await post(`${t.url}/rt/publish/a`, '"lower"', {
      'Content-Type': 'application/json',
      Authorization: 'bearer s3cret',
    });
    expect(lower.status).toBe(201);
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => [m.id, m.data])).toEqual([
      [body.id, 'ok'],
      [lower.body.id, 'lower'],
    ]);
  });

  it('is open when no token is configured, whatever Authorization says', async () => {
    const t = await hubWith();
    const none = await publishHttp(t.url, 'a', 1);
    const any = await publishHttp(t.url, 'a', 2, undefined, 'anything');
    expect([none.status, any.status]).toEqual([201, 201]);
  });

  it('does not guard /rt/send or /rt/poll with the publish token', async () => {
    const t = await hubWith({ publishToken: 's3cret' });
    const cursor = await cursorNow(t.url, 'a');
    const sent = await post(`${t.url}/rt/send`, JSON.stringify({ channel: 'a', data: 1 }), {
      'Content-Type': 'application/json',
    });
    expect(sent.status).toBe(201);
    expect((await messagesAfter(t.url, 'a', cursor)).map((m) => m.id)).toEqual([sent.body.id]);
  });
});

describe('POST /rt/publish/:channel: refusals', () => {
  async function expectRefusal(
    answer: Promise<{ status: number; headers?: Headers; body: unknown }>,
    status: number,
    code: string,
  ) {
    const { status: actual, body } = await answer;
    const error = body as ErrorBody;
    expect([actual, error.code]).toEqual([status, code]);
    expect(typeof error.message).toBe('string');
    expect(error.message.length).toBeGreaterThan(0);
  }
  const json = { 'Content-Type': 'application/json' };

  it('answers 400 BAD_JSON for a body that is not JSON', async () => {
    const t = await hubWith();
    for (const text of ['{"a":', 'undefined', "{'a':1}", '[1,]']) {
      await expectRefusal(post(`${t.url}/rt/publish/a`, text, json), 400, 'BAD_JSON');
    }
  });

  it('answers 400 BAD_CHANNEL for a bad channel name', async () => {
    const t = await hubWith();
    for (const path of ['bad%20name', 'a%3Fb', '%ZZ', 'x'.repeat(129), 'caf%C3%A9']) {
      await expectRefusal(post(`${t.url}/rt/publish/${path}`, '1', json), 400, 'BAD_CHANNEL');
    }
  });

  it('answers 400 BAD_EVENT for a bad event name', async () => {
    const t = await hubWith();
    for (const event of ['a%0Ab', 'a%0Db', 'nul%00', 'x'.repeat(129)]) {
      await expectRefusal(
        post(`${t.url}/rt/publish/a?event=${event}`, '1', json),
        400,
        'BAD_EVENT',
      );
    }
  });

  it('answers 400 BAD_EVENT for the reserved event names, which SSE would confuse', async () => {
    const t = await hubWith();
    for (const event of ['subscribed', 'gap', 'open', 'error']) {
      await expectRefusal(
        post(`${t.url}/rt/publish/a?event=${event}`, '1', json),
        400,
        'BAD_EVENT',
      );
    }
    // An empty ?event= is no event name: the default applies.
    const answer = await post(`${t.url}/rt/publish/a?event=`, '1', json);
    expect(answer.status).toBe(201);
  });

  it('answers 413 MESSAGE_TOO_LARGE past maxMessageBytes, then keeps serving', async () => {
    const t = await hubWith({ limits: { maxMessageBytes: 1024 } });
    const cursor = await cursorNow(t.url, 'a');
    // Exactly at the limit is fine; one byte more is not.
    const atLimit = JSON.stringify('x'.repeat(1022));
    expect(Buffer.byteLength(atLimit)).toBe(1024);
    const accepted = await post(`${t.url}/rt/publish/a`, atLimit, json);
    expect(accepted.status).toBe(201);
    const overLimit = JSON.stringify('x'.repeat(1023));
    await expectRefusal(post(`${t.url}/rt/publish/a`, overLimit, json), 413, 'MESSAGE_TOO_LARGE');
    // A large body with its Content-Length is refused before it is read.
    const big = JSON.stringify({ big: 'y'.repeat(200_000) });
    await expectRefusal(post(`${t.url}/rt/publish/a`, big, json), 413, 'MESSAGE_TOO_LARGE');
    // A chunked body without Content-Length is refused once it passes the limit.
    const chunks = Array.from({ length: 8 }, (_, i) => (i === 0 ? '"' : 'z'.repeat(300)));
    await expectRefusal(
      postChunked(`${t.url}/rt/publish/a`, [...chunks, '"'], json),
      413,
      'MESSAGE_TOO_LARGE',
    );
    const health = await requestJson(`${t.url}/health`);
    expect([health.status, health.body]).toEqual([200, { status: 'ok' }]);
    const after = await publishHttp(t.url, 'a', 'after');
    expect(after.status).toBe(201);
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => m.id)).toEqual([accepted.body.id, after.body.id]);
  });

  it('accepts a chunked body under the limit', async () => {
    const t = await hubWith({ limits: { maxMessageBytes: 1024 } });
    const cursor = await cursorNow(t.url, 'a');
    const { status, body } = await postChunked(
      `${t.url}/rt/publish/a`,
      ['{"a"', ':', '[1,', '2]}'],
      json,
    );
    expect(status).toBe(201);
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => [m.id, m.data])).toEqual([[body.id, { a: [1, 2] }]]);
  });
});

describe('POST /rt/send', () => {
  const json = { 'Content-Type': 'application/json' };

  it('answers 201 { id, ts }, delivers to a held poll and tells onMessage with transport http', async () => {
    const t = await hubWith();
    const seen: Array<{ connection: ConnectionInfo; envelope: Envelope }> = [];
    t.hub.onMessage((connection, envelope) => seen.push({ connection, envelope }));
    const cursor = await cursorNow(t.url, 'chat');
    const held = poll(t.url, ['chat'], cursor, 10_000);
    await waitFor(() => t.hub.stats().connections['long-polling'] === 1);
    const before = Date.now();
    const { status, body } = await post(
      `${t.url}/rt/send`,
      JSON.stringify({ channel: 'chat', event: 'say', data: { text: 'hi' } }),
      json,
    );
    const after = Date.now();
    expect(status).toBe(201);
    expect(Object.keys(body)).toEqual(['id', 'ts']);
    const answer = await held;
    expect(answer.body.messages).toHaveLength(1);
    const [polled] = answer.body.messages;
    expectEnvelope(
      polled,
      { id: body.id as string, channel: 'chat', event: 'say', data: { text: 'hi' } },
      { before, after },
    );
    expect(seen).toHaveLength(1);
    expect(seen[0]?.envelope).toEqual(polled);
    expect(seen[0]?.connection).toEqual({
      id: seen[0]?.connection.id,
      transport: 'http',
      ip: '127.0.0.1',
    });
    expect(typeof seen[0]?.connection.id).toBe('string');
  });

  it('defaults the event to message and carries binary base64 data', async () => {
    const t = await hubWith();
    const cursor = await cursorNow(t.url, 'a');
    const plain = await post(
      `${t.url}/rt/send`,
      JSON.stringify({ channel: 'a', data: null }),
      json,
    );
    const binary = await post(
      `${t.url}/rt/send`,
      JSON.stringify({ channel: 'a', data: 'AAEC/w==', binary: true }),
      json,
    );
    expect([plain.status, binary.status]).toEqual([201, 201]);
    const messages = await messagesAfter(t.url, 'a', cursor);
    expect(messages.map((m) => [m.id, m.event, m.data, m.binary])).toEqual([
      [plain.body.id, 'message', null, undefined],
      [binary.body.id, 'message', 'AAEC/w==', true],
    ]);
  });

  it('answers 400 for a missing data field, a non-object body, bad JSON, a bad channel', async () => {
    const t = await hubWith();
    const seen: Envelope[] = [];
    t.hub.onMessage((_connection, envelope) => seen.push(envelope));
    const cases: Array<[string, string]> = [
      [JSON.stringify({ channel: 'a' }), 'BAD_REQUEST'],
      [JSON.stringify({ channel: 'a', event: 'e' }), 'BAD_REQUEST'],
      [JSON.stringify([{ channel: 'a', data: 1 }]), 'BAD_REQUEST'],
      [JSON.stringify('a'), 'BAD_REQUEST'],
      ['42', 'BAD_REQUEST'],
      ['null', 'BAD_REQUEST'],
      ['{"channel":', 'BAD_JSON'],
      ['', 'BAD_JSON'],
      [JSON.stringify({ channel: 'bad name', data: 1 }), 'BAD_CHANNEL'],
      [JSON.stringify({ data: 1 }), 'BAD_CHANNEL'],
      [JSON.stringify({ channel: 'a', event: 'x\ny', data: 1 }), 'BAD_EVENT'],
      [JSON.stringify({ channel: 'a', data: 'not base64!', binary: true }), 'BAD_REQUEST'],
    ];
    for (const [text, code] of cases) {
      const { status, body } = await post(`${t.url}/rt/send`, text, json);
      expect([text, status, body.code]).toEqual([text, 400, code]);
    }
    expect(seen).toEqual([]);
  });

  it('answers 403 PUBLISH_DISABLED when allowClientPublish is false', async () => {
    const t = await hubWith({ allowClientPublish: false });
    const seen: Envelope[] = [];
    t.hub.onMessage((_connection, envelope) => seen.push(envelope));
    const cursor = await cursorNow(t.url, 'a');
    const { status, body } = await post(
      `${t.url}/rt/send`,
      JSON.stringify({ channel: 'a', data: 1 }),
      json,
    );
    expect([status, body.code]).toEqual([403, 'PUBLISH_DISABLED']);
    expect(await messagesAfter(t.url, 'a', cursor)).toEqual([]);
    expect(seen).toEqual([]);
    // The server-side publish endpoint is not a client publish: it still works.
    expect((await publishHttp(t.url, 'a', 2)).status).toBe(201);
  });

  it('answers 413 MESSAGE_TOO_LARGE past maxMessageBytes, with or without Content-Length', async () => {
    const t = await hubWith({ limits: { maxMessageBytes: 1024 } });
    const big = JSON.stringify({ channel: 'a', data: 'x'.repeat(2000) });
    const withLength = await post(`${t.url}/rt/send`, big, json);
    expect([withLength.status, withLength.body.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    const chunked = await postChunked(
      `${t.url}/rt/send`,
      [big.slice(0, 700), big.slice(700, 1400), big.slice(1400)],
      json,
    );
    expect([chunked.status, chunked.body.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    const small = await post(`${t.url}/rt/send`, JSON.stringify({ channel: 'a', data: 1 }), json);
    expect(small.status).toBe(201);
  });
});

describe('routing', () => {
  it('answers 405 with Allow: POST to GET on the publish and send endpoints', async () => {
    const t = await hubWith();
    for (const path of ['/rt/publish/a', '/rt/send']) {
      const { status, headers, body } = await requestJson<ErrorBody>(`${t.url}${path}`);
      expect([path, status, headers.get('allow'), body.code]).toEqual([
        path,
        405,
        'POST',
        'METHOD_NOT_ALLOWED',
      ]);
    }
  });

  it('answers 404 NOT_FOUND as JSON for unknown paths', async () => {
    const t = await hubWith();
    for (const [method, path] of [
      ['GET', '/rt/nope'],
      ['POST', '/rt/publish/'],
      ['GET', '/rt/poll/extra'],
      ['GET', '/rt'],
      ['GET', '/elsewhere'],
    ] as const) {
      const { status, headers, body } = await requestJson<ErrorBody>(`${t.url}${path}`, {
        method,
      });
      expect([path, status, body.code]).toEqual([path, 404, 'NOT_FOUND']);
      expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
  });

  it('answers 426 to GET /rt/ws without an upgrade', async () => {
    const t = await hubWith();
    const { status, headers, body } = await requestJson<ErrorBody>(`${t.url}/rt/ws`);
    expect(status).toBe(426);
    expect(headers.get('upgrade')).toBe('websocket');
    expect(body.code).toBe('BAD_REQUEST');
  });

  it('answers GET /health with 200 { status: ok }', async () => {
    const t = await hubWith();
    const { status, headers, body } = await requestJson(`${t.url}/health`);
    expect([status, body]).toEqual([200, { status: 'ok' }]);
    expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    const head = await fetch(`${t.url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const wrong = await requestJson<ErrorBody>(`${t.url}/health`, { method: 'POST' });
    expect([wrong.status, wrong.body.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
  });

  it('survives request targets that new URL() refuses: 404 or 400 as JSON, 404 to an upgrade', async () => {
    const t = await hubWith();
    const answers: string[] = [];
    for (const head of [
      'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET //[ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    ]) {
      answers.push(await rawExchange(t.port, head));
    }
    // `//[` once threw from `new URL()` and took the process down; it is just a path.
    expect(answers[0]).toMatch(/^HTTP\/1\.1 404 /);
    expect(answers[0]).toContain('"code":"NOT_FOUND"');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 400 /);
    expect(answers[1]).toContain('"code":"BAD_REQUEST"');
    expect(answers[2]).toMatch(/^HTTP\/1\.1 404 /);
    // `//host/path` is a path, not an authority: it routes as that path.
    const { status } = await requestJson(`${t.url}//rt/health`);
    expect(status).toBe(404);
    const health = await requestJson(`${t.url}/health`);
    expect(health.status).toBe(200);
  });

  it('answers 404 for /health when health is off', async () => {
    const t = await hubWith({ health: false });
    const { status, body } = await requestJson<ErrorBody>(`${t.url}/health`);
    expect([status, body.code]).toEqual([404, 'NOT_FOUND']);
  });
});

describe('hub.handler() in a plain http server', () => {
  it('serves its endpoints under a custom basePath and 404s the old ones', async () => {
    const hub = createHub({ logger: quietLogger });
    const url = await serve(hub, http.createServer(hub.handler({ basePath: '/push' })));
    const cursor = await cursorNow(url, 'a', '/push');
    const published = await post(`${url}/push/publish/a?event=e`, '{"n":1}', {
      'Content-Type': 'application/json',
    });
    const sent = await post(`${url}/push/send`, JSON.stringify({ channel: 'a', data: 2 }), {
      'Content-Type': 'application/json',
    });
    expect([published.status, sent.status]).toEqual([201, 201]);
    const messages = await messagesAfter(url, 'a', cursor, '/push');
    expect(messages.map((m) => [m.id, m.event, m.data])).toEqual([
      [published.body.id, 'e', { n: 1 }],
      [sent.body.id, 'message', 2],
    ]);
    for (const path of ['/rt/poll?channel=a&timeout=0', '/rt/publish/a', '/rt/send']) {
      const old = await requestJson<ErrorBody>(`${url}${path}`, {
        method: path.includes('poll') ? 'GET' : 'POST',
      });
      expect([path, old.status, old.body.code]).toEqual([path, 404, 'NOT_FOUND']);
    }
    const health = await requestJson(`${url}/health`);
    expect([health.status, health.body]).toEqual([200, { status: 'ok' }]);
  });

  it('uses the hub basePath option by default', async () => {
    const hub = createHub({ logger: quietLogger, basePath: '/push/' });
    const url = await serve(hub, http.createServer(hub.handler()));
    const cursor = await cursorNow(url, 'a', '/push');
    const published = await post(`${url}/push/publish/a`, '7', {
      'Content-Type': 'application/json',
    });
    expect(published.status).toBe(201);
    expect((await messagesAfter(url, 'a', cursor, '/push')).map((m) => m.data)).toEqual([7]);
    const old = await requestJson<ErrorBody>(`${url}/rt/poll?channel=a&timeout=0`);
    expect([old.status, old.body.code]).toEqual([404, 'NOT_FOUND']);
  });
});

describe('hub.handler() as Express 5 middleware', () => {
  function appWith(hub: Hub, parseJsonFirst: boolean) {
    const app = express();
    if (parseJsonFirst) app.use(express.json({ limit: '1mb' }));
    app.use(hub.handler());
    app.get('/hello', (_req, res) => {
      res.json({ hello: 'world' });
    });
    app.post('/echo', (req, res) => {
      res.json({ echoed: req.body as unknown });
    });
    return app;
  }

  for (const parseJsonFirst of [false, true]) {
    const label = parseJsonFirst ? 'after express.json()' : 'alone';
    it(`publishes, sends and polls while the app's routes still answer (${label})`, async () => {
      const hub = createHub({ logger: quietLogger });
      const seen: string[] = [];
      hub.onMessage((connection, envelope) => seen.push(`${connection.transport}:${envelope.id}`));
      const url = await serve(hub, http.createServer(appWith(hub, parseJsonFirst)));
      const cursor = await cursorNow(url, 'a');
      const published = await publishHttp(url, 'a', { from: 'backend' }, 'tick');
      const sent = await post(`${url}/rt/send`, JSON.stringify({ channel: 'a', data: [1, 2] }), {
        'Content-Type': 'application/json',
      });
      const text = await post(`${url}/rt/publish/a`, 'plain words', {
        'Content-Type': 'text/plain',
      });
      const bytes = await post(`${url}/rt/publish/a`, new Uint8Array([0, 1, 254, 255]), {
        'Content-Type': 'application/octet-stream',
      });
      expect([published.status, sent.status, text.status, bytes.status]).toEqual([
        201, 201, 201, 201,
      ]);
      const messages = await messagesAfter(url, 'a', cursor);
      expect(messages.map((m) => [m.id, m.event, m.data, m.binary])).toEqual([
        [published.body.id, 'tick', { from: 'backend' }, undefined],
        [sent.body.id, 'message', [1, 2], undefined],
        [text.body.id, 'message', 'plain words', undefined],
        [bytes.body.id, 'message', 'AAH+/w==', true],
      ]);
      expect(seen).toEqual([`http:${sent.body.id as string}`]);

      const hello = await requestJson(`${url}/hello`);
      expect([hello.status, hello.body]).toEqual([200, { hello: 'world' }]);
      const echo = await post(`${url}/echo`, '{"x":1}', { 'Content-Type': 'application/json' });
      expect([echo.status, echo.body]).toEqual([200, parseJsonFirst ? { echoed: { x: 1 } } : {}]);
      const missing = await fetch(`${url}/nope`);
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toBe('text/html; charset=utf-8');
      await missing.text();
      const health = await requestJson(`${url}/health`);
      expect([health.status, health.body]).toEqual([200, { status: 'ok' }]);
    });
  }

  it('holds a body that express.json() parsed to maxMessageBytes too', async () => {
    const hub = createHub({ logger: quietLogger, limits: { maxMessageBytes: 1024 } });
    const url = await serve(hub, http.createServer(appWith(hub, true)));
    const cursor = await cursorNow(url, 'a');
    const json = { 'Content-Type': 'application/json' };
    const big = JSON.stringify({ big: 'x'.repeat(5000) });
    const withLength = await post(`${url}/rt/publish/a`, big, json);
    expect([withLength.status, withLength.body.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    const chunked = await postChunked(
      `${url}/rt/publish/a`,
      [big.slice(0, 2500), big.slice(2500)],
      json,
    );
    expect([chunked.status, chunked.body.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    const send = JSON.stringify({ channel: 'a', data: 'y'.repeat(5000) });
    const sendChunked = await postChunked(
      `${url}/rt/send`,
      [send.slice(0, 2500), send.slice(2500)],
      json,
    );
    expect([sendChunked.status, sendChunked.body.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    expect(await messagesAfter(url, 'a', cursor)).toEqual([]);
  });

  it('keeps octet-stream bytes binary after express.raw()', async () => {
    const hub = createHub({ logger: quietLogger });
    const app = express();
    app.use(express.raw());
    app.use(hub.handler());
    const url = await serve(hub, http.createServer(app));
    const cursor = await cursorNow(url, 'a');
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    const { status, body } = await post(`${url}/rt/publish/a`, bytes, {
      'Content-Type': 'application/octet-stream',
    });
    expect(status).toBe(201);
    const messages = await messagesAfter(url, 'a', cursor);
    expect(messages.map((m) => [m.id, m.data, m.binary])).toEqual([
      [body.id, Buffer.from(bytes).toString('base64'), true],
    ]);
  });
});

describe('hub.attach() on a server created with an Express app', () => {
  it("serves the hub's endpoints and WebSocket upgrades while the app's routes keep working", async () => {
    const hub = createHub({ logger: quietLogger });
    const app = express();
    app.use(express.json());
    app.get('/hello', (_req, res) => {
      res.json({ hello: 'world' });
    });
    app.post('/echo', (req, res) => {
      res.status(202).json({ echoed: req.body as unknown });
    });
    const server = http.createServer(app);
    hub.attach(server);
    const url = await serve(hub, server);

    const hello = await requestJson(`${url}/hello`);
    expect([hello.status, hello.body]).toEqual([200, { hello: 'world' }]);
    const echo = await post(`${url}/echo`, '{"x":[1]}', { 'Content-Type': 'application/json' });
    expect([echo.status, echo.body]).toEqual([202, { echoed: { x: [1] } }]);
    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
    await missing.text();

    const cursor = await cursorNow(url, 'a');
    const published = await publishHttp(url, 'a', 'via attach');
    expect(published.status).toBe(201);
    expect((await messagesAfter(url, 'a', cursor)).map((m) => [m.id, m.data])).toEqual([
      [published.body.id, 'via attach'],
    ]);
    const health = await requestJson(`${url}/health`);
    expect([health.status, health.body]).toEqual([200, { status: 'ok' }]);

    const socket = await connectWs(`${url.replace('http', 'ws')}/rt/ws`);
    try {
      socket.send('ping');
      expect(await socket.next((frame) => frame === 'pong')).toBe('pong');
    } finally {
      socket.close();
    }
  });
});

/** Writes raw request bytes and answers everything the server sent until it closed. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
  });
}
