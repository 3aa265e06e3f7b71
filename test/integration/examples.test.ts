import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { TestEventStream } from '../support/sse-client.js';
import { requestJson } from '../support/http-client.js';
import { killListening, startListening } from '../support/listening-process.js';

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
});
