import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TidewireError } from '../../src/protocol/errors.js';
import { SSE, type SSEOptions, type SseRequest, type SseResponse } from '../../src/sse/index.js';
import { TestEventStream } from '../support/sse-client.js';
import { sleep, waitFor } from '../support/wait.js';

// `SSE` (the express-sse drop-in) over real sockets: HTTP/1.1, HTTP/1.0, HTTP/2 (h2c),
// compression, slow consumers and shutdown. Wire text is asserted exactly where it matters.

/** What every test opened, closed in afterEach (last opened, first closed). */
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const OPENING = 'retry: 2000\n\n:\n\n';

/** An `SSE` that is closed after the test, so that no heartbeat outlives it. */
function createSse(initial?: unknown, options?: SSEOptions): SSE {
  const sse = new SSE(initial, options);
  cleanups.push(() => sse.close());
  return sse;
}

interface TestServer {
  url: string;
  port: number;
  /** Server-side responses, in the order the requests arrived. */
  responses: SseResponse[];
}

/** A Node http server on 127.0.0.1, port 0, closed after the test. */
async function listen(handler: http.RequestListener): Promise<{ url: string; port: number }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port };
}

/** A server whose handler is `sse.init`, keeping the server-side responses. */
async function serve(sse: SSE): Promise<TestServer> {
  const responses: SseResponse[] = [];
  const { url, port } = await listen((req, res) => {
    responses.push(res);
    sse.init(req, res);
  });
  return { url, port, responses };
}

async function openStream(url: string, headers: Record<string, string> = {}) {
  const stream = await TestEventStream.open(url, headers);
  cleanups.push(() => stream.close());
  return stream;
}

/** Waits until a stream's raw text is exactly `text`, and fails showing what it was. */
async function waitForRaw(stream: TestEventStream, text: string, timeoutMs = 2000) {
  try {
    await waitFor(() => stream.raw === text || stream.raw.length > text.length, timeoutMs);
  } finally {
    expect(stream.raw).toBe(text);
  }
}

/** The epoch of an `SSE` instance's ids, read off an `id: <epoch>-<seq>` line. */
function epochIn(text: string): string {
  const match = /^id: ([0-9a-z]{8})-\d+$/m.exec(text);
  if (match?.[1] === undefined) throw new Error(`no own id in ${JSON.stringify(text)}`);
  return match[1];
}

/** Exact wire text of one event. */
function wire(id: string, data: string, event?: string): string {
  return `id: ${id}\n${event === undefined ? '' : `event: ${event}\n`}data: ${data}\n\n`;
}

/** A stream read with `node:http`, decompressed as its Content-Encoding says. */
interface DecodedStream {
  response: http.IncomingMessage;
  text: string;
  ended: boolean;
  error: Error | undefined;
}

async function openDecoded(
  url: string,
  headers: Record<string, string> = {},
): Promise<DecodedStream> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      const stream: DecodedStream = { response, text: '', ended: false, error: undefined };
      const encoding = response.headers['content-encoding'];
      const decoder =
        encoding === 'gzip'
          ? zlib.createGunzip()
          : encoding === 'deflate'
            ? zlib.createInflate()
            : undefined;
      const body = decoder === undefined ? response : response.pipe(decoder);
      body.setEncoding('utf8');
      body.on('data', (chunk: string) => (stream.text += chunk));
      body.on('end', () => (stream.ended = true));
      body.on('error', (error) => (stream.error = error));
      resolve(stream);
    });
    request.on('error', reject);
    cleanups.push(() => request.destroy());
  });
}

/** Sends a raw request over TCP and collects everything the server writes back. */
function rawRequest(port: number, head: string) {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  const state = { text: '', closed: false, socket };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (state.text += chunk));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  socket.write(head);
  return state;
}

/** The error `fn` throws. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('SSE.init: the opening', () => {
  it('answers 200 with the event-stream headers, keep-alive on HTTP/1.1', async () => {
    const { url } = await serve(createSse());
    const stream = await openStream(url);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers.connection).toBe('keep-alive');
    expect(stream.headers['content-encoding']).toBeUndefined();
  });

  it('writes `retry: 2000` and a comment at once, before any event is sent', async () => {
    const { url } = await serve(createSse());
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
  });

  it('writes the initial content after the opening, one event per item, at the head id', async () => {
    const sse = createSse(['a', { b: 1 }]);
    const { url } = await serve(sse);
    const stream = await openStream(url);
    await waitFor(() => stream.raw.length > OPENING.length);
    const epoch = epochIn(stream.raw);
    await waitForRaw(
      stream,
      `${OPENING}${wire(`${epoch}-0`, '"a"')}${wire(`${epoch}-0`, '{"b":1}')}`,
    );
  });

  it('writes a non-array initial value as one event', async () => {
    const { url } = await serve(createSse('hello'));
    const stream = await openStream(url);
    await waitFor(() => stream.raw.length > OPENING.length);
    await waitForRaw(stream, `${OPENING}${wire(`${epochIn(stream.raw)}-0`, '"hello"')}`);
  });

  it('writes the initial array as one event named initialEvent when not serialized', async () => {
    const { url } = await serve(createSse(['a', 'b'], { initialEvent: 'snapshot' }));
    const stream = await openStream(url);
    await waitFor(() => stream.raw.length > OPENING.length);
    const epoch = epochIn(stream.raw);
    await waitForRaw(stream, `${OPENING}${wire(`${epoch}-0`, '["a","b"]', 'snapshot')}`);
  });

  it('gives later clients the content of updateInit, and nothing after dropInit', async () => {
    const sse = createSse(['old']);
    const { url } = await serve(sse);
    sse.updateInit(['new']);
    const updated = await openStream(url);
    await waitFor(() => updated.raw.length > OPENING.length);
    await waitForRaw(updated, `${OPENING}${wire(`${epochIn(updated.raw)}-0`, '"new"')}`);
    sse.dropInit();
    const dropped = await openStream(url);
    await waitForRaw(dropped, OPENING);
  });

  it('writes the retryMs option as the first retry', async () => {
    const { url } = await serve(createSse(undefined, { retryMs: 500 }));
    const stream = await openStream(url);
    await waitForRaw(stream, 'retry: 500\n\n:\n\n');
  });
});

describe('SSE heartbeat', () => {
  it('writes `:` comments again and again on an idle stream', async () => {
    const { url } = await serve(createSse(undefined, { heartbeatMs: 50 }));
    const stream = await openStream(url);
    await waitFor(() => stream.raw.length >= OPENING.length + 3 * ':\n\n'.length, 2000);
    expect(stream.raw).toMatch(/^retry: 2000\n\n:\n\n(:\n\n){3,}$/);
  });

  it('writes none with heartbeatMs 0', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { url } = await serve(createSse(undefined, { heartbeatMs: 0 }));
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
    expect(vi.getTimerCount()).toBe(0);
    vi.useRealTimers();
    await sleep(200);
    expect(stream.raw).toBe(OPENING);
  });

  it('runs one timer per instance, only while a client is connected', async () => {
    // Only the intervals are fake: sockets and waitFor keep real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const sse = createSse(undefined, { heartbeatMs: 1000 });
    const { url } = await serve(sse);
    expect(vi.getTimerCount()).toBe(0);

    const first = await openStream(url);
    const second = await openStream(url);
    await waitForRaw(first, OPENING);
    await waitForRaw(second, OPENING);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    await waitForRaw(first, `${OPENING}:\n\n`);
    await waitForRaw(second, `${OPENING}:\n\n`);

    first.close();
    await waitFor(() => sse.sessionCount === 1);
    expect(vi.getTimerCount()).toBe(1);
    second.close();
    await waitFor(() => sse.sessionCount === 0);
    expect(vi.getTimerCount()).toBe(0);

    const third = await openStream(url);
    await waitForRaw(third, OPENING);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1000);
    await waitForRaw(third, `${OPENING}:\n\n`);
  });
});

describe('SSE replay', () => {
  /** An instance with initial content, a client that saw e1..e3, and the ids it saw. */
  async function withHistory(options?: SSEOptions) {
    const sse = createSse(['init'], options);
    const server = await serve(sse);
    const first = await openStream(server.url);
    await waitFor(() => first.raw.length > OPENING.length);
    const epoch = epochIn(first.raw);
    for (const n of [1, 2, 3]) sse.send(`e${n}`);
    await first.waitForType('message', 4);
    const ids = first.events.map((event) => event.id);
    expect(ids).toEqual([0, 1, 2, 3].map((n) => `${epoch}-${n}`));
    return { sse, server, epoch };
  }

  it('sends exactly the events after the Last-Event-ID header, without the initial content', async () => {
    const { server, epoch } = await withHistory();
    const resumed = await openStream(server.url, { 'Last-Event-ID': `${epoch}-1` });
    await waitForRaw(
      resumed,
      `${OPENING}${wire(`${epoch}-2`, '"e2"')}${wire(`${epoch}-3`, '"e3"')}`,
    );
  });

  it('resumes from the ?lastEventId= query the same way', async () => {
    const { server, epoch } = await withHistory();
    const resumed = await openStream(`${server.url}/?lastEventId=${epoch}-2`);
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-3`, '"e3"')}`);
  });

  it('prefers the header when both the header and the query carry an id', async () => {
    const { server, epoch } = await withHistory();
    const resumed = await openStream(`${server.url}/?lastEventId=${epoch}-1`, {
      'Last-Event-ID': `${epoch}-2`,
    });
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-3`, '"e3"')}`);
  });

  it('sends nothing but the opening to a client that has seen everything', async () => {
    const { sse, server, epoch } = await withHistory();
    const resumed = await openStream(server.url, { 'Last-Event-ID': `${epoch}-3` });
    await waitForRaw(resumed, OPENING);
    sse.send('e4');
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-4`, '"e4"')}`);
  });

  it('resumes from the id of the initial content without sending it again', async () => {
    const sse = createSse(['init']);
    const { url } = await serve(sse);
    const first = await openStream(url);
    await waitFor(() => first.raw.length > OPENING.length);
    const epoch = epochIn(first.raw);
    const resumed = await openStream(url, { 'Last-Event-ID': `${epoch}-0` });
    await waitForRaw(resumed, OPENING);
  });

  it('starts afresh, with the initial content, from an id older than the buffer', async () => {
    const { server, epoch } = await withHistory({ replayBufferSize: 2 });
    const resumed = await openStream(server.url, { 'Last-Event-ID': `${epoch}-0` });
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-3`, '"init"')}`);
  });

  it('starts afresh from an id of another SSE instance', async () => {
    const { server, epoch } = await withHistory();
    const other = createSse(['other']);
    const otherServer = await serve(other);
    const otherStream = await openStream(otherServer.url);
    other.send('x');
    await otherStream.waitForType('message', 2);
    const otherId = otherStream.lastEventId as string;
    expect(otherId).not.toMatch(new RegExp(`^${epoch}-`));
    const resumed = await openStream(server.url, { 'Last-Event-ID': otherId });
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-3`, '"init"')}`);
  });

  it('starts afresh from an id that is no id of ours at all', async () => {
    const { server, epoch } = await withHistory();
    const resumed = await openStream(server.url, { 'Last-Event-ID': 'nonsense' });
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-3`, '"init"')}`);
  });

  it('replays by the ids the application chose', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const first = await openStream(url);
    sse.send('a', 'tick', 'a-1');
    sse.send('b', 'tick', 7);
    sse.send('c');
    await first.waitForType('tick', 2);
    await first.waitForType('message', 1);
    const epoch = epochIn(first.raw);
    const resumed = await openStream(url, { 'Last-Event-ID': 'a-1' });
    await waitForRaw(resumed, `${OPENING}${wire('7', '"b"', 'tick')}${wire(`${epoch}-3`, '"c"')}`);
  });

  it('reads Last-Event-ID as UTF-8, and keeps bytes that are not UTF-8 as they came', async () => {
    const sse = createSse(['init'], { heartbeatMs: 0 });
    const { port } = await serve(sse);
    sse.send('a', undefined, 'évt-1');
    sse.send('b');
    /** A request whose Last-Event-ID header is exactly these bytes. */
    const requestWithId = (id: Buffer) => {
      const socket = net.connect(port, '127.0.0.1');
      cleanups.push(() => socket.destroy());
      const state = { text: '' };
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (state.text += chunk));
      socket.on('error', () => undefined);
      socket.write(
        Buffer.concat([
          Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ', 'latin1'),
          id,
          Buffer.from('\r\n\r\n', 'latin1'),
        ]),
      );
      return state;
    };
    // What a browser sends for the id `évt-1`: its UTF-8 bytes.
    const resumed = requestWithId(Buffer.from('évt-1', 'utf8'));
    await waitFor(() => resumed.text.includes('data: "b"'));
    expect(resumed.text).not.toContain('data: "init"');
    expect(resumed.text).not.toContain('data: "a"');
    // 0xFF is no UTF-8: the id stays as read, is unknown, and the client starts afresh.
    const fresh = requestWithId(Buffer.from([0x65, 0xff, 0x31]));
    await waitFor(() => fresh.text.includes('data: "init"'));
    expect(fresh.text).not.toContain('data: "b"');
  });

  it('does not crash on a request target that is no valid URL', async () => {
    const sse = createSse(['init']);
    const { port } = await serve(sse);
    const raw = rawRequest(port, 'GET //[?lastEventId=x HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => raw.text.includes('data: "init"'));
    expect(raw.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe('SSE over HTTP/2 and HTTP/1.0', () => {
  /** An h2c server whose 'request' handler (the compat API) is `sse.init`. */
  async function serveHttp2(sse: SSE) {
    const server = http2.createServer();
    server.on('request', (req, res) => sse.init(req, res));
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on('session', (session) => sessions.add(session));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const session of sessions) session.destroy();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as net.AddressInfo;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on('error', () => undefined);
    cleanups.push(() => client.destroy());
    return client;
  }

  function request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders = {}) {
    const stream = client.request({ ':path': '/', ...headers });
    const state = {
      headers: undefined as http2.IncomingHttpHeaders | undefined,
      text: '',
      stream,
    };
    stream.setEncoding('utf8');
    stream.on('response', (responseHeaders) => (state.headers = responseHeaders));
    stream.on('data', (chunk: string) => (state.text += chunk));
    stream.on('error', () => undefined);
    return state;
  }

  it('answers 200 without a Connection header, and streams events', async () => {
    const sse = createSse(['init']);
    const client = await serveHttp2(sse);
    const answer = request(client);
    await waitFor(() => answer.text.includes('data: "init"'));
    const headers = answer.headers as http2.IncomingHttpHeaders;
    expect(headers[':status']).toBe(200);
    expect(headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(headers['cache-control']).toBe('no-cache, no-transform');
    expect(headers['x-accel-buffering']).toBe('no');
    expect(headers.connection).toBeUndefined();
    const epoch = epochIn(answer.text);
    sse.send({ n: 1 }, 'tick');
    const expected = `${OPENING}${wire(`${epoch}-0`, '"init"')}${wire(`${epoch}-1`, '{"n":1}', 'tick')}`;
    await waitFor(() => answer.text.length >= expected.length);
    expect(answer.text).toBe(expected);
    expect(sse.sessionCount).toBe(1);
  });

  it('resumes from Last-Event-ID', async () => {
    const sse = createSse(['init']);
    const client = await serveHttp2(sse);
    const first = request(client);
    await waitFor(() => first.text.includes('data: "init"'));
    const epoch = epochIn(first.text);
    for (const n of [1, 2, 3]) sse.send(n);
    const resumed = request(client, { 'last-event-id': `${epoch}-1` });
    const expected = `${OPENING}${wire(`${epoch}-2`, '2')}${wire(`${epoch}-3`, '3')}`;
    await waitFor(() => resumed.text.length >= expected.length);
    expect(resumed.text).toBe(expected);
  });

  it('counts a stream the client cancels as gone', async () => {
    const sse = createSse();
    const client = await serveHttp2(sse);
    const answer = request(client);
    await waitFor(() => answer.text === OPENING);
    expect(sse.sessionCount).toBe(1);
    answer.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => sse.sessionCount === 0);
  });

  it('sends no Connection: keep-alive to an HTTP/1.0 request', async () => {
    const sse = createSse(['init']);
    const { port } = await serve(sse);
    const raw = rawRequest(port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    await waitFor(() => raw.text.includes('data: "init"'));
    const [head = '', body] = raw.text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\ncontent-type: text\/event-stream; charset=utf-8\r\n/i);
    expect(head).not.toMatch(/keep-alive/i);
    // No chunked framing on HTTP/1.0: the body is the event stream itself.
    expect(body).toBe(`${OPENING}${wire(`${epochIn(raw.text)}-0`, '"init"')}`);
  });
});

describe('SSE compression (isCompressed)', () => {
  /** Sends three events one by one; each must arrive, decompressed, before the next. */
  async function expectFlushedPerEvent(sse: SSE, stream: DecodedStream) {
    await waitFor(() => stream.text === OPENING, 2000, 'the opening, decompressed');
    let expected = OPENING;
    for (const n of [1, 2, 3]) {
      sse.send({ n }, 'tick');
      const tail = new RegExp(`id: [0-9a-z]{8}-${n}\nevent: tick\ndata: \\{"n":${n}\\}\n\n$`);
      await waitFor(() => tail.test(stream.text), 2000, `event ${n}, decompressed`);
      expected += wire(`${epochIn(stream.text)}-${n}`, `{"n":${n}}`, 'tick');
      expect(stream.text).toBe(expected);
      expect(stream.ended).toBe(false);
    }
    expect(stream.error).toBeUndefined();
  }

  it('gzips with Accept-Encoding: gzip and flushes after every event', async () => {
    const sse = createSse(undefined, { isCompressed: true });
    const { url } = await serve(sse);
    const stream = await openDecoded(url, { 'Accept-Encoding': 'gzip' });
    expect(stream.response.headers['content-encoding']).toBe('gzip');
    expect(stream.response.headers.vary).toBe('Accept-Encoding');
    expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await expectFlushedPerEvent(sse, stream);
  });

  it('deflates with Accept-Encoding: deflate and flushes after every event', async () => {
    const sse = createSse(undefined, { isCompressed: true });
    const { url } = await serve(sse);
    const stream = await openDecoded(url, { 'Accept-Encoding': 'deflate' });
    expect(stream.response.headers['content-encoding']).toBe('deflate');
    expect(stream.response.headers.vary).toBe('Accept-Encoding');
    await expectFlushedPerEvent(sse, stream);
  });

  it('flushes heartbeats through the compressor too', async () => {
    const sse = createSse(undefined, { isCompressed: true, heartbeatMs: 50 });
    const { url } = await serve(sse);
    const stream = await openDecoded(url, { 'Accept-Encoding': 'gzip' });
    await waitFor(() => stream.text.length >= OPENING.length + 2 * ':\n\n'.length, 2000);
    expect(stream.text).toMatch(/^retry: 2000\n\n:\n\n(:\n\n){2,}$/);
  });

  it('picks deflate when gzip is refused with q=0', async () => {
    const sse = createSse(undefined, { isCompressed: true });
    const { url } = await serve(sse);
    const stream = await openDecoded(url, { 'Accept-Encoding': 'gzip;q=0, deflate' });
    expect(stream.response.headers['content-encoding']).toBe('deflate');
    await expectFlushedPerEvent(sse, stream);
  });

  it('does not compress without Accept-Encoding', async () => {
    const sse = createSse(undefined, { isCompressed: true });
    const { url } = await serve(sse);
    const stream = await openDecoded(url);
    expect(stream.response.headers['content-encoding']).toBeUndefined();
    await expectFlushedPerEvent(sse, stream);
  });

  it('never compresses when isCompressed is off (the default)', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const stream = await openDecoded(url, { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(stream.response.headers['content-encoding']).toBeUndefined();
    expect(stream.response.headers.vary).toBeUndefined();
    await expectFlushedPerEvent(sse, stream);
  });

  it('ends a compressed stream cleanly on close()', async () => {
    const sse = createSse(undefined, { isCompressed: true });
    const { url } = await serve(sse);
    const stream = await openDecoded(url, { 'Accept-Encoding': 'gzip' });
    await waitFor(() => stream.text === OPENING);
    sse.close();
    await waitFor(() => stream.ended, 2000, 'the gzip stream to end');
    expect(stream.error).toBeUndefined();
    expect(stream.text).toMatch(/^retry: 2000\n\n:\n\n: server closing\nretry: \d+\n\n$/);
  });
});

describe('SSE slow consumers', () => {
  it('cuts a client that stops reading, while a reading client gets everything', async () => {
    const eventBytes = 64 * 1024;
    const sse = createSse(['start'], {
      maxBufferedBytes: 64 * 1024,
      heartbeatMs: 0,
      replayBufferSize: 4,
    });
    const server = await serve(sse);

    // A raw TCP client that sends its request and then never reads.
    const stalled = net.connect(server.port, '127.0.0.1');
    cleanups.push(() => stalled.destroy());
    stalled.on('error', () => undefined);
    stalled.pause();
    stalled.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(() => sse.sessionCount === 1);
    const stalledResponse = server.responses[0] as http.ServerResponse;

    // A reading client that checks every event, in order, as it arrives.
    const reader = { ids: [] as string[], sizes: [] as number[], pending: '' };
    let onEvent = () => {};
    /** Resolves once the reading client holds `count` events. */
    const received = (count: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${reader.ids.length} events`)), 2000);
        onEvent = () => {
          if (reader.ids.length < count) return;
          clearTimeout(timer);
          resolve();
        };
        onEvent();
      });
    const request = http.get(server.url, (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        reader.pending += chunk;
        let end: number;
        while ((end = reader.pending.indexOf('\n\n')) >= 0) {
          const block = reader.pending.slice(0, end);
          reader.pending = reader.pending.slice(end + 2);
          const match = /^id: (\S+)\ndata: (.*)$/s.exec(block);
          if (match === null) continue;
          reader.ids.push(match[1] as string);
          reader.sizes.push((match[2] as string).length);
        }
        onEvent();
      });
    });
    cleanups.push(() => request.destroy());
    await received(1);
    const epoch = (reader.ids[0] as string).split('-')[0] as string;
    expect(sse.sessionCount).toBe(2);

    // Loopback socket buffers take a few MiB before the server's writableLength grows;
    // 1200 × 64 KiB (≈ 79 MB) bounds the test, far more than the cut needs (~4 MiB here).
    const payload = 'x'.repeat(eventBytes);
    let sent = 0;
    while (sse.sessionCount === 2 && sent < 1200) {
      sse.send(payload);
      sent++;
      // Pace the sends by the reading client, so that only the stalled one falls behind
      // (two 64 KiB events in one tick would exceed the budget of any client).
      await received(sent + 1);
    }
    expect(sse.sessionCount).toBe(1);
    expect(stalledResponse.destroyed).toBe(true);

    for (let n = 0; n < 5; n++) {
      sse.send(payload);
      sent++;
      await received(sent + 1);
    }
    expect(sse.sessionCount).toBe(1);
    expect(reader.ids).toEqual(Array.from({ length: sent + 1 }, (_, n) => `${epoch}-${n}`));
    expect(reader.sizes.slice(1).every((size) => size === eventBytes + 2)).toBe(true);

    // The stalled client, once it reads, finds its connection closed.
    const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
    stalled.resume();
    await closed;
  });
});

describe('SSE bursts and late init', () => {
  it('does not cut a reading client for a burst, sent in one tick, larger than its budget', async () => {
    const sse = createSse([], { maxBufferedBytes: 64 * 1024, heartbeatMs: 0 });
    const server = await serve(sse);
    const stream = await openStream(server.url);
    await waitFor(() => stream.raw === OPENING);
    // 2000 × ~130 bytes ≈ 260 KB in one synchronous loop: Node corks it all until the tick
    // ends, so writableLength passes the budget although the client reads everything.
    for (let i = 0; i < 2000; i++) sse.send({ row: i, text: 'x'.repeat(100) });
    await waitFor(() => stream.raw.includes('"row":1999'), 5000);
    expect(sse.sessionCount).toBe(1);
    expect(stream.raw.match(/^data: /gm)).toHaveLength(2000);
  });

  it('leaves no session behind when init runs after the client has gone', async () => {
    const sse = createSse(['x'], { heartbeatMs: 20 });
    const { port } = await listen((req, res) => {
      // As after an await (authentication): the client is gone before init runs.
      res.on('close', () => setTimeout(() => sse.init(req, res), 10));
    });
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => socket.destroy(), 20);
    });
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.on('close', resolve));
    await closed;
    await sleep(100);
    expect(sse.sessionCount).toBe(0);
  });

  it('refuses data that JSON cannot encode with BAD_REQUEST, and sends no part of it', async () => {
    const sse = createSse([], { heartbeatMs: 0 });
    const server = await serve(sse);
    const stream = await openStream(server.url);
    await waitFor(() => stream.raw === OPENING);
    expect(thrownBy(() => sse.send(1n))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(thrownBy(() => sse.serialize(['ok', 2n]))).toMatchObject({ code: 'BAD_REQUEST' });
    sse.send('after');
    await waitFor(() => stream.raw.includes('"after"'));
    const epoch = epochIn(stream.raw);
    // Nothing of the refused calls went out or used up an id.
    expect(stream.raw).toBe(OPENING + wire(`${epoch}-1`, '"after"'));
    const resumed = await openStream(server.url, { 'Last-Event-ID': `${epoch}-0` });
    await waitForRaw(resumed, OPENING + wire(`${epoch}-1`, '"after"'));
  });
});

describe('SSE.close', () => {
  it('ends every stream with a jittered retry and a comment, then refuses new streams with one', async () => {
    const sse = createSse(['init'], { retryMs: 1000 });
    const { url } = await serve(sse);
    const streams = [await openStream(url), await openStream(url)];
    for (const stream of streams) await stream.waitForType('message', 1);
    expect(sse.sessionCount).toBe(2);
    sse.close();
    expect(sse.sessionCount).toBe(0);
    for (const stream of streams) {
      await waitFor(() => stream.ended, 2000, 'the stream to end');
      const match = /\n\n: server closing\nretry: (\d+)\n\n$/.exec(stream.raw);
      expect(match, stream.raw).not.toBeNull();
      const retry = Number(match?.[1]);
      expect(retry).toBeGreaterThanOrEqual(500);
      expect(retry).toBeLessThanOrEqual(1500);
    }

    const late = await openStream(url);
    await waitFor(() => late.ended, 2000, 'the late stream to end');
    expect(late.status).toBe(200);
    expect(late.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(late.headers.connection).toBe('close');
    expect(late.raw).toMatch(/^: server closing\nretry: \d+\n\n$/);
    const retry = Number(/retry: (\d+)/.exec(late.raw)?.[1]);
    expect(retry).toBeGreaterThanOrEqual(500);
    expect(retry).toBeLessThanOrEqual(1500);
    expect(sse.sessionCount).toBe(0);
  });

  it('spreads retry over 0.5× to 1.5× of retryMs', async () => {
    const sse = createSse(undefined, { retryMs: 2000 });
    const { url } = await serve(sse);
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    sse.close();
    const low = await openStream(url);
    random.mockReturnValue(0.999_999);
    const high = await openStream(url);
    await waitFor(() => low.ended && high.ended);
    expect(low.raw).toBe(': server closing\nretry: 1000\n\n');
    expect(high.raw).toBe(': server closing\nretry: 3000\n\n');
  });
});

describe('SSE.send', () => {
  it('refuses an event or an id with CR, LF or NUL, and writes or keeps nothing of it', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
    const emitted: unknown[] = [];
    sse.on('data', (data) => emitted.push(data));

    const bad: Array<[string | undefined, string | number | undefined]> = [
      ['a\nb', undefined],
      ['a\rb', undefined],
      ['a\0b', undefined],
      [undefined, 'x\ny'],
      [undefined, 'x\ry'],
      [undefined, 'x\0y'],
      ['ok', 'id: injected\r\n'],
    ];
    for (const [event, id] of bad) {
      const error = thrownBy(() => sse.send({ secret: 1 }, event, id));
      expect(error).toBeInstanceOf(TidewireError);
      expect((error as TidewireError).code).toBe('BAD_REQUEST');
    }
    expect(emitted).toEqual([]);

    sse.send('fine');
    await waitFor(() => stream.raw.length > OPENING.length);
    const epoch = epochIn(stream.raw);
    // The refused events took no id and reached no client.
    await waitForRaw(stream, `${OPENING}${wire(`${epoch}-1`, '"fine"')}`);
    const resumed = await openStream(url, { 'Last-Event-ID': `${epoch}-0` });
    await waitForRaw(resumed, `${OPENING}${wire(`${epoch}-1`, '"fine"')}`);
  });

  it('encodes data as JSON: strings quoted, objects, numbers, null, undefined as null', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
    sse.send('x');
    sse.send('two\nlines');
    sse.send({ a: 1, b: [true, 'c'] });
    sse.send(42);
    sse.send(-1.5);
    sse.send(null);
    sse.send(undefined);
    sse.send([1, 2]);
    await waitFor(() => stream.events.length === 8);
    const epoch = epochIn(stream.raw);
    const data = [
      '"x"',
      '"two\\nlines"',
      '{"a":1,"b":[true,"c"]}',
      '42',
      '-1.5',
      'null',
      'null',
      '[1,2]',
    ];
    await waitForRaw(
      stream,
      OPENING + data.map((text, i) => wire(`${epoch}-${i + 1}`, text)).join(''),
    );
  });

  it('writes the event name and the application id as given', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
    sse.send(1, 'tick');
    sse.send(2, 'tick', 'my-id');
    sse.send(3, false, 42);
    sse.send(4, '');
    await waitFor(() => stream.events.length === 4);
    const epoch = epochIn(stream.raw);
    await waitForRaw(
      stream,
      OPENING +
        wire(`${epoch}-1`, '1', 'tick') +
        wire('my-id', '2', 'tick') +
        wire('42', '3') +
        wire(`${epoch}-4`, '4'),
    );
  });
});

describe('SSE.serialize', () => {
  it('sends a non-array as send(data) does', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
    sse.serialize({ a: 1 });
    sse.serialize('s');
    sse.send({ a: 1 });
    await waitFor(() => stream.events.length === 3);
    const epoch = epochIn(stream.raw);
    await waitForRaw(
      stream,
      OPENING +
        wire(`${epoch}-1`, '{"a":1}') +
        wire(`${epoch}-2`, '"s"') +
        wire(`${epoch}-3`, '{"a":1}'),
    );
  });

  it('sends each item of an array as its own event, replayable one by one', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    const stream = await openStream(url);
    await waitForRaw(stream, OPENING);
    sse.serialize(['a', { b: 2 }, 3]);
    await waitFor(() => stream.events.length === 3);
    const epoch = epochIn(stream.raw);
    const events = [
      wire(`${epoch}-1`, '"a"'),
      wire(`${epoch}-2`, '{"b":2}'),
      wire(`${epoch}-3`, '3'),
    ];
    await waitForRaw(stream, OPENING + events.join(''));
    const resumed = await openStream(url, { 'Last-Event-ID': `${epoch}-1` });
    await waitForRaw(resumed, OPENING + events.slice(1).join(''));
  });
});

describe('SSE constructor', () => {
  const names = ['heartbeatMs', 'retryMs', 'replayBufferSize', 'maxBufferedBytes'] as const;

  it.each(names)('refuses a negative, fractional, NaN or infinite %s with a TypeError', (name) => {
    for (const value of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = thrownBy(() => new SSE([], { [name]: value }));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as TypeError).message).toContain(name);
    }
  });

  it.each(names)('accepts 0 for %s', (name) => {
    createSse([], { [name]: 0 });
  });
});

describe('SSE.sessionCount', () => {
  it('follows clients as they connect and abort', async () => {
    const sse = createSse();
    const { url } = await serve(sse);
    expect(sse.sessionCount).toBe(0);
    const first = await openStream(url);
    await waitFor(() => sse.sessionCount === 1);
    const second = await openStream(url);
    await waitFor(() => sse.sessionCount === 2);
    first.close();
    await waitFor(() => sse.sessionCount === 1);
    second.close();
    await waitFor(() => sse.sessionCount === 0);
    sse.send('nobody listens');
    expect(sse.sessionCount).toBe(0);
  });

  it('works as an unbound route handler, as express-sse does', async () => {
    const sse = createSse(['init']);
    const init = sse.init as (req: SseRequest, res: SseResponse) => void;
    const { url } = await listen((req, res) => init(req, res));
    const stream = await openStream(url);
    await stream.waitForType('message', 1);
    expect(sse.sessionCount).toBe(1);
  });
});

describe('SSE initial content that JSON cannot encode', () => {
  it('is refused at once by the constructor and updateInit', () => {
    expect(thrownBy(() => new SSE([1n]))).toMatchObject({ code: 'BAD_REQUEST' });
    const sse = createSse(['fine']);
    expect(thrownBy(() => sse.updateInit([2n]))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(sse.initial).toEqual(['fine']);
  });

  it('set by hand, answers 500 as JSON and keeps the server up', async () => {
    const sse = createSse(['fine'], { heartbeatMs: 0 });
    const server = await serve(sse);
    sse.initial = [3n];
    const failed = await fetch(server.url);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ code: 'INTERNAL' });
    expect(sse.sessionCount).toBe(0);
    sse.initial = ['fine again'];
    const stream = await openStream(server.url);
    await waitFor(() => stream.raw.includes('"fine again"'));
    expect(sse.sessionCount).toBe(1);
  });
});
