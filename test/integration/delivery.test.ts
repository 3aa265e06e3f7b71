import { afterEach, describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { Hub, HubOptions } from '../../src/server/index.js';
import { publishHttp } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { TestEventStream } from '../support/sse-client.js';
import { sleep, waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe as subscribeWs } from '../support/ws-client.js';

/**
 * The delivery and resume contract, run on every transport (STYLE.md § Tests; SPEC.md
 * § Behaviour every transport shares). Each transport gets a small raw client behind one
 * interface, so that every scenario below is written once and proves the same thing on the
 * WebSocket frames, the SSE stream and the long and short poll answers.
 */

/** What a client got, in arrival order: envelopes and `gap` notices. */
type ReceivedItem =
  | { readonly type: 'envelope'; readonly envelope: Envelope }
  | { readonly type: 'gap'; readonly channel: string };

type ClientTransportName = 'websocket' | 'sse' | 'long-polling' | 'polling';

/** One client of one transport; it keeps what it received across reconnects. */
interface TransportClient {
  /**
   * Connects and subscribes to `channels`, from `resumeFrom` when given (a value that
   * `position()` returned), else from now. Resolves once the hub has placed the subscriber,
   * so that anything published afterwards reaches it.
   */
  subscribe(channels: string[], resumeFrom?: string): Promise<void>;
  /** Everything received since the client was created, over every connection, in order. */
  received(): ReceivedItem[];
  /**
   * What this client would resume from, opaque to the tests: the JSON of the per-channel last
   * ids (WebSocket), the last SSE event id, or the poll cursor.
   */
  position(): string;
  /**
   * The `recovered` flag per channel of the latest subscribe, for the transports that report
   * it (WebSocket `subscribed` frames, the SSE `subscribed` event); undefined for polls.
   */
  recovered(): Record<string, boolean> | undefined;
  /** Error frames, error events, refused requests and mismatches seen since `subscribe`. */
  errors(): string[];
  /** Drops the connection (stops the poll loop); nothing more is recorded until `subscribe`. */
  disconnect(): void;
}

interface TransportFactory {
  readonly name: ClientTransportName;
  /** Whether the transport tells the subscriber if `since` was honoured in full. */
  readonly reportsRecovered: boolean;
  create(hub: TestHub): TransportClient;
}

/**
 * What the WebSocket and SSE clients share: a record of what arrived, read lazily from the
 * raw client's frames or events by `sync()`.
 */
abstract class RecordingClient implements TransportClient {
  protected readonly items: ReceivedItem[] = [];
  protected recoveredByChannel: Record<string, boolean> = {};
  protected errorList: string[] = [];

  abstract subscribe(channels: string[], resumeFrom?: string): Promise<void>;
  abstract position(): string;
  /** Records what the raw client received since the last call. */
  protected abstract sync(): void;
  /** Drops the raw connection. */
  protected abstract drop(): void;

  received(): ReceivedItem[] {
    this.sync();
    return [...this.items];
  }

  recovered(): Record<string, boolean> {
    this.sync();
    return { ...this.recoveredByChannel };
  }

  errors(): string[] {
    this.sync();
    return [...this.errorList];
  }

  disconnect(): void {
    this.sync();
    this.drop();
  }
}

/** WebSocket frames over `ws`: resumes with `since` = the last id seen per channel. */
class WebSocketClient extends RecordingClient {
  readonly #url: string;
  #socket: TestSocket | undefined;
  #consumed = 0;
  // Per channel, the `subscribed` position and then the id of each envelope: a channel that
  // got no envelope still resumes from where it was subscribed (SPEC.md § subscribed).
  #positions = new Map<string, string>();

  constructor(url: string) {
    super();
    this.#url = url;
  }

  async subscribe(channels: string[], resumeFrom?: string): Promise<void> {
    this.disconnect();
    this.errorList = [];
    this.recoveredByChannel = {};
    let since: Record<string, string> | undefined;
    if (resumeFrom === undefined) {
      this.#positions = new Map();
    } else {
      const saved = JSON.parse(resumeFrom) as Record<string, string>;
      since = {};
      for (const channel of channels) {
        const position = saved[channel];
        if (position !== undefined) since[channel] = position;
      }
    }
    const socket = await connectWs(this.#url);
    this.#socket = socket;
    this.#consumed = 0;
    await subscribeWs(socket, channels, since);
    this.sync();
  }

  position(): string {
    this.sync();
    return JSON.stringify(Object.fromEntries(this.#positions));
  }

  protected drop(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }

  protected sync(): void {
    const frames = this.#socket?.frames ?? [];
    for (; this.#consumed < frames.length; this.#consumed++) {
      const frame = frames[this.#consumed];
      if (typeof frame !== 'object' || frame === undefined) {
        this.errorList.push(`unexpected text frame ${String(frame)}`);
        continue;
      }
      const channel = frame.channel as string;
      if (frame.type === 'subscribed') {
        this.#positions.set(channel, frame.position as string);
        this.recoveredByChannel[channel] = frame.recovered as boolean;
      } else if (frame.type === 'message') {
        const { type: _type, ...envelope } = frame;
        this.items.push({ type: 'envelope', envelope: envelope as unknown as Envelope });
        this.#positions.set(channel, frame.id as string);
      } else if (frame.type === 'gap') {
        this.items.push({ type: 'gap', channel });
      } else {
        this.errorList.push(JSON.stringify(frame));
      }
    }
  }
}

/** Network failures in a row after which a client gives up (about a second of retries). */
const MAX_NETWORK_RETRIES = 20;
const RETRY_DELAY_MS = 50;

/**
 * Opens a connection, retrying network failures as a reconnecting client does: the agent's
 * keep-alive socket may have been closed by the server an instant before it is reused (the
 * restart test), which fails the request before it reaches any hub.
 */
async function openWithRetries<T>(open: () => Promise<T>): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await open();
    } catch (error) {
      if (failures >= MAX_NETWORK_RETRIES) throw error;
    }
    await sleep(RETRY_DELAY_MS);
  }
}

/** A raw SSE stream: resumes with the `Last-Event-ID` header, as a browser does. */
class SseClient extends RecordingClient {
  readonly #baseUrl: string;
  #stream: TestEventStream | undefined;
  #consumed = 0;
  // The id of the last event that had one, the `subscribed` and `gap` events included.
  #lastEventId = '';

  constructor(baseUrl: string) {
    super();
    this.#baseUrl = baseUrl;
  }

  async subscribe(channels: string[], resumeFrom?: string): Promise<void> {
    this.disconnect();
    this.errorList = [];
    this.recoveredByChannel = {};
    this.#lastEventId = resumeFrom ?? '';
    const query = new URLSearchParams(channels.map((channel) => ['channel', channel]));
    const headers: Record<string, string> = resumeFrom ? { 'Last-Event-ID': resumeFrom } : {};
    const stream = await openWithRetries(() =>
      TestEventStream.open(`${this.#baseUrl}/rt/sse?${query}`, headers),
    );
    this.#stream = stream;
    this.#consumed = 0;
    if (stream.status !== 200) throw new Error(`SSE answered ${stream.status}`);
    await stream.waitForType('subscribed', 1);
    this.sync();
  }

  position(): string {
    this.sync();
    return this.#lastEventId;
  }

  protected drop(): void {
    this.#stream?.close();
    this.#stream = undefined;
  }

  protected sync(): void {
    const events = this.#stream?.events ?? [];
    for (; this.#consumed < events.length; this.#consumed++) {
      const event = events[this.#consumed];
      if (event === undefined) continue;
      if (event.id !== undefined) this.#lastEventId = event.id;
      const data = JSON.parse(event.data) as Record<string, unknown>;
      if (event.event === 'subscribed') {
        const list = data.channels as Array<{ channel: string; recovered: boolean }>;
        for (const { channel, recovered } of list) this.recoveredByChannel[channel] = recovered;
      } else if (event.event === 'gap') {
        this.items.push({ type: 'gap', channel: data.channel as string });
      } else if (event.event === 'error') {
        this.errorList.push(event.data);
      } else {
        const envelope = data as unknown as Envelope;
        // SPEC.md § Endpoints: the SSE `event:` field is the envelope's event.
        if (envelope.event !== event.event) {
          this.errorList.push(`event field ${event.event} for envelope event ${envelope.event}`);
        }
        this.items.push({ type: 'envelope', envelope });
      }
    }
  }
}

type PollOutcome = 'answered' | 'refused' | 'stale';

/**
 * A loop of chained polls, each sending the cursor of the previous answer. Long polling holds
 * each request up to `timeout`; short polling (`timeout` 0) waits `intervalMs` between polls.
 * The first poll of a subscribe is made with timeout 0 and awaited, so that `subscribe`
 * resolves once the hub has placed the poll (and answered its backlog) without waiting out a
 * long poll. A network failure (a keep-alive socket that the server closed an instant before
 * it was reused) is retried with the same cursor, as a real client does; an error answer is
 * recorded and ends the loop.
 */
class PollingClient implements TransportClient {
  readonly #baseUrl: string;
  readonly #timeout: number;
  readonly #intervalMs: number;
  readonly #items: ReceivedItem[] = [];
  #cursor = '';
  #channels: string[] = [];
  #errors: string[] = [];
  // Each subscribe starts a session; a loop whose session is over stops before its next poll,
  // and an answer that arrives for it is dropped (its cursor was never kept, so a resume
  // fetches those envelopes again: nothing lost, nothing twice).
  #session = 0;
  #abort: AbortController | undefined;
  #wake: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(baseUrl: string, timeout: number, intervalMs: number) {
    this.#baseUrl = baseUrl;
    this.#timeout = timeout;
    this.#intervalMs = intervalMs;
  }

  async subscribe(channels: string[], resumeFrom?: string): Promise<void> {
    this.disconnect();
    this.#errors = [];
    this.#channels = channels;
    // Without a cursor a poll starts from now; its answer's cursor is the starting position.
    this.#cursor = resumeFrom ?? '';
    const session = ++this.#session;
    if ((await this.#poll(session, 0)) !== 'answered') {
      throw new Error(`first poll failed: ${this.#errors.join('; ')}`);
    }
    void this.#loop(session);
  }

  received(): ReceivedItem[] {
    return [...this.#items];
  }

  position(): string {
    return this.#cursor;
  }

  recovered(): undefined {
    return undefined;
  }

  errors(): string[] {
    return [...this.#errors];
  }

  disconnect(): void {
    this.#session++;
    this.#abort?.abort();
    this.#abort = undefined;
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  async #loop(session: number): Promise<void> {
    while (session === this.#session) {
      if ((await this.#poll(session, this.#timeout)) !== 'answered') return;
      if (this.#intervalMs > 0) await this.#pause(this.#intervalMs);
    }
  }

  /** One poll, retried on network failures while the session lasts. */
  async #poll(session: number, timeout: number): Promise<PollOutcome> {
    for (let failures = 0; ; failures++) {
      if (session !== this.#session) return 'stale';
      try {
        return await this.#pollOnce(session, timeout);
      } catch (error) {
        if (session !== this.#session) return 'stale';
        if (failures >= MAX_NETWORK_RETRIES) {
          this.#errors.push(`poll failed ${failures + 1} times: ${describeError(error)}`);
          return 'refused';
        }
      }
      await this.#pause(RETRY_DELAY_MS);
    }
  }

  async #pollOnce(session: number, timeout: number): Promise<PollOutcome> {
    const query = new URLSearchParams(this.#channels.map((channel) => ['channel', channel]));
    if (this.#cursor !== '') query.set('cursor', this.#cursor);
    query.set('timeout', String(timeout));
    const abort = new AbortController();
    this.#abort = abort;
    const response = await fetch(`${this.#baseUrl}/rt/poll?${query}`, { signal: abort.signal });
    const text = await response.text();
    if (session !== this.#session) return 'stale';
    if (response.status !== 200) {
      this.#errors.push(`poll answered ${response.status}: ${text}`);
      return 'refused';
    }
    const body = JSON.parse(text) as { messages: Array<Record<string, unknown>>; cursor: string };
    for (const message of body.messages) {
      if (message.type === 'gap') {
        this.#items.push({ type: 'gap', channel: message.channel as string });
      } else {
        this.#items.push({ type: 'envelope', envelope: message as unknown as Envelope });
      }
    }
    this.#cursor = body.cursor;
    return 'answered';
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }
}

/** An error and its cause (fetch hides the socket error in `cause`). */
function describeError(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined ? String(error) : `${String(error)} (${String(cause)})`;
}

const TRANSPORTS: readonly TransportFactory[] = [
  {
    name: 'websocket',
    reportsRecovered: true,
    create: (hub) => new WebSocketClient(hub.wsUrl),
  },
  { name: 'sse', reportsRecovered: true, create: (hub) => new SseClient(hub.url) },
  {
    name: 'long-polling',
    reportsRecovered: false,
    create: (hub) => new PollingClient(hub.url, 2000, 0),
  },
  { name: 'polling', reportsRecovered: false, create: (hub) => new PollingClient(hub.url, 0, 20) },
];

const hubs: TestHub[] = [];
const clients: TransportClient[] = [];

async function newHub(options: HubOptions = {}, port = 0): Promise<TestHub> {
  const hub = await startHub(options, port);
  hubs.push(hub);
  return hub;
}

function newClient(transport: TransportFactory, hub: TestHub): TransportClient {
  const client = transport.create(hub);
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

const EVENTS = ['message', 'tick', 'price.update'] as const;

/** Varied JSON payloads: objects, text with quotes, line breaks and non-ASCII, numbers, null. */
function sampleData(i: number): unknown {
  const shapes = [
    { i, nested: { list: [i, 'x', { deep: true }] } },
    `line ${i} "quoted" é ✓ 🌊\nsecond line`,
    i * 1.5,
    null,
    [i, false, 'z'],
    { empty: {}, text: '' },
  ];
  return shapes[i % shapes.length];
}

/** Publishes `count` envelopes on `channel` one after another; returns what the hub resolved. */
async function publishMany(hub: Hub, channel: string, count: number): Promise<Envelope[]> {
  const envelopes: Envelope[] = [];
  for (let i = 0; i < count; i++) {
    const event = EVENTS[i % EVENTS.length];
    // Every third envelope uses the default event, which must come out as `message`.
    const options = event === 'message' ? {} : { event };
    envelopes.push(await hub.publish(channel, sampleData(i), options));
  }
  return envelopes;
}

function envelopesOf(client: TransportClient, channel?: string): Envelope[] {
  return client
    .received()
    .flatMap((item) => (item.type === 'envelope' ? [item.envelope] : []))
    .filter((envelope) => channel === undefined || envelope.channel === channel);
}

/** The received items as short text: envelope ids, and `gap:<channel>`. */
function trace(client: TransportClient): string[] {
  return client
    .received()
    .map((item) => (item.type === 'gap' ? `gap:${item.channel}` : item.envelope.id));
}

/** Waits until `client` has received the envelope of id `id`. */
function waitForEnvelope(client: TransportClient, id: string, timeoutMs = 5000): Promise<true> {
  return waitFor(
    () => envelopesOf(client).some((envelope) => envelope.id === id),
    timeoutMs,
    `envelope ${id}`,
  );
}

const ids = (envelopes: readonly Envelope[]): string[] => envelopes.map((e) => e.id);

describe.each(TRANSPORTS)('delivery and resume over $name', (transport) => {
  const recoveredAs = (flags: Record<string, boolean>) =>
    transport.reportsRecovered ? flags : undefined;

  it('delivers 50 envelopes in publish order with their ids, events and data', async () => {
    const testHub = await newHub();
    const client = newClient(transport, testHub);
    await client.subscribe(['orders']);

    const published = await publishMany(testHub.hub, 'orders', 50);
    await waitForEnvelope(client, (published[49] as Envelope).id);

    expect(client.received()).toEqual(
      published.map((envelope) => ({ type: 'envelope', envelope })),
    );
    expect(envelopesOf(client).map((e) => e.event)).toEqual(
      Array.from({ length: 50 }, (_, i) => EVENTS[i % EVENTS.length]),
    );
    expect(client.errors()).toEqual([]);
  });

  it('keeps each channel in order and delivers nothing of channels not subscribed', async () => {
    const testHub = await newHub();
    const client = newClient(transport, testHub);
    await client.subscribe(['alpha', 'beta']);

    const published: Record<string, Envelope[]> = { alpha: [], beta: [], gamma: [] };
    const order = ['gamma', 'alpha', 'beta'];
    for (let i = 0; i < 30; i++) {
      const channel = order[i % order.length] as string;
      published[channel]?.push(await testHub.hub.publish(channel, { i }));
    }
    await waitForEnvelope(client, (published.alpha?.at(-1) as Envelope).id);
    await waitForEnvelope(client, (published.beta?.at(-1) as Envelope).id);

    expect(envelopesOf(client, 'alpha')).toEqual(published.alpha);
    expect(envelopesOf(client, 'beta')).toEqual(published.beta);
    expect(client.received()).toHaveLength(20);
    expect(client.errors()).toEqual([]);
  });

  it('resumes after a disconnect with every missed envelope once, in order', async () => {
    const testHub = await newHub();
    const { hub } = testHub;
    const client = newClient(transport, testHub);
    await client.subscribe(['a', 'b']);
    // Channel b gets nothing before the disconnect: its resume point is where it was
    // subscribed.
    const before = await publishMany(hub, 'a', 5);
    await waitForEnvelope(client, (before[4] as Envelope).id);
    const saved = client.position();
    client.disconnect();

    const away: Envelope[] = [];
    for (let i = 0; i < 10; i++) away.push(await hub.publish(i % 3 === 2 ? 'b' : 'a', { i }));
    await client.subscribe(['a', 'b'], saved);
    // Published after the resume: once these arrive, anything that came before them has too.
    const lastA = await hub.publish('a', 'last a');
    const lastB = await hub.publish('b', 'last b');
    await waitForEnvelope(client, lastA.id);
    await waitForEnvelope(client, lastB.id);

    const all = [...before, ...away, lastA, lastB];
    expect(envelopesOf(client, 'a')).toEqual(all.filter((e) => e.channel === 'a'));
    expect(envelopesOf(client, 'b')).toEqual(all.filter((e) => e.channel === 'b'));
    expect(client.received()).toHaveLength(17);
    expect(client.recovered()).toEqual(recoveredAs({ a: true, b: true }));
    expect(client.errors()).toEqual([]);
  });

  it('resumes without loss or repetition when the connection drops mid-stream', async () => {
    const testHub = await newHub();
    const { hub } = testHub;
    const client = newClient(transport, testHub);
    await client.subscribe(['stream']);

    // The publisher yields to I/O between envelopes and drops the client halfway, so that
    // the drop falls while envelopes are in flight (frames in the socket, a poll answer on
    // its way) and the client's position is wherever its reading stopped.
    const published: Envelope[] = [];
    let saved = '';
    let receivedAtDrop = 0;
    for (let i = 0; i < 60; i++) {
      published.push(await hub.publish('stream', { i }));
      if (i === 29) {
        receivedAtDrop = envelopesOf(client).length;
        saved = client.position();
        client.disconnect();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }

    await client.subscribe(['stream'], saved);
    const last = await hub.publish('stream', 'after resume');
    await waitForEnvelope(client, last.id);

    expect(receivedAtDrop).toBeLessThan(30);
    expect(trace(client)).toEqual(ids([...published, last]));
    expect(client.recovered()).toEqual(recoveredAs({ stream: true }));
    expect(client.errors()).toEqual([]);
  });

  it('resumes from the starting position when nothing was received before the disconnect', async () => {
    const testHub = await newHub();
    const client = newClient(transport, testHub);
    await client.subscribe(['quiet']);
    const saved = client.position();
    client.disconnect();

    const away = await publishMany(testHub.hub, 'quiet', 5);
    await client.subscribe(['quiet'], saved);
    const last = await testHub.hub.publish('quiet', 'after resume');
    await waitForEnvelope(client, last.id);

    expect(envelopesOf(client)).toEqual([...away, last]);
    expect(trace(client)).toEqual(ids([...away, last]));
    expect(client.recovered()).toEqual(recoveredAs({ quiet: true }));
    expect(client.errors()).toEqual([]);
  });

  it('sends a gap, then the envelopes still held, when history was trimmed', async () => {
    const testHub = await newHub({ history: { maxCount: 5 } });
    const { hub } = testHub;
    const client = newClient(transport, testHub);
    await client.subscribe(['trimmed']);
    const first = await hub.publish('trimmed', 'first');
    await waitForEnvelope(client, first.id);
    const saved = client.position();
    client.disconnect();

    const away = await publishMany(hub, 'trimmed', 20);
    await client.subscribe(['trimmed'], saved);
    const last = await hub.publish('trimmed', 'after resume');
    await waitForEnvelope(client, last.id);

    const held = away.slice(-5);
    expect(trace(client)).toEqual([first.id, 'gap:trimmed', ...ids(held), last.id]);
    expect(envelopesOf(client)).toEqual([first, ...held, last]);
    expect(client.recovered()).toEqual(recoveredAs({ trimmed: false }));
    expect(client.errors()).toEqual([]);
  });

  it('sends a gap, then what the new hub publishes, when resuming against a restarted hub', async () => {
    const oldHub = await newHub();
    const client = newClient(transport, oldHub);
    await client.subscribe(['restart']);
    const before = await publishMany(oldHub.hub, 'restart', 3);
    await waitForEnvelope(client, (before[2] as Envelope).id);

    // The hub goes away under the connected client.
    await oldHub.close();
    client.disconnect();
    const saved = client.position();
    const newHubOnPort = await newHub({}, oldHub.port);
    const heldByNewHub = await publishMany(newHubOnPort.hub, 'restart', 2);
    await client.subscribe(['restart'], saved);
    const live = await publishMany(newHubOnPort.hub, 'restart', 2);
    await waitForEnvelope(client, (live[1] as Envelope).id);

    expect(trace(client)).toEqual([
      ...ids(before),
      'gap:restart',
      ...ids(heldByNewHub),
      ...ids(live),
    ]);
    expect(envelopesOf(client)).toEqual([...before, ...heldByNewHub, ...live]);
    expect(client.recovered()).toEqual(recoveredAs({ restart: false }));
    expect(client.errors()).toEqual([]);
  });

  it('gives 20 clients on one channel the same 30 envelopes in the same order', async () => {
    const testHub = await newHub();
    const many = Array.from({ length: 20 }, () => newClient(transport, testHub));
    await Promise.all(many.map((client) => client.subscribe(['fanout'])));

    const published = await publishMany(testHub.hub, 'fanout', 30);
    const lastId = (published[29] as Envelope).id;
    await Promise.all(many.map((client) => waitForEnvelope(client, lastId)));

    for (const client of many) {
      expect(envelopesOf(client)).toEqual(published);
      expect(client.received()).toHaveLength(30);
      expect(client.errors()).toEqual([]);
    }
  });
});

describe('delivery across transports', () => {
  it('gives clients of all four transports the identical sequence of envelope ids', async () => {
    const testHub = await newHub();
    const all = TRANSPORTS.map((transport) => newClient(transport, testHub));
    await Promise.all(all.map((client) => client.subscribe(['shared'])));

    // Through the HTTP publish endpoint this time: its 201 answers give the ids.
    const publishedIds: string[] = [];
    for (let i = 0; i < 25; i++) {
      const answer = await publishHttp(testHub.url, 'shared', { i }, i % 2 ? 'odd' : undefined);
      expect(answer.status).toBe(201);
      publishedIds.push(answer.body.id);
    }
    const lastId = publishedIds[24] as string;
    await Promise.all(all.map((client) => waitForEnvelope(client, lastId)));

    const expected = publishedIds.map((id, i) => ({
      id,
      channel: 'shared',
      event: i % 2 ? 'odd' : 'message',
      data: { i },
    }));
    for (const client of all) {
      expect(trace(client)).toEqual(publishedIds);
      expect(
        envelopesOf(client).map(({ id, channel, event, data }) => ({ id, channel, event, data })),
      ).toEqual(expected);
      expect(client.errors()).toEqual([]);
    }
    const timestamps = all.map((client) => envelopesOf(client).map((e) => e.ts));
    for (const ts of timestamps) expect(ts).toEqual(timestamps[0]);
  });
});
