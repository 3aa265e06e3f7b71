import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerHandler } from '../../src/core/broker.js';
import type { Envelope } from '../../src/protocol/envelope.js';
import type { PollAnswer } from '../support/http-client.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { SurvivingBroker } from '../support/surviving-broker.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

// A hub restart over a store that survives it (Redis, in production): what a client resumes
// from on the old hub is still history on the new one, so it resumes without a gap.

const hubs: TestHub[] = [];
const sockets: TestSocket[] = [];
const brokers: SurvivingBroker[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(hubs.splice(0).map((testHub) => testHub.close()));
  await Promise.all(brokers.splice(0).map((broker) => broker.dispose()));
});

function newBroker(): SurvivingBroker {
  const broker = new SurvivingBroker();
  brokers.push(broker);
  return broker;
}

async function hubOn(broker: SurvivingBroker | undefined, port = 0): Promise<TestHub> {
  const testHub = await startHub(broker ? { broker } : {}, port);
  hubs.push(testHub);
  return testHub;
}

async function socketOn(testHub: TestHub): Promise<TestSocket> {
  const socket = await connectWs(testHub.wsUrl);
  sockets.push(socket);
  return socket;
}

function epochOf(id: string): string {
  return id.split('-')[0] as string;
}

/**
 * `GET /rt/poll` on a connection of its own: fetch's pool would hand the new hub's first poll
 * the old hub's keep-alive socket (same origin), which that hub's close just cut.
 */
function poll(baseUrl: string, channels: string[], cursor?: string): Promise<PollAnswer> {
  const query = new URLSearchParams(channels.map((channel) => ['channel', channel]));
  if (cursor !== undefined) query.set('cursor', cursor);
  query.set('timeout', '0');
  return new Promise((resolve, reject) => {
    const request = http.get(`${baseUrl}/rt/poll?${query}`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(body) as PollAnswer);
        else reject(new Error(`poll answered ${res.statusCode}: ${body}`));
      });
    });
    request.on('error', reject);
  });
}

/** What a resume on the new hub sees: its poll messages, from the old hub's cursor. */
async function restartAndPoll(broker: SurvivingBroker | undefined) {
  const oldHub = await hubOn(broker);
  const start = await poll(oldHub.url, ['a']);
  const before = await oldHub.hub.publish('a', 'before');
  const seen = await poll(oldHub.url, ['a'], start.cursor);
  expect(seen.messages).toEqual([before]);
  await oldHub.close();
  const newHub = await hubOn(broker, oldHub.port);
  expect(newHub.url).toBe(oldHub.url);
  const after = await newHub.hub.publish('a', 'after');
  const resumed = await poll(newHub.url, ['a'], seen.cursor);
  return { before, after, messages: resumed.messages };
}

describe('SurvivingBroker across a hub restart', () => {
  it('resumes a WebSocket on the new hub, same port, with recovered: true and no gap', async () => {
    const broker = newBroker();
    const oldHub = await hubOn(broker);
    const first = await socketOn(oldHub);
    await subscribe(first, ['a']);
    const seen = [await oldHub.hub.publish('a', { n: 1 }), await oldHub.hub.publish('a', { n: 2 })];
    await first.waitForType('message', 2);
    const last = (seen[1] as Envelope).id;

    await oldHub.close();
    expect(await first.closed()).toEqual({ code: 1012, reason: 'server restarting' });
    expect(broker.isAttached).toBe(false);
    // The store lives on while no hub is up: another node may publish meanwhile.
    const whileDown = await broker.publish({ channel: 'a', event: 'message', data: { n: 3 } });
    const newHub = await hubOn(broker, oldHub.port);
    expect(broker.isAttached).toBe(true);
    const afterRestart = await newHub.hub.publish('a', { n: 4 });

    const again = await socketOn(newHub);
    const [subscribed] = await subscribe(again, ['a'], { a: last });
    expect(subscribed).toEqual({
      type: 'subscribed',
      channel: 'a',
      position: last,
      recovered: true,
    });
    const live = await newHub.hub.publish('a', { n: 5 });
    await again.waitForType('message', 3);
    expect(again.ofType('message')).toEqual(
      [whileDown, afterRestart, live].map((envelope) => ({ type: 'message', ...envelope })),
    );
    expect(again.ofType('gap')).toEqual([]);
    // Same epoch, sequence numbers continue: the history is the old hub's.
    expect(epochOf(live.id)).toBe(epochOf(last));
    expect(live.id).toBe(`${epochOf(last)}-5`);
  });

  it('resumes a poll from the old hub cursor without a gap entry', async () => {
    const { after, messages } = await restartAndPoll(newBroker());
    expect(messages).toEqual([after]);
  });

  it('is what makes the difference: the same restart on the default broker is a gap', async () => {
    const { before, after, messages } = await restartAndPoll(undefined);
    expect(messages).toEqual([{ type: 'gap', channel: 'a' }, after]);
    expect(epochOf(after.id)).not.toBe(epochOf(before.id));
  });
});

describe('SurvivingBroker: one hub at a time', () => {
  it('refuses a second hub while one is attached, at createHub, and the first goes on', async () => {
    const broker = newBroker();
    const testHub = await hubOn(broker);
    await expect(startHub({ broker })).rejects.toThrow(/a hub is attached already/);
    const socket = await socketOn(testHub);
    await subscribe(socket, ['a']);
    const envelope = await testHub.hub.publish('a', 'still here');
    const [message] = await socket.waitForType('message', 1);
    expect(message).toEqual({ type: 'message', ...envelope });
  });

  it('keeps fan-out for the new hub when the old hub unsubscribes late', async () => {
    const broker = newBroker();
    const oldDelivered: Envelope[] = [];
    const newDelivered: Envelope[] = [];
    const handler = (into: Envelope[]): BrokerHandler => ({ onEnvelope: (e) => into.push(e) });
    await broker.start(handler(oldDelivered));
    await broker.subscribe('a');
    await broker.close();
    await broker.start(handler(newDelivered));
    await broker.subscribe('a');
    // The old hub's WebSocket finished closing only now.
    await broker.unsubscribe('a');
    const envelope = await broker.publish({ channel: 'a', event: 'message', data: 1 });
    expect(newDelivered).toEqual([envelope]);
    expect(oldDelivered).toEqual([]);
  });

  it('closes the inner broker on dispose(), after which start() throws', async () => {
    const broker = newBroker();
    await broker.start({ onEnvelope: () => {} });
    expect(broker.isAvailable()).toBe(true);
    await broker.dispose();
    await broker.dispose();
    expect(broker.isAvailable()).toBe(false);
    expect(() => broker.start({ onEnvelope: () => {} })).toThrow(/after dispose/);
  });
});
