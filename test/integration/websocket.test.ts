import type { Socket } from 'node:net';
import { describe, it, expect, afterEach } from 'vitest';
import type { ConnectionInfo, Envelope, HubOptions } from '../../src/server/index.js';
import { publishHttp } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * The WebSocket transport against a real hub on 127.0.0.1 (SPEC.md § Endpoints, WebSocket
 * frames; § Behaviour every transport shares: resume, limits, drain).
 */

type JsonFrame = Record<string, unknown>;

const hubs: TestHub[] = [];
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

async function openHub(options: HubOptions = {}): Promise<TestHub> {
  const hub = await startHub(options);
  hubs.push(hub);
  return hub;
}

async function connect(
  hub: TestHub,
  options: Parameters<typeof connectWs>[1] = {},
): Promise<TestSocket> {
  const socket = await connectWs(hub.wsUrl, options);
  sockets.push(socket);
  return socket;
}

/** `message` frames received so far, of one channel when given. */
function messagesOf(socket: TestSocket, channel?: string): JsonFrame[] {
  return socket.ofType('message').filter((f) => channel === undefined || f.channel === channel);
}

async function waitForMessages(
  socket: TestSocket,
  count: number,
  channel?: string,
  timeoutMs = 5000,
): Promise<JsonFrame[]> {
  return waitFor(
    () => {
      const frames = messagesOf(socket, channel);
      return frames.length >= count ? frames : undefined;
    },
    timeoutMs,
    `${count} message frames${channel === undefined ? '' : ` on ${channel}`}`,
  );
}

/**
 * Sends a JSON ping and waits for its pong. The hub handles a socket's frames in order, so
 * once the pong is back every frame sent before it has been handled.
 */
async function roundTrip(socket: TestSocket): Promise<void> {
  const before = socket.ofType('pong').length;
  socket.send({ type: 'ping' });
  await socket.waitForType('pong', before + 1);
}

/** Sends `frame` (text as is, anything else as JSON) and returns the error frame it gets. */
async function errorFor(socket: TestSocket, frame: unknown): Promise<JsonFrame> {
  const before = socket.ofType('error').length;
  socket.send(frame);
  const errors = await socket.waitForType('error', before + 1);
  return errors[before] as JsonFrame;
}

/** The message frame of an envelope: what every subscriber must receive, field for field. */
function asFrame(envelope: Envelope): JsonFrame {
  return { type: 'message', ...envelope };
}

/** `[from, …, to]` */
function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/**
 * Publishes `first`, `first + 1`, … yielding to I/O between publishes until `done()` holds,
 * then `extra` more. Returns the last number published.
 */
async function publishUntil(
  hub: TestHub,
  channel: string,
  first: number,
  done: () => boolean,
  extra: number,
): Promise<number> {
  let n = first;
  const deadline = Date.now() + 5000;
  while (!done() && Date.now() < deadline) {
    await hub.hub.publish(channel, n++);
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (let i = 0; i < extra; i++) await hub.hub.publish(channel, n++);
  return n - 1;
}

function seqOf(id: unknown): number {
  const text = String(id);
  return Number(text.slice(text.lastIndexOf('-') + 1));
}

function epochOf(id: unknown): string {
  const text = String(id);
  return text.slice(0, text.lastIndexOf('-'));
}

/** Whether the socket is still open from the client's side. */
function isOpen(socket: TestSocket): boolean {
  return socket.ws.readyState === socket.ws.OPEN && socket.closeCode === undefined;
}

/**
 * Makes a client stop reading its TCP socket, as a stuck or dead peer does. ws pauses and
 * resumes the socket itself for back-pressure, so its `resume` is disabled too.
 */
function stopReading(socket: TestSocket): void {
  const raw = (socket.ws as unknown as { _socket: Socket })._socket;
  raw.pause();
  raw.resume = () => raw;
}

/** Subscribes a fresh socket to `channel` and proves it receives a publish. */
async function assertServesNewClient(hub: TestHub, channel: string): Promise<void> {
  const socket = await connect(hub);
  const [subscribed] = await subscribe(socket, [channel]);
  expect(subscribed).toMatchObject({ type: 'subscribed', channel, recovered: false });
  const envelope = await hub.hub.publish(channel, { alive: true });
  await waitForMessages(socket, 1, channel);
  expect(messagesOf(socket, channel)).toEqual([asFrame(envelope)]);
}

describe('subscribe frame', () => {
  it('answers one subscribed frame per channel with its current position and recovered false', async () => {
    const hub = await openHub();
    await hub.hub.publish('a', 1);
    const latest = await hub.hub.publish('a', 2);
    const socket = await connect(hub);

    const subscribed = await subscribe(socket, ['a', 'b']);

    expect(subscribed).toHaveLength(2);
    expect(subscribed[0]).toEqual({
      type: 'subscribed',
      channel: 'a',
      position: latest.id,
      recovered: false,
    });
    expect(subscribed[1]).toEqual({
      type: 'subscribed',
      channel: 'b',
      position: expect.stringMatching(/^[0-9a-z]+-0$/),
      recovered: false,
    });
    // Without `since`, what was published before the subscription is not replayed.
    const first = await hub.hub.publish('b', 'first');
    expect(epochOf(first.id)).toBe(epochOf(subscribed[1]?.position));
    await waitForMessages(socket, 1);
    expect(socket.frames).toEqual([subscribed[0], subscribed[1], asFrame(first)]);
  });

  it('delivers envelopes published with hub.publish as message frames in publish order', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['prices']);

    const published: Envelope[] = [];
    for (let n = 0; n < 20; n++) {
      const event = n % 2 === 0 ? 'tick' : undefined;
      published.push(await hub.hub.publish('prices', { n, text: `é${n}` }, { event }));
    }

    await waitForMessages(socket, 20);
    expect(messagesOf(socket)).toEqual(published.map(asFrame));
    expect(published[0]).toEqual({
      id: expect.stringMatching(/^[0-9a-z]+-1$/),
      channel: 'prices',
      event: 'tick',
      data: { n: 0, text: 'é0' },
      ts: expect.any(Number),
    });
    expect(published[1]?.event).toBe('message');
  });

  it('delivers envelopes published over POST /rt/publish/:channel in order with hub.publish ones', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['orders']);

    const before = Date.now();
    const first = await publishHttp(hub.url, 'orders', { via: 'http', n: 1 }, 'created');
    const second = await hub.hub.publish('orders', { via: 'hub', n: 2 });
    const third = await publishHttp(hub.url, 'orders', [1, 'two', null]);
    const after = Date.now();

    expect(first.status).toBe(201);
    expect(third.status).toBe(201);
    const frames = await waitForMessages(socket, 3);
    expect(frames).toEqual([
      {
        type: 'message',
        id: first.body.id,
        channel: 'orders',
        event: 'created',
        data: { via: 'http', n: 1 },
        ts: expect.any(Number),
      },
      asFrame(second),
      {
        type: 'message',
        id: third.body.id,
        channel: 'orders',
        event: 'message',
        data: [1, 'two', null],
        ts: expect.any(Number),
      },
    ]);
    for (const frame of frames) {
      expect(frame.ts).toBeGreaterThanOrEqual(before);
      expect(frame.ts).toBeLessThanOrEqual(after);
    }
  });

  it('delivers every channel of a multi-channel subscription and nothing of the others', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['a', 'b', 'c']);

    const expected: Envelope[] = [];
    for (let n = 0; n < 9; n++) {
      const channel = ['a', 'b', 'c'][n % 3] as string;
      expected.push(await hub.hub.publish(channel, n));
      await hub.hub.publish('other', n);
    }

    await waitForMessages(socket, 9);
    await roundTrip(socket);
    expect(messagesOf(socket)).toEqual(expected.map(asFrame));
    expect(messagesOf(socket, 'b').map((f) => f.data)).toEqual([1, 4, 7]);
  });

  it('accepts a channel name of 128 characters from the whole allowed alphabet', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    const alphabet = 'ABCXYZabcxyz0189_.:@/-';
    const channel = alphabet.repeat(6).slice(0, 128);
    expect(channel).toHaveLength(128);

    const [subscribed] = await subscribe(socket, [channel]);

    expect(subscribed).toMatchObject({ type: 'subscribed', channel, recovered: false });
    const envelope = await hub.hub.publish(channel, 'long name');
    await waitForMessages(socket, 1);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
  });

  it('answers a channel named twice in one frame with a single subscribed frame', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    socket.send({ type: 'subscribe', channels: ['dup', 'dup'] });
    await socket.waitForType('subscribed', 1);
    await roundTrip(socket);

    expect(socket.ofType('subscribed')).toHaveLength(1);
    const envelope = await hub.hub.publish('dup', 'once');
    await waitForMessages(socket, 1);
    await roundTrip(socket);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
  });

  it('joins the live stream without loss or repetition while envelopes keep being published', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    socket.send({ type: 'subscribe', channels: ['race'] });
    const last = await publishUntil(
      hub,
      'race',
      1,
      () => socket.ofType('subscribed').length > 0,
      10,
    );

    const [subscribed] = await socket.waitForType('subscribed', 1);
    const start = seqOf(subscribed?.position);
    expect(start).toBeGreaterThanOrEqual(1);
    expect(start).toBeLessThanOrEqual(last - 10);
    await waitForMessages(socket, last - start);
    await roundTrip(socket);
    // The subscribed frame comes first; after it, every envelope past `position`, once each.
    expect(socket.frames[0]).toEqual(subscribed);
    expect(messagesOf(socket).map((f) => f.data)).toEqual(range(start + 1, last));
  });
});

describe('unsubscribe frame', () => {
  it('stops delivery of the channel and keeps the other channels flowing', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['a', 'b']);
    const a1 = await hub.hub.publish('a', 'a1');
    await waitForMessages(socket, 1, 'a');

    socket.send({ type: 'unsubscribe', channels: ['a'] });
    await roundTrip(socket);
    await hub.hub.publish('a', 'a2');
    const b1 = await hub.hub.publish('b', 'b1');
    await waitForMessages(socket, 1, 'b');
    await sleep(50);

    expect(messagesOf(socket)).toEqual([asFrame(a1), asFrame(b1)]);
    expect(socket.ofType('error')).toEqual([]);
    expect(hub.hub.stats().channels).toBe(1);
  });

  it('lets the client subscribe to the channel again', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['again']);
    socket.send({ type: 'unsubscribe', channels: ['again'] });
    await roundTrip(socket);
    const missed = await hub.hub.publish('again', 'while away');

    const [subscribed] = await subscribe(socket, ['again']);
    const envelope = await hub.hub.publish('again', 'back');

    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'again',
      position: missed.id,
      recovered: false,
    });
    await waitForMessages(socket, 1);
    await roundTrip(socket);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
  });

  it('ignores a channel that the socket is not subscribed to', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['kept']);

    socket.send({ type: 'unsubscribe', channels: ['never-subscribed', 'kept-not'] });
    await roundTrip(socket);
    const envelope = await hub.hub.publish('kept', 'still here');

    await waitForMessages(socket, 1);
    expect(socket.ofType('error')).toEqual([]);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
  });
});

describe('resume with since', () => {
  it('replays every missed envelope once and in order with recovered true', async () => {
    const hub = await openHub();
    const first = await connect(hub);
    await subscribe(first, ['feed']);
    const seen = [await hub.hub.publish('feed', 1), await hub.hub.publish('feed', 2)];
    await waitForMessages(first, 2);
    const lastId = String(messagesOf(first)[1]?.id);
    first.close();
    await waitFor(() => hub.hub.stats().connections.websocket === 0, 5000, 'the disconnect');

    const missed: Envelope[] = [];
    for (let n = 3; n <= 7; n++) missed.push(await hub.hub.publish('feed', n));
    const second = await connect(hub);
    const [subscribed] = await subscribe(second, ['feed'], { feed: lastId });
    await waitForMessages(second, 5);
    const live = await hub.hub.publish('feed', 8);
    await waitForMessages(second, 6);
    await roundTrip(second);

    expect(lastId).toBe(seen[1]?.id);
    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'feed',
      position: lastId,
      recovered: true,
    });
    expect(second.frames[0]).toEqual(subscribed);
    expect(messagesOf(second)).toEqual([...missed, live].map(asFrame));
    expect(second.ofType('gap')).toEqual([]);
  });

  it('joins backlog and live envelopes without loss or repetition while publishing goes on', async () => {
    const hub = await openHub();
    const from = await hub.hub.publish('busy', 0);
    for (let n = 1; n <= 20; n++) await hub.hub.publish('busy', n);
    const socket = await connect(hub);

    socket.send({ type: 'subscribe', channels: ['busy'], since: { busy: from.id } });
    const last = await publishUntil(
      hub,
      'busy',
      21,
      () => socket.ofType('subscribed').length > 0,
      10,
    );

    const [subscribed] = await socket.waitForType('subscribed', 1);
    await waitForMessages(socket, last);
    await roundTrip(socket);
    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'busy',
      position: from.id,
      recovered: true,
    });
    expect(messagesOf(socket).map((f) => f.data)).toEqual(range(1, last));
  });

  it('resumes from the subscribed position of a socket that never received an envelope', async () => {
    const hub = await openHub();
    const first = await connect(hub);
    const [before] = await subscribe(first, ['quiet']);
    first.close();
    const missed = [await hub.hub.publish('quiet', 'a'), await hub.hub.publish('quiet', 'b')];

    const second = await connect(hub);
    const [subscribed] = await subscribe(second, ['quiet'], {
      quiet: String(before?.position),
    });

    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'quiet',
      position: before?.position,
      recovered: true,
    });
    await waitForMessages(second, 2);
    await roundTrip(second);
    expect(messagesOf(second)).toEqual(missed.map(asFrame));
  });

  it('recovers with nothing to replay when since is the current position', async () => {
    const hub = await openHub();
    const top = await hub.hub.publish('still', 'only');
    const socket = await connect(hub);

    const [subscribed] = await subscribe(socket, ['still'], { still: top.id });
    await roundTrip(socket);

    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'still',
      position: top.id,
      recovered: true,
    });
    expect(messagesOf(socket)).toEqual([]);
    expect(socket.ofType('gap')).toEqual([]);
  });

  it('sends a gap and then what history still holds when history was trimmed past since', async () => {
    const hub = await openHub({ history: { maxCount: 3 } });
    const first = await connect(hub);
    const [before] = await subscribe(first, ['trim']);
    first.close();
    const published: Envelope[] = [];
    for (let n = 1; n <= 5; n++) published.push(await hub.hub.publish('trim', n));

    const second = await connect(hub);
    const [subscribed] = await subscribe(second, ['trim'], { trim: String(before?.position) });
    await waitForMessages(second, 3);
    await roundTrip(second);

    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'trim',
      position: `${epochOf(published[0]?.id)}-2`,
      recovered: false,
    });
    expect(second.frames.slice(0, 5)).toEqual([
      subscribed,
      { type: 'gap', channel: 'trim' },
      ...published.slice(2).map(asFrame),
    ]);
    expect(messagesOf(second)).toHaveLength(3);
  });

  it('sends a gap for a position of another epoch, then every envelope held', async () => {
    const other = await openHub();
    const foreign = await other.hub.publish('shared', 'elsewhere');
    const hub = await openHub();
    const held = [await hub.hub.publish('shared', 'x'), await hub.hub.publish('shared', 'y')];
    expect(epochOf(foreign.id)).not.toBe(epochOf(held[0]?.id));

    const socket = await connect(hub);
    const [subscribed] = await subscribe(socket, ['shared'], { shared: foreign.id });
    await waitForMessages(socket, 2);
    await roundTrip(socket);

    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'shared',
      position: `${epochOf(held[0]?.id)}-0`,
      recovered: false,
    });
    expect(socket.frames.slice(0, 4)).toEqual([
      subscribed,
      { type: 'gap', channel: 'shared' },
      ...held.map(asFrame),
    ]);
  });

  it('honours since per channel: only the channels that name a position are recovered', async () => {
    const hub = await openHub();
    const start = await hub.hub.publish('with', 0);
    const missed = await hub.hub.publish('with', 1);
    await hub.hub.publish('without', 'old');
    const socket = await connect(hub);

    const subscribed = await subscribe(socket, ['with', 'without'], { with: start.id });
    await waitForMessages(socket, 1);
    await roundTrip(socket);

    expect(subscribed).toEqual([
      { type: 'subscribed', channel: 'with', position: start.id, recovered: true },
      {
        type: 'subscribed',
        channel: 'without',
        position: expect.stringMatching(/-1$/),
        recovered: false,
      },
    ]);
    expect(messagesOf(socket)).toEqual([asFrame(missed)]);
  });
});

describe('publish frame', () => {
  it('acks a publish that carries a ref and delivers the envelope to every subscriber, the sender included', async () => {
    const hub = await openHub();
    const sender = await connect(hub);
    const reader = await connect(hub);
    await subscribe(sender, ['chat']);
    await subscribe(reader, ['chat']);

    sender.send({ type: 'publish', channel: 'chat', event: 'said', data: { t: 'hi' }, ref: 'r1' });
    const [ack] = await sender.waitForType('ack', 1);
    await waitForMessages(sender, 1);
    await waitForMessages(reader, 1);

    expect(ack).toEqual({
      type: 'ack',
      ref: 'r1',
      id: expect.stringMatching(/^[0-9a-z]+-1$/),
      ts: expect.any(Number),
    });
    const expected = {
      type: 'message',
      id: ack?.id,
      channel: 'chat',
      event: 'said',
      data: { t: 'hi' },
      ts: expect.any(Number),
    };
    expect(messagesOf(sender)).toEqual([expected]);
    expect(messagesOf(reader)).toEqual([expected]);
    expect(messagesOf(reader)[0]?.ts).toBe(messagesOf(sender)[0]?.ts);
  });

  it('hands the envelope and the connection to hub.onMessage listeners', async () => {
    const hub = await openHub();
    const received: Array<[ConnectionInfo, Envelope]> = [];
    hub.hub.onMessage((connection, envelope) => received.push([connection, envelope]));
    const socket = await connect(hub);
    await subscribe(socket, ['inbox']);

    socket.send({ type: 'publish', channel: 'inbox', data: [1, 2], ref: 'x' });
    await socket.waitForType('ack', 1);
    const [message] = await waitForMessages(socket, 1);

    expect(received).toHaveLength(1);
    const [connection, envelope] = received[0] as [ConnectionInfo, Envelope];
    expect(connection).toEqual({
      id: expect.any(String),
      transport: 'websocket',
      ip: '127.0.0.1',
    });
    expect(envelope).toEqual({
      id: message?.id,
      channel: 'inbox',
      event: 'message',
      data: [1, 2],
      ts: message?.ts,
    });
  });

  it('gives each socket its own connection id', async () => {
    const hub = await openHub();
    const ids: string[] = [];
    hub.hub.onMessage((connection) => ids.push(connection.id));
    const one = await connect(hub);
    const two = await connect(hub);

    one.send({ type: 'publish', channel: 'c', data: 1, ref: '1' });
    await one.waitForType('ack', 1);
    two.send({ type: 'publish', channel: 'c', data: 2, ref: '2' });
    await two.waitForType('ack', 1);
    one.send({ type: 'publish', channel: 'c', data: 3, ref: '3' });
    await one.waitForType('ack', 2);

    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe(ids[2]);
    expect(ids[1]).not.toBe(ids[0]);
  });

  it('delivers a publish without ref and sends no ack', async () => {
    const hub = await openHub();
    const received: Envelope[] = [];
    hub.hub.onMessage((_connection, envelope) => received.push(envelope));
    const socket = await connect(hub);
    await subscribe(socket, ['noref']);

    socket.send({ type: 'publish', channel: 'noref', event: 'e', data: null });
    const [message] = await waitForMessages(socket, 1);
    await roundTrip(socket);

    expect(message).toEqual({
      type: 'message',
      id: expect.stringMatching(/-1$/),
      channel: 'noref',
      event: 'e',
      data: null,
      ts: expect.any(Number),
    });
    expect(socket.ofType('ack')).toEqual([]);
    expect(received.map((e) => e.id)).toEqual([message?.id]);
  });

  it('refuses a publish with PUBLISH_DISABLED when allowClientPublish is false', async () => {
    const hub = await openHub({ allowClientPublish: false });
    const received: Envelope[] = [];
    hub.hub.onMessage((_connection, envelope) => received.push(envelope));
    const socket = await connect(hub);
    await subscribe(socket, ['locked']);

    const error = await errorFor(socket, {
      type: 'publish',
      channel: 'locked',
      data: 'no',
      ref: 'p1',
    });
    await roundTrip(socket);

    expect(error).toEqual({
      type: 'error',
      code: 'PUBLISH_DISABLED',
      message: expect.stringMatching(/publish/),
      ref: 'p1',
    });
    expect(messagesOf(socket)).toEqual([]);
    expect(socket.ofType('ack')).toEqual([]);
    expect(received).toEqual([]);
    // The server may still publish on such a hub.
    const envelope = await hub.hub.publish('locked', 'server side');
    await waitForMessages(socket, 1);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
  });
});

describe('ping', () => {
  it('answers a JSON ping frame with a JSON pong frame', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    socket.send({ type: 'ping' });
    const pong = await socket.next();

    expect(pong).toEqual({ type: 'pong' });
    expect(socket.frames).toEqual([{ type: 'pong' }]);
  });

  it('answers a bare text ping with a bare text pong', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    const raw: Array<{ text: string; isBinary: boolean }> = [];
    socket.ws.on('message', (data, isBinary) => raw.push({ text: String(data), isBinary }));

    socket.send('ping');
    const pong = await socket.next();

    expect(pong).toBe('pong');
    expect(raw).toEqual([{ text: 'pong', isBinary: false }]);
  });
});

/** Frames that must each get one `error` frame with `code` (and `ref` when given). */
const MALFORMED: Array<{ what: string; frame: unknown; code: string; ref?: string }> = [
  { what: 'invalid JSON', frame: '{"type":"subscribe",', code: 'BAD_JSON' },
  { what: 'a bare word that is not ping', frame: 'hello', code: 'BAD_JSON' },
  { what: 'a JSON array', frame: '[{"type":"ping"}]', code: 'BAD_REQUEST' },
  { what: 'a JSON number', frame: '42', code: 'BAD_REQUEST' },
  { what: 'JSON null', frame: 'null', code: 'BAD_REQUEST' },
  { what: 'a JSON string', frame: '"ping"', code: 'BAD_REQUEST' },
  {
    what: 'an unknown type',
    frame: { type: 'hello', ref: 'u1' },
    code: 'UNKNOWN_FRAME',
    ref: 'u1',
  },
  { what: 'a frame without type', frame: { channels: ['a'] }, code: 'UNKNOWN_FRAME' },
  {
    what: 'a channel with a space',
    frame: { type: 'subscribe', channels: ['a b'], ref: 'c1' },
    code: 'BAD_CHANNEL',
    ref: 'c1',
  },
  { what: 'an empty channel', frame: { type: 'subscribe', channels: [''] }, code: 'BAD_CHANNEL' },
  {
    what: 'a channel of 129 characters',
    frame: { type: 'subscribe', channels: ['x'.repeat(129)], ref: 'c3' },
    code: 'BAD_CHANNEL',
    ref: 'c3',
  },
  {
    what: 'a channel that is not a string',
    frame: { type: 'subscribe', channels: [7] },
    code: 'BAD_CHANNEL',
  },
  {
    what: 'a channel with a comma',
    frame: { type: 'subscribe', channels: ['a,b'] },
    code: 'BAD_CHANNEL',
  },
  {
    what: 'channels that are not an array',
    frame: { type: 'subscribe', channels: 'a' },
    code: 'BAD_REQUEST',
  },
  {
    what: 'an empty channel list',
    frame: { type: 'subscribe', channels: [], ref: 'e1' },
    code: 'BAD_REQUEST',
    ref: 'e1',
  },
  {
    what: 'since that is not an object',
    frame: { type: 'subscribe', channels: ['a'], since: 'abc-1', ref: 's1' },
    code: 'BAD_CURSOR',
    ref: 's1',
  },
  {
    what: 'a since value that is no position',
    frame: { type: 'subscribe', channels: ['a'], since: { a: 'nope' }, ref: 's2' },
    code: 'BAD_CURSOR',
    ref: 's2',
  },
  {
    what: 'a since position that is a number',
    frame: { type: 'subscribe', channels: ['a'], since: { a: 5 } },
    code: 'BAD_CURSOR',
  },
  {
    what: 'a since value with a negative seq',
    frame: { type: 'subscribe', channels: ['a'], since: { a: 'abc--1' } },
    code: 'BAD_CURSOR',
  },
  {
    what: 'a since value with a seq past 2^53',
    frame: { type: 'subscribe', channels: ['a'], since: { a: 'abc-9999999999999999' } },
    code: 'BAD_CURSOR',
  },
  {
    what: 'a since key that is not a channel name',
    frame: { type: 'subscribe', channels: ['a'], since: { 'a b': 'abc-1' } },
    code: 'BAD_CHANNEL',
  },
  {
    what: 'an unsubscribe of a bad channel name',
    frame: { type: 'unsubscribe', channels: ['a b'], ref: 'x1' },
    code: 'BAD_CHANNEL',
    ref: 'x1',
  },
  {
    what: 'a publish to a bad channel name',
    frame: { type: 'publish', channel: 'a/b c', data: 1, ref: 'p1' },
    code: 'BAD_CHANNEL',
    ref: 'p1',
  },
  {
    what: 'an event name with a newline',
    frame: { type: 'publish', channel: 'a', event: 'x\ny', data: 1, ref: 'v1' },
    code: 'BAD_EVENT',
    ref: 'v1',
  },
  {
    what: 'an event name with a carriage return',
    frame: { type: 'publish', channel: 'a', event: 'x\r', data: 1 },
    code: 'BAD_EVENT',
  },
  {
    what: 'an empty event name',
    frame: { type: 'publish', channel: 'a', event: '', data: 1 },
    code: 'BAD_EVENT',
  },
  {
    what: 'an event name of 129 characters',
    frame: { type: 'publish', channel: 'a', event: 'e'.repeat(129), data: 1 },
    code: 'BAD_EVENT',
  },
  {
    what: 'an event name that is not a string',
    frame: { type: 'publish', channel: 'a', event: 12, data: 1 },
    code: 'BAD_EVENT',
  },
  {
    what: 'a publish without data',
    frame: { type: 'publish', channel: 'a', event: 'e', ref: 'd1' },
    code: 'BAD_REQUEST',
    ref: 'd1',
  },
  {
    what: 'binary data that is not base64',
    frame: { type: 'publish', channel: 'a', data: 'not base64!', binary: true, ref: 'b1' },
    code: 'BAD_REQUEST',
    ref: 'b1',
  },
  {
    what: 'a ref longer than 128 characters',
    frame: { type: 'ping', ref: 'r'.repeat(129) },
    code: 'BAD_REQUEST',
  },
];

describe('malformed frames', () => {
  it.each(MALFORMED)(
    'answers $what with an error frame $code and keeps the connection usable',
    async ({ frame, code, ref }) => {
      const hub = await openHub();
      const socket = await connect(hub);

      const error = await errorFor(socket, frame);

      expect(error).toEqual({
        type: 'error',
        code,
        message: expect.stringMatching(/\S/),
        ...(ref === undefined ? {} : { ref }),
      });
      expect(socket.ofType('error')).toHaveLength(1);
      // Nothing was subscribed or published by the refused frame.
      const [subscribed] = await subscribe(socket, ['a']);
      expect(subscribed).toMatchObject({ type: 'subscribed', channel: 'a', recovered: false });
      expect(String(subscribed?.position)).toMatch(/-0$/);
      const envelope = await hub.hub.publish('a', 'after the error');
      await waitForMessages(socket, 1);
      expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
      expect(isOpen(socket)).toBe(true);
    },
  );

  it('echoes a numeric ref as a string in the error frame', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    const error = await errorFor(socket, { type: 'nope', ref: 42 });

    expect(error).toEqual({
      type: 'error',
      code: 'UNKNOWN_FRAME',
      message: expect.any(String),
      ref: '42',
    });
  });

  it('refuses a second subscribe to a channel with ALREADY_SUBSCRIBED and subscribes none of that frame', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['a']);

    const error = await errorFor(socket, { type: 'subscribe', channels: ['b', 'a'], ref: 'twice' });

    expect(error).toEqual({
      type: 'error',
      code: 'ALREADY_SUBSCRIBED',
      message: expect.stringMatching(/\ba\b/),
      ref: 'twice',
    });
    // `b` was not subscribed by the refused frame: subscribing to it now works.
    const [b] = await subscribe(socket, ['b']);
    expect(b).toMatchObject({ type: 'subscribed', channel: 'b' });
    // `a` is delivered once, not once per subscribe attempt.
    const envelope = await hub.hub.publish('a', 'once');
    await waitForMessages(socket, 1);
    await roundTrip(socket);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
    expect(socket.ofType('subscribed')).toHaveLength(2);
  });

  it('refuses a subscribe with one bad since position as a whole', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    const error = await errorFor(socket, {
      type: 'subscribe',
      channels: ['a', 'b'],
      since: { b: 'zz' },
      ref: 'r',
    });
    await roundTrip(socket);

    expect(error).toMatchObject({ type: 'error', code: 'BAD_CURSOR', ref: 'r' });
    expect(socket.ofType('subscribed')).toEqual([]);
    expect(hub.hub.stats().channels).toBe(0);
    const subscribed = await subscribe(socket, ['a', 'b']);
    expect(subscribed.map((f) => f.channel)).toEqual(['a', 'b']);
  });
});

describe('binary data', () => {
  const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

  it('delivers bytes published with hub.publish as base64 with binary true', async () => {
    const hub = await openHub();
    const socket = await connect(hub);
    await subscribe(socket, ['bytes']);

    const envelope = await hub.hub.publish('bytes', allBytes, { event: 'blob' });
    const [message] = await waitForMessages(socket, 1);

    expect(message).toEqual({
      type: 'message',
      id: envelope.id,
      channel: 'bytes',
      event: 'blob',
      data: Buffer.from(allBytes).toString('base64'),
      ts: envelope.ts,
      binary: true,
    });
    expect([...Buffer.from(String(message?.data), 'base64')]).toEqual([...allBytes]);
  });

  it('round-trips a client publish frame with binary true and base64 data', async () => {
    const hub = await openHub();
    const received: Envelope[] = [];
    hub.hub.onMessage((_connection, envelope) => received.push(envelope));
    const sender = await connect(hub);
    const reader = await connect(hub);
    await subscribe(reader, ['bytes']);
    const data = Buffer.from(allBytes).toString('base64');

    sender.send({ type: 'publish', channel: 'bytes', data, binary: true, ref: 'bin' });
    const [ack] = await sender.waitForType('ack', 1);
    const [message] = await waitForMessages(reader, 1);

    expect(message).toEqual({
      type: 'message',
      id: ack?.id,
      channel: 'bytes',
      event: 'message',
      data,
      ts: expect.any(Number),
      binary: true,
    });
    expect([...Buffer.from(String(message?.data), 'base64')]).toEqual([...allBytes]);
    expect(received).toEqual([
      { id: ack?.id, channel: 'bytes', event: 'message', data, ts: message?.ts, binary: true },
    ]);
  });

  it('accepts a binary WebSocket frame that carries UTF-8 JSON text', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    socket.ws.send(Buffer.from(JSON.stringify({ type: 'subscribe', channels: ['utf8'] })), {
      binary: true,
    });
    const [subscribed] = await socket.waitForType('subscribed', 1);
    const frame = { type: 'publish', channel: 'utf8', data: 'héllo ✓ 🌊', ref: 'u' };
    socket.ws.send(Buffer.from(JSON.stringify(frame), 'utf8'), { binary: true });
    const [message] = await waitForMessages(socket, 1);
    socket.ws.send(Buffer.from('ping'), { binary: true });
    await waitFor(() => socket.frames.includes('pong'), 5000, 'a bare pong');

    expect(subscribed).toMatchObject({ type: 'subscribed', channel: 'utf8', recovered: false });
    expect(message).toMatchObject({ type: 'message', channel: 'utf8', data: 'héllo ✓ 🌊' });
    expect(socket.ofType('ack')).toEqual([
      { type: 'ack', ref: 'u', id: message?.id, ts: message?.ts },
    ]);
    expect(socket.ofType('error')).toEqual([]);
  });

  it('answers a binary frame that is not valid UTF-8 with BAD_JSON and stays usable', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    socket.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: true });
    const [error] = await socket.waitForType('error', 1);

    expect(error).toEqual({
      type: 'error',
      code: 'BAD_JSON',
      message: expect.stringMatching(/\S/),
    });
    await roundTrip(socket);
    expect(isOpen(socket)).toBe(true);
  });

  it('closes a text frame that is not valid UTF-8 with 1007 (RFC 6455 § 8.1)', async () => {
    const hub = await openHub();
    const socket = await connect(hub);

    socket.ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    const { code } = await socket.closed();

    expect(code).toBe(1007);
    await waitFor(() => hub.hub.stats().connections.websocket === 0, 5000, 'the server close');
  });
});

describe('limits', () => {
  it('accepts a frame of exactly maxMessageBytes and closes a larger one with 1009 and a reason', async () => {
    const hub = await openHub({ limits: { maxMessageBytes: 1024 } });
    const socket = await connect(hub);
    const frameOf = (size: number) => {
      const base = JSON.stringify({ type: 'publish', channel: 'big', data: '', ref: 'r' });
      return base.replace('"data":""', `"data":"${'x'.repeat(size - base.length)}"`);
    };
    expect(Buffer.byteLength(frameOf(1024))).toBe(1024);

    socket.send(frameOf(1024));
    const [ack] = await socket.waitForType('ack', 1);
    expect(ack).toMatchObject({ type: 'ack', ref: 'r' });

    socket.send(frameOf(1025));
    const { code, reason } = await socket.closed();

    expect(code).toBe(1009);
    expect(reason).toBe('message exceeds the limit of 1024 bytes');
    await waitFor(() => hub.hub.stats().connections.websocket === 0, 5000, 'the server close');
    await assertServesNewClient(hub, 'after-big');
  });

  it('refuses subscriptions past maxSubscriptionsPerConnection with TOO_MANY_SUBSCRIPTIONS', async () => {
    const hub = await openHub({ limits: { maxSubscriptionsPerConnection: 3 } });
    const socket = await connect(hub);
    await subscribe(socket, ['a', 'b']);

    const tooMany = await errorFor(socket, { type: 'subscribe', channels: ['c', 'd'], ref: 't1' });
    const [c] = await subscribe(socket, ['c']);
    const oneMore = await errorFor(socket, { type: 'subscribe', channels: ['d'], ref: 't2' });

    expect(tooMany).toEqual({
      type: 'error',
      code: 'TOO_MANY_SUBSCRIPTIONS',
      message: expect.stringMatching(/limit is 3/),
      ref: 't1',
    });
    expect(c).toMatchObject({ type: 'subscribed', channel: 'c' });
    expect(oneMore).toMatchObject({ type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', ref: 't2' });
    // The connection stays open and keeps its subscriptions.
    const envelope = await hub.hub.publish('c', 'still open');
    await hub.hub.publish('d', 'not subscribed');
    await waitForMessages(socket, 1);
    await roundTrip(socket);
    expect(messagesOf(socket)).toEqual([asFrame(envelope)]);
    expect(isOpen(socket)).toBe(true);
    // Leaving a channel makes room for another.
    socket.send({ type: 'unsubscribe', channels: ['a'] });
    const [d] = await subscribe(socket, ['d']);
    expect(d).toMatchObject({ type: 'subscribed', channel: 'd' });
  });

  it('closes a connection past maxConnectionsPerIp with 4002 and admits a new one once another left', async () => {
    const hub = await openHub({ limits: { maxConnectionsPerIp: 2 } });
    const first = await connect(hub);
    const second = await connect(hub);

    const third = await connect(hub);
    const refused = await third.closed();

    expect(refused.code).toBe(4002);
    expect(refused.reason).toBe('2 connections open from this address, limit is 2');
    expect(hub.hub.stats().connections.websocket).toBe(2);
    expect(isOpen(first) && isOpen(second)).toBe(true);

    first.close();
    await waitFor(() => hub.hub.stats().connections.websocket === 1, 5000, 'the server close');
    const fourth = await connect(hub);
    const [subscribed] = await subscribe(fourth, ['admitted']);
    expect(subscribed).toMatchObject({ type: 'subscribed', channel: 'admitted' });
    expect(isOpen(fourth)).toBe(true);
    expect(hub.hub.stats().connections.websocket).toBe(2);
  });

  it('closes a socket that answers no ping with 4001 while a live socket stays open', async () => {
    const hub = await openHub({ wsPingIntervalMs: 50, limits: { idleTimeoutMs: 300 } });
    const started = Date.now();
    const silent = await connect(hub, { autoPong: false });
    const live = await connect(hub);
    let pings = 0;
    silent.ws.on('ping', () => pings++);

    const { code, reason } = await silent.closed(3000);
    const closedAfter = Date.now() - started;
    await sleep(Math.max(0, 900 - (Date.now() - started)));

    expect(code).toBe(4001);
    expect(reason).toBe('nothing received for 300 ms');
    expect(pings).toBeGreaterThanOrEqual(3);
    expect(closedAfter).toBeGreaterThanOrEqual(300);
    expect(isOpen(live)).toBe(true);
    expect(hub.hub.stats().connections.websocket).toBe(1);
    await roundTrip(live);
  });

  it('closes a consumer that stops reading past maxBufferedBytes while a fast one gets every message', async () => {
    const hub = await openHub({ limits: { maxBufferedBytes: 64 * 1024 } });
    const slow = await connect(hub);
    const fast = await connect(hub);
    await subscribe(slow, ['firehose']);
    await subscribe(fast, ['firehose']);
    stopReading(slow);

    // Loopback socket buffers swallow a few MiB before anything waits in the hub's send
    // buffer, so publish until the hub gives up on the slow socket (at most 64 MiB), paced
    // by the fast reader so that only the paused one lags.
    const chunk = 'x'.repeat(32 * 1024);
    let published = 0;
    while (hub.hub.stats().connections.websocket === 2 && published < 2048) {
      await hub.hub.publish('firehose', { n: published, chunk });
      published += 1;
      if (published % 4 === 0) await waitForMessages(fast, published, 'firehose');
    }

    expect(hub.hub.stats().connections.websocket).toBe(1);
    const received = await waitForMessages(fast, published, 'firehose');
    await roundTrip(fast);
    expect(received.map((f) => (f.data as { n: number }).n)).toEqual(
      Array.from({ length: published }, (_, n) => n),
    );
    expect(messagesOf(slow)).toEqual([]);
    expect(isOpen(fast)).toBe(true);
    expect(hub.hub.stats().channels).toBe(1);
  });

  it('keeps a reading client whose burst, published at once, is larger than maxBufferedBytes', async () => {
    const hub = await openHub({ limits: { maxBufferedBytes: 64 * 1024 } });
    const socket = await connect(hub);
    await subscribe(socket, ['burst']);
    // 1 MB fanned out within one tick: for a moment the socket queues 16 × the limit.
    const chunk = 'x'.repeat(1000);
    await Promise.all(
      Array.from({ length: 1000 }, (_, n) => hub.hub.publish('burst', { n, chunk })),
    );
    const received = await waitForMessages(socket, 1000, 'burst');
    expect(received.map((f) => (f.data as { n: number }).n)).toEqual(range(0, 999));
    await roundTrip(socket);
    expect(isOpen(socket)).toBe(true);
  });

  it('drops a dead peer that neither answers pings nor reads within a second of its idle timeout', async () => {
    const hub = await openHub({ wsPingIntervalMs: 50, limits: { idleTimeoutMs: 300 } });
    const dead = await connect(hub, { autoPong: false });
    const live = await connect(hub);
    await subscribe(dead, ['a']);
    stopReading(dead);
    const started = Date.now();

    await waitFor(() => hub.hub.stats().connections.websocket === 1, 3000, 'the server close');

    expect(Date.now() - started).toBeLessThan(2000);
    expect(hub.hub.stats().channels).toBe(0);
    expect(isOpen(live)).toBe(true);
    await roundTrip(live);
  });
});

describe('hub.close()', () => {
  it('closes open sockets with 1012 and a reason', async () => {
    const hub = await openHub();
    const one = await connect(hub);
    const two = await connect(hub);
    await subscribe(one, ['a']);

    await hub.hub.close();

    const closes = await Promise.all([one.closed(), two.closed()]);
    expect(closes).toEqual([
      { code: 1012, reason: 'server restarting' },
      { code: 1012, reason: 'server restarting' },
    ]);
    expect(hub.hub.stats().connections.websocket).toBe(0);
  });

  it('refuses upgrades during the drain window with 1012 and a reason', async () => {
    const hub = await openHub();
    for (let i = 0; i < 3; i++) await connect(hub);

    const closing = hub.hub.close({ drainWindowMs: 1000 });
    const late = await connect(hub);
    const refused = await late.closed();
    await closing;

    expect(refused).toEqual({ code: 1012, reason: 'server is shutting down, reconnect elsewhere' });
  });

  it('refuses upgrades once closed with HTTP 503', async () => {
    const hub = await openHub();
    await hub.hub.close();

    await expect(connectWs(hub.wsUrl, { handshakeTimeout: 2000 })).rejects.toThrow(
      'upgrade refused: 503',
    );
    expect(hub.hub.stats().connections.websocket).toBe(0);
  });
});

describe('robustness', () => {
  it('still serves a fresh client after every kind of malformed input', async () => {
    const hub = await openHub({ limits: { maxMessageBytes: 4096 } });
    const abuser = await connect(hub);
    for (const { frame } of MALFORMED) abuser.send(frame);
    abuser.ws.send(Buffer.from([0xc3, 0x28]), { binary: true });
    abuser.send({ type: 'subscribe', channels: ['a', 'a'], since: { a: '0-' } });
    await abuser.waitForType('error', MALFORMED.length + 2);
    abuser.send('x'.repeat(5000));
    expect((await abuser.closed()).code).toBe(1009);
    // One error per bad frame (async refusals may overtake sync ones, hence the sort).
    const codes = abuser.ofType('error').map((f) => String(f.code));
    const expected = [...MALFORMED.map((m) => m.code), 'BAD_JSON', 'BAD_CURSOR'];
    expect(codes.sort()).toEqual(expected.sort());

    const invalidText = await connect(hub);
    invalidText.ws.send(Buffer.from([0xff]), { binary: false });
    expect((await invalidText.closed()).code).toBe(1007);
    await waitFor(() => hub.hub.stats().connections.websocket === 0, 5000, 'the server closes');

    await assertServesNewClient(hub, 'fresh');
  });
});
