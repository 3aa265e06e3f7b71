import http from 'node:http';
import fc from 'fast-check';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { HubOptions, Logger } from '../../src/server/index.js';
import { type ParsedEvent, createParser } from '../../src/sse/parser.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';
import { INJECTIONS, hostileString } from './arbitraries.js';
import { announceFuzzSettings, checkAsyncProperty, fuzzTimeoutMs } from './fuzz-config.js';
import { expectPristinePrototypes } from './prototypes.js';
import {
  type RawResponse,
  buildRequest,
  expectCleanHead,
  expectKnownRefusal,
  parseJsonBody,
  rawRequest,
  withoutControls,
} from './raw-http.js';

/**
 * Injection through everything a client controls: prototype pollution through JSON keys,
 * SSE fields through data, event and channel names and ids, and HTTP headers through query
 * strings, paths and request headers. What is refused is refused with a clear 400; what is
 * accepted arrives exactly as sent, as one event, and never becomes a field or a header.
 */

beforeAll(() => announceFuzzSettings());

let testHub: TestHub;
let errorLogs: string[];
const cleanups: Array<() => void> = [];

function recordingLogger(): Logger {
  return {
    info() {},
    warn() {},
    error: (object, message) => {
      const error = (object as { err?: unknown }).err;
      errorLogs.push(`${message ?? ''} ${error instanceof Error ? error.message : ''}`);
    },
  };
}

/** A hub whose rate limits stay out of the way: these tests are about content, not pace. */
function startInjectionHub(options: HubOptions = {}): Promise<TestHub> {
  return startHub({
    logger: recordingLogger(),
    ...options,
    limits: { maxMessagesPerSecond: 1e9, maxMessageBurst: 1e9, ...options.limits },
  });
}

async function restartHub(options: HubOptions): Promise<void> {
  await testHub.close();
  testHub = await startInjectionHub(options);
}

beforeEach(async () => {
  errorLogs = [];
  testHub = await startInjectionHub();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await testHub.close();
  expect(errorLogs).toEqual([]);
  expectPristinePrototypes();
});

async function openSocket(): Promise<TestSocket> {
  const socket = await connectWs(testHub.wsUrl);
  cleanups.push(() => socket.close());
  return socket;
}

/** An SSE stream over raw HTTP, read with tidewire's own WHATWG parser, fed bytes. */
interface ParsedStream {
  readonly status: number;
  readonly events: ParsedEvent[];
  readonly retries: number[];
  readonly comments: string[];
  body: string;
}

function openStream(query: string, headers: Record<string, string> = {}): Promise<ParsedStream> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${testHub.url}/rt/sse?${query}`, { headers }, (res) => {
      const stream: ParsedStream = {
        status: res.statusCode ?? 0,
        events: [],
        retries: [],
        comments: [],
        body: '',
      };
      const parser = createParser({
        onEvent: (event) => stream.events.push(event),
        onRetry: (retry) => stream.retries.push(retry),
        onComment: (comment) => stream.comments.push(comment),
      });
      res.on('data', (chunk: Buffer) => {
        if (stream.status === 200) parser.feed(chunk);
        else stream.body += chunk.toString('utf8');
      });
      resolve(stream);
    });
    request.on('error', reject);
    cleanups.push(() => request.destroy());
  });
}

function post(path: string, body: string, contentType = 'application/json') {
  return fetch(`${testHub.url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body,
  });
}

async function expectCreated(response: Response): Promise<{ id: string }> {
  const text = await response.text();
  expect(response.status, text).toBe(201);
  return JSON.parse(text) as { id: string };
}

async function expectRefused(response: Response, code: string): Promise<void> {
  const body = (await response.json()) as { code?: unknown; message?: unknown };
  expect(response.status).toBe(400);
  expect(body.code).toBe(code);
  expect(typeof body.message).toBe('string');
}

/** The next `error` frame of a socket, after those already read. */
function nextError(socket: TestSocket) {
  return socket.next((frame) => typeof frame === 'object' && frame.type === 'error');
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

// ---------------------------------------------------------------------------------------------

describe('prototype pollution', () => {
  /** Payloads as JSON text: `__proto__` stays an own key when JSON.parse reads it. */
  const PAYLOADS = [
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
    '{"a":{"__proto__":{"polluted":1}},"b":[{"__proto__":{"polluted":1}}],"c":{"constructor":{"prototype":{"polluted":1}}}}',
    '{"__proto__":{"__proto__":{"polluted":1}},"prototype":{"polluted":1}}',
    '[{"__proto__":null},{"__proto__":[]},{"__proto__":"polluted"}]',
  ];
  /** Frame and body keys that would pollute if the server merged them into an object. */
  const EXTRA_KEYS =
    '"__proto__":{"polluted":1,"type":"ping"},"constructor":{"prototype":{"polluted":1}}';

  it('delivers data with __proto__ and constructor keys exactly as sent, on every path in and out', async () => {
    const received: Envelope[] = [];
    testHub.hub.onMessage((_connection, envelope) => received.push(envelope));
    const socket = await openSocket();
    const [subscribed] = await subscribe(socket, ['pp']);
    const start = String(subscribed?.position);
    const stream = await openStream('channel=pp');
    await waitFor(() => stream.events.length === 1, 5000, 'the subscribed event');

    const publisher = await openSocket();
    for (const [i, payload] of PAYLOADS.entries()) {
      publisher.send(
        `{"type":"publish","channel":"pp","data":${payload},"ref":"r${i}",${EXTRA_KEYS}}`,
      );
      await publisher.next(
        (frame) => typeof frame === 'object' && frame.type === 'ack' && frame.ref === `r${i}`,
      );
      await expectCreated(
        await post('/rt/send', `{"channel":"pp","data":${payload},${EXTRA_KEYS}}`),
      );
      await expectCreated(await post('/rt/publish/pp', payload));
    }
    const sent = PAYLOADS.flatMap((payload) => [payload, payload, payload]);
    const expectSame = (data: unknown, payload: string) => {
      expect(JSON.stringify(data)).toBe(JSON.stringify(JSON.parse(payload)));
      if (payload.startsWith('{"__proto__"')) {
        expect(Object.hasOwn(data as object, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
        expect((data as { polluted?: unknown }).polluted).toBeUndefined();
      }
    };

    // WebSocket subscriber.
    const messages = await socket.waitForType('message', sent.length);
    messages.forEach((message, i) => expectSame(message.data, sent[i] as string));
    // SSE subscriber: the envelope JSON in each event's data.
    await waitFor(() => stream.events.length === sent.length + 1, 5000, 'every SSE event');
    stream.events
      .slice(1)
      .forEach((event, i) =>
        expectSame((JSON.parse(event.data) as Envelope).data, sent[i] as string),
      );
    // A poll from the subscribe position.
    const poll = await fetch(`${testHub.url}/rt/poll?channel=pp&cursor=${start}&timeout=0`);
    const answer = (await poll.json()) as { messages: Envelope[] };
    answer.messages.forEach((message, i) => expectSame(message.data, sent[i] as string));
    expect(answer.messages).toHaveLength(sent.length);
    // What the server's own onMessage listeners get (in-process objects).
    const fromClients = PAYLOADS.flatMap((payload) => [payload, payload]);
    received.forEach((envelope, i) => expectSame(envelope.data, fromClients[i] as string));
    expect(received).toHaveLength(fromClients.length);
    expectPristinePrototypes();
  });

  it('honours since maps and cursors whose keys are __proto__ and constructor, and refuses object positions', async () => {
    const channels = ['__proto__', 'constructor', 'toString'];
    const first = await Promise.all(
      channels.map((channel) => testHub.hub.publish(channel, `${channel} 1`)),
    );
    await Promise.all(channels.map((channel) => testHub.hub.publish(channel, `${channel} 2`)));
    const since = Object.fromEntries(
      channels.map((channel, i) => [channel, first[i]?.id as string]),
    );

    // WebSocket `since`, written as JSON text so that `__proto__` is a key, not a prototype.
    const socket = await openSocket();
    const sinceText = channels.map((channel) => `"${channel}":"${since[channel]}"`).join(',');
    socket.send(
      `{"type":"subscribe","channels":${JSON.stringify(channels)},"since":{${sinceText},"hasOwnProperty":"x-1"}}`,
    );
    const subscribed = await socket.waitForType('subscribed', channels.length);
    expect(subscribed.map((frame) => [frame.channel, frame.recovered])).toEqual(
      channels.map((channel) => [channel, true]),
    );
    const messages = await socket.waitForType('message', channels.length);
    expect(messages.map((message) => message.data).sort()).toEqual(
      channels.map((channel) => `${channel} 2`).sort(),
    );

    // SSE `lastEventId` and a poll cursor: the multi-channel cursor JSON with the same keys.
    const cursor = base64url(`{${sinceText}}`);
    const stream = await openStream(`channel=${channels.join(',')}&lastEventId=${cursor}`);
    await waitFor(
      () => stream.events.length === 1 + channels.length,
      5000,
      'the resumed SSE events',
    );
    expect(JSON.parse(stream.events[0]?.data ?? '{}')).toMatchObject({
      channels: channels.map((channel) => ({ channel, recovered: true })),
    });
    const poll = await fetch(
      `${testHub.url}/rt/poll?channel=${channels.join(',')}&cursor=${cursor}&timeout=0`,
    );
    const answer = (await poll.json()) as { messages: Envelope[]; cursor: string };
    expect(answer.messages.map((message) => message.data).sort()).toEqual(
      channels.map((channel) => `${channel} 2`).sort(),
    );

    // The cursor a poll hands back keeps every channel, `__proto__` included: nothing published
    // between two polls is lost.
    await Promise.all(channels.map((channel) => testHub.hub.publish(channel, `${channel} 3`)));
    const next = await fetch(
      `${testHub.url}/rt/poll?channel=${channels.join(',')}&cursor=${answer.cursor}&timeout=0`,
    );
    const nextAnswer = (await next.json()) as { messages: Envelope[] };
    expect(nextAnswer.messages.map((message) => message.data).sort()).toEqual(
      channels.map((channel) => `${channel} 3`).sort(),
    );

    // Positions that are objects are refused, wherever they come from.
    socket.send(
      '{"type":"subscribe","channels":["pp"],"since":{"__proto__":{"polluted":1}},"ref":"bad"}',
    );
    await expect(nextError(socket)).resolves.toMatchObject({ code: 'BAD_CURSOR', ref: 'bad' });
    for (const bad of [
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
    ]) {
      const response = await fetch(
        `${testHub.url}/rt/poll?channel=__proto__,constructor&cursor=${base64url(bad)}&timeout=0`,
      );
      await expectRefused(response, 'BAD_CURSOR');
      const refusedStream = await openStream(
        `channel=__proto__,constructor&lastEventId=${base64url(bad)}`,
      );
      await waitFor(() => refusedStream.body.length > 0, 5000, 'the refusal body');
      expect(refusedStream.status).toBe(400);
      expect(JSON.parse(refusedStream.body)).toMatchObject({ code: 'BAD_CURSOR' });
    }
    expectPristinePrototypes();
  });

  it(
    'keeps prototypes intact under random JSON with prototype keys on every endpoint',
    async () => {
      const key = fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        'polluted',
        'type',
        'channel',
        'data',
      );
      const json: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
        value: fc.oneof(
          { depthSize: 'small' },
          fc.constantFrom('1', '"x"', 'null', 'true', '{"polluted":1}'),
          fc
            .array(fc.tuple(key, tie('value')), { maxLength: 3 })
            .map((entries) => `{${entries.map(([k, v]) => `"${k}":${v}`).join(',')}}`),
          fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
        ),
      })).value;
      const socket = await openSocket();
      await checkAsyncProperty(
        fc.asyncProperty(json, async (value) => {
          socket.send(`{"type":"publish","channel":"pp","data":${value},${EXTRA_KEYS}}`);
          socket.send(`{"type":"subscribe","channels":["pp2"],"since":${value}}`);
          socket.send(`{"type":"unsubscribe","channels":["pp2"]}`);
          await post('/rt/send', `{"channel":"pp","data":${value},${EXTRA_KEYS}}`);
          await post('/rt/send', value);
          await post('/rt/publish/pp', value);
          await fetch(
            `${testHub.url}/rt/poll?channel=pp,__proto__&cursor=${base64url(value)}&timeout=0`,
          );
          expectPristinePrototypes();
        }),
        'live',
        60,
      );
    },
    fuzzTimeoutMs('live'),
  );
});

// ---------------------------------------------------------------------------------------------

describe('SSE field injection', () => {
  /** Data that would add fields or events if it reached the stream unescaped. */
  const DATA = [
    ...INJECTIONS,
    'a\r\nb\rc\nd',
    'data: x',
    'event: admin',
    'id: 9',
    'retry: 1',
    ':comment',
    'end\n\n\n',
  ];
  /** Valid event names that still look like stream syntax. */
  const EVENTS = ['tick', ' x', 'a:b', 'data', 'id', 'retry', ':', 'données', '\u2028', 'évent 😀'];

  it('delivers data with CR, LF and field syntax as exactly one event each, with the data as sent', async () => {
    const named = await openStream('channel=inj');
    const unnamed = await openStream('channel=inj&unnamed=1');
    await waitFor(
      () => named.events.length === 1 && unnamed.events.length === 1,
      5000,
      'both streams',
    );
    const socket = await openSocket();
    const sent: Array<{ data: string; event: string }> = [];
    for (const [i, data] of DATA.entries()) {
      const event = EVENTS[i % EVENTS.length] as string;
      socket.send({ type: 'publish', channel: 'inj', event, data, ref: `r${i}` });
      await socket.next(
        (frame) => typeof frame === 'object' && frame.type === 'ack' && frame.ref === `r${i}`,
      );
      await expectCreated(await post('/rt/send', JSON.stringify({ channel: 'inj', event, data })));
      await expectCreated(
        await post(`/rt/publish/inj?event=${encodeURIComponent(event)}`, JSON.stringify(data)),
      );
      await expectCreated(await post('/rt/publish/inj', data, 'text/plain'));
      sent.push({ data, event }, { data, event }, { data, event }, { data, event: 'message' });
    }
    await waitFor(
      () => named.events.length === sent.length + 1 && unnamed.events.length === sent.length + 1,
      5000,
      'every event',
    );
    for (const stream of [named, unnamed]) {
      const [subscribed, ...events] = stream.events;
      expect(subscribed?.event).toBe('subscribed');
      // Exactly one event per publish, each with its own data; no extra field took effect.
      expect(events).toHaveLength(sent.length);
      events.forEach((event, i) => {
        const envelope = JSON.parse(event.data) as Envelope;
        expect(envelope.data).toBe(sent[i]?.data);
        expect(envelope.event).toBe(sent[i]?.event);
        expect(event.event).toBe(stream === named ? sent[i]?.event : 'message');
        expect(event.id).toBe(envelope.id);
      });
      expect(stream.retries).toEqual([2000]);
      expect(stream.comments.every((comment) => comment === '')).toBe(true);
    }
    // Over WebSocket the same strings arrive as sent too.
    await subscribe(socket, ['inj-ws']);
    for (const data of DATA) await testHub.hub.publish('inj-ws', data);
    const messages = await socket.waitForType('message', DATA.length);
    expect(messages.map((message) => message.data)).toEqual(DATA);
  });

  it('refuses event and channel names with CR, LF or NUL with BAD_EVENT and BAD_CHANNEL on every path', async () => {
    const stream = await openStream('channel=inj');
    await waitFor(() => stream.events.length === 1, 5000, 'the subscribed event');
    const socket = await openSocket();
    const badNames = INJECTIONS.filter((text) => /[\r\n\0]/.test(text)).map((text) => `inj${text}`);
    for (const [i, name] of badNames.entries()) {
      socket.send({ type: 'publish', channel: 'inj', event: name, data: 1, ref: `e${i}` });
      await expect(nextError(socket)).resolves.toMatchObject({ code: 'BAD_EVENT', ref: `e${i}` });
      socket.send({ type: 'publish', channel: name, data: 1, ref: `c${i}` });
      await expect(nextError(socket)).resolves.toMatchObject({ code: 'BAD_CHANNEL', ref: `c${i}` });
      socket.send({ type: 'subscribe', channels: [name], ref: `s${i}` });
      await expect(nextError(socket)).resolves.toMatchObject({ code: 'BAD_CHANNEL', ref: `s${i}` });
      socket.send({
        type: 'subscribe',
        channels: ['inj2'],
        since: { inj2: `a-1${name}` },
        ref: `p${i}`,
      });
      await expect(nextError(socket)).resolves.toMatchObject({ code: 'BAD_CURSOR', ref: `p${i}` });
      await expectRefused(
        await post('/rt/send', JSON.stringify({ channel: 'inj', event: name, data: 1 })),
        'BAD_EVENT',
      );
      await expectRefused(
        await post('/rt/send', JSON.stringify({ channel: name, data: 1 })),
        'BAD_CHANNEL',
      );
      await expectRefused(
        await post(`/rt/publish/inj?event=${encodeURIComponent(name)}`, '1'),
        'BAD_EVENT',
      );
      await expectRefused(
        await post(`/rt/publish/${encodeURIComponent(name)}`, '1'),
        'BAD_CHANNEL',
      );
      await expectRefused(
        await fetch(`${testHub.url}/rt/sse?channel=${encodeURIComponent(name)}`),
        'BAD_CHANNEL',
      );
      await expectRefused(
        await fetch(`${testHub.url}/rt/poll?channel=${encodeURIComponent(name)}&timeout=0`),
        'BAD_CHANNEL',
      );
      await expectRefused(
        await fetch(`${testHub.url}/rt/sse?channel=inj&lastEventId=${encodeURIComponent(name)}`),
        'BAD_CURSOR',
      );
      await expectRefused(
        await fetch(
          `${testHub.url}/rt/poll?channel=inj&cursor=${encodeURIComponent(name)}&timeout=0`,
        ),
        'BAD_CURSOR',
      );
    }
    // Nothing of it reached the stream.
    const marker = await testHub.hub.publish('inj', 'marker');
    await waitFor(() => stream.events.length === 2, 5000, 'the marker');
    expect(stream.events[1]).toMatchObject({ id: marker.id, event: 'message' });
    expect(stream.retries).toEqual([2000]);
  });

  it(
    'turns random hostile data and event names into one event each or a BAD_EVENT refusal',
    async () => {
      const stream = await openStream('channel=inj');
      await waitFor(() => stream.events.length === 1, 5000, 'the subscribed event');
      const text = fc.oneof(fc.constantFrom(...INJECTIONS), hostileString(24));
      const delivered: Array<{ data: string; event: string }> = [];
      await checkAsyncProperty(
        fc.asyncProperty(text, fc.option(text, { nil: undefined }), async (data, event) => {
          const response = await post(
            '/rt/send',
            JSON.stringify({ channel: 'inj', data, ...(event === undefined ? {} : { event }) }),
          );
          if (response.status === 201) {
            await response.text();
            delivered.push({ data, event: event ?? 'message' });
          } else {
            const body = (await response.json()) as { code: string };
            expect(body.code).toBe('BAD_EVENT');
            expect(event).toBeDefined();
          }
        }),
        'live',
        150,
      );
      await waitFor(
        () => stream.events.length === delivered.length + 1,
        5000,
        'every delivered event',
      );
      stream.events.slice(1).forEach((event, i) => {
        const envelope = JSON.parse(event.data) as Envelope;
        // JSON carries lone surrogates escaped: the data arrives exactly as sent.
        expect(envelope.data).toBe(delivered[i]?.data);
        expect(envelope.event).toBe(delivered[i]?.event);
        // The `event:` field is written as UTF-8: a lone surrogate in a name becomes U+FFFD.
        expect(event.event).toBe(Buffer.from(envelope.event, 'utf8').toString('utf8'));
      });
      expect(stream.retries).toEqual([2000]);
    },
    fuzzTimeoutMs('live'),
  );
});

// ---------------------------------------------------------------------------------------------

describe('HTTP header injection', () => {
  const INJECTED = /injected/i;

  /** The answer's head is well formed and no header came from the request. */
  function expectNoInjectedHeader(response: RawResponse, context: string): void {
    const names = expectCleanHead(response, context);
    expect(
      names.filter((name) => INJECTED.test(name) || name === 'set-cookie'),
      context,
    ).toEqual([]);
  }

  async function send(request: Buffer, context: string): Promise<RawResponse> {
    const response = await rawRequest(testHub.port, request, { timeoutMs: 3000 });
    expectNoInjectedHeader(response, context);
    expect(response.status, context).toBeLessThan(500);
    return response;
  }

  it('never turns query params, paths or event names with CR/LF into response headers', async () => {
    await restartHub({ origins: '*' });
    const crlf = '%0D%0AX-Injected:%201%0D%0ASet-Cookie:%20injected=1';
    const targets: Array<[string, string, string]> = [
      ['GET', `/rt/sse?channel=ok&lastEventId=${crlf}`, 'BAD_CURSOR'],
      ['GET', `/rt/sse?channel=ok${crlf}`, 'BAD_CHANNEL'],
      ['GET', `/rt/poll?channel=ok&timeout=1${crlf}`, 'BAD_REQUEST'],
      ['GET', `/rt/poll?channel=ok&cursor=${crlf}`, 'BAD_CURSOR'],
      ['POST', `/rt/publish/ok${crlf}`, 'BAD_CHANNEL'],
      ['POST', `/rt/publish/ok?event=x${crlf}`, 'BAD_EVENT'],
      ['GET', `/rt/nothing${crlf}`, 'NOT_FOUND'],
      ['PUT', `/rt/sse${crlf}`, 'NOT_FOUND'],
    ];
    for (const [method, target, code] of targets) {
      const response = await send(
        buildRequest(
          method,
          target,
          [['Origin', 'http://app.example']],
          method === 'POST' ? '1' : undefined,
        ),
        target,
      );
      expect(expectKnownRefusal(response, target)).toBe(code);
    }
    for (const body of [
      '{"channel":"ok\\r\\nX-Injected: 1","data":1}',
      '{"channel":"ok","event":"x\\r\\nX-Injected: 1","data":1}',
    ]) {
      const response = await send(
        buildRequest('POST', '/rt/send', [['Content-Type', 'application/json']], body),
        body,
      );
      expectKnownRefusal(response, body);
    }
  });

  it('echoes unicode Origin and Last-Event-ID values inside one header at most, and refuses raw CR in a header', async () => {
    await restartHub({ origins: '*' });
    const origins = [
      'http://évil.example',
      'http://x.example\u00ff',
      'http://😀.example',
      'null',
      'http://a.example, http://b.example',
    ];
    for (const origin of origins) {
      for (const target of ['/rt/sse?channel=ok', '/rt/poll?channel=ok&timeout=0']) {
        const response = await send(
          buildRequest('GET', target, [['Origin', origin]]),
          `${target} Origin ${origin}`,
        );
        expect(response.status).toBe(200);
        // Allowed (`origins: '*'`): echoed in one header of its own. (Node writes a non-ASCII
        // value as the UTF-8 of its latin1 reading; browsers send ASCII origins only.)
        const echoed = response.headers.filter(([name]) => name === 'access-control-allow-origin');
        expect(echoed).toHaveLength(1);
        expect(echoed[0]?.[1].startsWith(/^[\x20-\x7e]*/.exec(origin)?.[0] ?? '')).toBe(true);
      }
    }
    for (const lastEventId of ['é€😀', 'a-1 é', 'id: 9']) {
      const response = await send(
        buildRequest('GET', '/rt/sse?channel=ok', [['Last-Event-ID', lastEventId]]),
        lastEventId,
      );
      expect(expectKnownRefusal(response, lastEventId)).toBe('BAD_CURSOR');
    }
    // A raw CR inside a header value: Node's parser refuses the request as a whole.
    for (const header of [
      'Origin: http://a.example\rX-Injected: 1',
      'Last-Event-ID: a-1\rX-Injected: 1',
      'X-Any: \0',
    ]) {
      const raw = Buffer.from(
        `GET /rt/sse?channel=ok HTTP/1.1\r\nHost: 127.0.0.1\r\n${header}\r\nConnection: close\r\n\r\n`,
        'latin1',
      );
      const response = await send(raw, JSON.stringify(header));
      expect(response.status).toBe(400);
    }
    // A raw LF ends the field: `X-Injected` is then a request header, never a response one.
    const split = buildRequest('GET', '/rt/poll?channel=ok&timeout=0', [
      ['Origin', 'http://a.example\nX-Injected: 1'],
    ]);
    await send(split, 'LF in Origin');
  });

  it('keeps WebSocket upgrade answers clean whatever the path, Origin and protocols', async () => {
    const upgrade = (target: string, extra: Array<[string, string]>) => {
      const hasKey = extra.some(([name]) => name === 'Sec-WebSocket-Key');
      const headers: Array<[string, string]> = [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
        ['Sec-WebSocket-Version', '13'],
        ...(hasKey
          ? []
          : ([['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ==']] as Array<[string, string]>)),
        ...extra,
      ];
      return send(
        buildRequest('GET', target, headers),
        `upgrade ${target} ${JSON.stringify(extra)}`,
      );
    };
    const crlf = '%0D%0AX-Injected:%201';
    // No origins listed: a foreign Origin is refused before the handshake, in a head the hub
    // writes itself; so is an upgrade to a path that is not the WebSocket endpoint.
    for (const origin of ['http://évil.example', `http://evil.example${crlf}`]) {
      const refused = await upgrade(`/rt/ws?x=${crlf}`, [['Origin', origin]]);
      expect(refused.status).toBe(403);
      expect(expectKnownRefusal(refused, origin)).toBe('FORBIDDEN');
    }
    for (const target of [`/rt/other${crlf}`, `/${crlf}`, `/rt/ws/${crlf}`]) {
      expect((await upgrade(target, [])).status).toBe(404);
    }
    // Any origin allowed: the handshake completes, or ws refuses a malformed one with 400.
    await restartHub({ origins: '*' });
    const cases: Array<Array<[string, string]>> = [
      [['Origin', 'http://évil.example']],
      [['Origin', `http://evil.example${crlf}`]],
      [['Sec-WebSocket-Protocol', 'a, b\u00ff']],
      [['Sec-WebSocket-Protocol', `x${crlf}`]],
      [['Sec-WebSocket-Key', 'not base64 é']],
    ];
    for (const extra of cases) {
      const response = await upgrade(`/rt/ws?x=${crlf}`, extra);
      expect([101, 400]).toContain(response.status);
    }
  });

  it(
    'never answers a request carrying random hostile text with an injected header or a 500',
    async () => {
      await restartHub({ origins: '*' });
      const hostile = fc.oneof(
        fc.constantFrom(...INJECTIONS, '\r\nX-Injected: 1', '%0D%0AX-Injected:%201'),
        hostileString(16),
      );
      const encode = (text: string) =>
        [...Buffer.from(text, 'utf8')]
          .map((byte) => `%${byte.toString(16).padStart(2, '0')}`)
          .join('');
      const place = fc.constantFrom(
        'channel',
        'cursor',
        'lastEventId',
        'timeout',
        'event',
        'path',
        'origin',
        'last-event-id',
        'body-event',
        'body-channel',
      );
      await checkAsyncProperty(
        fc.asyncProperty(
          place,
          hostile,
          fc.constantFrom('sse', 'poll', 'send', 'publish/ok'),
          async (where, text, endpoint) => {
            const headers: Array<[string, string]> = [];
            let target = `/rt/${endpoint}?channel=ok&timeout=0`;
            let body: string | undefined =
              endpoint === 'send' || endpoint.startsWith('publish')
                ? '{"channel":"ok","data":1}'
                : undefined;
            if (where === 'path') target = `/rt/${endpoint}/${encode(text)}`;
            else if (where === 'origin' || where === 'last-event-id') {
              // Header values go as their UTF-8 bytes, with the line breaks a client could not send.
              // (Other control characters too: Node's parser refuses those requests itself.)
              headers.push([
                where === 'origin' ? 'Origin' : 'Last-Event-ID',
                withoutControls(text),
              ]);
            } else if (where === 'body-event' || where === 'body-channel') {
              body = JSON.stringify(
                where === 'body-event'
                  ? { channel: 'ok', event: text, data: 1 }
                  : { channel: text, data: 1 },
              );
            } else target += `&${where}=${encode(text)}`;
            const method = body === undefined ? 'GET' : 'POST';
            if (body !== undefined) headers.push(['Content-Type', 'application/json']);
            const context = `${method} ${target} ${JSON.stringify(headers)} ${body ?? ''}`;
            const response = await send(buildRequest(method, target, headers, body), context);
            if (response.status >= 400) expectKnownRefusal(response, context);
            else if (method === 'GET' && endpoint === 'poll') parseJsonBody(response, context);
          },
        ),
        'live',
        200,
      );
    },
    fuzzTimeoutMs('live'),
  );
});
