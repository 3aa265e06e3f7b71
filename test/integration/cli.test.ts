import { spawn } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN as bin, ensureCliBuilt, serveCli as serve } from '../support/cli.js';
import { TestEventStream } from '../support/sse-client.js';
import { publishHttp, requestJson } from '../support/http-client.js';
import { killListening } from '../support/listening-process.js';
import { findLog } from '../support/log-lines.js';
import { waitFor } from '../support/wait.js';

beforeAll(ensureCliBuilt, 60_000);

afterEach(() => {
  killListening();
});

describe('tidewire serve', () => {
  it('prints where it listens and serves the page, /health and /rt/*', async () => {
    const { url } = await serve(['--no-demo']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('new EventSource(');
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
