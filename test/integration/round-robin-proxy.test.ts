import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type RoundRobinProxy, startRoundRobinProxy } from '../support/round-robin-proxy.js';
import { waitFor } from '../support/wait.js';

/**
 * The test load balancer itself (`test/support/round-robin-proxy.ts`): requests, not
 * connections, go round the nodes; bodies and streams pass through as they come; upgrades are
 * piped; `dropAll` cuts everything open.
 */

interface Node {
  readonly server: http.Server;
  readonly port: number;
  /** Each node's answer to `/stream`: written by the test, chunk by chunk. */
  readonly streams: http.ServerResponse[];
}

const nodes: Node[] = [];
const proxies: RoundRobinProxy[] = [];

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  for (const node of nodes.splice(0)) {
    node.server.closeAllConnections();
    await new Promise<void>((resolve) => node.server.close(() => resolve()));
  }
});

/** A node that answers who it is, echoes bodies, streams on `/stream` and greets WebSockets. */
async function startNode(index: number): Promise<Node> {
  const streams: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(`node ${index}\n`);
      streams.push(res);
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ node: index, method: req.method, url: req.url, body }));
    });
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(`node ${index} ${req.url}`);
    ws.on('message', (data) => ws.send(`echo ${data.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const node = { server, port: (server.address() as AddressInfo).port, streams };
  nodes.push(node);
  return node;
}

async function startCluster(count = 3): Promise<RoundRobinProxy> {
  const started: Node[] = [];
  for (let i = 0; i < count; i++) started.push(await startNode(i));
  const proxy = await startRoundRobinProxy(
    started.map(({ port }) => ({ host: '127.0.0.1', port })),
  );
  proxies.push(proxy);
  return proxy;
}

function openWs(url: string): Promise<{ ws: WebSocket; messages: string[] }> {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(data.toString()));
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

describe('round-robin proxy', () => {
  it('sends each request to the next node, even over one keep-alive connection', async () => {
    const proxy = await startCluster();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) {
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get(`${proxy.url}/who?i=${i}`, { agent }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      answers.push((JSON.parse(body) as { node: number }).node);
    }
    agent.destroy();
    expect(answers).toEqual([0, 1, 2, 0, 1, 2]);
    expect(proxy.servedBy()).toEqual([2, 2, 2]);
    expect(proxy.routed.map(({ url }) => url)).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => `/who?i=${i}`),
    );
  });

  it('passes request bodies and answers through (fetch)', async () => {
    const proxy = await startCluster(2);
    const first = await fetch(`${proxy.url}/send`, { method: 'POST', body: '{"n":1}' });
    const second = await fetch(`${proxy.url}/send`, { method: 'POST', body: '{"n":2}' });
    expect(await first.json()).toEqual({ node: 0, method: 'POST', url: '/send', body: '{"n":1}' });
    expect(await second.json()).toEqual({ node: 1, method: 'POST', url: '/send', body: '{"n":2}' });
  });

  it('streams each chunk as the node writes it, unbuffered', async () => {
    const proxy = await startCluster(1);
    const response = await fetch(`${proxy.url}/stream`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe('node 0\n');
    nodes[0]!.streams[0]!.write('second\n');
    expect(decoder.decode((await reader.read()).value)).toBe('second\n');
    nodes[0]!.streams[0]!.end('last\n');
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += decoder.decode(chunk.value);
    }
    expect(rest).toBe('last\n');
  });

  it('pipes WebSocket upgrades to the next node in turn', async () => {
    const proxy = await startCluster();
    const wsUrl = `${proxy.url.replace('http', 'ws')}/rt/ws`;
    const sockets = [await openWs(wsUrl), await openWs(wsUrl), await openWs(wsUrl)];
    for (const [i, { ws, messages }] of sockets.entries()) {
      ws.send(`hello ${i}`);
      await waitFor(() => messages.length === 2, 5000, `2 messages on socket ${i}`);
      expect(messages).toEqual([`node ${i} /rt/ws`, `echo hello ${i}`]);
    }
    expect(proxy.servedBy((routed) => routed.kind === 'upgrade')).toEqual([1, 1, 1]);
    for (const { ws } of sockets) ws.terminate();
  });

  it('cuts every open stream and socket on dropAll; new ones go on round the nodes', async () => {
    const proxy = await startCluster(2);
    const { ws } = await openWs(`${proxy.url.replace('http', 'ws')}/x`);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const response = await fetch(`${proxy.url}/stream`);
    const reader = response.body!.getReader();
    await reader.read();
    proxy.dropAll();
    await closed;
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return 'ended';
      })(),
    ).rejects.toThrow();
    // The node sees its end of the stream go too.
    await waitFor(() => nodes[1]!.streams[0]!.destroyed, 5000, 'the node stream to close');
    const after = await fetch(`${proxy.url}/who`);
    expect(((await after.json()) as { node: number }).node).toBe(0);
    expect(proxy.routed.map(({ node, kind }) => [node, kind])).toEqual([
      [0, 'upgrade'],
      [1, 'request'],
      [0, 'request'],
    ]);
  });
});
