import { once } from 'node:events';
import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
} from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ReconnectingEventSource,
  type ReconnectingEventSourceOptions,
} from '../../src/reconnecting/index.js';
import { waitFor } from '../support/wait.js';

// A plain node:http SSE server, written here, that knows nothing of tidewire: each test says
// how to answer the n-th request.

type Handler = (req: IncomingMessage, res: ServerResponse, index: number) => void;

interface SseServer {
  readonly url: string;
  readonly port: number;
  /** The headers of every request, in order. */
  readonly requests: IncomingHttpHeaders[];
  /** When each request arrived (Date.now()). */
  readonly times: number[];
  /** How many requests the server saw end (client gone or response ended). */
  closed: number;
}

const httpServers: Server[] = [];
const sources: ReconnectingEventSource[] = [];
const intervals: Array<ReturnType<typeof setInterval>> = [];

afterEach(async () => {
  for (const interval of intervals.splice(0)) clearInterval(interval);
  for (const source of sources.splice(0)) source.close();
  await Promise.all(httpServers.splice(0).map(closeServer));
});

function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

async function startServer(handler: Handler, port = 0): Promise<SseServer> {
  const state = { requests: [] as IncomingHttpHeaders[], times: [] as number[], closed: 0 };
  const server = createServer((req, res) => {
    const index = state.requests.length;
    state.requests.push(req.headers);
    state.times.push(Date.now());
    res.on('close', () => (state.closed += 1));
    handler(req, res, index);
  });
  httpServers.push(server);
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const { port: actual } = server.address() as { port: number };
  return Object.assign(state, { port: actual, url: `http://127.0.0.1:${actual}/events` });
}

function openStream(res: ServerResponse, body = ''): void {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
  res.write(body);
}

interface Received {
  type: string;
  data: string;
  lastEventId: string;
}

interface Recorded {
  readonly source: ReconnectingEventSource;
  opens: number;
  readonly events: Received[];
  readonly errors: Array<{ message: string; status?: number; readyState: number }>;
}

const FAST: ReconnectingEventSourceOptions = { baseMs: 20, capMs: 100 };

function connect(url: string, options: ReconnectingEventSourceOptions = {}, types: string[] = []) {
  const source = new ReconnectingEventSource(url, { ...FAST, ...options });
  sources.push(source);
  const recorded: Recorded = { source, opens: 0, events: [], errors: [] };
  const record = (event: MessageEvent) => {
    const { type, lastEventId } = event;
    recorded.events.push({ type, data: event.data as string, lastEventId });
  };
  source.onmessage = record;
  for (const type of types) source.addEventListener(type, record);
  source.onopen = () => {
    recorded.opens += 1;
  };
  source.onerror = (event) => {
    const { message, status } = event;
    recorded.errors.push({ message, status, readyState: source.readyState });
  };
  return recorded;
}

const { CONNECTING, OPEN, CLOSED } = ReconnectingEventSource;

describe('ReconnectingEventSource against a plain node:http SSE server', () => {
  it('receives events with their ids and named events through the standard API', async () => {
    const server = await startServer((_req, res) => {
      openStream(res, 'id: 1\ndata: one\n\nevent: tick\nid: 2\ndata: two\ndata: lines\n\n');
    });
    let origin = '';
    const client = connect(server.url, {}, ['tick']);
    client.source.addEventListener('tick', (event) => {
      origin = event.origin;
    });
    expect(client.source.readyState).toBe(CONNECTING);
    await waitFor(() => client.events.length === 2);
    expect(client.events).toEqual([
      { type: 'message', data: 'one', lastEventId: '1' },
      { type: 'tick', data: 'two\nlines', lastEventId: '2' },
    ]);
    expect(client.opens).toBe(1);
    expect(client.source.readyState).toBe(OPEN);
    expect(client.source.lastEventId).toBe('2');
    expect(client.source.url).toBe(server.url);
    expect(origin).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.requests[0]).toMatchObject({
      accept: 'text/event-stream',
      'cache-control': 'no-cache',
    });
    expect(server.requests[0]).not.toHaveProperty('last-event-id');
  });

  it("sends Last-Event-ID on reconnect, keeps lastEventId and waits the server's retry:", async () => {
    const server = await startServer((_req, res, index) => {
      openStream(res, index === 0 ? 'retry: 50\nid: ü-7\ndata: a\n\n' : 'data: b\n\n');
      if (index === 0) res.end();
    });
    // Backoff alone would wait up to a minute: only `retry: 50` brings the client back soon.
    const client = connect(server.url, { baseMs: 60_000, capMs: 60_000 });
    await waitFor(() => client.events.length === 2);
    expect(client.events).toEqual([
      { type: 'message', data: 'a', lastEventId: 'ü-7' },
      { type: 'message', data: 'b', lastEventId: 'ü-7' },
    ]);
    expect(client.errors).toEqual([
      { message: 'the server ended the stream', status: undefined, readyState: CONNECTING },
    ]);
    // Node reads header bytes as Latin-1: the client sent the ID as UTF-8.
    const header = server.requests[1]?.['last-event-id'] as string;
    expect(Buffer.from(header, 'latin1').toString('utf8')).toBe('ü-7');
    expect(client.source.lastEventId).toBe('ü-7');
    expect(client.opens).toBe(2);
  });

  it('keeps retrying 500 and 503, unlike native EventSource, and opens once the server recovers', async () => {
    const server = await startServer((_req, res, index) => {
      if (index === 0) res.writeHead(500).end();
      else if (index === 1) res.writeHead(503, { 'Retry-After': '0' }).end();
      else openStream(res, 'data: ok\n\n');
    });
    const client = connect(server.url);
    await waitFor(() => client.events.length === 1);
    expect(client.errors).toEqual([
      { message: 'HTTP 500', status: 500, readyState: CONNECTING },
      { message: 'HTTP 503', status: 503, readyState: CONNECTING },
    ]);
    expect(client.events[0]?.data).toBe('ok');
    expect(server.requests).toHaveLength(3);
  });

  it('waits at least Retry-After after a 429', async () => {
    const server = await startServer((_req, res, index) => {
      if (index === 0) res.writeHead(429, { 'Retry-After': '1' }).end();
      else openStream(res);
    });
    const client = connect(server.url);
    await waitFor(() => client.opens === 1, 5000, 'open');
    const [first = 0, second = 0] = server.times;
    // Timers may fire a millisecond early by the wall clock.
    expect(second - first).toBeGreaterThanOrEqual(990);
  });

  it('retries network errors until the server is up', async () => {
    const probe = await startServer(() => {});
    const port = probe.port;
    await closeServer(httpServers.pop() as Server);
    const client = connect(`http://127.0.0.1:${port}/events`);
    await waitFor(() => client.errors.length >= 2, 5000, 'two failures');
    expect(client.errors[0]?.message).toMatch(/ECONNREFUSED/);
    expect(client.source.readyState).toBe(CONNECTING);
    await startServer((_req, res) => openStream(res, 'data: up\n\n'), port);
    await waitFor(() => client.events.length === 1);
  });

  it('ends after maxRetries consecutive failures', async () => {
    const server = await startServer((_req, res) => res.writeHead(502).end());
    const client = connect(server.url, { maxRetries: 2 });
    await waitFor(() => client.source.readyState === CLOSED);
    expect(client.errors.map((error) => error.readyState)).toEqual([
      CONNECTING,
      CONNECTING,
      CLOSED,
    ]);
    expect(server.requests).toHaveLength(3);
  });

  it('stops for good on 204 No Content', async () => {
    const server = await startServer((_req, res) => res.writeHead(204).end());
    const client = connect(server.url);
    await waitFor(() => client.errors.length === 1);
    expect(client.errors[0]).toMatchObject({ status: 204, readyState: CLOSED });
    expect(client.source.readyState).toBe(CLOSED);
  });

  it('stops for good on a wrong content type or an unexpected status', async () => {
    const server = await startServer((_req, res, index) => {
      if (index === 0) res.writeHead(200, { 'Content-Type': 'text/html' }).end('<p>hi</p>');
      else res.writeHead(404).end();
    });
    const html = connect(server.url);
    await waitFor(() => html.errors.length === 1);
    expect(html.errors[0]?.message).toMatch(/expected text\/event-stream, got 'text\/html'/);
    const missing = connect(server.url);
    await waitFor(() => missing.errors.length === 1);
    expect(missing.errors[0]).toMatchObject({ status: 404, readyState: CLOSED });
  });

  it('calls onUnauthorized on a 401 and retries with the headers it refreshed', async () => {
    const server = await startServer((req, res) => {
      if (req.headers.authorization === 'Bearer fresh') openStream(res, 'data: in\n\n');
      else res.writeHead(401).end();
    });
    let token = 'stale';
    const statuses: number[] = [];
    const client = connect(server.url, {
      headers: async () => ({ Authorization: `Bearer ${token}` }),
      onUnauthorized: async (status) => {
        statuses.push(status);
        token = 'fresh';
      },
    });
    await waitFor(() => client.events.length === 1);
    expect(statuses).toEqual([401]);
    expect(server.requests.map((headers) => headers.authorization)).toEqual([
      'Bearer stale',
      'Bearer fresh',
    ]);
    expect(client.errors).toEqual([{ message: 'HTTP 401', status: 401, readyState: CONNECTING }]);
  });

  it('closes for good on 401 or 403 without a hook, or when the hook answers false', async () => {
    const server = await startServer((_req, res, index) => {
      res.writeHead(index === 0 ? 403 : 401).end();
    });
    const noHook = connect(server.url);
    await waitFor(() => noHook.errors.length === 1);
    expect(noHook.errors[0]).toMatchObject({ status: 403, readyState: CLOSED });
    const refused = connect(server.url, { onUnauthorized: () => false });
    await waitFor(() => refused.errors.length === 1);
    expect(refused.errors[0]).toMatchObject({ status: 401, readyState: CLOSED });
    expect(server.requests).toHaveLength(2);
  });

  it('sends custom headers and says withCredentials', async () => {
    const server = await startServer((_req, res) => openStream(res));
    const client = connect(server.url, { headers: { 'X-Api-Key': 'k1' }, withCredentials: true });
    await waitFor(() => client.opens === 1);
    expect(server.requests[0]?.['x-api-key']).toBe('k1');
    expect(client.source.withCredentials).toBe(true);
  });

  it('finds a stream that went silent with heartbeatTimeoutMs and reconnects', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.flushHeaders();
    });
    const client = connect(server.url, { heartbeatTimeoutMs: 150 });
    await waitFor(() => client.opens === 2, 5000, 'a second open');
    expect(client.errors[0]?.message).toMatch(/no data for 150 ms/);
    await waitFor(() => server.closed >= 1, 5000, 'the silent request aborted');
  });

  it('keeps a quiet stream alive while comments arrive', async () => {
    let comments = 0;
    const server = await startServer((_req, res) => {
      openStream(res, ':hi\n\n');
      intervals.push(setInterval(() => res.write(`: ${++comments}\n\n`), 30));
    });
    const client = connect(server.url, { heartbeatTimeoutMs: 250 });
    // 15 comments take 450 ms, well past the timeout.
    await waitFor(() => comments >= 15, 5000, 'fifteen comments');
    expect(client.errors).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it('close() aborts the request and says nothing more', async () => {
    const server = await startServer((_req, res) => openStream(res, 'data: x\n\n'));
    const client = connect(server.url);
    await waitFor(() => client.events.length === 1);
    client.source.close();
    expect(client.source.readyState).toBe(CLOSED);
    await waitFor(() => server.closed === 1, 5000, 'the server to see the request end');
    expect(client.errors).toEqual([]);
  });
});
