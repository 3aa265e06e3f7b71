import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker, createHub } from '../../src/server/index.js';
import { requestJson } from '../support/http-client.js';
import { connectWs, subscribe } from '../support/ws-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';

const quietLogger = { info() {}, warn() {}, error() {} };
const hubs: TestHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

describe('hub.publish', () => {
  it('resolves with the envelope, event "message" by default', async () => {
    const hub = createHub({ logger: quietLogger });
    const before = Date.now();
    const envelope = await hub.publish('a', { x: 1 });
    expect(envelope).toMatchObject({ channel: 'a', event: 'message', data: { x: 1 } });
    expect(envelope.ts).toBeGreaterThanOrEqual(before);
    expect(await hub.publish('a', undefined, { event: 'e' })).toMatchObject({
      data: null,
      event: 'e',
    });
    await hub.close();
  });

  it('refuses a bad channel, a bad or reserved event, and publishing after close', async () => {
    const hub = createHub({ logger: quietLogger });
    await expect(hub.publish('no spaces', 1)).rejects.toMatchObject({ code: 'BAD_CHANNEL' });
    await expect(hub.publish('a', 1, { event: 'a\nb' })).rejects.toMatchObject({
      code: 'BAD_EVENT',
    });
    await expect(hub.publish('a', 1, { event: 'gap' })).rejects.toMatchObject({
      code: 'BAD_EVENT',
    });
    await hub.close();
    await expect(hub.publish('a', 1)).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });

  it('carries bytes as base64 with binary: true', async () => {
    const hub = createHub({ logger: quietLogger });
    const bytes = new Uint8Array([0, 1, 254, 255]);
    const envelope = await hub.publish('a', bytes.subarray(1, 3));
    expect(envelope).toMatchObject({
      data: Buffer.from([1, 254]).toString('base64'),
      binary: true,
    });
    await hub.close();
  });
});

describe('hub.onMessage and hub.stats', () => {
  it('stops calling a listener once it is removed, and counts connections', async () => {
    const testHub = await startHub();
    hubs.push(testHub);
    const seen: string[] = [];
    const remove = testHub.hub.onMessage((_connection, envelope) => seen.push(envelope.id));
    const socket = await connectWs(testHub.wsUrl);
    await subscribe(socket, ['a', 'b']);
    expect(testHub.hub.stats()).toEqual({
      connections: { websocket: 1, sse: 0, 'long-polling': 0, polling: 0, http: 0 },
      channels: 2,
      broker: 'available',
      dropped: {},
    });
    socket.send({ type: 'publish', channel: 'a', data: 1, ref: 'r1' });
    const ack = await socket.next((frame) => typeof frame === 'object' && frame.type === 'ack');
    remove();
    socket.send({ type: 'publish', channel: 'a', data: 2, ref: 'r2' });
    await socket.next((frame) => typeof frame === 'object' && frame.type === 'ack');
    expect(seen).toEqual([(ack as { id: string }).id]);
    socket.close();
  });

  it('keeps serving when an onMessage listener throws', async () => {
    const errors: unknown[] = [];
    const testHub = await startHub({
      logger: { ...quietLogger, error: (object) => errors.push(object) },
    });
    hubs.push(testHub);
    testHub.hub.onMessage(() => {
      throw new Error('listener bug');
    });
    const socket = await connectWs(testHub.wsUrl);
    await subscribe(socket, ['a']);
    socket.send({ type: 'publish', channel: 'a', data: 1, ref: 'r1' });
    // The envelope reaches subscribers (the sender too) and the ack follows.
    await socket.waitForType('ack', 1);
    expect(socket.ofType('message').map((m) => m.data)).toEqual([1]);
    expect(errors).toHaveLength(1);
    socket.close();
  });
});

describe('hub lifecycle', () => {
  it('answers 503 BROKER_UNAVAILABLE when the broker fails to start', async () => {
    const broker = new MemoryBroker();
    broker.start = () => Promise.reject(new Error('cannot reach the store'));
    const testHub = await startHub({ broker });
    hubs.push(testHub);
    await expect(testHub.hub.ready).rejects.toThrow('cannot reach the store');
    const answer = await requestJson(`${testHub.url}/rt/poll?channel=a&timeout=0`);
    expect([answer.status, answer.body.code]).toEqual([503, 'BROKER_UNAVAILABLE']);
  });

  it('lowers the server headers timeout to the limit on attach (slowloris)', async () => {
    const testHub = await startHub({ limits: { headersTimeoutMs: 5000 } });
    hubs.push(testHub);
    expect(testHub.server.headersTimeout).toBe(5000);
  });
});
