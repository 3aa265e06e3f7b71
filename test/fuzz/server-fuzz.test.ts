import fc from 'fast-check';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TidewireError } from '../../src/protocol/errors.js';
import { parseClientFrame } from '../../src/protocol/frames.js';
import type { HubOptions, Logger } from '../../src/server/index.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { TestEventStream } from '../support/sse-client.js';
import { waitFor } from '../support/wait.js';
import { type Frame, type TestSocket, connectWs, subscribe } from '../support/ws-client.js';
import {
  HUGE_NUMBERS,
  PROTOTYPE_CHANNELS,
  PROTOTYPE_KEYS,
  channelish,
  eventish,
  hostileJson,
  hostileString,
  invalidChannel,
  loneSurrogate,
  mutated,
  nestedJson,
  objectWithOwnKeys,
  positionish,
  validChannel,
  validPosition,
} from './arbitraries.js';
import { announceFuzzSettings, checkAsyncProperty, fuzzTimeoutMs } from './fuzz-config.js';
import {
  type RawResponse,
  buildRequest,
  expectKnownRefusal,
  headerOf,
  isKnownCode,
  parseJsonBody,
  rawRequest,
  withoutControls,
} from './raw-http.js';

/**
 * Hostile input against a live hub on 127.0.0.1: random WebSocket frames, query strings,
 * paths, bodies and content types. Every answer is a success or a known refusal; nothing
 * answers 500, nothing hangs, nothing is logged as an error, and the hub serves normal
 * clients afterwards.
 */

beforeAll(() => announceFuzzSettings());

const TIMEOUT = fuzzTimeoutMs('live', 20_000);
/** Channels the fuzzing socket listens to, so that random publishes to them fan out. */
const WATCHED = ['a', 'b', '__proto__', 'constructor'];

let testHub: TestHub;
let errorLogs: string[];
const openSockets: TestSocket[] = [];
const openStreams: TestEventStream[] = [];

/** Records what the hub logs as an error: for the hub, an error log is a bug path. */
function recordingLogger(): Logger {
  const describeError = (object: object) => {
    const error = (object as { err?: unknown }).err;
    return error instanceof Error ? `${error.name}: ${error.message}` : JSON.stringify(object);
  };
  return {
    info() {},
    warn() {},
    error: (object, message) => errorLogs.push(`${message ?? ''} ${describeError(object)}`),
  };
}

async function startFuzzHub(options: HubOptions = {}): Promise<TestHub> {
  return startHub({
    logger: recordingLogger(),
    ...options,
    // Polls answer within 25 ms; the fuzz is about input, not about rate limits.
    limits: {
      maxPollTimeoutMs: 25,
      maxMessagesPerSecond: 1e9,
      maxMessageBurst: 1e9,
      ...options.limits,
    },
  });
}

beforeEach(async () => {
  errorLogs = [];
  testHub = await startFuzzHub();
});

afterEach(async () => {
  for (const socket of openSockets.splice(0)) socket.close();
  for (const stream of openStreams.splice(0)) stream.close();
  await testHub.close();
});

async function openSocket(): Promise<TestSocket> {
  const socket = await connectWs(testHub.wsUrl);
  openSockets.push(socket);
  return socket;
}

/** After the fuzz: no leak, no error log, and fresh WebSocket and SSE clients receive. */
async function expectHealthyHub(): Promise<void> {
  for (const socket of openSockets.splice(0)) socket.close();
  await waitFor(
    () => Object.values(testHub.hub.stats().connections).every((count) => count === 0),
    5000,
    'every connection to be gone',
  );
  const socket = await openSocket();
  await subscribe(socket, ['after-fuzz']);
  const stream = await TestEventStream.open(`${testHub.url}/rt/sse?channel=after-fuzz`);
  openStreams.push(stream);
  await stream.waitForType('subscribed', 1);
  const envelope = await testHub.hub.publish('after-fuzz', { still: 'alive' });
  const message = await socket.next(
    (frame) => typeof frame === 'object' && frame.type === 'message',
  );
  expect(message).toMatchObject({ id: envelope.id, data: { still: 'alive' } });
  const [event] = await stream.waitForType('message', 1);
  expect(JSON.parse(event?.data ?? '{}')).toMatchObject({
    id: envelope.id,
    data: { still: 'alive' },
  });
  const health = await fetch(`${testHub.url}/health`);
  expect(health.status).toBe(200);
  expect(errorLogs).toEqual([]);
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames

const SERVER_FRAME_TYPES = new Set(['subscribed', 'message', 'ack', 'pong', 'gap', 'error']);

/** Every frame the server sends is one of SPEC.md's, and no error is INTERNAL. */
function expectServerFrame(frame: Frame): void {
  if (typeof frame === 'string') {
    expect(frame).toBe('pong');
    return;
  }
  expect(SERVER_FRAME_TYPES.has(String(frame.type)), `frame type ${String(frame.type)}`).toBe(true);
  if (frame.type === 'error') {
    expect(isKnownCode(frame.code), `error code ${String(frame.code)}`).toBe(true);
    expect(frame.code).not.toBe('INTERNAL');
    expect(typeof frame.message).toBe('string');
  }
}

/** What the hub must answer to a frame at once: the error `parseClientFrame` gives it. */
function syncRefusalOf(text: string): { code: string; ref?: string } | undefined {
  try {
    parseClientFrame(text);
    return undefined;
  } catch (error) {
    // Anything else is a bug of the parser: the hub's answer (INTERNAL) fails the test then.
    if (!(error instanceof TidewireError)) return undefined;
    return { code: error.code, ...(error.ref === undefined ? {} : { ref: error.ref }) };
  }
}

/**
 * Sends one frame, then a bare `ping`, and returns what came back before the `pong`: the
 * hub answers a frame it cannot read at once, so its `error` frame is in there.
 */
async function sendAndSettle(socket: TestSocket, send: () => void): Promise<Frame[]> {
  const start = socket.frames.length;
  send();
  socket.ws.send('ping');
  const end = await waitFor(
    () => {
      const at = socket.frames.indexOf('pong', start);
      return at >= 0 ? at : undefined;
    },
    3000,
    'the pong after a fuzzed frame',
  );
  // Later answers start after this pong: drop it so that it is not counted twice.
  socket.frames[end] = { type: 'pong' };
  return socket.frames.slice(start, end);
}

function expectAnswered(
  answers: Frame[],
  refusal: { code: string; ref?: string } | undefined,
): void {
  for (const frame of answers) expectServerFrame(frame);
  if (refusal === undefined) return;
  const errors = answers.filter(
    (frame): frame is Record<string, unknown> =>
      typeof frame === 'object' && frame.type === 'error',
  );
  expect(
    errors.map((frame) => ({
      code: frame.code,
      ...(frame.ref === undefined ? {} : { ref: frame.ref }),
    })),
  ).toContainEqual(refusal);
}

/** Valid frames of every type, the material for mutations. */
const validFrameText = fc.oneof(
  fc
    .record({
      channels: fc.array(fc.oneof(fc.constantFrom(...WATCHED), validChannel), {
        minLength: 1,
        maxLength: 3,
      }),
      since: fc.dictionary(validChannel, validPosition, { maxKeys: 2 }),
    })
    .map((f) => JSON.stringify({ type: 'subscribe', ...f })),
  fc
    .array(fc.constantFrom(...WATCHED), { minLength: 1, maxLength: 2 })
    .map((channels) => JSON.stringify({ type: 'unsubscribe', channels })),
  fc
    .record({
      channel: fc.constantFrom(...WATCHED),
      data: hostileJson,
      ref: fc.string({ maxLength: 8 }),
    })
    .map((f) => JSON.stringify({ type: 'publish', ...f })),
  fc.constant('{"type":"ping"}'),
);

/** Frame-shaped objects with values from anywhere. */
const frameShapedText = fc
  .tuple(
    fc.record(
      {
        type: fc.oneof(
          fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping'),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        channels: fc.oneof(
          fc.array(fc.oneof(fc.constantFrom(...WATCHED), channelish), { maxLength: 3 }),
          channelish,
        ),
        channel: fc.oneof(fc.constantFrom(...WATCHED), channelish),
        since: fc.oneof(
          fc
            .array(fc.tuple(fc.oneof(validChannel, hostileString(6)), positionish), {
              maxLength: 3,
            })
            .map(objectWithOwnKeys),
          fc.jsonValue({ maxDepth: 1 }),
        ),
        event: eventish,
        data: hostileJson,
        binary: fc.oneof(fc.boolean(), fc.constantFrom(null, 1)),
        ref: fc.oneof(
          fc.string({ maxLength: 8 }),
          fc.integer(),
          fc.string({ minLength: 127, maxLength: 130 }),
        ),
      },
      { requiredKeys: ['type'] },
    ),
    fc.array(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), hostileJson), { maxLength: 2 }),
  )
  .map(([frame, extra]) => JSON.stringify(objectWithOwnKeys([...Object.entries(frame), ...extra])));

const fuzzText = fc
  .oneof(
    { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 2 },
    { arbitrary: hostileString(40), weight: 2 },
    { arbitrary: fc.json({ maxDepth: 3 }), weight: 2 },
    { arbitrary: frameShapedText, weight: 6 },
    { arbitrary: mutated(validFrameText), weight: 4 },
    { arbitrary: validFrameText, weight: 2 },
    {
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            ...HUGE_NUMBERS,
            ...[5, 200, 5000, 20_000].map((d) => nestedJson(d, 'array')),
          ),
          fc.constantFrom(...WATCHED),
        )
        .map(
          ([value, channel]) =>
            `{"type":"publish","channel":"${channel}","data":${value},"ref":"deep"}`,
        ),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom(
        ...[10, 20_000].map((d) => `{"type":${nestedJson(d, 'array')}}`),
        '{"type":{"toString":1,"valueOf":1}}',
      ),
      weight: 1,
    },
    {
      arbitrary: loneSurrogate.map(
        (char) => `{"type":"publish","channel":"a","event":"${char}","data":"${char}"}`,
      ),
      weight: 1,
    },
  )
  .filter((text) => text !== 'ping');

describe('WebSocket /rt/ws', () => {
  it(
    'answers every text frame (strings, JSON, mutated frames) with frames of the protocol',
    async () => {
      const socket = await openSocket();
      await subscribe(socket, WATCHED);
      await checkAsyncProperty(
        fc.asyncProperty(fuzzText, async (text) => {
          // What the server reads: ws sends lone surrogates as U+FFFD.
          const received = Buffer.from(text, 'utf8').toString('utf8');
          const answers = await sendAndSettle(socket, () => socket.ws.send(text));
          expect(socket.closeCode, 'the socket stays open').toBeUndefined();
          expectAnswered(answers, syncRefusalOf(received));
        }),
        'live',
        300,
      );
      // What valid frames caused later (acks, deliveries, async refusals) is of the protocol too.
      await sendAndSettle(socket, () => {});
      for (const frame of socket.frames) expectServerFrame(frame);
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  it(
    'answers every binary frame: UTF-8 JSON is read as text, anything else is BAD_JSON',
    async () => {
      const socket = await openSocket();
      await subscribe(socket, WATCHED);
      const strict = new TextDecoder('utf-8', { fatal: true });
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fuzzText.map((text) => new TextEncoder().encode(text)),
        // Overlong forms, surrogates, truncated sequences, bytes that never occur in UTF-8.
        fc
          .tuple(
            fuzzText,
            fc.constantFrom(
              [0xc0, 0xaf],
              [0xed, 0xa0, 0x80],
              [0xe2, 0x82],
              [0xff],
              [0xf8, 0x88, 0x80, 0x80, 0x80],
              [0xf4, 0x90, 0x80, 0x80],
            ),
            fc.nat(),
          )
          .map(([text, bad, at]) => {
            const good = Buffer.from(text, 'utf8');
            const cut = at % (good.length + 1);
            return Uint8Array.from([...good.subarray(0, cut), ...bad, ...good.subarray(cut)]);
          }),
      );
      /** The text the hub reads from a binary frame, or undefined when it is not UTF-8. */
      const textOf = (payload: Uint8Array) => {
        try {
          return strict.decode(payload);
        } catch {
          return undefined;
        }
      };
      await checkAsyncProperty(
        // A bare `ping` is the sentinel: it would be answered with the sentinel's `pong`.
        fc.asyncProperty(
          bytes.filter((payload) => textOf(payload) !== 'ping'),
          async (payload) => {
            const text = textOf(payload);
            const answers = await sendAndSettle(socket, () =>
              socket.ws.send(payload, { binary: true }),
            );
            expect(socket.closeCode, 'the socket stays open').toBeUndefined();
            expectAnswered(
              answers,
              text === undefined ? { code: 'BAD_JSON' } : syncRefusalOf(text),
            );
          },
        ),
        'live',
        300,
      );
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  it(
    'closes a socket that sends a text frame of invalid UTF-8 with 1007, and only that socket',
    async () => {
      const bystander = await openSocket();
      await subscribe(bystander, ['bystander']);
      const invalid = fc
        .tuple(
          fc.string({ maxLength: 20 }),
          fc.constantFrom([0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff], [0xe2, 0x82]),
          fc.string({ maxLength: 20 }),
        )
        .map(([before, bad, after]) =>
          Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]),
        );
      await checkAsyncProperty(
        fc.asyncProperty(invalid, async (payload) => {
          const socket = await openSocket();
          socket.ws.send(payload, { binary: false });
          const { code } = await socket.closed(3000);
          // RFC 6455 § 8.1: a text frame that is not UTF-8 fails the connection with 1007
          // (ws closes it itself, before tidewire sees the frame, and gives no reason).
          expect(code).toBe(1007);
          openSockets.splice(openSockets.indexOf(socket), 1);
        }),
        'live',
        40,
      );
      expect(bystander.closeCode).toBeUndefined();
      const envelope = await testHub.hub.publish('bystander', 'still here');
      await expect(
        bystander.next((frame) => typeof frame === 'object' && frame.type === 'message'),
      ).resolves.toMatchObject({ id: envelope.id });
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  it(
    'closes a socket whose frame is past maxMessageBytes with 1009 and a reason',
    async () => {
      await testHub.close();
      testHub = await startFuzzHub({ limits: { maxMessageBytes: 1024 } });
      await checkAsyncProperty(
        fc.asyncProperty(
          fc.integer({ min: 1000, max: 1100 }),
          fc.boolean(),
          async (size, binary) => {
            const socket = await openSocket();
            const payload = Buffer.alloc(size, 'x');
            if (size <= 1024) {
              const answers = await sendAndSettle(socket, () =>
                socket.ws.send(payload, { binary }),
              );
              expectAnswered(answers, { code: 'BAD_JSON' });
            } else {
              socket.ws.send(payload, { binary });
              const { code, reason } = await socket.closed(3000);
              expect(code).toBe(1009);
              expect(reason).toMatch(/1024 bytes/);
            }
            socket.close();
          },
        ),
        'live',
        20,
      );
      await expectHealthyHub();
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------
// HTTP

/** Percent-encodes every byte of the UTF-8 of `text` but the unreserved ones. */
function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(char)
      ? char
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Text as an attacker puts it in a URL: encoded, raw where the parser lets it, or broken. */
function inUrl(text: string, style: 'encoded' | 'raw' | 'broken', junk: string): string {
  if (style === 'encoded') return percentEncode(text);
  // Node's parser takes visible ASCII only in the target: encode the rest.
  const raw = [...text]
    .map((char) => (/^[\x21-\x7e]$/.test(char) ? char : percentEncode(char)))
    .join('');
  return style === 'raw' ? raw : raw + junk;
}

const urlStyle = fc.constantFrom('encoded' as const, 'raw' as const, 'broken' as const);
const brokenPercent = fc.constantFrom(
  '%',
  '%g',
  '%2',
  '%C0%AF',
  '%ED%A0%80',
  '%FF%FE',
  '%00',
  '%0D%0A',
  '+',
  '%%',
  '%E2%82',
);

const queryName = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      'channel',
      'channel',
      'cursor',
      'lastEventId',
      'timeout',
      'event',
      'unnamed',
    ),
    weight: 6,
  },
  { arbitrary: hostileString(6), weight: 1 },
);
const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const queryValue = fc.oneof(
  { arbitrary: fc.constantFrom(...WATCHED, ...PROTOTYPE_CHANNELS), weight: 3 },
  { arbitrary: validChannel, weight: 2 },
  {
    arbitrary: fc
      .array(validChannel, { minLength: 2, maxLength: 4 })
      .map((names) => names.join(',')),
    weight: 1,
  },
  { arbitrary: invalidChannel, weight: 1 },
  { arbitrary: positionish, weight: 2 },
  {
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...WATCHED, ...PROTOTYPE_KEYS), hostileString(4)),
          fc.oneof(validPosition, positionish, fc.jsonValue({ maxDepth: 1 })),
        ),
        { maxLength: 3 },
      )
      .map((entries) => base64url(JSON.stringify(objectWithOwnKeys(entries)))),
    weight: 2,
  },
  {
    arbitrary: fc.constantFrom(
      '0',
      '1',
      '-1',
      '25',
      '25000',
      '999999999',
      '9999999999',
      '1e3',
      '0x10',
      'NaN',
      'Infinity',
      '',
      ' 1',
    ),
    weight: 2,
  },
  { arbitrary: hostileString(20), weight: 2 },
);
const query = fc
  .array(fc.tuple(queryName, queryValue, urlStyle, urlStyle, brokenPercent), { maxLength: 6 })
  .map((params) =>
    params
      .map(
        ([name, value, nameStyle, valueStyle, junk]) =>
          `${inUrl(name, nameStyle, junk)}=${inUrl(value, valueStyle, junk)}`,
      )
      .join('&'),
  );
/** Header values as a client sends them: printable, with UTF-8 bytes now and then. */
const headerValue = fc.oneof(
  positionish.map(withoutControls),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
);

async function expectAnswer(
  request: Buffer,
  context: string,
  check: (response: RawResponse) => void,
): Promise<void> {
  let response: RawResponse;
  try {
    response = await rawRequest(testHub.port, request, { timeoutMs: 3000 });
  } catch (error) {
    throw new Error(`${context}: ${String(error)}`, { cause: error });
  }
  expect(response.status, `${context}: never a server error`).toBeLessThan(500);
  if (response.status < 400) check(response);
  else if (request.subarray(0, 5).toString('latin1') === 'HEAD ') {
    // A HEAD answer has no body; its head still says JSON.
    expect(headerOf(response, 'content-type'), context).toMatch(/^application\/json/);
  } else expectKnownRefusal(response, context);
}

describe('deeply nested data', () => {
  it('is refused with BAD_REQUEST on every path, rather than acked and never delivered', async () => {
    const socket = await openSocket();
    await subscribe(socket, ['deep']);
    // Deep enough that JSON.stringify overflows the stack; well within maxMessageBytes.
    const deep = nestedJson(20_000, 'array');
    socket.send(`{"type":"publish","channel":"deep","data":${deep},"ref":"deep"}`);
    await expect(
      socket.next((frame) => typeof frame === 'object' && frame.type !== 'subscribed'),
    ).resolves.toMatchObject({ type: 'error', code: 'BAD_REQUEST', ref: 'deep' });
    const post = (path: string, body: string) =>
      rawRequest(
        testHub.port,
        buildRequest('POST', path, [['Content-Type', 'application/json']], body),
      );
    expect(
      expectKnownRefusal(await post('/rt/send', `{"channel":"deep","data":${deep}}`), 'send'),
    ).toBe('BAD_REQUEST');
    expect(expectKnownRefusal(await post('/rt/publish/deep', deep), 'publish')).toBe('BAD_REQUEST');
    await expect(testHub.hub.publish('deep', JSON.parse(deep))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    // Nesting that real data has still goes through, and arrives as sent.
    const nested = nestedJson(100, 'object');
    socket.send(`{"type":"publish","channel":"deep","data":${nested},"ref":"ok"}`);
    const message = await socket.next(
      (frame) => typeof frame === 'object' && frame.type === 'message',
    );
    expect(JSON.stringify((message as { data: unknown }).data)).toBe(nested);
    await expectHealthyHub();
  });
});

describe('HTTP endpoints', () => {
  it(
    'answers GET /rt/sse and /rt/poll with any query string and Last-Event-ID: a stream, a poll answer or a known refusal',
    async () => {
      await checkAsyncProperty(
        fc.asyncProperty(
          fc.constantFrom('sse', 'poll'),
          query,
          fc.option(headerValue, { nil: undefined }),
          async (endpoint, search, lastEventId) => {
            const target = `/rt/${endpoint}?${search}`;
            const headers: Array<[string, string]> =
              lastEventId === undefined ? [] : [['Last-Event-ID', lastEventId]];
            await expectAnswer(
              buildRequest('GET', target, headers),
              `GET ${target}`,
              (response) => {
                expect(response.status).toBe(200);
                if (endpoint === 'sse') {
                  expect(headerOf(response, 'content-type')).toMatch(/^text\/event-stream/);
                } else {
                  const body = parseJsonBody(response, target) as {
                    messages?: unknown;
                    cursor?: unknown;
                  };
                  expect(Array.isArray(body.messages)).toBe(true);
                  expect(typeof body.cursor).toBe('string');
                }
              },
            );
          },
        ),
        'live',
        250,
      );
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  it(
    'answers any method on any path under /rt/ with a success or a known refusal',
    async () => {
      const segment = fc.oneof(
        {
          arbitrary: fc.constantFrom(
            'sse',
            'poll',
            'send',
            'publish',
            'ws',
            'health',
            'metrics',
            '..',
            '.',
            '%2e%2e',
            '%2F',
            '',
            '__proto__',
            'constructor',
            'rt',
          ),
          weight: 4,
        },
        {
          arbitrary: fc
            .tuple(hostileString(10), urlStyle, brokenPercent)
            .map(([text, style, junk]) => inUrl(text, style, junk)),
          weight: 2,
        },
      );
      const path = fc
        .tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), query, fc.boolean())
        .map(
          ([segments, search, withQuery]) =>
            `/rt/${segments.join('/')}${withQuery ? `?${search}` : ''}`,
        );
      const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
      await checkAsyncProperty(
        fc.asyncProperty(
          method,
          path,
          fc.option(fc.json({ maxDepth: 2 }), { nil: undefined }),
          async (verb, target, body) => {
            const withBody = body !== undefined && verb !== 'GET' && verb !== 'HEAD';
            const request = buildRequest(
              verb,
              target,
              withBody ? [['Content-Type', 'application/json']] : [],
              withBody ? body : undefined,
            );
            await expectAnswer(request, `${verb} ${target}`, (response) => {
              expect(response.status).toBeGreaterThanOrEqual(200);
              expect(response.status).toBeLessThan(300);
            });
          },
        ),
        'live',
        250,
      );
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  const contentType = fc.constantFrom(
    undefined,
    'application/json',
    'application/json; charset=utf-8',
    'APPLICATION/JSON',
    'text/plain',
    'text/plain; charset=latin1',
    'application/octet-stream',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    '',
    'garbage',
    ';;;',
    'application/json;;charset=',
  );
  /** Bodies: JSON near the `{ channel, event, data }` shape, anything JSON, text and bytes. */
  const body: fc.Arbitrary<string | Buffer> = fc.oneof(
    {
      arbitrary: fc
        .record(
          {
            channel: fc.oneof(fc.constantFrom(...WATCHED), channelish),
            event: eventish,
            data: hostileJson,
            binary: fc.oneof(fc.boolean(), fc.constant('x')),
          },
          { requiredKeys: [] },
        )
        .chain((fields) =>
          fc
            .array(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), hostileJson), { maxLength: 2 })
            .map((extra) =>
              JSON.stringify(objectWithOwnKeys([...Object.entries(fields), ...extra])),
            ),
        ),
      weight: 6,
    },
    { arbitrary: fc.json({ maxDepth: 3 }), weight: 2 },
    {
      arbitrary: mutated(fc.constant('{"channel":"a","event":"e","data":{"x":[1,2]}}')),
      weight: 2,
    },
    { arbitrary: hostileString(40), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)), weight: 2 },
    {
      arbitrary: fc.constantFrom(
        '',
        ' ',
        '\n',
        'null',
        ...HUGE_NUMBERS,
        nestedJson(20_000, 'array'),
        `{"channel":"a","data":${nestedJson(20_000, 'object')}}`,
      ),
      weight: 1,
    },
  );

  /** A request with a body, sometimes sent chunked (no Content-Length to check first). */
  function postRequest(
    target: string,
    type: string | undefined,
    payload: string | Buffer,
    isChunked: boolean,
  ): Buffer {
    const headers: Array<[string, string]> = type === undefined ? [] : [['Content-Type', type]];
    if (!isChunked) return buildRequest('POST', target, headers, payload);
    const bytes = Buffer.from(payload);
    const chunked =
      bytes.length === 0
        ? '0\r\n\r\n'
        : `${bytes.length.toString(16)}\r\n${bytes.toString('latin1')}\r\n0\r\n\r\n`;
    return buildRequest(
      'POST',
      target,
      [...headers, ['Transfer-Encoding', 'chunked']],
      Buffer.from(chunked, 'latin1'),
    );
  }

  function expectCreated(response: RawResponse, context: string): void {
    expect(response.status, context).toBe(201);
    const answer = parseJsonBody(response, context) as { id?: unknown; ts?: unknown };
    expect(typeof answer.id).toBe('string');
    expect(typeof answer.ts).toBe('number');
  }

  it(
    'answers POST /rt/send with any body and content type: 201 or a known refusal',
    async () => {
      await checkAsyncProperty(
        fc.asyncProperty(contentType, body, fc.boolean(), async (type, payload, isChunked) => {
          const context = `POST /rt/send (${String(type)}) ${JSON.stringify(payload.toString().slice(0, 80))}`;
          await expectAnswer(
            postRequest('/rt/send', type, payload, isChunked),
            context,
            (response) => expectCreated(response, context),
          );
        }),
        'live',
        250,
      );
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  it(
    'answers POST /rt/publish/:channel with any channel segment, event, body and content type: 201 or a known refusal',
    async () => {
      const channelSegment = fc.oneof(
        {
          arbitrary: fc
            .tuple(
              fc.oneof(fc.constantFrom(...WATCHED, ...PROTOTYPE_CHANNELS), validChannel),
              urlStyle,
              brokenPercent,
            )
            .map(([name, style, junk]) =>
              inUrl(name, style === 'broken' ? 'encoded' : style, junk),
            ),
          weight: 4,
        },
        {
          arbitrary: fc
            .tuple(fc.oneof(invalidChannel, hostileString(12)), urlStyle, brokenPercent)
            .map(([name, style, junk]) => inUrl(name, style, junk)),
          weight: 2,
        },
      );
      const eventParam = fc.option(
        fc.tuple(
          eventish.map((event) => (typeof event === 'string' ? event : JSON.stringify(event))),
          urlStyle,
          brokenPercent,
        ),
        { nil: undefined },
      );
      await checkAsyncProperty(
        fc.asyncProperty(
          channelSegment,
          eventParam,
          contentType,
          body,
          fc.boolean(),
          async (segment, event, type, payload, isChunked) => {
            const search =
              event === undefined ? '' : `?event=${inUrl(event[0], event[1], event[2])}`;
            const target = `/rt/publish/${segment}${search}`;
            const context = `POST ${target} (${String(type)})`;
            await expectAnswer(postRequest(target, type, payload, isChunked), context, (response) =>
              expectCreated(response, context),
            );
          },
        ),
        'live',
        250,
      );
      await expectHealthyHub();
    },
    TIMEOUT,
  );

  it('keeps serving after the fuzz: stats are sane and a publish reaches an SSE and a WebSocket client', async () => {
    // A short burst of everything at once, then the checks.
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        rawRequest(
          testHub.port,
          buildRequest('GET', `/rt/poll?channel=c${i}&cursor=%ff%fe&timeout=${i}`),
        ).catch(() => undefined),
      ),
    );
    const ws = new WebSocket(testHub.wsUrl);
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    ws.send(Buffer.from([0xff, 0xfe]), { binary: true });
    ws.terminate();
    await expectHealthyHub();
    expect(testHub.hub.stats().broker).toBe('available');
  });
});
