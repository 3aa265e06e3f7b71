import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createParser, type ParsedEvent } from '../../src/sse/parser.js';
import {
  type ReceivedEvent,
  RecordingEventSource,
  closeEventSources,
} from '../support/event-source.js';
import {
  type ListeningProcess,
  killListening,
  startListening,
} from '../support/listening-process.js';
import { waitFor } from '../support/wait.js';

// Each `examples/sse-*.mjs` runs as its header says (it imports the built `tidewire/sse`): the
// same SSE class behind node:http, Express 4, Express 5, Fastify and Hono, talked to by a real
// EventSource and by fetch.

const root = fileURLToPath(new URL('../..', import.meta.url));

const EXAMPLES = [
  'sse-node-http.mjs',
  'sse-express4.mjs',
  'sse-express5.mjs',
  'sse-fastify.mjs',
  'sse-hono.mjs',
] as const;

const ID = /^[0-9a-z]{8}-\d+$/;

// The examples import the built package, as users do; `npm test` builds first.
beforeAll(() => {
  if (!existsSync(`${root}dist/sse/index.js`))
    execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
}, 60_000);

const streams: FetchedStream[] = [];

afterEach(() => {
  closeEventSources();
  for (const stream of streams.splice(0)) stream.close();
  killListening();
});

/** Starts an example on a port of the system's choosing (`PORT=0`) and reads its URL. */
function runExample(file: string): Promise<ListeningProcess> {
  return startListening([`${root}examples/${file}`], { env: { PORT: '0' }, cwd: root });
}

/** `POST /send?event=…` with a JSON body: the example calls `sse.send(body, event)`. */
async function publish(url: string, data: unknown, event: string): Promise<void> {
  const response = await fetch(`${url}/send?event=${event}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(data),
  });
  expect(response.status).toBe(204);
}

/** An event with its data parsed from JSON (the SSE class writes JSON). */
function parsedData(event: ReceivedEvent | undefined) {
  return event && { ...event, data: JSON.parse(event.data) as unknown };
}

/** An event stream read with fetch and tidewire's parser, so that any header can be sent. */
class FetchedStream {
  readonly events: ParsedEvent[] = [];
  readonly comments: string[] = [];
  isEnded = false;

  private constructor(
    readonly response: Response,
    readonly controller: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<FetchedStream> {
    const controller = new AbortController();
    const response = await fetch(url, {
      headers: { Accept: 'text/event-stream', ...headers },
      signal: controller.signal,
    });
    const stream = new FetchedStream(response, controller);
    streams.push(stream);
    void stream.#pump();
    return stream;
  }

  ofType(type: string): ParsedEvent[] {
    return this.events.filter((e) => e.event === type);
  }

  waitForType(type: string, count: number, timeoutMs = 5000): Promise<ParsedEvent[]> {
    return waitFor(
      () => this.ofType(type).length >= count && this.ofType(type),
      timeoutMs,
      `${count} "${type}" events`,
    );
  }

  close(): void {
    this.controller.abort();
  }

  async #pump(): Promise<void> {
    const parser = createParser({
      onEvent: (event) => this.events.push(event),
      onComment: (comment) => this.comments.push(comment),
    });
    const reader = (this.response.body as ReadableStream<Uint8Array>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      // Aborted by close(), or cut by the server: either way the stream is over.
    } finally {
      this.isEnded = true;
    }
  }
}

/** The sequence number of an `<epoch>-<seq>` id. */
function seqOf(id: string): number {
  return Number(id.split('-')[1]);
}

describe.each(EXAMPLES)('examples/%s', (file) => {
  it('streams the initial content, what POST /send publishes and the clock to a real EventSource', async () => {
    const { url } = await runExample(file);
    const client = new RecordingEventSource(`${url}/stream`, ['message', 'greeting', 'tick']);
    const welcome = parsedData((await client.waitForType('message', 1))[0]);
    expect(welcome).toEqual({
      type: 'message',
      data: 'welcome',
      lastEventId: expect.stringMatching(ID),
    });

    await publish(url, { hello: 'world', n: 1 }, 'greeting');
    const greeting = parsedData((await client.waitForType('greeting', 1))[0]);
    expect(greeting?.data).toEqual({ hello: 'world', n: 1 });
    expect(greeting?.lastEventId).toMatch(ID);
    expect(greeting?.lastEventId.split('-')[0]).toBe(welcome?.lastEventId.split('-')[0]);

    const tick = parsedData((await client.waitForType('tick', 1, 3000))[0]);
    expect(tick?.data).toEqual({ now: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(client.ofType('message')).toHaveLength(1);

    const headers = client.responses[0]?.headers as Headers;
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(headers.get('cache-control')).toContain('no-cache');
    expect(headers.get('x-accel-buffering')).toBe('no');
  });

  it('replays exactly the missed events, in order, to a client that comes back with Last-Event-ID', async () => {
    const { url } = await runExample(file);
    const first = await FetchedStream.open(`${url}/stream`);
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(first.response.headers.get('cache-control')).toContain('no-cache');
    expect(first.response.headers.get('x-accel-buffering')).toBe('no');
    await first.waitForType('message', 1);
    await publish(url, { n: 1 }, 'greeting');
    const [seen] = await first.waitForType('greeting', 1);
    first.close();

    // Published while no client is connected.
    await publish(url, { n: 2 }, 'greeting');
    await publish(url, { n: 3 }, 'greeting');

    const back = await FetchedStream.open(`${url}/stream`, { 'Last-Event-ID': seen?.id as string });
    expect(back.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await back.waitForType('greeting', 2);
    await publish(url, { n: 4 }, 'greeting');
    await back.waitForType('greeting', 3);

    expect(back.ofType('greeting').map((e) => JSON.parse(e.data))).toEqual([
      { n: 2 },
      { n: 3 },
      { n: 4 },
    ]);
    // No initial content for a client that resumes.
    expect(back.ofType('message')).toEqual([]);
    // Every event after the one it had seen (clock ticks included), each once, in order.
    const seqs = back.events.map((e) => seqOf(e.id));
    expect(seqs[0]).toBe(seqOf(seen?.id as string) + 1);
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] as number) + i));
  });

  it('answers bad input with a JSON 400 and keeps serving', async () => {
    const { url } = await runExample(file);
    const injected = await fetch(`${url}/send?event=a%0Aid:%20x`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"x":1}',
    });
    expect(injected.status).toBe(400);
    expect(await injected.json()).toMatchObject({ code: 'BAD_REQUEST' });
    const broken = await fetch(`${url}/send`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"x":',
    });
    expect(broken.status).toBe(400);
    await broken.text();
    await publish(url, { still: 'serving' }, 'greeting');
  });

  it('ends open streams and exits on SIGTERM', async () => {
    const { url, child } = await runExample(file);
    const stream = await FetchedStream.open(`${url}/stream`);
    await stream.waitForType('message', 1);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await waitFor(() => stream.isEnded, 5000, 'the stream to end');
    expect(stream.comments).toContain('server closing');
    const [code, signal] = (await exited) as [number | null, string | null];
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
