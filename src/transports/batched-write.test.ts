import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeBatched } from './batched-write.js';

/** Closes what a test opened. */
const closing: Array<() => void> = [];

/**
 * A connected pair of real sockets on 127.0.0.1: what is written, and what the peer reads.
 * Closed after the test.
 */
async function socketPair() {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const writer = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  writer.setNoDelay(true);
  const reader = await accepted;
  const reads: string[] = [];
  reader.on('data', (data: Buffer) => reads.push(data.toString()));
  closing.push(() => {
    writer.destroy();
    reader.destroy();
    server.close();
  });
  if (writer.connecting) await new Promise((resolve) => writer.once('connect', resolve));
  return { writer, reader, reads };
}

describe('writeBatched', () => {
  afterEach(() => {
    for (const close of closing.splice(0)) close();
  });

  it("sends a turn's first write at once, holds the rest until the turn is done, in order", async () => {
    const { writer, reader, reads } = await socketPair();

    for (const text of ['one,', 'two,', 'three,']) writeBatched(writer, Buffer.from(text));
    // The first write went to the kernel; the others wait for the end of the turn, to go in
    // one writev (an uncorked socket would have handed each write to the kernel at once).
    expect(writer.writableCorked).toBe(1);
    expect(writer.writableLength).toBe('two,three,'.length);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.writableCorked).toBe(0);
    writeBatched(writer, Buffer.from('four'));
    // A new turn: its first write goes at once again.
    expect(writer.writableCorked).toBe(0);

    await new Promise<void>((resolve) => {
      const check = () => (reads.join('') === 'one,two,three,four' ? resolve() : undefined);
      reader.on('data', check);
      check();
    });
    expect(reads.join('')).toBe('one,two,three,four');
  });

  it('leaves a socket that someone else corked to them, and still delivers in order', async () => {
    const { writer, reader, reads } = await socketPair();
    writer.cork();
    writeBatched(writer, Buffer.from('a'));
    expect(writer.writableCorked).toBe(1);
    writer.write('b');
    writer.uncork();
    writeBatched(writer, Buffer.from('c'));
    await new Promise<void>((resolve) => {
      const check = () => (reads.join('') === 'abc' ? resolve() : undefined);
      reader.on('data', check);
      check();
    });
    expect(reads.join('')).toBe('abc');
  });
});
