import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  Client,
  ClientError,
  type ClientOptions,
  type Envelope,
  type TransportName,
  type WebSocketConstructor,
  createClient,
  isTidewireError,
} from '../../src/client/index.js';
import { type Hub, type HubOptions, createHub } from '../../src/server/index.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * The client's API as an application sees it, against a real hub on 127.0.0.1: what
 * `publish` resolves and rejects with, the outbox, routing of envelopes, `Client.shared`,
 * `destroy`, `maxRetries`, tokens and options. Mostly over WebSocket; over the HTTP
 * transports where the client takes another path (`POST /rt/send`, request headers).
 * Delivery, resume, fallback and failure of the transports are tested in
 * `client-delivery.test.ts` and `client-failures.test.ts`.
 */

const WS = WebSocket as unknown as WebSocketConstructor;
const ALL_TRANSPORTS: TransportName[] = ['websocket', 'sse', 'long-polling', 'polling'];
const quietLogger = { info() {}, warn() {}, error() {} };

const clients: Client[] = [];
const closers: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const close of closers.splice(0).reverse()) await close();
});

/** A client with test-friendly timings (fast backoff and short polls); destroyed after each test. */
function connect(url: string, options: ClientOptions = {}): Client {
  const client = createClient(url, {
    WebSocket: WS,
    transports: ['websocket'],
    reconnect: { baseMs: 20, capMs: 100 },
    pollIntervalMs: 50,
    ...options,
  });
  clients.push(client);
  return client;
}

function shared(url: string, options: ClientOptions = {}): Client {
  const client = Client.shared(url, { WebSocket: WS, transports: ['websocket'], ...options });
  clients.push(client);
  return client;
}

async function hubWith(options: HubOptions = {}, port = 0): Promise<TestHub> {
  const hub = await startHub(options, port);
  closers.push(() => hub.close());
  return hub;
}

/** What clients published through the hub, in the order it stored them. */
function received(hub: Hub): Envelope[] {
  const envelopes: Envelope[] = [];
  hub.onMessage((_connection, envelope) => envelopes.push(envelope));
  return envelopes;
}

/** TCP connections the hub's server accepted, and HTTP requests plus upgrades it got. */
function traffic(testHub: TestHub): { connections: number; requests: number } {
  const counts = { connections: 0, requests: 0 };
  testHub.server.on('connection', () => counts.connections++);
  testHub.server.on('request', () => counts.requests++);
  testHub.server.on('upgrade', () => counts.requests++);
  return counts;
}

async function opened(client: Client, transport?: TransportName): Promise<void> {
  await waitFor(
    () => client.readyState === Client.OPEN && (!transport || client.transport === transport),
    5000,
    `the client open${transport ? ` over ${transport}` : ''}`,
  );
}

/** Events a client emitted, as `name` or `name:detail`. */
function lifecycle(client: Client): string[] {
  const seen: string[] = [];
  client.on('open', (event) => seen.push(`open:${event.transport}`));
  client.on('close', (event) => seen.push(`close:${event.reason}`));
  client.on('reconnecting', (event) => seen.push(`reconnecting:${event.attempt}`));
  client.on('error', (error) => seen.push(`error:${codeOf(error)}`));
  client.on('gap', (event) => seen.push(`gap:${event.channel}`));
  return seen;
}

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/** Resolves with what `promise` rejected with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

function expectTidewireError(error: unknown, code: string): void {
  expect(isTidewireError(error), String(error)).toBe(true);
  expect(codeOf(error)).toBe(code);
}

function expectClientError(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(ClientError);
  expect(codeOf(error)).toBe(code);
}

/** A port nothing listens on (it did a moment ago). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface SeenRequest {
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  /** The whole request target, query included. */
  readonly target: string;
  readonly authorization: string | undefined;
  readonly at: number;
}

/**
 * A hub behind a plain `node:http` server that records every request head before handing it
 * to `hub.handler()` (upgrades to the hub, through a server it is attached to), and that can
 * refuse requests or hold `POST /rt/send` for a while.
 */
interface ObservedHub {
  readonly hub: Hub;
  readonly url: string;
  readonly requests: SeenRequest[];
  /** Answers the next `count` requests or upgrades with 503. */
  refuseNext(count: number): void;
  /** Holds every `POST` from now on, until the returned function lets them through. */
  holdPosts(): () => void;
  /** Resets every TCP connection: a network blip. */
  dropConnections(): void;
}

async function startObservedHub(options: HubOptions = {}): Promise<ObservedHub> {
  const hub = createHub({ logger: quietLogger, ...options });
  const handle = hub.handler();
  // Never listens: it only routes the upgrades it is handed to the hub.
  const upgrades = http.createServer();
  hub.attach(upgrades);
  const requests: SeenRequest[] = [];
  let refusals = 0;
  let held: Array<() => void> | undefined;
  const record = (req: http.IncomingMessage) => {
    const target = req.url ?? '/';
    requests.push({
      method: req.method ?? '',
      path: target.split('?')[0] as string,
      target,
      authorization: req.headers.authorization,
      at: Date.now(),
    });
  };
  const server = http.createServer((req, res) => {
    record(req);
    if (refusals > 0) {
      refusals--;
      const body = JSON.stringify({ code: 'SHUTTING_DOWN', message: 'refused by the test' });
      res.writeHead(503, { 'Content-Type': 'application/json', Connection: 'close' }).end(body);
    } else if (held && req.method === 'POST') {
      held.push(() => handle(req, res));
    } else {
      handle(req, res);
    }
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    record(req);
    if (refusals > 0) {
      refusals--;
      socket.end(
        'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      );
    } else {
      upgrades.emit('upgrade', req, socket, head);
    }
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    await hub.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    hub,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    refuseNext(count) {
      refusals = count;
    },
    holdPosts() {
      held = [];
      return () => {
        const waiting = held ?? [];
        held = undefined;
        for (const go of waiting) go();
      };
    },
    dropConnections() {
      for (const socket of sockets) socket.resetAndDestroy();
    },
  };
}

/** The endpoint a transport's connection goes to. */
function endpointOf(transport: TransportName): string {
  return { websocket: '/rt/ws', sse: '/rt/sse', 'long-polling': '/rt/poll', polling: '/rt/poll' }[
    transport
  ];
}

describe('publish', () => {
  it.each(ALL_TRANSPORTS)(
    'resolves with the envelope the server acked, over %s',
    async (transport) => {
      const { url } = await hubWith();
      const client = connect(url, { transports: [transport] });
      const delivered: Envelope[] = [];
      await client.subscribe('room', (_data, envelope) => delivered.push(envelope)).ready;
      const before = Date.now();
      const envelope = await client.publish('room', { text: 'hi', n: [1, 2] }, { event: 'say' });
      expect(envelope).toEqual({
        id: expect.any(String),
        channel: 'room',
        event: 'say',
        data: { text: 'hi', n: [1, 2] },
        ts: expect.any(Number),
      });
      expect(envelope.ts).toBeGreaterThanOrEqual(before - 1000);
      expect(envelope.ts).toBeLessThanOrEqual(Date.now() + 1000);
      // The very envelope that subscribers get: same id, same time, same data.
      await waitFor(() => delivered.length === 1);
      expect(envelope).toStrictEqual(delivered[0]);
      const second = await client.publish('room', null);
      expect(second.event).toBe('message');
      expect(second.id).not.toBe(envelope.id);
    },
  );

  it.each(['websocket', 'long-polling'] as TransportName[])(
    'resolves with the data as the server stored it (JSON), over %s',
    async (transport) => {
      const { url } = await hubWith();
      const client = connect(url, { transports: [transport] });
      const delivered: Envelope[] = [];
      await client.subscribe('room', (_data, envelope) => delivered.push(envelope)).ready;
      const data = { when: new Date(0), gone: undefined, nan: Number.NaN, list: [undefined] };
      const envelope = await client.publish('room', data);
      await waitFor(() => delivered.length === 1);
      expect(envelope.data).toStrictEqual({
        when: '1970-01-01T00:00:00.000Z',
        nan: null,
        list: [null],
      });
      expect(envelope).toStrictEqual(delivered[0]);
      expect(await client.publish('room', undefined)).toMatchObject({ data: null });
    },
  );

  it('rejects reserved and invalid event names with BAD_EVENT, locally, sending nothing', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    const client = connect(testHub.url);
    await opened(client);
    const events = ['gap', 'subscribed', 'open', 'error', '', 'a\nb', 'nul\u0000', 'x'.repeat(129)];
    for (const event of events) {
      const error = await rejection(client.publish('a', 1, { event }));
      expectTidewireError(error, 'BAD_EVENT');
    }
    expectTidewireError(
      await rejection(client.publish('a', 1, { event: 7 as never })),
      'BAD_EVENT',
    );
    expect(client.outbox.size).toBe(0);
    // Also without any link: refused at once, not queued until a timeout.
    const offline = connect(testHub.url, { autoConnect: false });
    expectTidewireError(await rejection(offline.publish('a', 1, { event: 'gap' })), 'BAD_EVENT');
    expect(offline.outbox.size).toBe(0);
    // Had anything gone out, it would have been stored before this one (frames keep order).
    await client.publish('a', 'ok');
    expect(stored.map((envelope) => envelope.data)).toEqual(['ok']);
  });

  it('rejects invalid channel names with BAD_CHANNEL, locally', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    const client = connect(testHub.url);
    await opened(client);
    for (const channel of ['', 'has space', 'é', 'x'.repeat(129), 'a?b', 42 as never]) {
      expectTidewireError(await rejection(client.publish(channel, 1)), 'BAD_CHANNEL');
    }
    await client.publish('a', 'ok');
    expect(stored.map((envelope) => envelope.data)).toEqual(['ok']);
  });

  it.each(ALL_TRANSPORTS)(
    'rejects with PUBLISH_DISABLED on a hub that refuses client publishes, over %s',
    async (transport) => {
      const testHub = await hubWith({ allowClientPublish: false });
      const client = connect(testHub.url, { transports: [transport] });
      const events = lifecycle(client);
      const data: unknown[] = [];
      await client.subscribe('a', (value) => data.push(value)).ready;
      const error = await rejection(client.publish('a', 1));
      expectTidewireError(error, 'PUBLISH_DISABLED');
      expectTidewireError(await rejection(client.publish('a', 2)), 'PUBLISH_DISABLED');
      expect(client.outbox.size).toBe(0);
      // A refused message is no reason to drop the link.
      await testHub.hub.publish('a', 'from the server');
      await waitFor(() => data.length === 1);
      expect(client.readyState).toBe(Client.OPEN);
      expect(events).toEqual([`open:${transport}`]);
    },
  );

  it.each(ALL_TRANSPORTS)(
    'rejects with MESSAGE_TOO_LARGE when the server’s limit is lower than the client’s, over %s',
    async (transport) => {
      const testHub = await hubWith({ limits: { maxMessageBytes: 2000 } });
      const stored = received(testHub.hub);
      const client = connect(testHub.url, { transports: [transport], maxMessageBytes: 100_000 });
      await client.subscribe('a').ready;
      expectTidewireError(
        await rejection(client.publish('a', 'x'.repeat(5000))),
        'MESSAGE_TOO_LARGE',
      );
      // The client carries on (over WebSocket the server closed the socket: a new one).
      await expect(client.publish('a', 'small')).resolves.toMatchObject({ data: 'small' });
      expect(stored.map((envelope) => envelope.data)).toEqual(['small']);
    },
  );

  it('refuses a message over maxMessageBytes locally with MESSAGE_TOO_LARGE, never sending it', async () => {
    const testHub = await hubWith();
    const count = traffic(testHub);
    const stored = received(testHub.hub);
    const client = connect(testHub.url, { maxMessageBytes: 1000 });
    const events = lifecycle(client);
    await opened(client);
    const error = await rejection(client.publish('a', 'x'.repeat(2000)));
    expectTidewireError(error, 'MESSAGE_TOO_LARGE');
    expect(error.message).toMatch(/limit is 1000/);
    // The default limit is the hub's: 64 KiB.
    const byDefault = connect(testHub.url);
    await opened(byDefault);
    const big = await rejection(byDefault.publish('a', 'x'.repeat(70_000)));
    expectTidewireError(big, 'MESSAGE_TOO_LARGE');
    expect(big.message).toMatch(/limit is 65536/);
    expect(client.outbox.size + byDefault.outbox.size).toBe(0);
    expect(client.bufferedAmount + byDefault.bufferedAmount).toBe(0);
    await client.publish('a', 'small');
    await byDefault.publish('a', 'small too');
    expect(stored.map((envelope) => envelope.data)).toEqual(['small', 'small too']);
    // Nothing reached the server to make it close a socket.
    expect(count.connections).toBe(2);
    expect(events).toEqual(['open:websocket']);
  });
});

describe('the outbox', () => {
  it('rejects with OUTBOX_FULL at maxMessages while offline, and sends the rest in order', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    const client = connect(testHub.url, { autoConnect: false, outbox: { maxMessages: 3 } });
    const pending = Promise.all([1, 2, 3].map((n) => client.publish('a', n)));
    const error = await rejection(client.publish('a', 4));
    expectClientError(error, 'OUTBOX_FULL');
    expect(client.outbox.size).toBe(3);
    client.connect();
    const acked = await pending;
    expect(acked.map((envelope) => envelope.data)).toEqual([1, 2, 3]);
    expect(stored.map((envelope) => envelope.data)).toEqual([1, 2, 3]);
    // Acked messages free their place.
    await expect(client.publish('a', 5)).resolves.toMatchObject({ data: 5 });
  });

  it('rejects with OUTBOX_FULL at maxBytes while offline', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    // One message's size, as the outbox counts it.
    const meter = connect(testHub.url, { autoConnect: false });
    meter.publish('a', 'x'.repeat(40)).catch(() => {});
    const size = meter.outbox.bytes;
    expect(size).toBeGreaterThan(40);
    const client = connect(testHub.url, {
      autoConnect: false,
      outbox: { maxBytes: 2 * size + Math.floor(size * 0.8) },
    });
    const first = client.publish('a', 'x'.repeat(40));
    const second = client.publish('a', 'y'.repeat(40));
    const all = Promise.all([first, second]);
    expect(client.outbox.bytes).toBe(2 * size);
    expectClientError(await rejection(client.publish('a', 'z'.repeat(40))), 'OUTBOX_FULL');
    // A smaller one still fits.
    const third = client.publish('a', 'small');
    const sent = Promise.all([all, third]);
    const errors: unknown[] = [];
    client.on('error', (failure) => errors.push(failure));
    client.send('a', 'w'.repeat(40));
    await waitFor(() => errors.length === 1);
    expectClientError(errors[0], 'OUTBOX_FULL');
    client.connect();
    await sent;
    expect(stored.map((envelope) => envelope.data)).toEqual([
      'x'.repeat(40),
      'y'.repeat(40),
      'small',
    ]);
  });

  it('rejects with ACK_TIMEOUT a publish that waited offline too long, and never sends it', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    const client = connect(testHub.url, { autoConnect: false, publishTimeoutMs: 150 });
    const late = rejection(client.publish('a', 'late'));
    const lateToo = rejection(client.publish('a', 'late too', { timeoutMs: 100 }));
    const kept = client.publish('a', 'kept', { timeoutMs: 10_000 });
    expectClientError(await lateToo, 'ACK_TIMEOUT');
    expectClientError(await late, 'ACK_TIMEOUT');
    expect(client.outbox.size).toBe(1);
    client.connect();
    await kept;
    await client.publish('a', 'after');
    expect(stored.map((envelope) => envelope.data)).toEqual(['kept', 'after']);
  });

  it('reports its size and bytes (UTF-8) as bufferedAmount, and clear() rejects what waits', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    const client = connect(testHub.url, { autoConnect: false });
    expect([client.outbox.size, client.outbox.bytes, client.bufferedAmount]).toEqual([0, 0, 0]);
    const ascii = rejection(client.publish('a', 'eee'));
    const one = client.outbox.bytes;
    expect(one).toBeGreaterThan(3);
    expect(client.bufferedAmount).toBe(one);
    const accented = rejection(client.publish('a', 'ééé'));
    expect(client.outbox.size).toBe(2);
    // é is two bytes in UTF-8: three more bytes than "eee".
    expect(client.outbox.bytes).toBe(2 * one + 3);
    expect(client.bufferedAmount).toBe(2 * one + 3);
    client.outbox.clear();
    for (const error of await Promise.all([ascii, accented])) {
      expect(error).toBeInstanceOf(ClientError);
      expect(error.message).toMatch(/cleared/);
    }
    expect([client.outbox.size, client.outbox.bytes, client.bufferedAmount]).toEqual([0, 0, 0]);
    // Cleared means never sent; the client itself goes on.
    client.connect();
    await client.publish('a', 'after');
    expect(stored.map((envelope) => envelope.data)).toEqual(['after']);
    expect([client.outbox.size, client.bufferedAmount]).toEqual([0, 0]);
  });
});

describe('send', () => {
  it('publishes without waiting and reports failures as error events', async () => {
    const testHub = await hubWith();
    const stored = received(testHub.hub);
    const client = connect(testHub.url, { maxMessageBytes: 1000 });
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    await opened(client);
    expect(client.send('a', 'fine')).toBeUndefined();
    expect(() => client.send('bad channel', 1)).not.toThrow();
    client.send('a', 1, { event: 'gap' });
    client.send('a', 'x'.repeat(2000));
    await waitFor(() => errors.length === 3);
    expect(errors.map(codeOf)).toEqual(['BAD_CHANNEL', 'BAD_EVENT', 'MESSAGE_TOO_LARGE']);
    await client.publish('a', 'last');
    expect(stored.map((envelope) => envelope.data)).toEqual(['fine', 'last']);
    expect(errors).toHaveLength(3);
  });

  it.each(['websocket', 'sse'] as TransportName[])(
    'reports a refusal by the server as an error event, over %s',
    async (transport) => {
      const { url } = await hubWith({ allowClientPublish: false });
      const client = connect(url, { transports: [transport] });
      const errors: unknown[] = [];
      client.on('error', (error) => errors.push(error));
      client.send('a', 1);
      await waitFor(() => errors.length === 1);
      expectTidewireError(errors[0], 'PUBLISH_DISABLED');
    },
  );
});

describe('subscribe and register', () => {
  it('hands handlers (data, envelope)', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url);
    const calls: Array<[unknown, Envelope]> = [];
    await client.subscribe('prices', (data, envelope) => calls.push([data, envelope])).ready;
    const published = await testHub.hub.publish('prices', { price: 12.5 }, { event: 'tick' });
    await waitFor(() => calls.length === 1);
    expect(calls[0]).toEqual([{ price: 12.5 }, published]);
  });

  it('stops a handler on unsubscribe(), and the last one unsubscribes from the server', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url);
    const first: unknown[] = [];
    const second: unknown[] = [];
    const one = client.subscribe('a', (data) => first.push(data));
    const two = client.subscribe('a', (data) => second.push(data));
    await one.ready;
    await testHub.hub.publish('a', 1);
    await waitFor(() => first.length === 1 && second.length === 1);
    one.unsubscribe();
    await testHub.hub.publish('a', 2);
    await waitFor(() => second.length === 2);
    expect(first).toEqual([1]);
    expect(testHub.hub.stats().channels).toBe(1);
    two.unsubscribe();
    await waitFor(() => testHub.hub.stats().channels === 0, 5000, 'the server to drop the channel');
    // client.unsubscribe(channel) drops every handler at once.
    client.subscribe('b', () => {});
    await client.subscribe('b', () => {}).ready;
    client.unsubscribe('b');
    await waitFor(() => testHub.hub.stats().channels === 0);
  });

  it('rejects ready with the server’s code when the subscription is refused', async () => {
    const testHub = await hubWith({ limits: { maxSubscriptionsPerConnection: 1 } });
    const client = connect(testHub.url);
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    const data: unknown[] = [];
    await client.subscribe('a', (value) => data.push(value)).ready;
    const refused = client.subscribe('b', () => {});
    expectTidewireError(await rejection(refused.ready), 'TOO_MANY_SUBSCRIPTIONS');
    expect(errors.map(codeOf)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    await testHub.hub.publish('a', 'still here');
    await waitFor(() => data.length === 1);
    expect(client.readyState).toBe(Client.OPEN);
  });

  it('routes envelopes by event across channels with register(), until unregistered', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url);
    const all: unknown[] = [];
    client.subscribe('a', (data) => all.push(data));
    client.subscribe('b');
    const ticks: Array<[unknown, string]> = [];
    const tick = (data: unknown, envelope: Envelope) => ticks.push([data, envelope.channel]);
    const other: unknown[] = [];
    const stopTicks = client.register('tick', tick);
    client.register('other', (data) => other.push(data));
    await client.subscribe('a').ready;
    await client.subscribe('b').ready;
    const { hub } = testHub;
    await hub.publish('a', 1, { event: 'tick' });
    await hub.publish('b', 2, { event: 'tick' });
    await hub.publish('c', 3, { event: 'tick' });
    await hub.publish('a', 4, { event: 'other' });
    await hub.publish('a', 5);
    await waitFor(() => all.length === 3);
    expect(ticks).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    expect(other).toEqual([4]);

    stopTicks();
    client.unregister('other');
    await hub.publish('b', 6, { event: 'tick' });
    await hub.publish('a', 7, { event: 'other' });
    await hub.publish('a', 8);
    await waitFor(() => all.length === 5);
    expect(ticks).toHaveLength(2);
    expect(other).toEqual([4]);

    const again: unknown[] = [];
    const handler = (data: unknown) => again.push(data);
    client.register('tick', handler);
    client.register('tick', tick);
    client.unregister('tick', handler);
    await hub.publish('a', 9, { event: 'tick' });
    await waitFor(() => all.length === 6);
    expect(again).toEqual([]);
    expect(ticks.at(-1)).toEqual([9, 'a']);
  });

  it('keeps envelope events named close or reconnecting away from lifecycle listeners', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url);
    const lifecycleCalls: string[] = [];
    client.on('close', () => lifecycleCalls.push('close'));
    client.on('reconnecting', () => lifecycleCalls.push('reconnecting'));
    const routed: string[] = [];
    client.register('close', (data, envelope) => routed.push(`${envelope.event}:${data}`));
    client.register('reconnecting', (data, envelope) => routed.push(`${envelope.event}:${data}`));
    const all: unknown[] = [];
    await client.subscribe('a', (data) => all.push(data)).ready;
    await testHub.hub.publish('a', 'server', { event: 'close' });
    await testHub.hub.publish('a', 'server', { event: 'reconnecting' });
    const own = await client.publish('a', 'client', { event: 'close' });
    expect(own.event).toBe('close');
    await waitFor(() => all.length === 3);
    expect(routed).toEqual(['close:server', 'reconnecting:server', 'close:client']);
    expect(lifecycleCalls).toEqual([]);
    expect(client.readyState).toBe(Client.OPEN);
  });

  it('throws a TypeError pointing to register() for on() with an envelope event', () => {
    const client = connect('http://127.0.0.1:9', { autoConnect: false });
    const on = client.on.bind(client) as (event: string, listener: () => void) => unknown;
    for (const event of ['tick', 'message']) {
      expect(() => on(event, () => {})).toThrow(TypeError);
      expect(() => on(event, () => {})).toThrow(/register/);
    }
    for (const event of ['open', 'close', 'error', 'reconnecting', 'gap']) {
      expect(() => on(event, () => {})).not.toThrow();
    }
  });
});

describe('Client.shared', () => {
  it('returns one client per hub URL and base path', async () => {
    const one = await hubWith();
    const two = await hubWith();
    const options = { autoConnect: false };
    const client = shared(one.url, options);
    expect(shared(one.url, options)).toBe(client);
    expect(shared(`${one.url}/`, options)).toBe(client);
    expect(shared(one.url.replace('http:', 'ws:'), options)).toBe(client);
    expect(shared(one.url, { ...options, basePath: 'rt/' })).toBe(client);
    expect(shared(two.url, options)).not.toBe(client);
    expect(shared(one.url, { ...options, basePath: '/push' })).not.toBe(client);
  });

  it('keeps one server connection across mount, unmount and mount (React StrictMode)', async () => {
    const testHub = await hubWith();
    const count = traffic(testHub);
    const control = await hubWith();
    const options = { releaseDelayMs: 100 };
    const data: unknown[] = [];

    // Mount, cleanup, mount again, all in one turn as StrictMode does.
    const first = shared(testHub.url, options);
    const firstSubscription = first.subscribe('a', (value) => data.push(`first:${value}`));
    firstSubscription.unsubscribe();
    first.release();
    const client = shared(testHub.url, options);
    expect(client).toBe(first);
    const events = lifecycle(client);
    await client.subscribe('a', (value) => data.push(value)).ready;

    // The same once the link is up: an unmount and a quick remount keep it.
    client.release();
    expect(shared(testHub.url, options)).toBe(client);
    // A client released after ours, with the same delay: once it has closed, ours would have.
    const witness = shared(control.url, options);
    await opened(witness);
    witness.release();
    await waitFor(() => witness.readyState === Client.CLOSED);

    expect(client.readyState).toBe(Client.OPEN);
    expect(count.connections).toBe(1);
    expect(testHub.hub.stats().connections.websocket).toBe(1);
    await testHub.hub.publish('a', 1);
    await waitFor(() => data.length === 1);
    expect(data).toEqual([1]);
    expect(events).toEqual(['open:websocket']);
  });

  it('closes releaseDelayMs after the last release, not at the first', async () => {
    const testHub = await hubWith();
    const options = { releaseDelayMs: 200 };
    const client = shared(testHub.url, options);
    expect(shared(testHub.url, options)).toBe(client);
    await opened(client);
    client.release();
    const releasedAt = Date.now();
    client.release();
    expect(client.readyState).toBe(Client.OPEN);
    await waitFor(
      () => testHub.hub.stats().connections.websocket === 0,
      5000,
      'the server to see it go',
    );
    expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(190);
    expect(client.readyState).toBe(Client.CLOSED);
    expect(() => client.subscribe('a')).toThrow(/destroyed/);
    // Gone from the registry: the next call makes a new client.
    const next = shared(testHub.url, options);
    expect(next).not.toBe(client);
    await opened(next);
  });

  it('forgets a client destroyed directly', async () => {
    const testHub = await hubWith();
    const client = shared(testHub.url);
    client.destroy();
    const next = shared(testHub.url);
    expect(next).not.toBe(client);
    await opened(next);
  });

  it('release() on a client that is not shared destroys it at once', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url);
    await opened(client);
    client.release();
    expect(client.readyState).toBe(Client.CLOSED);
    await waitFor(() => testHub.hub.stats().connections.websocket === 0);
  });
});

describe('destroy', () => {
  it.each(ALL_TRANSPORTS)(
    'closes the %s connection for good: the server sees it go, no reconnect follows',
    async (transport) => {
      const testHub = await hubWith();
      const count = traffic(testHub);
      const client = connect(testHub.url, {
        transports: [transport],
        reconnect: { baseMs: 10, capMs: 20 },
      });
      const events = lifecycle(client);
      const data: unknown[] = [];
      await client.subscribe('a', (value) => data.push(value)).ready;
      client.destroy();
      expect(client.readyState).toBe(Client.CLOSED);
      expect(events).toEqual([`open:${transport}`, 'close:destroyed']);
      const stats = () => testHub.hub.stats();
      await waitFor(() => stats().connections[transport] === 0 && stats().channels === 0);
      const requests = count.requests;
      // Five times the backoff cap: a reconnect would have come by now.
      await sleep(100);
      expect(count.requests).toBe(requests);
      await testHub.hub.publish('a', 'nobody listens');
      expect(stats().connections[transport]).toBe(0);
      expect(data).toEqual([]);
      expect(events).toHaveLength(2);
    },
  );

  it('rejects pending publishes and subscriptions with DESTROYED', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url, { autoConnect: false });
    const closes: unknown[] = [];
    client.on('close', (event) => closes.push(event));
    const queued = rejection(client.publish('a', 1));
    const subscription = client.subscribe('a');
    client.destroy();
    expectClientError(await queued, 'DESTROYED');
    expectClientError(await rejection(subscription.ready), 'DESTROYED');
    expect(closes).toEqual([{ transport: undefined, reason: 'destroyed', willReconnect: false }]);
    expect(client.outbox.size).toBe(0);
  });

  it('rejects a publish in flight (sent, not yet acked) with DESTROYED', async () => {
    const observed = await startObservedHub();
    const stored = received(observed.hub);
    const client = connect(observed.url, { transports: ['long-polling'] });
    await opened(client);
    observed.holdPosts();
    const inFlight = rejection(client.publish('a', 1));
    await waitFor(() => observed.requests.some((request) => request.method === 'POST'));
    expect(client.bufferedAmount).toBe(0);
    expect(client.outbox.size).toBe(1);
    client.destroy();
    expectClientError(await inFlight, 'DESTROYED');
    expect(stored).toEqual([]);
  });

  it('leaves a client on which every method says DESTROYED', async () => {
    const testHub = await hubWith();
    const client = connect(testHub.url);
    await opened(client);
    const events = lifecycle(client);
    client.destroy();
    client.destroy();
    expect(events).toEqual(['close:destroyed']);
    expect(() => client.subscribe('a')).toThrow(ClientError);
    try {
      client.subscribe('a');
    } catch (error) {
      expectClientError(error, 'DESTROYED');
    }
    expectClientError(await rejection(client.publish('a', 1)), 'DESTROYED');
    expect(() => client.connect()).toThrow(/destroyed/);
    expect(() => client.send('a', 1)).not.toThrow();
    expect(() => client.release()).not.toThrow();
    expect(client.readyState).toBe(Client.CLOSED);
  });

  it('stops a connect in progress: nothing stays open on the server', async () => {
    const testHub = await hubWith();
    const count = traffic(testHub);
    const client = connect(testHub.url);
    const events = lifecycle(client);
    client.destroy();
    // Past the time a local connect takes.
    await sleep(100);
    expect(testHub.hub.stats().connections.websocket).toBe(0);
    expect(count.requests).toBeLessThanOrEqual(1);
    expect(client.readyState).toBe(Client.CLOSED);
    expect(events).toEqual(['close:destroyed']);
  });
});

describe('maxRetries', () => {
  it.each(['websocket', 'long-polling'] as TransportName[])(
    'gives up after maxRetries failed reconnects over %s, rejecting what waits; connect() starts again',
    async (transport) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const client = connect(url, {
        transports: [transport],
        reconnect: { maxRetries: 3, baseMs: 10, capMs: 20 },
      });
      const events = lifecycle(client);
      const errors: unknown[] = [];
      client.on('error', (error) => errors.push(error));
      // A channel, so that every transport makes a request: an HTTP link without channels
      // reports open before it has asked the hub anything.
      client.subscribe('a');
      const waiting = rejection(client.publish('a', 'queued'));
      await waitFor(() => events.includes('error:GAVE_UP'), 5000, 'GAVE_UP');
      expect(events.filter((event) => event.startsWith('reconnecting'))).toEqual([
        'reconnecting:1',
        'reconnecting:2',
        'reconnecting:3',
      ]);
      expect(events.filter((event) => event.startsWith('close'))).toHaveLength(4);
      expect(client.readyState).toBe(Client.CLOSED);
      expectClientError(errors.at(-1), 'GAVE_UP');
      expectClientError(await waiting, 'GAVE_UP');
      expect(client.outbox.size).toBe(0);

      const testHub = await hubWith({}, port);
      const stored = received(testHub.hub);
      events.length = 0;
      client.connect();
      await opened(client, transport);
      await client.publish('a', 'after');
      expect(stored.map((envelope) => envelope.data)).toEqual(['after']);
      expect(events).toEqual([`open:${transport}`]);
    },
  );

  it('gives up at the first failure with maxRetries 0', async () => {
    const port = await freePort();
    const client = connect(`http://127.0.0.1:${port}`, { reconnect: { maxRetries: 0 } });
    const events = lifecycle(client);
    await waitFor(() => client.readyState === Client.CLOSED);
    expect(events).toEqual([expect.stringMatching(/^close:/), 'error:GAVE_UP']);
  });
});

describe('getToken', () => {
  it.each(ALL_TRANSPORTS)(
    'is asked on every connect; the token goes as a bearer header over %s, never in the URL',
    async (transport) => {
      const observed = await startObservedHub();
      let calls = 0;
      const client = connect(observed.url, {
        transports: [transport],
        getToken: async () => `tok-${++calls}`,
        reconnect: { baseMs: 10, capMs: 20 },
      });
      const data: unknown[] = [];
      await client.subscribe('a', (value) => data.push(value)).ready;
      await client.publish('a', 'hello');
      expect(calls).toBe(1);
      const endpoint = endpointOf(transport);
      const ours = () => observed.requests.filter((request) => request.path.startsWith('/rt/'));
      expect(ours().some((request) => request.path === endpoint)).toBe(true);
      if (transport !== 'websocket') {
        expect(ours().some((request) => request.path === '/rt/send')).toBe(true);
      }
      expect(ours().every((request) => request.authorization === 'Bearer tok-1')).toBe(true);

      // A blip: the client reconnects, with a token fetched again.
      if (transport !== 'websocket') observed.refuseNext(1);
      observed.dropConnections();
      await waitFor(
        () =>
          client.readyState === Client.OPEN &&
          ours().some(
            (request) => request.path === endpoint && request.authorization !== 'Bearer tok-1',
          ),
        5000,
        'a reconnect with a new token',
      );
      await client.publish('a', 'again');
      expect(calls).toBeGreaterThanOrEqual(2);
      const tokens = new Set(Array.from({ length: calls }, (_, i) => `Bearer tok-${i + 1}`));
      for (const request of ours()) {
        expect(tokens.has(request.authorization ?? ''), request.target).toBe(true);
        expect(request.target).not.toMatch(/token|tok-/);
      }
      if (transport === 'websocket') {
        // One token per connect: one per upgrade, in order.
        const upgrades = ours().map((request) => request.authorization);
        expect(upgrades).toEqual(Array.from({ length: calls }, (_, i) => `Bearer tok-${i + 1}`));
      }
    },
  );

  it('reports a getToken that throws as an error event and tries again', async () => {
    const testHub = await hubWith();
    let calls = 0;
    const failure = new Error('token service down');
    const client = connect(testHub.url, {
      getToken: () => {
        if (++calls === 1) throw failure;
        return 'fine';
      },
    });
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    await opened(client);
    expect(errors).toEqual([failure]);
    expect(calls).toBe(2);
  });

  it('fetches a new token and reconnects before the old one expires, losing nothing', async () => {
    const transport: TransportName = 'websocket';
    const observed = await startObservedHub();
    // Refreshes come a second at the earliest (token.ts): a life just above it, twice.
    const lifeMs = 1200;
    const refreshes = 2;
    const expiries: number[] = [];
    const client = connect(observed.url, {
      transports: [transport],
      getToken: () => {
        expiries.push(Date.now() + lifeMs);
        return { token: `tok-${expiries.length}`, expiresAt: expiries.at(-1) };
      },
    });
    const events = lifecycle(client);
    const data: number[] = [];
    await client.subscribe('a', (value) => data.push(value as number)).ready;
    let published = 0;
    const deadline = Date.now() + refreshes * lifeMs + 2000;
    while (expiries.length <= refreshes && Date.now() < deadline) {
      await observed.hub.publish('a', ++published);
      await sleep(10);
    }
    expect(expiries, 'a getToken call per refresh').toHaveLength(refreshes + 1);
    await waitFor(() => client.readyState === Client.OPEN);
    await observed.hub.publish('a', ++published);
    await waitFor(() => data.length >= published, 5000, 'every envelope');
    expect(data).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    const endpoint = endpointOf(transport);
    for (let n = 2; n <= expiries.length; n++) {
      const first = observed.requests.find(
        (request) => request.path === endpoint && request.authorization === `Bearer tok-${n}`,
      );
      expect(first, `a connect with token ${n}`).toBeDefined();
      expect(first!.at).toBeLessThan(expiries[n - 2]!);
    }
    expect(events.filter((event) => event.startsWith('open'))).toHaveLength(expiries.length);
    expect(events.filter((event) => !event.startsWith('open'))).toEqual([]);
  });
});

describe('options', () => {
  it('does not connect with autoConnect: false until connect()', async () => {
    const testHub = await hubWith();
    const count = traffic(testHub);
    const client = connect(testHub.url, { autoConnect: false });
    const subscription = client.subscribe('a');
    expect(client.readyState).toBe(Client.CLOSED);
    expect(client.transport).toBeUndefined();
    client.connect();
    expect(client.readyState).toBe(Client.CONNECTING);
    client.connect();
    await subscription.ready;
    expect(client.readyState).toBe(Client.OPEN);
    client.connect();
    await client.publish('a', 1);
    expect(count.connections).toBe(1);
    expect(testHub.hub.stats().connections.websocket).toBe(1);
  });

  it.each(['websocket', 'sse', 'long-polling'] as TransportName[])(
    'reaches a hub on another basePath with the basePath option, over %s',
    async (transport) => {
      const testHub = await hubWith({ basePath: '/push' });
      const client = connect(testHub.url, { transports: [transport], basePath: 'push/' });
      expect(client.url).toBe(`${testHub.url}/push`);
      const data: unknown[] = [];
      await client.subscribe('a', (value) => data.push(value)).ready;
      await testHub.hub.publish('a', 1);
      await client.publish('a', 2);
      await waitFor(() => data.length === 2);
    },
  );

  it('does not reach a hub on another basePath without the option', async () => {
    const testHub = await hubWith({ basePath: '/push' });
    const client = connect(testHub.url, {
      transports: ['websocket', 'long-polling'],
      reconnect: { maxRetries: 0 },
    });
    // A channel, so that long polling makes a request: an HTTP link without channels reports
    // open before it has asked the hub anything.
    client.subscribe('a');
    const events = lifecycle(client);
    await waitFor(() => events.includes('error:GAVE_UP'));
    expect(events.some((event) => event.startsWith('open'))).toBe(false);
  });

  it.each(['websocket', 'sse'] as TransportName[])(
    'accepts a ws:// hub URL, over %s',
    async (transport) => {
      const testHub = await hubWith();
      const client = connect(testHub.url.replace('http:', 'ws:'), { transports: [transport] });
      expect(client.url).toBe(`${testHub.url}/rt`);
      await opened(client, transport);
      await expect(client.publish('a', 1)).resolves.toMatchObject({ data: 1 });
    },
  );

  it('derives its base URL from the hub URL and basePath', () => {
    const url = (hub: string, basePath?: string) =>
      connect(hub, { autoConnect: false, ...(basePath === undefined ? {} : { basePath }) }).url;
    expect(url('wss://push.example.com')).toBe('https://push.example.com/rt');
    expect(url('https://push.example.com/app/')).toBe('https://push.example.com/app/rt');
    expect(url('http://127.0.0.1:8080', '/')).toBe('http://127.0.0.1:8080');
    expect(() => url('ftp://push.example.com')).toThrow(TypeError);
    expect(() => url('not a url')).toThrow(TypeError);
  });

  it('throws at once on an unknown transport name, or none at all', () => {
    expect(() =>
      createClient('http://127.0.0.1:9', { transports: ['carrier-pigeon' as never] }),
    ).toThrow(/unknown transport "carrier-pigeon"/);
    expect(() => createClient('http://127.0.0.1:9', { transports: [] })).toThrow(TypeError);
  });

  it.skipIf(typeof (globalThis as { WebSocket?: unknown }).WebSocket !== 'undefined')(
    'says to pass WebSocket from ws where the platform has none (Node 20)',
    () => {
      expect(() => createClient('http://127.0.0.1:9', { transports: ['websocket'] })).toThrow(
        /pass \{ WebSocket \} from ws/,
      );
    },
  );
});
