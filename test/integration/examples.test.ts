import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TestEventStream } from '../support/sse-client.js';
import { requestJson } from '../support/http-client.js';
import { killListening, startListening } from '../support/listening-process.js';
import { waitFor } from '../support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Runs an example as its header says (it imports the built `tidewire/server`). */
async function runExample(file: string): Promise<string> {
  const { url } = await startListening([`${root}examples/${file}`], {
    env: { PORT: '0' },
    cwd: root,
  });
  return url;
}

afterEach(() => killListening());

describe('examples', () => {
  it('node-http.mjs pushes its clock over SSE and keeps its own route', async () => {
    const url = await runExample('node-http.mjs');
    expect(await (await fetch(`${url}/`)).text()).toContain('my app');
    const stream = await TestEventStream.open(`${url}/rt/sse?channel=clock`);
    const [tick] = await stream.waitForType('tick', 1, 5000);
    expect(JSON.parse(tick!.data)).toMatchObject({ channel: 'clock', event: 'tick' });
    stream.close();
  });

  it('express.mjs publishes what its route receives', async () => {
    const url = await runExample('express.mjs');
    const stream = await TestEventStream.open(`${url}/rt/sse?channel=orders`);
    await stream.waitForType('subscribed', 1);
    const created = await requestJson<{ id: string }>(`${url}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ item: 'tea' }),
    });
    expect(created.status).toBe(201);
    const [event] = await stream.waitForType('created', 1);
    expect(JSON.parse(event!.data)).toMatchObject({ id: created.body.id, data: { item: 'tea' } });
    expect(await (await fetch(`${url}/`)).text()).toContain('orders app');
    stream.close();
  });

  it('client-node.mjs follows the clock over WebSocket and publishes, acked', async () => {
    const url = await runExample('node-http.mjs');
    const child = spawn(process.execPath, [`${root}examples/client-node.mjs`], {
      env: { ...process.env, HUB: url },
      cwd: root,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const lines = () =>
        output
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      await waitFor(
        () => lines().filter((line) => line.event === 'tick').length >= 2,
        8000,
        `two ticks in ${output}`,
      );
      const seen = lines();
      expect(seen[0]).toEqual({ open: 'websocket' });
      expect(seen.find((line) => 'published' in line)?.published).toMatch(/^[0-9a-z]+-1$/);
      const ticks = seen.filter((line) => line.event === 'tick');
      expect(ticks[0]?.data).toMatchObject({ now: expect.any(String) });
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      // destroy() leaves no timer or socket behind: the process ends by itself.
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
  it('auth.mjs lets a user read their own channel, and refuses the rest', async () => {
    const url = await runExample('auth.mjs');
    const login = await requestJson<{ token: string }>(`${url}/login?user=ada`, {
      method: 'POST',
    });
    const token = encodeURIComponent(login.body.token);
    const own = await TestEventStream.open(`${url}/rt/sse?channel=user:ada:inbox&token=${token}`);
    await own.waitForType('subscribed', 1);
    await fetch(`${url}/notify?user=ada`, { method: 'POST', body: 'hello' });
    const [notice] = await own.waitForType('notice', 1);
    expect(JSON.parse(notice!.data)).toMatchObject({ data: { text: 'hello' } });
    own.close();

    const status = async (path: string, headers: Record<string, string> = {}) =>
      (await fetch(`${url}${path}`, { headers })).status;
    const poll = '/rt/poll?timeout=0&channel=';
    expect(await status(`${poll}user:bob:inbox&token=${token}`)).toBe(403);
    expect(await status(`${poll}news`)).toBe(401);
    expect(await status(`${poll}news&token=ada.forged`)).toBe(401);
    expect(await status(`${poll}news`, { Cookie: `session=${token}` })).toBe(200);
    const foreign = { Origin: 'https://evil.example', Authorization: `Bearer ${login.body.token}` };
    expect(await status(`${poll}news`, foreign)).toBe(403);
    const listed = { Origin: 'http://localhost:5173', Authorization: `Bearer ${login.body.token}` };
    const allowed = await fetch(`${url}${poll}news`, { headers: listed });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });
});
