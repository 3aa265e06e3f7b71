import { afterEach, describe, expect, it } from 'vitest';
import { textFrame } from '../../src/transports/websocket.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { type TestSocket, connectWs, subscribe } from '../support/ws-client.js';

/**
 * `message` frames are built once per envelope, header included, and written to every socket
 * as they are (bypassing ws's framing): their header must be right at every length a
 * WebSocket header encodes differently (7-bit, 16-bit and 64-bit lengths), and a real client
 * must read them between the frames ws writes itself.
 */
describe('WebSocket message frames built once per envelope', () => {
  const closing: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  it('encode the payload length in 7, 16 or 64 bits, at each boundary', () => {
    for (const [length, header] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65_535, 4],
      [65_536, 10],
    ] as const) {
      const frame = textFrame('x'.repeat(length));
      expect(frame.length).toBe(header + length);
      expect(frame[0]).toBe(0x81);
      const encoded =
        header === 2
          ? frame[1]
          : header === 4
            ? frame.readUInt16BE(2)
            : Number(frame.readBigUInt64BE(2));
      expect(frame[1]).toBe(header === 2 ? length : header === 4 ? 126 : 127);
      expect(encoded).toBe(length);
    }
    // Multi-byte characters count in bytes, not in UTF-16 units.
    const accented = textFrame('é'.repeat(100));
    expect(accented[1]).toBe(126);
    expect(accented.readUInt16BE(2)).toBe(200);
    expect(accented.subarray(4).toString('utf8')).toBe('é'.repeat(100));
  });

  it('reach a ws client intact around every length boundary, interleaved with ws frames', async () => {
    // 160 envelopes of ~64 KiB go out at once: no slow-consumer cut for this burst.
    const testHub: TestHub = await startHub({
      limits: { maxMessageBytes: 256 * 1024, maxBufferedBytes: 64 * 2 ** 20 },
    });
    closing.push(() => testHub.close());
    const socket: TestSocket = await connectWs(testHub.wsUrl);
    closing.push(() => socket.close());
    await subscribe(socket, ['frames']);

    // The frame text is the envelope's JSON plus a few bytes: sweeping the data's length
    // across each boundary makes some frame land on it exactly, whatever the id's length.
    const published: string[] = [];
    for (const boundary of [125, 65_535]) {
      for (let length = Math.max(0, boundary - 140); length <= boundary + 20; length++) {
        // `length` bytes of UTF-8, some of them two-byte characters.
        const accents = length >= 4 ? length % 3 : 0;
        const data = `${'é'.repeat(accents)}${'x'.repeat(length - 2 * accents)}`;
        published.push(data);
        await testHub.hub.publish('frames', data);
        // A frame ws writes itself between two prebuilt ones.
        socket.send({ type: 'ping' });
      }
    }
    await socket.waitForType('message', published.length);
    await socket.waitForType('pong', published.length);
    const received = socket.ofType('message').map(({ data }) => data);
    expect(received).toEqual(published);
    expect(socket.closeCode).toBeUndefined();
  });
});
