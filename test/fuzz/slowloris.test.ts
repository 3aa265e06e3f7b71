import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Hub, createHub } from '../../src/server/index.js';
import { TestEventStream } from '../support/sse-client.js';
import { sleep, waitFor } from '../support/wait.js';
import { connectWs, subscribe } from '../support/ws-client.js';
import { announceFuzzSettings } from './fuzz-config.js';

/**
 * Slow clients (slowloris): a request head trickled byte by byte, a connection that sends
 * nothing, a body that never ends. The hub's limits cut each one with a 408 long before
 * Node's defaults (60 s for headers, 300 s for the whole request), while a normal client
 * keeps being served, and while streams that are meant to last (SSE, held polls, WebSockets)
 * are not cut: the limits are about receiving a request, not about answering it.
 */

beforeAll(() => announceFuzzSettings());

/** Small limits so that the test runs in seconds; Node checks them every 100 ms here. */
const LIMITS = { headersTimeoutMs: 500, requestTimeoutMs: 1000, maxPollTimeoutMs: 5000 } as const;
/** Node's own defaults, for the record: what a client would get without the hub's limits. */
const NODE_HEADERS_TIMEOUT_MS = 60_000;
/** How long a cut may take past its limit here: the 100 ms check interval plus slack. */
const CUT_DEADLINE_MS = 4000;

let server: http.Server;
let hub: Hub;
let url: string;
let port: number;
const attackers: net.Socket[] = [];
const cleanups: Array<() => void> = [];

beforeEach(async () => {
  hub = createHub({
    logger: { info() {}, warn() {}, error() {} },
    limits: LIMITS,
  });
  server = http.createServer({ connectionsCheckingInterval: 100 });
  hub.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  port = (server.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}`;
});

afterEach(async () => {
  for (const socket of attackers.splice(0)) socket.destroy();
  for (const cleanup of cleanups.splice(0)) cleanup();
  await hub.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A raw client that writes `script` on its own pace and records what the server does. */
interface Attacker {
  readonly socket: net.Socket;
  readonly startedAt: number;
  received: string;
  closedAt: number | undefined;
}

function attack(write: (socket: net.Socket) => void): Attacker {
  const socket = net.connect(port, '127.0.0.1');
  attackers.push(socket);
  const attacker: Attacker = { socket, startedAt: Date.now(), received: '', closedAt: undefined };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    attacker.received += chunk;
  });
  socket.on('close', () => {
    attacker.closedAt = Date.now();
  });
  socket.on('error', () => {});
  socket.once('connect', () => write(socket));
  return attacker;
}

/** Writes `text` one byte every `everyMs`, then `filler` forever, until the socket goes. */
function trickle(socket: net.Socket, text: string, everyMs = 50, filler = 'a'): void {
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) {
      clearInterval(timer);
      return;
    }
    socket.write(at < text.length ? (text[at++] as string) : filler);
  }, everyMs);
  cleanups.push(() => clearInterval(timer));
}

const slowHead = (socket: net.Socket) =>
  trickle(socket, 'GET /rt/poll?channel=a HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
const silent = () => {};
const slowBody = (socket: net.Socket) => {
  socket.write(
    'POST /rt/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'Content-Length: 10000\r\n\r\n',
  );
  trickle(socket, '{"channel":"a","data":"', 50, 'x');
};
const slowChunkedBody = (socket: net.Socket) => {
  socket.write(
    'POST /rt/publish/a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n',
  );
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write('1\r\nx\r\n');
  }, 50);
  cleanups.push(() => clearInterval(timer));
};

/** Waits for the server to close the attacker; returns how long it stayed connected. */
async function expectCutWith408(attacker: Attacker, limitMs: number): Promise<number> {
  await waitFor(
    () => attacker.closedAt !== undefined,
    CUT_DEADLINE_MS + limitMs,
    'the server to cut the slow client',
  );
  const lifetime = (attacker.closedAt as number) - attacker.startedAt;
  expect(attacker.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  // Cut by the limit itself (not earlier), and far sooner than Node's defaults.
  expect(lifetime).toBeGreaterThanOrEqual(limitMs - 50);
  expect(lifetime).toBeLessThan(NODE_HEADERS_TIMEOUT_MS);
  return lifetime;
}

describe('hub.attach', () => {
  it('sets the server timeouts from the hub limits', () => {
    expect(server.headersTimeout).toBe(LIMITS.headersTimeoutMs);
    expect(server.requestTimeout).toBe(LIMITS.requestTimeoutMs);
  });

  it('never raises a stricter timeout the server already had', async () => {
    const strict = http.createServer({ requestTimeout: 700, headersTimeout: 300 });
    createHub({
      logger: { info() {}, warn() {}, error() {} },
      limits: LIMITS,
    }).attach(strict);
    expect(strict.headersTimeout).toBe(300);
    expect(strict.requestTimeout).toBe(700);
  });
});

describe('slow clients', () => {
  it('cuts a request head sent byte by byte, never finished, with 408 within headersTimeoutMs', async () => {
    await expectCutWith408(attack(slowHead), LIMITS.headersTimeoutMs);
  });

  it('cuts a connection that sends nothing at all within headersTimeoutMs', async () => {
    await expectCutWith408(attack(silent), LIMITS.headersTimeoutMs);
  });

  it('cuts a POST /rt/send whose body trickles forever within requestTimeoutMs', async () => {
    await expectCutWith408(attack(slowBody), LIMITS.requestTimeoutMs);
  });

  it('cuts a chunked POST /rt/publish body that never ends within requestTimeoutMs', async () => {
    await expectCutWith408(attack(slowChunkedBody), LIMITS.requestTimeoutMs);
  });

  it('keeps serving normal clients during the attack, and frees every attacker', async () => {
    const crowd = Array.from({ length: 30 }, (_, i) =>
      attack([slowHead, silent, slowBody, slowChunkedBody][i % 4] as (socket: net.Socket) => void),
    );
    await sleep(100);
    // A WebSocket, an SSE stream and a poll, all served while the crowd holds its sockets.
    const socket = await connectWs(`ws://127.0.0.1:${port}/rt/ws`);
    cleanups.push(() => socket.close());
    await subscribe(socket, ['news']);
    const stream = await TestEventStream.open(`${url}/rt/sse?channel=news`);
    cleanups.push(() => stream.close());
    await stream.waitForType('subscribed', 1);
    const publish = await fetch(`${url}/rt/publish/news`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"n":1}',
    });
    expect(publish.status).toBe(201);
    const { id } = (await publish.json()) as { id: string };
    await expect(
      socket.next((frame) => typeof frame === 'object' && frame.type === 'message'),
    ).resolves.toMatchObject({ id, data: { n: 1 } });
    await stream.waitForType('message', 1);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    // Every attacker is cut, each with a 408.
    await waitFor(
      () => crowd.every((attacker) => attacker.closedAt !== undefined),
      CUT_DEADLINE_MS + LIMITS.requestTimeoutMs,
      'every slow client to be cut',
    );
    for (const attacker of crowd) expect(attacker.received).toMatch(/^HTTP\/1\.1 408 /);
    // And the normal clients are still connected.
    expect(socket.closeCode).toBeUndefined();
    expect(stream.ended).toBe(false);
    expect(hub.stats().connections).toMatchObject({ websocket: 1, sse: 1 });
  });

  it('never cuts an SSE stream, a held long poll or a WebSocket that outlive requestTimeoutMs', async () => {
    const stream = await TestEventStream.open(`${url}/rt/sse?channel=long`);
    cleanups.push(() => stream.close());
    await stream.waitForType('subscribed', 1);
    const socket = await connectWs(`ws://127.0.0.1:${port}/rt/ws`);
    cleanups.push(() => socket.close());
    await subscribe(socket, ['long']);
    const subscribedAt = Date.now();
    // A long poll held well past requestTimeoutMs, on a keep-alive connection.
    const poll = fetch(`${url}/rt/poll?channel=long&timeout=4000`).then(async (response) => ({
      status: response.status,
      body: (await response.json()) as { messages: Array<{ data: unknown }> },
    }));
    await sleep(LIMITS.requestTimeoutMs + 600);
    const envelope = await hub.publish('long', 'after the request timeout');
    const answer = await poll;
    expect(Date.now() - subscribedAt).toBeGreaterThan(LIMITS.requestTimeoutMs);
    expect(answer.status).toBe(200);
    expect(answer.body.messages.map((message) => message.data)).toEqual([
      'after the request timeout',
    ]);
    const [event] = await stream.waitForType('message', 1);
    expect(event?.id).toBe(envelope.id);
    expect(stream.ended).toBe(false);
    await expect(
      socket.next((frame) => typeof frame === 'object' && frame.type === 'message'),
    ).resolves.toMatchObject({ id: envelope.id });
    expect(socket.closeCode).toBeUndefined();
  });
});
