import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN as bin, ensureCliBuilt, serveCli as serve } from '../support/cli.js';
import { NodeWebSocket, Recorder, Resources, TRANSPORTS } from '../support/client-harness.js';
import { ROOT, ensureBuilt } from '../support/dist.js';
import { TestEventStream } from '../support/sse-client.js';
import { publishHttp, requestJson } from '../support/http-client.js';
import { killListening } from '../support/listening-process.js';
import { findLog } from '../support/log-lines.js';
import { sleep, waitFor } from '../support/wait.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

/** Where tsup writes the dashboard that `tidewire serve` serves under `/assets/`. */
const PAGES_DIR = path.join(ROOT, 'dist/pages');

const resources = new Resources();
const sockets: TestSocket[] = [];
const streams: TestEventStream[] = [];

beforeAll(async () => {
  await ensureCliBuilt();
  // The bin may be there without the pages (a build from before they existed).
  await ensureBuilt(path.join(PAGES_DIR, 'dashboard.js'));
}, 60_000);

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  for (const stream of streams.splice(0)) stream.close();
  await resources.closeAll();
  killListening();
});

describe('tidewire serve', () => {
  it('prints where it listens and serves the page, /health and /rt/*', async () => {
    const { url } = await serve([]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toMatch(/^<!doctype html>/i);
    expect((await requestJson(`${url}/health`)).body).toEqual({ status: 'ok' });
    expect((await requestJson(`${url}/nothing-here`)).status).toBe(404);
  });

  it('streams over SSE what curl publishes', async () => {
    const { url } = await serve(['--no-demo']);
    const stream = await TestEventStream.open(`${url}/rt/sse?channel=x`);
    await stream.waitForType('subscribed', 1);
    const published = await publishHttp(url, 'x', { hello: 'world' });
    expect(published.status).toBe(201);
    const [event] = await stream.waitForType('message', 1);
    expect(JSON.parse(event!.data)).toMatchObject({
      id: published.body.id,
      channel: 'x',
      data: { hello: 'world' },
    });
    stream.close();
  });

  it('publishes the demo ticker on channel "demo"', async () => {
    const { url } = await serve([]);
    const answer = await requestJson<{ messages: Array<{ event: string; data: { n: number } }> }>(
      `${url}/rt/poll?channel=demo&timeout=5000`,
    );
    expect(answer.body.messages[0]?.event).toBe('tick');
    expect(answer.body.messages[0]?.data.n).toBeGreaterThan(0);
  });

  it('guards publishing with --publish-token and with TIDEWIRE_PUBLISH_TOKEN', async () => {
    const flag = await serve(['--no-demo', '--publish-token', 's3cret']);
    expect((await publishHttp(flag.url, 'x', 1)).status).toBe(401);
    expect((await publishHttp(flag.url, 'x', 1, undefined, 'wrong')).status).toBe(403);
    expect((await publishHttp(flag.url, 'x', 1, undefined, 's3cret')).status).toBe(201);
    const env = await serve(['--no-demo'], { TIDEWIRE_PUBLISH_TOKEN: 'envtoken' });
    expect((await publishHttp(env.url, 'x', 1)).status).toBe(401);
    expect((await publishHttp(env.url, 'x', 1, undefined, 'envtoken')).status).toBe(201);
  });

  it('drains on SIGTERM: open streams end, the process exits 0', async () => {
    const served = await serve(['--no-demo', '--drain-window', '200']);
    const stream = await TestEventStream.open(`${served.url}/rt/sse?channel=x`);
    await stream.waitForType('subscribed', 1);
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    await waitFor(() => stream.ended, 5000, 'the stream to end');
    expect(stream.raw).toMatch(/: server restarting\nretry: \d+\n\n$/);
    expect(findLog(served.output(), 'draining')).toMatchObject({
      level: 'info',
      signal: 'SIGTERM',
      connections: { sse: 1 },
      windowMs: 200,
    });
    expect(findLog(served.output(), 'stopped')).toMatchObject({ signal: 'SIGTERM' });
  });

  it('refuses bad flags with a message and exit code 1', async () => {
    const child = spawn(process.execPath, [bin, 'serve', '--port', 'eighty']);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain('port must be an integer');
  });
});

/** A POST to `/demo/disconnect-all`, with a bearer token when given. */
function disconnectAll(url: string, token?: string) {
  return requestJson<{ disconnected?: number; code?: string; message?: string }>(
    `${url}/demo/disconnect-all`,
    { method: 'POST', headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } },
  );
}

async function openSocket(url: string, channels: string[]): Promise<TestSocket> {
  const socket = await connectWs(`${url.replace(/^http/, 'ws')}/rt/ws`);
  sockets.push(socket);
  await subscribe(socket, channels);
  return socket;
}

describe('tidewire serve: the dashboard routes', () => {
  it('tells the time at GET /demo/clock, never cached', async () => {
    const { url } = await serve([]);
    const before = Date.now();
    const answer = await requestJson<{ now: number }>(`${url}/demo/clock`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body.now).toBeGreaterThanOrEqual(before);
    expect(answer.body.now).toBeLessThanOrEqual(Date.now());
    const post = await requestJson(`${url}/demo/clock`, { method: 'POST' });
    expect([post.status, post.body.code]).toEqual([405, 'METHOD_NOT_ALLOWED']);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('keeps the last valid theme and full-screen state published on channel "dashboard"', async () => {
    const { url } = await serve([]);
    const state = async () => (await requestJson(`${url}/demo/state`)).body;
    expect(await state()).toEqual({ theme: 'light', fullscreen: false });

    // As the page does: the real client publishes, acked once the hub has it.
    const client = resources.client(url, { WebSocket: NodeWebSocket, transports: ['websocket'] });
    await client.publish('dashboard', { theme: 'dark' }, { event: 'theme' });
    expect(await state()).toEqual({ theme: 'dark', fullscreen: false });

    const send = (event: string, data: unknown) =>
      requestJson(`${url}/rt/send`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ channel: 'dashboard', event, data }),
      });
    expect((await send('fullscreen', { fullscreen: true })).status).toBe(201);
    expect(await state()).toEqual({ theme: 'dark', fullscreen: true });

    // Anything else changes nothing, and breaks nothing.
    for (const [event, data] of [
      ['theme', { theme: 'purple' }],
      ['theme', 'dark'],
      ['fullscreen', { fullscreen: 'yes' }],
      ['fullscreen', null],
      ['message', { theme: 'light', fullscreen: false }],
    ] as const) {
      expect((await send(event, data)).status).toBe(201);
    }
    await client.publish('elsewhere', { theme: 'light' }, { event: 'theme' });
    expect(await state()).toEqual({ theme: 'dark', fullscreen: true });
  });

  it('closes every connection with 1012 at POST /demo/disconnect-all', async () => {
    const { url } = await serve([]);
    const socket = await openSocket(url, ['demo']);
    const answer = await disconnectAll(url);
    expect([answer.status, answer.body]).toEqual([200, { disconnected: 1 }]);
    expect(await socket.closed()).toEqual({ code: 1012, reason: 'disconnected by the server' });
    // The hub stays up: a newcomer is welcome at once.
    const next = await openSocket(url, ['demo']);
    await next.waitForType('message', 1);
    const get = await requestJson(`${url}/demo/disconnect-all`);
    expect([get.status, get.body.code, get.headers.get('allow')]).toEqual([
      405,
      'METHOD_NOT_ALLOWED',
      'POST',
    ]);
  });

  it('guards POST /demo/disconnect-all with --publish-token', async () => {
    const { url } = await serve(['--publish-token', 's3cret']);
    const socket = await openSocket(url, ['demo']);
    const without = await disconnectAll(url);
    expect([without.status, without.body.code]).toEqual([401, 'UNAUTHORIZED']);
    expect(without.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await disconnectAll(url, 'wrong');
    expect([wrong.status, wrong.body.code]).toEqual([403, 'FORBIDDEN']);
    expect(socket.closeCode).toBeUndefined();
    expect((await disconnectAll(url, 's3cret')).body).toEqual({ disconnected: 1 });
    expect((await socket.closed()).code).toBe(1012);
  });

  it('serves the built dashboard under /assets/ with its type, no-cache and an ETag', async () => {
    const { url } = await serve([]);
    const built = new Set(readdirSync(PAGES_DIR));
    const types: Record<string, string> = {
      'dashboard.js': 'text/javascript; charset=utf-8',
      'dashboard.css': 'text/css; charset=utf-8',
      'dashboard.js.map': 'application/json; charset=utf-8',
      'dashboard.css.map': 'application/json; charset=utf-8',
    };
    // The page cannot run without these two; the maps are served when tsup wrote them.
    expect(built).toContain('dashboard.js');
    expect(built).toContain('dashboard.css');
    for (const [name, type] of Object.entries(types)) {
      const answer = await fetch(`${url}/assets/${name}`);
      if (!built.has(name)) {
        expect(answer.status, name).toBe(404);
        continue;
      }
      expect(answer.status, name).toBe(200);
      expect(answer.headers.get('content-type'), name).toBe(type);
      expect(answer.headers.get('cache-control'), name).toBe('no-cache');
      const body = Buffer.from(await answer.arrayBuffer());
      expect(body.equals(readFileSync(path.join(PAGES_DIR, name))), name).toBe(true);
      const etag = answer.headers.get('etag') as string;
      expect(etag).toMatch(/^"[^"]+"$/);
      const again = await fetch(`${url}/assets/${name}`, { headers: { 'If-None-Match': etag } });
      expect([again.status, again.headers.get('etag')]).toEqual([304, etag]);
    }
    expect((await requestJson(`${url}/assets/other.js`)).status).toBe(404);
    const post = await requestJson(`${url}/assets/dashboard.js`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  it('still serves the dashboard with --no-demo, and publishes no tick', async () => {
    // One node of a Redis cluster ticks; the others serve the same page with its ticks.
    const { url } = await serve(['--no-demo']);
    for (const [method, route] of [
      ['GET', '/'],
      ['GET', '/assets/dashboard.js'],
      ['GET', '/demo/clock'],
      ['GET', '/demo/state'],
      ['POST', '/demo/disconnect-all'],
    ]) {
      const answer = await fetch(`${url}${route}`, { method });
      expect(answer.status, `${method} ${route}`).toBe(200);
    }
    const poll = await requestJson<{ messages: unknown[] }>(
      `${url}/rt/poll?channel=demo&timeout=400`,
    );
    expect(poll.body.messages).toEqual([]);
  });

  it('lets only its own page and listed origins press "drop everyone"', async () => {
    const { url } = await serve(['--origin', 'https://app.example.com']);
    const press = (origin: string) =>
      requestJson<{ code?: string }>(`${url}/demo/disconnect-all`, {
        method: 'POST',
        headers: { Origin: origin },
      });
    const foreign = await press('https://evil.example');
    expect([foreign.status, foreign.body.code]).toEqual([403, 'FORBIDDEN']);
    expect((await press('null')).status).toBe(403);
    expect((await press(url)).status).toBe(200);
    expect((await press('https://app.example.com')).status).toBe(200);
  });

  it('feeds a page of 5 clients on one address 10 ticks a second, n consecutive, trips no limit', async () => {
    const { url } = await serve([]);
    // The page: one client per transport on `demo`, one more for the shared view.
    const recorders = [...TRANSPORTS, 'websocket' as const].map(
      (transport) =>
        new Recorder(resources.client(url, { WebSocket: NodeWebSocket, transports: [transport] })),
    );
    await Promise.all(recorders.map((recorder) => recorder.subscribe('demo').ready));
    const [websocket] = recorders as [Recorder];
    const first = (await waitFor(() => websocket.envelopes('demo')[0], 2000, 'a tick')).data;
    const start = Date.now();
    await sleep(2500);
    const ticks = websocket.envelopes('demo').map((envelope) => envelope.data);
    const rate = ((ticks.length - 1) * 1000) / (Date.now() - start);
    // 10 a second; a busy 2-core machine may run timers late, never early.
    expect(rate).toBeGreaterThan(6);
    expect(rate).toBeLessThan(12);
    expect(first).toMatchObject({ run: expect.any(String), n: expect.any(Number) });
    for (const tick of ticks as Array<{ run: string; n: number; price: number }>) {
      expect(Object.keys(tick).sort()).toEqual(['n', 'price', 'run']);
      expect(Math.round(tick.price * 100) / 100).toBe(tick.price);
    }
    for (const recorder of recorders) {
      const sequence = recorder.sequence('demo');
      expect(sequence.length).toBeGreaterThan(0);
      const from = sequence[0] as number;
      expect(sequence).toEqual(sequence.map((_, i) => from + i));
      expect(recorder.of('error')).toEqual([]);
      expect(recorder.of('close')).toEqual([]);
    }
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const dropped = metrics.split('\n').filter((line) => line.startsWith('tidewire_dropped_total'));
    expect(dropped.length).toBeGreaterThan(0);
    for (const line of dropped) expect(line).toMatch(/ 0$/);
  }, 15_000);
});
