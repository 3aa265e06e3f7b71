import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../brokers/memory.js';
import type { PublishRequest } from './broker.js';
import { type BrokerOperation, HubCore, type Subscriber } from './hub.js';

const subscriber = (): Subscriber => ({ onSubscribed() {}, onGap() {}, onEnvelope() {} });
const request = (channel: string): PublishRequest => ({ channel, event: 'message', data: 1 });

describe('HubCore onBrokerCall', () => {
  it('tells every publish and history read, with its outcome and a duration', async () => {
    const broker = new MemoryBroker();
    const calls: Array<[BrokerOperation, boolean, number]> = [];
    const core = new HubCore({ broker, onBrokerCall: (...call) => calls.push(call) });
    await core.start();
    await core.publish(request('a'));
    await core.subscribe(subscriber(), ['a', 'b']);
    await core.receive({ id: '1', transport: 'http', ip: '127.0.0.1' }, request('b'));
    broker.publish = () => Promise.reject(new Error('broker down'));
    await expect(core.publish(request('a'))).rejects.toThrow('broker down');
    await core.close();
    expect(calls.map(([operation, ok]) => `${operation} ${ok}`)).toEqual([
      'publish true',
      'read true',
      'read true',
      'publish true',
      'publish false',
    ]);
    for (const [, , seconds] of calls) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it('hands the caller the broker’s own promise, so timing changes no order', async () => {
    const broker = new MemoryBroker();
    let brokerPromise: Promise<unknown> | undefined;
    const publish = broker.publish.bind(broker);
    broker.publish = (req) => (brokerPromise = publish(req));
    const core = new HubCore({ broker, onBrokerCall: () => {} });
    await core.start();
    const returned = core.publish(request('a'));
    expect(returned).toBe(brokerPromise);
    await returned;
    await core.close();
  });
});

describe('HubCore.subscriptionTotal', () => {
  it('counts subscriber-channel pairs, not channels', async () => {
    const core = new HubCore({ broker: new MemoryBroker() });
    await core.start();
    const one = subscriber();
    const two = subscriber();
    await core.subscribe(one, ['a', 'b']);
    await core.subscribe(two, ['a']);
    expect([core.subscriptionTotal, core.channelCount]).toEqual([3, 2]);
    core.unsubscribeAll(one);
    expect([core.subscriptionTotal, core.channelCount]).toEqual([1, 1]);
    await core.close();
  });
});
