/**
 * The bench's messages: `{ seq, t, pad }`, exactly `sizeBytes` of JSON each, so that bytes per
 * message compare across runs and transports whatever the digits of `seq` and `t`.
 *
 * @module
 */
import type { BenchPayload } from './hub-ipc.js';

/** Returns a maker of payloads whose JSON is `sizeBytes` long (ASCII: bytes = characters). */
export function payloadMaker(sizeBytes: number): (seq: number, stampNs: bigint) => BenchPayload {
  // One filler string, sliced per message: no allocation of `sizeBytes` per publish.
  const filler = 'x'.repeat(sizeBytes);
  return (seq, stampNs) => {
    const t = stampNs.toString();
    const overhead = JSON.stringify({ seq, t, pad: '' }).length;
    return { seq, t, pad: filler.slice(0, Math.max(0, sizeBytes - overhead)) };
  };
}

/** The sequence number and stamp of a delivered `data`, or undefined when it is not ours. */
export function readPayload(data: unknown): { seq: number; stampNs: bigint } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { seq, t } = data as Partial<BenchPayload>;
  if (typeof seq !== 'number' || typeof t !== 'string' || !/^\d+$/.test(t)) return undefined;
  return { seq, stampNs: BigInt(t) };
}
