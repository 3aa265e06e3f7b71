/**
 * The bounded queue of what `ReconnectingWebSocket.send()` got while no socket was open.
 *
 * @module
 */

import { ReconnectingError } from './errors.js';

/** What a WebSocket can send. */
export type SendData = string | ArrayBufferLike | Blob | ArrayBufferView;

const encoder = new TextEncoder();

/** Bytes `data` takes on the wire (UTF-8 for text). */
export function byteLengthOf(data: SendData): number {
  if (typeof data === 'string') return encoder.encode(data).byteLength;
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size;
  return (data as ArrayBufferLike | ArrayBufferView).byteLength;
}

/**
 * Messages in send order, bounded in count and bytes. Past a bound `push` throws: a queue that
 * drops silently surprises more than one that refuses (socket.io-client#1358, PITFALLS #15).
 *
 * @internal
 */
export class SendQueue {
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  #items: SendData[] = [];
  #bytes = 0;

  constructor(maxMessages: number, maxBytes: number) {
    this.#maxMessages = maxMessages;
    this.#maxBytes = maxBytes;
  }

  /** Bytes queued. */
  get bytes(): number {
    return this.#bytes;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Queues `data`, or throws a `ReconnectingError` with code `QUEUE_FULL`. */
  push(data: SendData): void {
    const size = byteLengthOf(data);
    if (this.#items.length + 1 > this.#maxMessages || this.#bytes + size > this.#maxBytes) {
      throw new ReconnectingError(
        'QUEUE_FULL',
        `send queue full: ${this.#items.length} messages, ${this.#bytes} bytes queued, a ` +
          `${size}-byte message would pass maxQueuedMessages ${this.#maxMessages} or ` +
          `maxQueuedBytes ${this.#maxBytes}; not sent`,
      );
    }
    this.#items.push(data);
    this.#bytes += size;
  }

  /** Empties the queue, answering what it held in order. */
  drain(): SendData[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }
}
