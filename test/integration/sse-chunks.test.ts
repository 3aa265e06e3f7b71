import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub } from '../../src/server/index.js';
import { httpChunk } from '../../src/transports/sse.js';
import { type TestHub, startHub } from '../support/hub-server.js';
import { waitFor } from '../support/wait.js';

/**
 * A one-channel SSE stream gets each envelope as an HTTP/1.1 chunk built once per envelope
 * and written to its socket as is, between what `res.write()` writes itself (the opening,
 * heartbeats, the end). The chunk framing must be exact at every size, and a stream whose
 * `res.write` a middleware wrapped must get everything through that wrapper instead.
 */

/** Reads a chunked body strictly: each size line, exactly that many bytes, then CRLF. */
function dechunk(raw: Buffer): { body: string; isComplete: boolean } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return { body: Buffer.concat(parts).toString('utf8'), isComplete: false };
    const sizeLine = raw.subarray(at, lineEnd).toString('latin1');
    expect(sizeLine).toMatch(/^[0-9a-f]+$/);
    const size = Number.parseInt(sizeLine, 16);
    const start = lineEnd + 2;
    if (raw.length < start + size + 2) {
      return { body: Buffer.concat(parts).toString('utf8'), isComplete: false };
    }
    expect(raw.subarray(start + size, start + size + 2).toString('latin1')).toBe('\r\n');
    if (size === 0) return { body: Buffer.concat(parts).toString('utf8'), isComplete: true };
    parts.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** The envelope data of every `message` event of an SSE body. */
function envelopeData(body: string): unknown[] {
  return body
    .split('\n\n')
    .filter((event) => event.includes('\nevent: message\n'))
    .map((event) => {
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      return (JSON.parse(data) as { data: unknown }).data;
    });
}

/** An SSE request on a raw socket: the response's bytes exactly as they came. */
function rawStream(port: number, path: string) {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (data: Buffer) => received.push(data));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
  return {
    socket,
    head: () => Buffer.concat(received).toString('latin1').split('\r\n\r\n')[0] ?? '',
    body: () => {
      const all = Buffer.concat(received);
      const start = all.indexOf('\r\n\r\n');
      return start < 0 ? { body: '', isComplete: false } : dechunk(all.subarray(start + 4));
    },
  };
}

describe('SSE envelopes as prebuilt HTTP chunks', () => {
  const closing: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  it('frame each text with its size in hex, in bytes, and a CRLF', () => {
    for (const text of ['a', 'x'.repeat(15), 'x'.repeat(16), 'x'.repeat(255), 'x'.repeat(256)]) {
      const chunk = httpChunk(text);
      expect(chunk.toString('latin1')).toBe(`${text.length.toString(16)}\r\n${text}\r\n`);
    }
    const accented = httpChunk('é€');
    expect(accented.subarray(0, 3).toString('latin1')).toBe('5\r\n');
    expect(accented.subarray(3, 8).toString('utf8')).toBe('é€');
    expect(accented.subarray(8).toString('latin1')).toBe('\r\n');
  });

  it('reach the wire well-framed, in order, between heartbeats, and the stream ends cleanly', async () => {
    const testHub: TestHub = await startHub({
      sseHeartbeatMs: 5,
      limits: { maxMessageBytes: 256 * 1024 },
    });
    closing.push(() => testHub.close());
    const stream = rawStream(testHub.port, '/rt/sse?channel=chunks');
    closing.push(() => stream.socket.destroy());
    await waitFor(() => stream.body().body.includes('event: subscribed'), 2000, 'subscribed');
    expect(stream.head()).toMatch(/\r\nTransfer-Encoding: chunked/i);

    // Sizes across the hex size line's digit counts, with multi-byte characters.
    const published: string[] = [];
    for (const length of [1, 14, 15, 16, 200, 255, 256, 4000, 4095, 4096, 70_000]) {
      const data = `${'é'.repeat(length % 7)}${'x'.repeat(length)}`;
      published.push(data);
      await testHub.hub.publish('chunks', data);
      // Heartbeats go out through `res.write()` between the prebuilt chunks.
      await new Promise((resolve) => setTimeout(resolve, 8));
    }
    await waitFor(
      () => envelopeData(stream.body().body).length === published.length,
      5000,
      'every envelope',
    );
    expect(envelopeData(stream.body().body)).toEqual(published);
    expect(stream.body().body).toContain(':');

    const ended = testHub.close();
    await waitFor(() => stream.body().isComplete, 5000, 'the terminating chunk');
    await ended;
  });

  it('are not used on HTTP/1.0, whose stream is not chunked but ends with the connection', async () => {
    const testHub: TestHub = await startHub();
    closing.push(() => testHub.close());
    const socket = net.connect(testHub.port, '127.0.0.1');
    closing.push(() => socket.destroy());
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString('utf8')));
    socket.write('GET /rt/sse?channel=old HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => received.includes('event: subscribed'), 2000, 'subscribed');
    expect(received).not.toMatch(/\r\nTransfer-Encoding/i);

    await testHub.hub.publish('old', 'plain');
    await waitFor(() => envelopeData(received).length === 1, 2000, 'the envelope');
    // No chunk framing around the event: the body is the event stream itself.
    const body = received.slice(received.indexOf('\r\n\r\n') + 4);
    expect(body).not.toMatch(/\r\n/);
    expect(envelopeData(body)).toEqual(['plain']);
  });

  it('go through res.write when a middleware wrapped it, so that it sees every byte', async () => {
    const hub = createHub({ logger: { info() {}, warn() {}, error() {} } });
    closing.push(() => hub.close());
    let seenBytes = 0;
    const app = express();
    // A byte-counting middleware, as access logs and compressors wrap res.write.
    app.use((_req, res, next) => {
      const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        seenBytes += Buffer.byteLength(chunk as string);
        return write(chunk, ...rest);
      }) as typeof res.write;
      next();
    });
    app.use(hub.handler());
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closing.push(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as AddressInfo;
    const stream = rawStream(port, '/rt/sse?channel=wrapped');
    closing.push(() => stream.socket.destroy());
    await waitFor(() => stream.body().body.includes('event: subscribed'), 2000, 'subscribed');

    const before = seenBytes;
    await hub.publish('wrapped', 'through the wrapper');
    await waitFor(() => envelopeData(stream.body().body).length === 1, 2000, 'the envelope');
    expect(envelopeData(stream.body().body)).toEqual(['through the wrapper']);
    const event = stream
      .body()
      .body.split('\n\n')
      .find((e) => e.includes('\nevent: message\n'));
    expect(seenBytes - before).toBe(Buffer.byteLength(`${event}\n\n`));
  });
});
