import { describe, expect, it } from 'vitest';
import { payloadMaker, readPayload } from './payload.js';

describe('payloadMaker', () => {
  it('makes payloads of exactly the size asked, whatever the digits of seq and stamp', () => {
    const make = payloadMaker(256);
    for (const [seq, stamp] of [
      [0, 1n],
      [7, 123_456_789n],
      [123_456, 98_765_432_101_234_567n],
    ] as const) {
      expect(JSON.stringify(make(seq, stamp))).toHaveLength(256);
    }
  });

  it('reads back what it made, the stamp exactly (a bigint, no float rounding)', () => {
    const stamp = 2n ** 62n + 1n;
    const data = JSON.parse(JSON.stringify(payloadMaker(64)(41, stamp))) as unknown;
    expect(readPayload(data)).toEqual({ seq: 41, stampNs: stamp });
  });
});

describe('readPayload', () => {
  it('refuses what is not a bench payload', () => {
    for (const data of [null, 'x', 1, {}, { seq: 1 }, { seq: '1', t: '2' }, { seq: 1, t: '-2' }]) {
      expect(readPayload(data)).toBeUndefined();
    }
  });
});
