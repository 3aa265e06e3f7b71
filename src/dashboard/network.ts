import type { WebSocketConstructor } from '../client/index.js';
import {
  UPGRADE_RESPONSE_BYTES,
  responseHeadBytes,
  utf8Length,
  webSocketFrameBytes,
} from './wire-bytes.js';

/**
 * The page's view of the network, between each panel's client and the browser's own
 * `WebSocket` and `fetch`. It counts what each panel's traffic costs (requests, bytes in) and
 * can fail it the way a real network fails, so that the dashboard's buttons exercise the
 * client's real reconnect, backoff and resume code, not a replay of it:
 *
 * - a dropped link ends as a lost connection does: the WebSocket closes with 1006, a fetch
 *   or a stream being read fails with a `TypeError`;
 * - while the network is paused every new connection fails at once, as offline;
 * - resuming tells the page it is `online` again, which the client answers with an
 *   immediate reconnect.
 *
 * @module
 */

/** What one panel's traffic cost so far. */
export interface TrafficCounters {
  /** HTTP requests, WebSocket upgrades included. */
  requests: number;
  /** Bytes from the server: response heads and bodies, WebSocket frames with their headers. */
  bytesIn: number;
}

/** The page-wide network: pausing it cuts every panel. */
export class Network {
  readonly #taps = new Set<Tap>();
  #isPaused = false;

  get isPaused(): boolean {
    return this.#isPaused;
  }

  /** A tap of its own for one panel's client. */
  tap(): Tap {
    const tap = new Tap(this);
    this.#taps.add(tap);
    return tap;
  }

  /** Cuts every open link and fails every new one until `resume()`. */
  pause(): void {
    this.#isPaused = true;
    for (const tap of this.#taps) tap.cutAll();
  }

  /** Lets connections through again, and says so the way a browser does. */
  resume(): void {
    this.#isPaused = false;
    globalThis.dispatchEvent(new Event('online'));
  }
}

/** The network as one client sees it: its own counters, and links that can be dropped. */
export class Tap {
  readonly counters: TrafficCounters = { requests: 0, bytesIn: 0 };
  /** How to cut each link that is open now. */
  readonly #cuts = new Set<() => void>();
  readonly #network: Network;
  #isNextFailing = false;

  constructor(network: Network) {
    this.#network = network;
  }

  /**
   * Ends every open link as a lost connection would. A client with nothing in flight (short
   * polling between two polls) learns of it as a real one does: its next request fails.
   */
  drop(): void {
    if (this.#cuts.size === 0) this.#isNextFailing = true;
    this.cutAll();
  }

  /** @internal Ends every open link; what comes next is up to the network. */
  cutAll(): void {
    for (const cut of [...this.#cuts]) cut();
  }

  /** @internal Whether a new connection fails: the network is paused, or a drop is due. */
  failsNext(): boolean {
    if (this.#network.isPaused) return true;
    const isFailing = this.#isNextFailing;
    this.#isNextFailing = false;
    return isFailing;
  }

  /** The `fetch` to hand the client: counted, and failing like a network when cut. */
  readonly fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    this.counters.requests += 1;
    if (this.failsNext()) throw new TypeError('Failed to fetch: network error');
    const abort = new AbortController();
    const callerSignal = init.signal;
    // The client's own abort (it stops a link) must still reach the request.
    const onCallerAbort = () => abort.abort(callerSignal?.reason);
    if (callerSignal?.aborted) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    const cut = () => abort.abort(new TypeError('network error: connection lost'));
    const forget = () => {
      this.#cuts.delete(cut);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    };
    this.#cuts.add(cut);
    try {
      const response = await fetch(input, { ...init, signal: abort.signal });
      this.counters.bytesIn += responseHeadBytes(response);
      const length = response.headers.get('content-length');
      if (!response.body || length !== null) {
        // A body of known length (a poll's answer) is counted as announced and handed over
        // as it came: read through a stream of ours, Chromium would list every such
        // request as cancelled in DevTools, its end racing the body's.
        this.counters.bytesIn += Number(length ?? 0);
        forget();
        return response;
      }
      // A stream (SSE) is counted as it is read, and stays cuttable until it ends.
      return new Response(this.#counted(response.body, forget), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (error) {
      forget();
      throw error;
    }
  };

  /** The WebSocket constructor to hand the client: a class bound to this tap. */
  readonly WebSocket: WebSocketConstructor = ((tap: Tap) =>
    class extends TappedWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(tap, url, protocols);
      }
    })(this);

  /** @internal Registers how to cut a link; answers how to forget it once it ended. */
  track(cut: () => void): () => void {
    this.#cuts.add(cut);
    return () => this.#cuts.delete(cut);
  }

  /** A body that counts its bytes as the client reads them, and forgets its cut when done. */
  #counted(body: ReadableStream<Uint8Array>, forget: () => void): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const { done, value } = await reader.read();
          if (done) {
            forget();
            controller.close();
            return;
          }
          this.counters.bytesIn += value.byteLength;
          controller.enqueue(value);
        } catch (error) {
          forget();
          controller.error(error);
        }
      },
      cancel: (reason: unknown) => {
        forget();
        return reader.cancel(reason);
      },
    });
  }
}

type WebSocketLike = InstanceType<WebSocketConstructor>;

/** A browser WebSocket behind a tap: counted, and closed with 1006 when cut. */
class TappedWebSocket implements WebSocketLike {
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  readonly #socket: WebSocket | undefined;
  #forget: () => void = () => {};
  #isCut = false;

  constructor(tap: Tap, url: string, protocols?: string | string[]) {
    tap.counters.requests += 1;
    if (tap.failsNext()) {
      this.#isCut = true;
      // Offline: the attempt fails on its own, later, as a browser's does.
      setTimeout(() => this.#lost(), 0);
      return;
    }
    const socket = new WebSocket(url, protocols);
    this.#socket = socket;
    this.#forget = tap.track(() => this.#cut());
    socket.onopen = (event) => {
      tap.counters.bytesIn += UPGRADE_RESPONSE_BYTES;
      this.onopen?.(event);
    };
    socket.onmessage = (event: MessageEvent<unknown>) => {
      const { data } = event;
      const payload =
        typeof data === 'string' ? utf8Length(data) : data instanceof Blob ? data.size : 0;
      tap.counters.bytesIn += webSocketFrameBytes(payload);
      this.onmessage?.(event);
    };
    socket.onerror = (event) => this.onerror?.(event);
    socket.onclose = (event) => {
      this.#forget();
      this.onclose?.({ code: event.code, reason: event.reason });
    };
  }

  get readyState(): number {
    return this.#isCut || !this.#socket ? WebSocket.CLOSED : this.#socket.readyState;
  }

  send(data: string): void {
    // A cut link swallows what is sent, as a dead one does until the client notices.
    if (!this.#isCut) this.#socket?.send(data);
  }

  close(code?: number, reason?: string): void {
    if (!this.#isCut) this.#socket?.close(code, reason);
  }

  /** The connection is gone: the client hears nothing more from this socket but a 1006. */
  #cut(): void {
    const socket = this.#socket;
    if (this.#isCut || !socket) return;
    this.#isCut = true;
    this.#forget();
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    socket.close();
    setTimeout(() => this.#lost(), 0);
  }

  #lost(): void {
    this.onerror?.(new Event('error'));
    this.onclose?.({ code: 1006, reason: 'connection lost' });
  }
}
