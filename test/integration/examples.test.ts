import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TestEventStream } from '../support/sse-client.js';
import { requestJson } from '../support/http-client.js';
import { waitFor } from '../support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];

/** Runs an example as its header says (it imports the built `tidewire/server`). */
async function runExample(file: string): Promise<string> {
  const child = spawn(process.execPath, [`${root}examples/${file}`], {
    env: { ...process.env, PORT: '0' },
    cwd: root,
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return waitFor(
    () => /listening on (http:\/\/\S+)/.exec(output)?.[1],
    10_000,
    `${file} to listen`,
  );
}

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

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
});
