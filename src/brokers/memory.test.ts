import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from './memory.js';

const brokers: MemoryBroker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

async function start(maxAgeMs: number): Promise<MemoryBroker> {
  const broker = new MemoryBroker({ maxAgeMs });
  await broker.start({ onEnvelope() {} });
  brokers.push(broker);
  return broker;
}

const waitMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('MemoryBroker memory', () => {
  it('forgets channels that were only read once the history age has passed', async () => {
    const broker = await start(40);
    await broker.read('ghost-1');
    await broker.read('ghost-2');
    expect(broker.channelCount).toBe(2);
    await waitMs(200);
    expect(broker.channelCount).toBe(0);
  });

  it('keeps a published channel (its epoch and sequence) after its history aged out', async () => {
    const broker = await start(40);
    const envelope = await broker.publish({ channel: 'a', event: 'message', data: 1 });
    await broker.read('ghost');
    await waitMs(200);
    expect(broker.channelCount).toBe(1);
    const read = await broker.read('a');
    expect(read.top).toBe(1);
    expect(`${read.epoch}-1`).toBe(envelope.id);
  });

  it('keeps channels that this node subscribes to', async () => {
    const broker = await start(40);
    await broker.subscribe('watched');
    await broker.read('watched');
    await waitMs(200);
    expect(broker.channelCount).toBe(1);
  });
});
