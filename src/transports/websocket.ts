import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { EncodedEnvelope } from '../core/encoded-envelope.js';
import type { ConnectionInfo, SubscribeResult, Subscriber } from '../core/hub.js';
import { CloseCode, closeCodeOf } from '../protocol/codes.js';
import { TidewireError, isTidewireError } from '../protocol/errors.js';
import {
  type ClientFrame,
  type PublishFrame,
  type ServerFrame,
  type SubscribeFrame,
  parseClientFrame,
} from '../protocol/frames.js';
import type { CloseReason, Connection } from '../server/connections.js';
import { clientIp } from '../server/http-util.js';
import { BacklogGuard } from '../sse/backlog-guard.js';
import type { TransportContext } from './transport.js';

/**
 * How long a peer that we close for not reading (slow consumer) or not answering (idle
 * timeout) gets to complete the closing handshake before its socket is destroyed. ws waits
 * 30 s by default, and such a peer rarely answers: its socket, its send buffer, its per-IP
 * slot and its subscriptions would linger that long.
 */
const UNRESPONSIVE_CLOSE_GRACE_MS = 1000;

/** Memo key of the `message` frame bytes of an envelope, shared by every socket. */
const MESSAGE_FRAME = Symbol('websocket message frame');

function messageFrame(encoded: EncodedEnvelope): Buffer {
  // `{"type":"message",…envelope}` without parsing or re-serialising the envelope.
  return Buffer.from(`{"type":"message",${encoded.json.slice(1)}`);
}

/**
 * WebSocket transport on `ws`: the JSON frames of SPEC.md, protocol-level pings to find dead
 * peers, and a send-buffer budget per socket. One timer serves every socket of the hub.
 */
export class WebSocketTransport {
  readonly #context: TransportContext;
  readonly #server: WebSocketServer;
  readonly #sockets = new Set<WsConnection>();
  readonly #heartbeat: ReturnType<typeof setInterval>;

  constructor(context: TransportContext) {
    this.#context = context;
    const maxBytes = context.options.limits.maxMessageBytes;
    this.#server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // Deflate costs ~300 KiB per socket for little gain on small JSON (PITFALLS #10).
      perMessageDeflate: false,
      maxPayload: maxBytes,
      WebSocket: socketClassWithSizeReason(maxBytes),
    });
    this.#heartbeat = setInterval(() => this.#beat(), context.options.wsPingIntervalMs);
    this.#heartbeat.unref?.();
  }

  /** Completes an upgrade routed to the WebSocket endpoint. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ip = clientIp(req);
    let refusal: TidewireError | undefined;
    if (this.#context.isClosing()) {
      refusal = new TidewireError('SHUTTING_DOWN', 'server is shutting down, reconnect elsewhere');
    } else {
      try {
        this.#context.connections.checkAdmission(ip);
      } catch (error) {
        refusal = error as TidewireError;
      }
    }
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      // Refusals complete the handshake so that a browser, which cannot read an HTTP status
      // of a failed upgrade, still gets a close code and a reason.
      if (refusal) ws.close(closeCodeOf(refusal.code), fitCloseReason(refusal.message));
      else this.#open(ws, ip);
    });
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.#server.close();
  }

  #open(ws: WebSocket, ip: string): void {
    const connection = new WsConnection(this.#context, ws, ip, () => {
      this.#sockets.delete(connection);
    });
    this.#sockets.add(connection);
    this.#context.connections.add(connection);
  }

  #beat(): void {
    const now = Date.now();
    const idleTimeout = this.#context.options.limits.idleTimeoutMs;
    for (const connection of this.#sockets) connection.heartbeat(now, idleTimeout);
  }
}

/** One client socket: a `Subscriber` for the hub and a `Connection` for the registry. */
class WsConnection implements Subscriber, Connection {
  readonly transport = 'websocket' as const;
  readonly id: string;
  readonly #context: TransportContext;
  readonly #ws: WebSocket;
  readonly #info: ConnectionInfo;
  readonly #onGone: () => void;
  readonly #backlog: BacklogGuard;
  #lastSeen = Date.now();
  #reapTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    context: TransportContext,
    ws: WebSocket,
    readonly ip: string,
    onGone: () => void,
  ) {
    this.#context = context;
    this.#ws = ws;
    this.#onGone = onGone;
    this.id = context.connections.nextId();
    this.#info = { id: this.id, transport: 'websocket', ip };
    const max = context.options.limits.maxBufferedBytes;
    // The peer stopped reading: stop queueing (memory stays bounded) and tell it why.
    this.#backlog = new BacklogGuard(
      () => ws.bufferedAmount,
      max,
      () =>
        this.#closeUnresponsive(
          new TidewireError('SLOW_CONSUMER', `more than ${max} bytes waiting to be read`),
        ),
    );
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#lastSeen = Date.now();
    });
    ws.on('close', () => this.#cleanup());
    // ws emits 'error' for protocol violations and then closes with the right code.
    ws.on('error', () => {});
  }

  onSubscribed(results: readonly SubscribeResult[]): void {
    for (const { channel, position, recovered } of results) {
      this.#send({ type: 'subscribed', channel, position, recovered });
    }
  }

  onGap(channel: string): void {
    this.#send({ type: 'gap', channel });
  }

  onEnvelope(encoded: EncodedEnvelope): void {
    this.#write(encoded.memo(MESSAGE_FRAME, messageFrame));
  }

  close(reason: CloseReason): void {
    this.#ws.close(reason.code, fitCloseReason(reason.reason));
  }

  heartbeat(now: number, idleTimeout: number): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (now - this.#lastSeen > idleTimeout) {
      this.#closeUnresponsive(
        new TidewireError('IDLE_TIMEOUT', `nothing received for ${idleTimeout} ms`),
      );
      return;
    }
    this.#ws.ping();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    this.#lastSeen = Date.now();
    const text = isBinary ? decodeUtf8(data) : rawToBuffer(data).toString('utf8');
    if (text === undefined) {
      this.#sendError(new TidewireError('BAD_JSON', 'binary frame is not UTF-8 JSON text'));
      return;
    }
    // Hand-written clients send a bare `ping` and expect a bare `pong`.
    if (text === 'ping') {
      this.#write('pong');
      return;
    }
    let frame: ClientFrame;
    try {
      frame = parseClientFrame(text);
    } catch (error) {
      this.#sendError(error);
      return;
    }
    this.#dispatch(frame);
  }

  #dispatch(frame: ClientFrame): void {
    switch (frame.type) {
      case 'subscribe':
        this.#subscribe(frame);
        break;
      case 'unsubscribe':
        this.#context.core.unsubscribe(this, frame.channels);
        break;
      case 'publish':
        this.#publish(frame);
        break;
      case 'ping':
        this.#send({ type: 'pong' });
        break;
    }
  }

  #subscribe(frame: SubscribeFrame): void {
    const { core, options } = this.#context;
    const max = options.limits.maxSubscriptionsPerConnection;
    // Channels already held do not count twice (they are refused as ALREADY_SUBSCRIBED).
    const fresh = frame.channels.filter((channel) => !core.isSubscribed(this, channel));
    const total = core.subscriptionCount(this) + fresh.length;
    if (total > max) {
      const error = new TidewireError(
        'TOO_MANY_SUBSCRIPTIONS',
        `subscribing would make ${total} channels, limit is ${max} per connection`,
      );
      this.#sendError(error, frame.ref);
      return;
    }
    const since = new Map(Object.entries(frame.since ?? {}));
    core.subscribe(this, frame.channels, since).catch((error: unknown) => {
      this.#sendError(error, frame.ref);
    });
  }

  #publish(frame: PublishFrame): void {
    const { core, options } = this.#context;
    if (!options.allowClientPublish) {
      this.#sendError(
        new TidewireError('PUBLISH_DISABLED', 'clients may not publish on this hub'),
        frame.ref,
      );
      return;
    }
    const { channel, event, data, binary } = frame;
    core
      .receive(this.#info, { channel, event, data, ...(binary ? { binary } : {}) })
      .then((envelope) => {
        if (frame.ref === undefined) return;
        this.#send({ type: 'ack', ref: frame.ref, id: envelope.id, ts: envelope.ts });
      })
      .catch((error: unknown) => this.#sendError(error, frame.ref));
  }

  #sendError(error: unknown, ref?: string): void {
    const known = isTidewireError(error) ? error : new TidewireError('INTERNAL', 'internal error');
    if (!isTidewireError(error)) {
      this.#context.options.logger.error(
        { err: error, connection: this.id },
        'websocket frame failed',
      );
    }
    const frameRef = ref ?? known.ref;
    this.#send({
      type: 'error',
      code: known.code,
      message: known.message,
      ...(frameRef === undefined ? {} : { ref: frameRef }),
    });
  }

  #send(frame: ServerFrame): void {
    this.#write(JSON.stringify(frame));
  }

  #write(data: string | Buffer): void {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(data, { binary: false });
    this.#backlog.afterWrite();
  }

  /**
   * Closes with the error's code and reason (a peer that catches up still reads why), then
   * destroys the socket if the closing handshake is not done within the grace period.
   */
  #closeUnresponsive(error: TidewireError): void {
    this.close({ code: closeCodeOf(error.code), reason: error.message });
    this.#reapTimer = setTimeout(() => this.#ws.terminate(), UNRESPONSIVE_CLOSE_GRACE_MS);
    this.#reapTimer.unref?.();
  }

  #cleanup(): void {
    clearTimeout(this.#reapTimer);
    this.#backlog.stop();
    this.#context.core.unsubscribeAll(this);
    this.#context.connections.remove(this);
    this.#onGone();
  }
}

/** RFC 6455 § 5.5: a close reason fits in 123 bytes of UTF-8. */
function fitCloseReason(reason: string): string {
  let fitted = reason;
  while (Buffer.byteLength(fitted) > 123) fitted = fitted.slice(0, -1);
  return fitted;
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(data: RawData): string | undefined {
  try {
    return strictUtf8.decode(rawToBuffer(data));
  } catch {
    return undefined;
  }
}

/**
 * ws closes an oversized frame with 1009 and no reason; this subclass adds one that says
 * which limit was hit, so that the client can tell the user.
 */
function socketClassWithSizeReason(maxBytes: number): typeof WebSocket {
  return class SizeReasonWebSocket extends WebSocket {
    override close(code?: number, reason?: string | Buffer): void {
      if (code === CloseCode.MESSAGE_TOO_BIG && (reason === undefined || reason.length === 0)) {
        super.close(code, `message exceeds the limit of ${maxBytes} bytes`);
        return;
      }
      super.close(code, reason);
    }
  };
}
