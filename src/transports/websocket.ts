import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { EncodedEnvelope } from '../core/encoded-envelope.js';
import type { SubscribeResult, Subscriber } from '../core/hub.js';
import { CloseCode, closeCodeOf, httpStatusOf } from '../protocol/codes.js';
import { TidewireError, isTidewireError } from '../protocol/errors.js';
import {
  type ClientFrame,
  type PublishFrame,
  type ServerFrame,
  type SubscribeFrame,
  parseClientFrame,
} from '../protocol/frames.js';
import type { CloseReason, Connection } from '../server/connections.js';
import { isPromise, originError, settle } from '../server/access.js';
import type { Identity } from '../server/options.js';
import { TokenBucket } from '../server/rate-limit.js';
import { type BacklogOwner, BacklogGuard } from '../sse/backlog-guard.js';
import { writeBatched } from './batched-write.js';
import type { TransportContext } from './transport.js';

/**
 * How long a peer that we close for not reading (slow consumer) or not answering (idle
 * timeout) gets to complete the closing handshake before its socket is destroyed. ws waits
 * 30 s by default, and such a peer rarely answers: its socket, its send buffer, its per-IP
 * slot and its subscriptions would linger that long.
 */
const UNRESPONSIVE_CLOSE_GRACE_MS = 1000;

/**
 * Frames that may wait behind one held by an async `authorize` hook; a client that sends more
 * before the hook answers is flooding.
 */
const MAX_PENDING_FRAMES = 256;

/** Memo key of an envelope's whole `message` frame, header included, shared by every socket. */
const MESSAGE_FRAME = Symbol('websocket message frame');

function messageFrame(encoded: EncodedEnvelope): Buffer {
  // `{"type":"message",…envelope}` without parsing or re-serialising the envelope.
  return textFrame(`{"type":"message",${encoded.json.slice(1)}`);
}

/**
 * A complete, unmasked, final text frame (RFC 6455 § 5.2) in one buffer: built once per
 * envelope, then written as is to every subscriber's socket. ws would build a header and
 * write twice per socket (`Sender.frame`, then header and payload); a fan-out to thousands
 * pays that thousands of times.
 */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, headerLength, 'utf8');
  return frame;
}

function ignoreError(): void {}

/**
 * The connection a socket belongs to. Its listeners are module-level functions that find it
 * here: three closures per socket (and their context) would weigh on every idle connection.
 */
const CONNECTION = Symbol('tidewire connection');

type OwnedSocket = WebSocket & { [CONNECTION]: WsConnection };

function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as OwnedSocket)[CONNECTION].onMessage(data, isBinary);
}

function onSocketPong(this: WebSocket): void {
  (this as OwnedSocket)[CONNECTION].onPong();
}

function onSocketClose(this: WebSocket): void {
  (this as OwnedSocket)[CONNECTION].onClose();
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
      WebSocket: socketClassWithSizeReason(maxBytes, () => context.counters.drop('too_large')),
    });
    this.#heartbeat = setInterval(() => this.#beat(), context.options.wsPingIntervalMs);
    this.#heartbeat.unref?.();
  }

  /**
   * An upgrade routed to the WebSocket endpoint. A foreign Origin (cross-site WebSocket
   * hijacking: WebSocket is not covered by CORS) and an address past its request rate are
   * refused before the handshake, with an HTTP status; the other refusals after it.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { access, counters } = this.#context;
    // A module-level function, not an arrow: an arrow here would share this call's closure
    // context, which holds `req`, and the socket would keep the upgrade request (headers and
    // all, ~2 KiB) alive for as long as it is open.
    socket.on('error', ignoreError);
    if (!access.checkOrigin(req).allowed) {
      counters.drop('origin');
      refuseUpgrade(socket, originError());
      return;
    }
    const limited = access.checkRate(req);
    if (limited) {
      refuseUpgrade(socket, limited, { 'Retry-After': String(limited.retryAfterSeconds) });
      return;
    }
    settle(
      () => access.authenticate(req),
      (identity) => this.#complete(req, socket, head, identity, undefined),
      (error) => this.#complete(req, socket, head, undefined, asTidewireError(error)),
    );
  }

  #complete(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    identity: Identity,
    refused: TidewireError | undefined,
  ): void {
    const ip = this.#context.access.clientIp(req);
    let refusal = refused;
    if (refusal === undefined && this.#context.isClosing()) {
      this.#context.counters.drop('shutting_down');
      refusal = new TidewireError('SHUTTING_DOWN', 'server is shutting down, reconnect elsewhere');
    } else if (refusal === undefined) {
      try {
        this.#context.connections.checkAdmission(ip);
      } catch (error) {
        this.#context.counters.drop('too_many_connections');
        refusal = error as TidewireError;
      }
    }
    this.#server.handleUpgrade(req, socket, head, (ws) => {
      // These refusals complete the handshake so that a browser, which cannot read an HTTP
      // status of a failed upgrade, still gets a close code and a reason.
      if (refusal) ws.close(closeCodeOf(refusal.code), fitCloseReason(refusal.message));
      else this.#open(ws, socket, ip, identity);
    });
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.#server.close();
  }

  #open(ws: WebSocket, socket: Duplex, ip: string, identity: Identity): void {
    const connection = new WsConnection(this.#context, ws, socket, ip, identity, this.#sockets);
    this.#sockets.add(connection);
    this.#context.connections.add(connection);
  }

  #beat(): void {
    const now = Date.now();
    const idleTimeout = this.#context.options.limits.idleTimeoutMs;
    for (const connection of this.#sockets) connection.heartbeat(now, idleTimeout);
  }
}

/**
 * One client socket: a `Subscriber` for the hub and a `Connection` for the registry. A server
 * holds thousands of them, mostly idle: what only some need is made when needed.
 */
class WsConnection implements Subscriber, Connection, BacklogOwner {
  readonly id: string;
  readonly #context: TransportContext;
  readonly #ws: WebSocket;
  /** The socket under `#ws`, for frames built once per envelope (`onEnvelope`). */
  readonly #socket: Duplex;
  /** The transport's set of sockets, which this one leaves when it closes. */
  readonly #sockets: Set<WsConnection>;
  /** Made the first time the socket queues more than its budget: most never do. */
  #backlog: BacklogGuard | undefined;
  readonly #identity: Identity;
  /** Frames it may send (`maxMessagesPerSecond`), and frames it may send past that, refused. */
  readonly #frames: TokenBucket;
  #refusals: TokenBucket | undefined;
  /**
   * Frames wait here while an earlier one waits on an async `authorize` hook, so that they
   * are handled in the order they came (a subscribe then an unsubscribe stays unsubscribed).
   */
  #pending: Promise<void> | undefined;
  #pendingCount = 0;
  /** Publishes handed to the hub whose ack or error is not written yet. */
  #publishing: Set<Promise<void>> | undefined;
  /** Set once the socket is to be closed for flooding: the frames that still come are not read. */
  #isCut = false;
  #lastSeen = Date.now();
  #reapTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    context: TransportContext,
    ws: WebSocket,
    socket: Duplex,
    readonly ip: string,
    identity: Identity,
    sockets: Set<WsConnection>,
  ) {
    this.#context = context;
    this.#ws = ws;
    this.#socket = socket;
    this.#sockets = sockets;
    this.#identity = identity;
    this.id = context.connections.nextId();
    const { maxMessagesPerSecond: rate, maxMessageBurst: burst } = context.options.limits;
    this.#frames = new TokenBucket(rate, burst);
    (ws as OwnedSocket)[CONNECTION] = this;
    ws.on('message', onSocketMessage);
    ws.on('pong', onSocketPong);
    ws.on('close', onSocketClose);
    // ws emits 'error' for protocol violations and then closes with the right code.
    ws.on('error', ignoreError);
  }

  get transport(): 'websocket' {
    return 'websocket';
  }

  /** The peer stopped reading: stop queueing (memory stays bounded) and tell it why. */
  onSlowConsumer(): void {
    const max = this.#context.options.limits.maxBufferedBytes;
    this.#context.counters.drop('slow_consumer');
    this.#closeUnresponsive(
      new TidewireError('SLOW_CONSUMER', `more than ${max} bytes waiting to be read`),
    );
  }

  onPong(): void {
    this.#lastSeen = Date.now();
  }

  onClose(): void {
    this.#cleanup();
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
    this.#context.counters.delivered.websocket += 1;
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    // The frame's bytes go straight to the socket, whole: ws writes every frame of its own
    // (pings, pongs, close, the JSON frames of `#send`) in one synchronous call, never in
    // parts, and queues none, as it compresses nothing here, so frames cannot interleave.
    writeBatched(this.#socket, encoded.memo(MESSAGE_FRAME, messageFrame));
    this.#afterWrite();
  }

  /** What ws and the socket still queue: for the metrics and the backlog guard. */
  bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  close(reason: CloseReason): void {
    this.#ws.close(reason.code, fitCloseReason(reason.reason));
    // A peer that does not answer the closing handshake is let go after the grace period, not
    // after ws's 30 s (a drain would keep its socket that long).
    clearTimeout(this.#reapTimer);
    this.#reapTimer = setTimeout(() => this.#ws.terminate(), UNRESPONSIVE_CLOSE_GRACE_MS);
    this.#reapTimer.unref?.();
  }

  heartbeat(now: number, idleTimeout: number): void {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (now - this.#lastSeen > idleTimeout) {
      this.#context.counters.drop('idle_timeout');
      this.#closeUnresponsive(
        new TidewireError('IDLE_TIMEOUT', `nothing received for ${idleTimeout} ms`),
      );
      return;
    }
    this.#ws.ping();
  }

  onMessage(data: RawData, isBinary: boolean): void {
    const now = Date.now();
    this.#lastSeen = now;
    if (this.#isCut) return;
    if (!this.#frames.take(now) && !this.#refuseOverRate(now, data)) return;
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
    if (this.#pending === undefined) {
      this.#track(this.#dispatch(frame));
      return;
    }
    if (this.#pendingCount >= MAX_PENDING_FRAMES) {
      this.#closeUnresponsive(
        new TidewireError('RATE_LIMITED', 'too many frames waiting for authorization'),
      );
      return;
    }
    this.#pendingCount += 1;
    this.#track(
      this.#pending.then(() => {
        this.#pendingCount -= 1;
        return this.#dispatch(frame);
      }),
    );
  }

  /**
   * A frame past the rate. A publish is refused with `RATE_LIMITED` (its promise rejects in
   * the client, nothing else is lost) and a ping goes unanswered; any other frame, or a sender
   * that goes on at twice the rate, closes the connection with 4003 (reconnect with backoff).
   * Returns whether to go on.
   */
  #refuseOverRate(now: number, data: RawData): boolean {
    this.#context.counters.drop('rate_limited');
    const error = new TidewireError(
      'RATE_LIMITED',
      `more than ${this.#context.options.limits.maxMessagesPerSecond} frames per second`,
    );
    const kind = frameKind(data);
    this.#refusals ??= new TokenBucket(
      this.#context.options.limits.maxMessagesPerSecond,
      this.#context.options.limits.maxMessageBurst,
    );
    if (kind === 'other' || !this.#refusals.take(now)) {
      this.#cut({ code: closeCodeOf(error.code), reason: error.message });
    } else if (kind !== 'ping') {
      // A ping past the rate goes unanswered: the bucket refills long before the client's
      // heartbeat would call the link dead, and closing for it would cost a reconnect.
      this.#sendError(error, kind.ref);
    }
    return false;
  }

  /**
   * Closes a flooding socket once the publishes it had accepted are acked. They are in history
   * already: a client that missed their acks would send them again on its next connection,
   * with the same burst, cut again the same way (a reconnect loop that duplicates them).
   */
  #cut(reason: CloseReason): void {
    this.#isCut = true;
    void Promise.resolve(this.#pending)
      .then(() => Promise.allSettled(this.#publishing ?? []))
      .then(() => this.close(reason));
  }

  /** Keeps frames in order behind one that waits on a hook. */
  #track(result: void | Promise<void>): void {
    if (!isPromise(result)) return;
    const pending = result.catch(() => {});
    this.#pending = pending;
    void pending.then(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
  }

  #dispatch(frame: ClientFrame): void | Promise<void> {
    switch (frame.type) {
      case 'subscribe':
        return this.#authorized(frame.channels, 'subscribe', frame.ref, () =>
          this.#subscribe(frame),
        );
      case 'unsubscribe':
        this.#context.core.unsubscribe(this, frame.channels);
        return;
      case 'publish':
        return this.#authorized([frame.channel], 'publish', frame.ref, () => this.#publish(frame));
      case 'ping':
        this.#send({ type: 'pong' });
        return;
    }
  }

  /** Runs `then` if `authorize` allows `action` on `channels`; else answers FORBIDDEN. */
  #authorized(
    channels: readonly string[],
    action: 'subscribe' | 'publish',
    ref: string | undefined,
    then: () => void,
  ): void | Promise<void> {
    let verdict: void | Promise<void>;
    try {
      verdict = this.#context.access.authorize(this.#identity, channels, action);
    } catch (error) {
      this.#sendError(error, ref);
      return;
    }
    if (!isPromise(verdict)) return then();
    return verdict.then(
      () => {
        if (this.#ws.readyState === WebSocket.OPEN) then();
      },
      (error: unknown) => this.#sendError(error, ref),
    );
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
    const publishing = core
      .receive(
        { id: this.id, transport: 'websocket', ip: this.ip, identity: this.#identity },
        { channel, event, data, ...(binary ? { binary } : {}) },
      )
      .then((envelope) => {
        if (frame.ref === undefined) return;
        this.#send({ type: 'ack', ref: frame.ref, id: envelope.id, ts: envelope.ts });
      })
      .catch((error: unknown) => this.#sendError(error, frame.ref));
    const inFlight = (this.#publishing ??= new Set());
    inFlight.add(publishing);
    void publishing.finally(() => inFlight.delete(publishing));
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
    this.#afterWrite();
  }

  #afterWrite(): void {
    const budget = this.#context.options.limits.maxBufferedBytes;
    if (this.#backlog === undefined && this.#ws.bufferedAmount <= budget) return;
    (this.#backlog ??= new BacklogGuard(this, budget)).afterWrite();
  }

  /**
   * Closes with the error's code and reason (a peer that catches up still reads why), then
   * destroys the socket if the closing handshake is not done within the grace period.
   */
  #closeUnresponsive(error: TidewireError): void {
    this.close({ code: closeCodeOf(error.code), reason: error.message });
  }

  #cleanup(): void {
    clearTimeout(this.#reapTimer);
    this.#backlog?.stop();
    this.#context.core.unsubscribeAll(this);
    this.#context.connections.remove(this);
    this.#sockets.delete(this);
  }
}

/**
 * Answers an upgrade with an HTTP error and closes the socket: no WebSocket is opened for a
 * foreign origin or a flooding address.
 */
function refuseUpgrade(
  socket: Duplex,
  error: TidewireError,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(error.toJSON());
  const status = httpStatusOf(error.code);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  if (socket.writable) socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}

function asTidewireError(error: unknown): TidewireError {
  return isTidewireError(error) ? error : new TidewireError('INTERNAL', 'internal error');
}

/**
 * The `ref` of a frame refused before it was read: a string for a publish that has one, null
 * for a publish without, undefined for any other frame.
 */
function frameKind(data: RawData): { ref: string | undefined } | 'ping' | 'other' {
  const text = rawToBuffer(data).toString('utf8');
  if (text === 'ping') return 'ping';
  try {
    const frame = parseClientFrame(text);
    if (frame.type === 'ping') return 'ping';
    return frame.type === 'publish' ? { ref: frame.ref } : 'other';
  } catch {
    return 'other';
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
function socketClassWithSizeReason(maxBytes: number, onTooBig: () => void): typeof WebSocket {
  return class SizeReasonWebSocket extends WebSocket {
    override close(code?: number, reason?: string | Buffer): void {
      if (code === CloseCode.MESSAGE_TOO_BIG && (reason === undefined || reason.length === 0)) {
        onTooBig();
        super.close(code, `message exceeds the limit of ${maxBytes} bytes`);
        return;
      }
      super.close(code, reason);
    }
  };
}
