/**
 * One open event stream of an `SSE` instance, over Node's HTTP/1 or HTTP/2 response: headers,
 * optional compression flushed per event, and a bound on what an unread client may queue.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import {
  constants as zlibConstants,
  createDeflate,
  createGzip,
  type Deflate,
  type Gzip,
} from 'node:zlib';
import { BacklogGuard } from './backlog-guard.js';
import { reconnectLater, sseHeaders } from './headers.js';

/** A request as Node http, Express, Fastify (`request.raw`) or `@hono/node-server` hand it. */
export type SseRequest = IncomingMessage | Http2ServerRequest;
/** A response as Node http, Express, Fastify (`reply.raw`) or `@hono/node-server` hand it. */
export type SseResponse = ServerResponse | Http2ServerResponse;

/** What a session uses of either response type (their `write` overloads do not unify). */
interface StreamResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  write(chunk: string | Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  readonly destroyed: boolean;
  readonly writableLength: number;
  readonly writableEnded: boolean;
  on(event: 'close' | 'error', listener: () => void): unknown;
}

/** A response that a compression middleware (the `compression` package) has wrapped. */
interface FlushableResponse {
  flush(): void;
}

/** @internal */
export interface SessionOptions {
  /** Compress with gzip or deflate when the client accepts it. */
  readonly compress: boolean;
  /** Bytes the client may leave unread before the stream is cut. */
  readonly maxBufferedBytes: number;
  /** Called once when the stream has ended, for whatever reason. */
  readonly onClose: (session: SseSession) => void;
}

type Encoding = 'gzip' | 'deflate';

/** @internal */
export class SseSession {
  readonly #res: StreamResponse;
  readonly #options: SessionOptions;
  readonly #compressor: Gzip | Deflate | undefined;
  readonly #backlog: BacklogGuard;
  #isOpen = true;

  constructor(req: SseRequest, response: SseResponse, options: SessionOptions) {
    const res: StreamResponse = response;
    this.#res = res;
    this.#options = options;
    // The client's backlog is what the response still queues (compressed, when compressing).
    this.#backlog = new BacklogGuard(
      { bufferedBytes: () => res.writableLength, onSlowConsumer: () => this.#cut() },
      options.maxBufferedBytes,
    );
    const headers = sseHeaders(req.httpVersion);
    // The `compression` middleware leaves a response alone that says `no-transform` or already
    // has a Content-Encoding, so this never compresses twice.
    const encoding = options.compress ? pickEncoding(req) : undefined;
    if (encoding !== undefined) {
      headers['Content-Encoding'] = encoding;
      headers.Vary = 'Accept-Encoding';
      this.#compressor = encoding === 'gzip' ? createGzip() : createDeflate();
      this.#compressor.on('data', (chunk: Buffer) => {
        if (!res.writableEnded) res.write(chunk);
      });
      // A zlib failure ends this stream only (the client reconnects), never the process.
      this.#compressor.on('error', () => this.#cut());
    }
    if (req.httpVersionMajor === 1) tuneSocket(req as IncomingMessage);
    res.writeHead(200, headers);
    res.on('close', () => {
      // The client is gone: free the compressor's zlib memory now.
      this.#compressor?.destroy();
      this.#onClosed();
    });
    res.on('error', () => this.#onClosed());
    // The client may have left before `init` ran (after an await): then 'close' has fired.
    if (res.destroyed) this.#onClosed();
  }

  get isOpen(): boolean {
    return this.#isOpen;
  }

  /**
   * Writes what a stream opens with (a replay may be long): its size is added to the budget,
   * so that a client is not cut for a backlog the server chose to send in one go.
   */
  open(text: string): void {
    this.#backlog.allow(Buffer.byteLength(text));
    this.write(text);
  }

  /**
   * Writes text to the client at once. A client that leaves more than `maxBufferedBytes`
   * unread is cut (EventSource reconnects and replays), so memory stays bounded.
   */
  write(text: string): void {
    if (!this.#isOpen) return;
    if (this.#compressor !== undefined) {
      this.#compressor.write(text);
      // A sync flush emits everything written so far: the event reaches the client now,
      // not when the compressor's window fills (express-sse#17, PITFALLS #4).
      this.#compressor.flush(zlibConstants.Z_SYNC_FLUSH);
    } else {
      this.#res.write(text);
      // A wrapper that buffers and offers flush() (as `compression` does) must push it through.
      if (isFlushable(this.#res)) this.#res.flush();
    }
    this.#backlog.afterWrite();
  }

  /** Writes `text`, if any, then ends the stream. */
  end(text = ''): void {
    if (!this.#isOpen) return;
    if (this.#compressor === undefined) {
      if (text !== '') this.#res.write(text);
      this.#res.end();
    } else {
      this.#compressor.once('end', () => this.#res.end());
      this.#compressor.end(text);
    }
    this.#onClosed();
  }

  #cut(): void {
    this.#res.destroy();
    this.#onClosed();
  }

  #onClosed(): void {
    if (!this.#isOpen) return;
    this.#isOpen = false;
    this.#backlog.stop();
    this.#options.onClose(this);
  }
}

function isFlushable<T extends object>(res: T): res is T & FlushableResponse {
  return typeof (res as Partial<FlushableResponse>).flush === 'function';
}

/** gzip, else deflate, when the client accepts one (a `q=0` refuses it). */
function pickEncoding(req: SseRequest): Encoding | undefined {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return undefined;
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const refused = params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(param));
    if (!refused) accepted.add(name.trim());
  }
  if (accepted.has('gzip')) return 'gzip';
  if (accepted.has('deflate')) return 'deflate';
  return undefined;
}

/** An event stream lives long and carries small writes: no timeout, no Nagle delay. */
function tuneSocket(req: IncomingMessage): void {
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);
}

/**
 * Answers a stream request with only a jittered `retry:` and ends it, for a server that is
 * shutting down. An error status would make a native EventSource give up for good (it
 * retries only after a 200 stream ends), while this sends it back a little later, to
 * whichever server is up then. HTTP/1 also drops the connection, so the retry opens a new one.
 *
 * @internal
 */
export function answerReconnectLater(
  req: SseRequest,
  res: SseResponse,
  retryMs: number,
  comment: string,
): void {
  const headers = sseHeaders(req.httpVersion);
  if (req.httpVersionMajor === 1) headers.Connection = 'close';
  res.writeHead(200, headers);
  res.end(reconnectLater(retryMs, comment));
}
