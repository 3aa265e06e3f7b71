import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

// The proxy is a test helper, but failure tests lean on it: these prove each mode does what
// its name says, over real sockets on both sides.

/** An http server (with a WebSocket echo at /ws) that records what reaches it. */
interface Upstream {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Paths of the requests it received. */
  readonly requests: string[];
  upgrades: number;
  /** Server-side sockets, open or closed. */
  readonly sockets: net.Socket[];
  /** Responses of `/stream`, held open. */
  readonly streams: http.ServerResponse[];
}

/** A bare TCP server that records the bytes it receives and keeps its sockets. */
interface RawUpstream {
  readonly port: number;
  readonly sockets: net.Socket[];
  received: string;
}

const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function startUpstream(name = 'upstream'): Promise<Upstream> {
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer((req, res) => {
    upstream.requests.push(req.url ?? '');
    if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('first\n');
      upstream.streams.push(res);
    } else if (req.url === '/echo') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      req.pipe(res);
    } else {
      res.end(`hello from ${name}`);
    }
  });
  server.on('connection', (socket) => upstream.sockets.push(socket));
  server.on('upgrade', (req, socket, head) => {
    upstream.upgrades += 1;
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (data) => ws.send(data)));
  });
  const port = await listen(server);
  const upstream: Upstream = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    requests: [],
    upgrades: 0,
    sockets: [],
    streams: [],
  };
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    for (const socket of upstream.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return upstream;
}

async function startRawUpstream(): Promise<RawUpstream> {
  const sockets: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw.received += chunk));
    socket.on('error', () => {});
  });
  const raw: RawUpstream = { port: await listen(server), sockets, received: '' };
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return raw;
}

async function proxyTo(target: Parameters<typeof startTcpProxy>[0]): Promise<TcpProxy> {
  const proxy = await startTcpProxy(target);
  cleanups.push(() => proxy.close());
  return proxy;
}

function local(port: number) {
  return { host: '127.0.0.1', port };
}

/** A GET on a connection of its own (no agent), bounded by `timeoutMs`. */
function get(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      url,
      { agent: false, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    request.on('error', reject);
  });
}

/** A raw TCP client that records what it receives and whether it closed. */
function rawClient(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  const state = { socket, received: '', ended: false, closed: false };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (state.received += chunk));
  socket.on('end', () => (state.ended = true));
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => {});
  cleanups.push(() => void socket.destroy());
  return state;
}

/** A streaming GET whose chunks are kept as they arrive; `error` is set when it breaks. */
function openStream(url: string) {
  const state = { status: 0, body: '', error: undefined as Error | undefined };
  const request = http.get(url, { agent: false }, (res) => {
    state.status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (state.body += chunk));
    res.on('error', (error) => (state.error = error));
  });
  request.on('error', (error) => (state.error = error));
  cleanups.push(() => void request.destroy());
  return state;
}

/** Opens a WebSocket; resolves it once open, or the status of a refused upgrade. */
function openWs(url: string): Promise<WebSocket | number> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (request, res) => {
      resolve(res.statusCode ?? 0);
      request.destroy();
    });
    ws.once('close', () => reject(new Error('closed before open')));
  });
}

function wsUrl(proxy: TcpProxy): string {
  return `ws://127.0.0.1:${proxy.port}/ws`;
}

async function echoOnce(ws: WebSocket, text: string): Promise<string> {
  const answer = new Promise<string>((resolve) => ws.once('message', (data) => resolve(`${data}`)));
  ws.send(text);
  return answer;
}

/**
 * Silence can only be shown over a bounded time: fails if `check` holds within `ms`. Each
 * use first proves that the same path carried bytes before, so a pass is not a slow link.
 */
async function expectSilenceFor(ms: number, check: () => boolean, what: string): Promise<void> {
  await expect(waitFor(check, ms, what)).rejects.toThrow(/timed out/);
}

describe('startTcpProxy: forward', () => {
  it('forwards an HTTP request and its answer, on 127.0.0.1 at an ephemeral port', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    expect(proxy.url).toBe(`http://127.0.0.1:${proxy.port}`);
    expect(proxy.port).not.toBe(upstream.port);
    expect(proxy.mode).toBe('forward');
    await expect(get(`${proxy.url}/hello`)).resolves.toEqual({
      status: 200,
      body: 'hello from upstream',
    });
    expect(upstream.requests).toEqual(['/hello']);
  });

  it('carries 4 MiB each way intact (backpressure included)', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    const body = randomBytes(4 * 1024 * 1024);
    const answer = await fetch(`${proxy.url}/echo`, { method: 'POST', body });
    expect(answer.status).toBe(200);
    expect(Buffer.from(await answer.arrayBuffer()).equals(body)).toBe(true);
  });

  it('forwards a WebSocket upgrade and its frames', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    const ws = await openWs(wsUrl(proxy));
    expect(ws).toBeInstanceOf(WebSocket);
    await expect(echoOnce(ws as WebSocket, 'hi')).resolves.toBe('hi');
    expect(upstream.upgrades).toBe(1);
    expect(proxy.connectionCount).toBe(1);
  });

  it('passes a half-close on and still carries the answer back', async () => {
    const raw = await startRawUpstream();
    const proxy = await proxyTo(local(raw.port));
    const client = rawClient(proxy.port);
    client.socket.end('request, then FIN');
    await waitFor(() => raw.received === 'request, then FIN', 2000, 'the request');
    const [server] = raw.sockets as [net.Socket];
    await waitFor(() => server.readableEnded, 2000, 'the FIN upstream');
    server.end('answer after the FIN');
    await waitFor(() => client.closed, 2000, 'the client to close');
    expect(client.received).toBe('answer after the FIN');
    await waitFor(() => proxy.connectionCount === 0, 2000, 'the link to go');
  });

  it('asks a target function at every new connection', async () => {
    const one = await startUpstream('one');
    const two = await startUpstream('two');
    let current = one;
    const proxy = await proxyTo(() => local(current.port));
    expect((await get(proxy.url)).body).toBe('hello from one');
    current = two;
    expect((await get(proxy.url)).body).toBe('hello from two');
    expect([one.requests, two.requests]).toEqual([['/'], ['/']]);
  });

  it('closes the client connection when the target refuses', async () => {
    const gone = net.createServer();
    const port = await listen(gone);
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const proxy = await proxyTo(local(port));
    await expect(get(proxy.url)).rejects.toThrow(/socket hang up|ECONNRESET/);
    await waitFor(() => proxy.connectionCount === 0, 2000, 'the link to go');
  });
});

describe('startTcpProxy: blackhole', () => {
  it('makes a new request hang until its timeout while the server answers direct requests', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    expect((await get(proxy.url)).status).toBe(200);
    proxy.setMode('blackhole');
    expect(proxy.mode).toBe('blackhole');
    await expect(get(proxy.url, 300)).rejects.toThrow(/aborted/i);
    // Accepted by the proxy, never connected upstream: the server saw one connection only.
    expect(upstream.sockets).toHaveLength(1);
    expect(upstream.requests).toEqual(['/']);
    await expect(get(upstream.url)).resolves.toMatchObject({ status: 200 });
  });

  it('silences an open connection both ways, FINs included, and keeps both sockets open', async () => {
    const raw = await startRawUpstream();
    const proxy = await proxyTo(local(raw.port));
    const client = rawClient(proxy.port);
    client.socket.write('up-1');
    await waitFor(() => raw.received === 'up-1', 2000, 'bytes upstream');
    const [server] = raw.sockets as [net.Socket];
    server.write('down-1');
    await waitFor(() => client.received === 'down-1', 2000, 'bytes downstream');

    proxy.setMode('blackhole');
    client.socket.write('up-2');
    server.write('down-2');
    server.end();
    await expectSilenceFor(
      300,
      () => raw.received !== 'up-1' || client.received !== 'down-1',
      'a byte',
    );
    expect(client.ended).toBe(false);
    expect(client.closed).toBe(false);
    expect(server.destroyed).toBe(false);
    expect(proxy.connectionCount).toBe(1);

    // Back to forward: the blackholed link stays silent (its bytes were lost), new links pass.
    proxy.setMode('forward');
    client.socket.write('up-3');
    const fresh = rawClient(proxy.port);
    fresh.socket.write('fresh');
    await waitFor(() => raw.received.includes('fresh'), 2000, 'the new link to forward');
    expect(raw.received).toBe('up-1fresh');
    expect(proxy.connectionCount).toBe(2);
  });

  it('does not tell the server when the client leaves a blackholed link', async () => {
    const raw = await startRawUpstream();
    const proxy = await proxyTo(local(raw.port));
    const client = rawClient(proxy.port);
    client.socket.write('hello');
    await waitFor(() => raw.received === 'hello', 2000, 'bytes upstream');
    const [server] = raw.sockets as [net.Socket];
    proxy.setMode('blackhole');
    client.socket.destroy();
    await waitFor(() => client.closed, 2000, 'the client to close');
    await expectSilenceFor(300, () => server.readableEnded || server.destroyed, 'a FIN upstream');
    // The server's side is still held: it counts until it closes or dropAll().
    expect(proxy.connectionCount).toBe(1);
    proxy.dropAll();
    await waitFor(() => server.destroyed, 2000, 'the server socket to close');
    await waitFor(() => proxy.connectionCount === 0, 2000, 'the link to go');
  });
});

describe('startTcpProxy: refuse-upgrades', () => {
  it('answers 403 to a WebSocket upgrade, which never reaches the server', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    proxy.setMode('refuse-upgrades');
    await expect(openWs(wsUrl(proxy))).resolves.toBe(403);
    // Not even a connection: the proxy decides before it dials.
    expect(upstream.sockets).toHaveLength(0);
    await waitFor(() => proxy.connectionCount === 0, 2000, 'the refused link to close');
    // The same upgrade passes once the proxy forwards again.
    proxy.setMode('forward');
    const ws = await openWs(wsUrl(proxy));
    await expect(echoOnce(ws as WebSocket, 'through')).resolves.toBe('through');
    expect(upstream.upgrades).toBe(1);
  });

  it('forwards plain GETs, and streams', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    proxy.setMode('refuse-upgrades');
    await expect(get(`${proxy.url}/hello`)).resolves.toEqual({
      status: 200,
      body: 'hello from upstream',
    });
    const stream = openStream(`${proxy.url}/stream`);
    await waitFor(() => stream.body === 'first\n', 2000, 'the first chunk');
    upstream.streams[0]?.write('second\n');
    await waitFor(() => stream.body === 'first\nsecond\n', 2000, 'the second chunk');
  });

  it('reads a head split over writes, with any case, and answers 403 with Connection: close', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    proxy.setMode('refuse-upgrades');
    const client = rawClient(proxy.port);
    client.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUPGRADE: h2c, ');
    client.socket.write('WebSocket\r\nSec-WebSocket-Version: 13\r\n');
    client.socket.write('\r\n');
    await waitFor(() => client.ended, 2000, 'the refusal to end the connection');
    await waitFor(() => proxy.connectionCount === 0, 2000, 'the refused link to go');
    expect(client.received).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(client.received).toContain('\r\nConnection: close\r\n');
    expect(upstream.sockets).toHaveLength(0);
  });
});

describe('startTcpProxy: dropAll', () => {
  it('resets every open connection on both sides, and new connections still pass', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    const stream = openStream(`${proxy.url}/stream`);
    await waitFor(() => stream.body === 'first\n', 2000, 'the stream to start');
    const ws = (await openWs(wsUrl(proxy))) as WebSocket;
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    expect(proxy.connectionCount).toBe(2);

    proxy.dropAll();
    expect(await wsClosed).toBe(1006);
    await waitFor(() => stream.error, 2000, 'the stream to break');
    await waitFor(() => upstream.sockets.every((s) => s.destroyed), 2000, 'server sockets closed');
    await waitFor(() => proxy.connectionCount === 0, 2000, 'no link left');
    await expect(get(`${proxy.url}/hello`)).resolves.toMatchObject({ status: 200 });
  });
});

describe('startTcpProxy: close', () => {
  it('destroys every socket, stops listening, and can be called twice', async () => {
    const upstream = await startUpstream();
    const proxy = await proxyTo(local(upstream.port));
    const stream = openStream(`${proxy.url}/stream`);
    await waitFor(() => stream.body === 'first\n', 2000, 'the stream to start');
    await Promise.all([proxy.close(), proxy.close()]);
    await proxy.close();
    await waitFor(() => stream.error, 2000, 'the stream to break');
    await waitFor(() => upstream.sockets.every((s) => s.destroyed), 2000, 'server sockets closed');
    expect(proxy.connectionCount).toBe(0);
    await expect(get(proxy.url)).rejects.toThrow(/ECONNREFUSED/);
  });
});
