import { once } from 'node:events';
import { type Server as NetServer, type Socket, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import {
  type ReconnectingCloseEvent,
  ReconnectingError,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
} from '../../src/reconnecting/index.js';
import { waitFor } from '../support/wait.js';

// A plain `ws` server that knows nothing of tidewire: it records what it receives, answers a
// bare 'ping' with 'pong' unless told to stay silent, and can stop and restart on its port.

interface TestServer {
  readonly port: number;
  readonly url: string;
  /** Every connection, in order. */
  readonly sockets: WebSocket[];
  /** The request path of every connection. */
  readonly paths: string[];
  /** Every text message but 'ping'. */
  readonly received: string[];
  pings: number;
  /** When true, 'ping' gets no answer: the link stays up but goes silent. */
  isSilent: boolean;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
const clients: ReconnectingWebSocket[] = [];
const netServers: NetServer[] = [];
const netSockets: Socket[] = [];
const intervals: Array<ReturnType<typeof setInterval>> = [];

afterEach(async () => {
  for (const interval of intervals.splice(0)) clearInterval(interval);
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const socket of netSockets.splice(0)) socket.destroy();
  await Promise.all(netServers.splice(0).map(closeNetServer));
});

async function startServer(port = 0): Promise<TestServer> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port,
    handleProtocols: (protocols) => (protocols.has('chat') ? 'chat' : false),
  });
  await once(wss, 'listening');
  const { port: actual } = wss.address() as { port: number };
  const server: TestServer = {
    port: actual,
    url: `ws://127.0.0.1:${actual}`,
    sockets: [],
    paths: [],
    received: [],
    pings: 0,
    isSilent: false,
    close: async () => {
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  wss.on('connection', (socket, request) => {
    server.sockets.push(socket);
    server.paths.push(request.url ?? '');
    socket.on('message', (data, isBinary) => {
      const text = data.toString();
      if (isBinary || text !== 'ping') return server.received.push(text);
      server.pings += 1;
      if (!server.isSilent) socket.send('pong');
    });
  });
  servers.push(server);
  return server;
}

/** Stops a server and answers it, out of the afterEach list, to restart on its port. */
async function stopServer(server: TestServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.close();
}

function closeNetServer(server: NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

interface Recorded {
  readonly socket: ReconnectingWebSocket;
  opens: number;
  readonly messages: unknown[];
  readonly closes: Array<{ code: number; reason: string; wasClean: boolean; readyState: number }>;
  readonly errors: string[];
}

const FAST: ReconnectingWebSocketOptions = { WebSocket, baseMs: 20, capMs: 100 };

function connect(
  url: ConstructorParameters<typeof ReconnectingWebSocket>[0],
  options: ReconnectingWebSocketOptions = {},
  protocols?: string | string[],
): Recorded {
  const socket = new ReconnectingWebSocket(url, protocols, { ...FAST, ...options });
  clients.push(socket);
  const recorded: Recorded = { socket, opens: 0, messages: [], closes: [], errors: [] };
  socket.onopen = () => {
    recorded.opens += 1;
  };
  socket.onmessage = (event) => recorded.messages.push(event.data);
  socket.addEventListener('close', (event: ReconnectingCloseEvent) => {
    const { code, reason, wasClean } = event;
    recorded.closes.push({ code, reason, wasClean, readyState: socket.readyState });
  });
  socket.addEventListener('error', (event) => recorded.errors.push(event.message));
  return recorded;
}

async function opened(recorded: Recorded, count = 1): Promise<void> {
  await waitFor(() => recorded.opens >= count, 5000, `open #${count}`);
}

/** A port nothing listens on: connections to it are refused at once. */
async function deadPort(): Promise<number> {
  const server = await startServer();
  await stopServer(server);
  return server.port;
}

describe('ReconnectingWebSocket against a plain ws server', () => {
  it('opens, sends and receives through the standard API', async () => {
    const server = await startServer();
    let origin = '';
    const client = connect(server.url, {}, ['chat']);
    client.socket.addEventListener('message', (event) => {
      origin = event.origin;
    });
    expect(client.socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    await opened(client);
    expect(client.socket.readyState).toBe(ReconnectingWebSocket.OPEN);
    expect(client.socket.OPEN).toBe(1);
    expect(client.socket.protocol).toBe('chat');
    expect(client.socket.url).toBe(`${server.url}/`);
    client.socket.send('hi');
    server.sockets[0]?.send('hello');
    await waitFor(() => client.messages.length === 1 && server.received.length === 1);
    expect(client.messages).toEqual(['hello']);
    expect(server.received).toEqual(['hi']);
    expect(origin).toBe(server.url);
  });

  it('keeps binaryType across the sockets it recreates', async () => {
    const server = await startServer();
    const client = connect(server.url);
    client.socket.binaryType = 'arraybuffer';
    await opened(client);
    server.sockets[0]?.send(Uint8Array.of(1, 2, 3));
    await waitFor(() => client.messages.length === 1);
    server.sockets[0]?.terminate();
    await opened(client, 2);
    server.sockets[1]?.send(Uint8Array.of(4, 5));
    await waitFor(() => client.messages.length === 2);
    expect(client.messages.map((data) => data instanceof ArrayBuffer)).toEqual([true, true]);
    expect(client.messages.map((data) => [...new Uint8Array(data as ArrayBuffer)])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(client.socket.binaryType).toBe('arraybuffer');
  });

  it('queues sends while the server is down and flushes them in order once it is back', async () => {
    const first = await startServer();
    const client = connect(first.url);
    await opened(client);
    await stopServer(first);
    await waitFor(() => client.closes.length >= 1);
    expect(client.socket.readyState).toBe(ReconnectingWebSocket.CONNECTING);
    client.socket.send('a');
    client.socket.send('bé');
    client.socket.send(Uint8Array.of(1, 2));
    expect(client.socket.bufferedAmount).toBe(1 + 3 + 2);
    const second = await startServer(first.port);
    await opened(client, 2);
    await waitFor(() => second.received.length === 3);
    expect(second.received).toEqual(['a', 'bé', '\u0001\u0002']);
    expect(client.socket.bufferedAmount).toBe(0);
  });

  it('reconnects after the server closes or terminates the socket', async () => {
    const server = await startServer();
    const client = connect(server.url);
    await opened(client);
    server.sockets[0]?.close(1012, 'restart');
    await opened(client, 2);
    server.sockets[1]?.terminate();
    await opened(client, 3);
    expect(client.closes).toEqual([
      {
        code: 1012,
        reason: 'restart',
        wasClean: true,
        readyState: ReconnectingWebSocket.CONNECTING,
      },
      { code: 1006, reason: '', wasClean: false, readyState: ReconnectingWebSocket.CONNECTING },
    ]);
    expect(server.sockets).toHaveLength(3);
  });

  it('asks the URL function before every connect', async () => {
    const server = await startServer();
    let token = 0;
    const client = connect(async () => `${server.url}/feed?token=${++token}`);
    await opened(client);
    server.sockets[0]?.terminate();
    await opened(client, 2);
    expect(server.paths).toEqual(['/feed?token=1', '/feed?token=2']);
    expect(client.socket.url).toBe(`${server.url}/feed?token=2`);
  });

  it('gives up after maxRetries consecutive failures with a final close; reconnect() revives it', async () => {
    const port = await deadPort();
    const client = connect(`ws://127.0.0.1:${port}`, { maxRetries: 2 });
    await waitFor(() => client.socket.readyState === ReconnectingWebSocket.CLOSED);
    expect(client.closes.map((close) => [close.code, close.readyState])).toEqual([
      [1006, ReconnectingWebSocket.CONNECTING],
      [1006, ReconnectingWebSocket.CONNECTING],
      [1006, ReconnectingWebSocket.CLOSED],
    ]);
    expect(client.errors).toHaveLength(3);
    expect(() => client.socket.send('late')).toThrow(ReconnectingError);
    const server = await startServer(port);
    client.socket.reconnect();
    await opened(client);
    expect(server.sockets).toHaveLength(1);
  });

  it('ends for good when shouldReconnect says no', async () => {
    const server = await startServer();
    const client = connect(server.url, { shouldReconnect: (event) => event.code < 4500 });
    await opened(client);
    server.sockets[0]?.close(4503, 'forbidden');
    await waitFor(() => client.closes.length === 1);
    expect(client.closes[0]).toMatchObject({
      code: 4503,
      readyState: ReconnectingWebSocket.CLOSED,
    });
  });

  it('drops a socket that does not open within connectTimeoutMs and retries', async () => {
    // Accepts TCP connections and never answers the upgrade.
    const accepted: Socket[] = [];
    let dropped = 0;
    const tarpit = createServer((socket) => {
      accepted.push(socket);
      netSockets.push(socket);
      socket.on('close', () => (dropped += 1)).resume();
    });
    netServers.push(tarpit);
    tarpit.listen(0, '127.0.0.1');
    await once(tarpit, 'listening');
    const { port } = tarpit.address() as { port: number };
    const client = connect(`ws://127.0.0.1:${port}`, { connectTimeoutMs: 100 });
    await waitFor(() => accepted.length >= 2, 5000, 'a second connection');
    expect(client.errors[0]).toBe('connect timeout');
    expect(client.closes[0]).toMatchObject({ code: 1006, reason: 'connect timeout' });
    await waitFor(() => dropped >= 1, 5000, 'the first connection dropped');
  });

  it('close() is final: the server sees code and reason, nothing reconnects', async () => {
    const server = await startServer();
    const client = connect(server.url);
    await opened(client);
    const serverClosed = once(server.sockets[0] as WebSocket, 'close');
    client.socket.close(4001, 'bye');
    expect(client.socket.readyState).toBe(ReconnectingWebSocket.CLOSING);
    const [code, reason] = (await serverClosed) as [number, Buffer];
    expect([code, reason.toString()]).toEqual([4001, 'bye']);
    await waitFor(() => client.closes.length === 1);
    expect(client.closes[0]).toMatchObject({
      code: 4001,
      readyState: ReconnectingWebSocket.CLOSED,
    });
    expect(() => client.socket.send('x')).toThrow(/closed for good/);
    expect(() => client.socket.reconnect()).toThrow(ReconnectingError);
    // A later client connects; the closed one never came back meanwhile.
    await opened(connect(server.url));
    expect(server.sockets).toHaveLength(2);
  });

  it('close() while waiting to retry ends at once with a final close', async () => {
    const port = await deadPort();
    const client = connect(`ws://127.0.0.1:${port}`, { baseMs: 60_000, capMs: 60_000 });
    await waitFor(() => client.closes.length === 1);
    client.socket.close();
    expect(client.socket.readyState).toBe(ReconnectingWebSocket.CLOSED);
    expect(client.closes.at(-1)).toMatchObject({ code: 1005, readyState: 3 });
    expect(client.closes).toHaveLength(2);
  });
});

describe('ReconnectingWebSocket heartbeat', () => {
  const heartbeat = { intervalMs: 50, timeoutMs: 100 };

  it('keeps a link whose server answers the probes, and swallows the pongs', async () => {
    const server = await startServer();
    // A generous timeout: a loaded test machine must not make a pong late.
    const client = connect(server.url, { heartbeat: { intervalMs: 50, timeoutMs: 1000 } });
    await opened(client);
    await waitFor(() => server.pings >= 4, 5000, 'four pings');
    expect(client.closes).toEqual([]);
    expect(client.messages).toEqual([]);
    expect(server.sockets).toHaveLength(1);
  });

  it('counts any incoming message as life', async () => {
    const server = await startServer();
    server.isSilent = true;
    // Only a gap of 250 ms between two ticks could end the link: a dead one would be gone
    // within 250 ms of the first probe.
    const client = connect(server.url, { heartbeat: { intervalMs: 50, timeoutMs: 200 } });
    await opened(client);
    intervals.push(setInterval(() => server.sockets[0]?.send('tick'), 20));
    await waitFor(() => client.messages.length >= 30, 5000, 'thirty ticks');
    expect(client.closes).toEqual([]);
    expect(server.sockets).toHaveLength(1);
  });

  it('detects a server that stays connected but goes silent, and reconnects', async () => {
    const server = await startServer();
    const client = connect(server.url, { heartbeat });
    await opened(client);
    server.isSilent = true;
    await opened(client, 2);
    expect(client.closes[0]).toMatchObject({ code: 1006, reason: 'heartbeat timeout' });
    expect(client.errors).toEqual(['heartbeat timeout']);
    expect(server.pings).toBeGreaterThanOrEqual(1);
    // The dead link was dropped at once, not left to a closing handshake.
    await waitFor(() => server.sockets[0]?.readyState === WebSocket.CLOSED, 5000, 'drop');
  });
});
