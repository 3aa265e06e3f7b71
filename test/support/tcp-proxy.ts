import net, { type AddressInfo } from 'node:net';

/** Where a proxied connection goes. */
export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/**
 * - `forward`: bytes, half-closes and resets pass both ways.
 * - `blackhole`: the link goes silent in both directions, both sockets stay open: what a
 *   dead NAT entry or a pulled cable looks like (the server is alive, nothing arrives).
 * - `refuse-upgrades`: a corporate proxy that kills WebSockets: a connection whose first
 *   request head has `Upgrade: websocket` gets `403 Forbidden` and is closed; others pass.
 */
export type ProxyMode = 'forward' | 'blackhole' | 'refuse-upgrades';

/** A TCP proxy on 127.0.0.1 between a client under test and a server, for failure tests. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** `http://127.0.0.1:PORT`: give it to a client in place of the server's URL. */
  readonly url: string;
  readonly mode: ProxyMode;
  /** Switches the mode: see `startTcpProxy` for what it does to open connections. */
  setMode(mode: ProxyMode): void;
  /** Resets (TCP RST) every open client and upstream socket at once: a network blip. */
  dropAll(): void;
  /** Connections accepted and not yet closed on both sides. */
  readonly connectionCount: number;
  /** Destroys every socket and stops listening; idempotent. */
  close(): Promise<void>;
}

/** Bytes buffered while looking for the end of the first request head; past it, forward. */
const MAX_HEAD_BYTES = 64 * 1024;

const REFUSAL_BODY = 'websocket upgrades refused\n';
const REFUSAL =
  'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${REFUSAL_BODY.length}\r\nConnection: close\r\n\r\n${REFUSAL_BODY}`;

/**
 * Starts a TCP proxy on 127.0.0.1, port 0, in `forward` mode. `target` may be a function,
 * asked at every new connection (to follow a server that restarts on another port). When the
 * target refuses, the client's connection is closed.
 *
 * Modes apply to connections as follows:
 * - `blackhole` silences every open connection and every new one (accepted, never connected
 *   upstream). Bytes are read and discarded, nothing is written, and neither side hears of the
 *   other closing (no FIN or reset is passed on, nor answered): the proxy's sockets of a
 *   blackholed link stay open, and counted, until their peer resets them, `dropAll()` or
 *   `close()`. A connection once blackholed stays so: bytes were lost, so forwarding again
 *   would hand both peers a corrupt stream (a dead NAT entry does not come back either).
 *   `setMode('forward')` applies to new connections.
 * - `refuse-upgrades` inspects only the first request head of connections accepted in this
 *   mode (CRLF line ends, as HTTP/1.1 clients send); after it, everything is forwarded as is,
 *   so a keep-alive connection that was allowed once may carry an upgrade later. Connections
 *   already open keep forwarding.
 * - `forward` also releases connections still waiting for their first head.
 *
 * @example
 * const proxy = await startTcpProxy({ host: '127.0.0.1', port: testHub.port });
 * const client = createClient(proxy.url);
 * proxy.setMode('blackhole'); // the client must notice the dead link by its heartbeat
 */
export async function startTcpProxy(target: ProxyTarget | (() => ProxyTarget)): Promise<TcpProxy> {
  const links = new Set<Link>();
  let mode: ProxyMode = 'forward';
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const link = new Link(client, mode, typeof target === 'function' ? target : () => target, () =>
      links.delete(link),
    );
    links.add(link);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
      for (const link of links) link.onModeChange(next);
    },
    dropAll() {
      for (const link of links) link.reset();
    },
    get connectionCount() {
      return links.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const link of links) link.reset();
      });
      return closing;
    },
  };
}

/**
 * What happens to the bytes of one link. `inspecting`: client bytes are held until the first
 * request head is complete. `refused`: the 403 is on its way, the rest is discarded.
 */
type LinkState = 'inspecting' | 'forwarding' | 'blackholed' | 'refused';

/**
 * One accepted client socket and its upstream socket. The upstream connection opens at once
 * when forwarding, after the first request head when inspecting (a refused upgrade never
 * reaches the server, not even as a connection), never when blackholed from the start.
 */
class Link {
  readonly #client: net.Socket;
  readonly #resolveTarget: () => ProxyTarget;
  readonly #onGone: () => void;
  #upstream: net.Socket | undefined;
  #state: LinkState;
  #head: Buffer[] = [];
  #headBytes = 0;

  constructor(
    client: net.Socket,
    mode: ProxyMode,
    resolveTarget: () => ProxyTarget,
    onGone: () => void,
  ) {
    this.#client = client;
    this.#resolveTarget = resolveTarget;
    this.#onGone = onGone;
    this.#state = initialState(mode);
    client.setNoDelay(true);
    client.on('error', ignore);
    // Blackholed or not, client bytes are read: a silent link drops them.
    client.on('data', (chunk: Buffer) => this.#clientOnData(chunk));
    client.on('end', () => this.#onEnd(this.#upstream));
    client.on('close', (hadError) => this.#onClose(this.#upstream, hadError));
    if (this.#state === 'forwarding') this.#connect();
  }

  onModeChange(mode: ProxyMode): void {
    if (mode === 'blackhole' && this.#state !== 'refused') {
      this.#state = 'blackholed';
      this.#head = [];
      // A source paused for backpressure must go on being read, and dropped.
      this.#client.resume();
      this.#upstream?.resume();
    } else if (mode === 'forward' && this.#state === 'inspecting') {
      this.#forwardHead();
    }
  }

  /** Resets both sockets, as a network blip would. */
  reset(): void {
    resetSocket(this.#client);
    if (this.#upstream) resetSocket(this.#upstream);
  }

  #connect(): void {
    const client = this.#client;
    let target: ProxyTarget;
    try {
      target = this.#resolveTarget();
    } catch {
      // No target to give: the client sees its connection closed, as on a refusal.
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.#upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', ignore);
    upstream.on('data', (chunk: Buffer) => this.#relay(upstream, client, chunk));
    upstream.on('end', () => this.#onEnd(client));
    upstream.on('close', (hadError) => this.#onClose(client, hadError));
  }

  #clientOnData(chunk: Buffer): void {
    if (this.#state === 'inspecting') this.#inspect(chunk);
    else if (this.#upstream) this.#relay(this.#client, this.#upstream, chunk);
  }

  #relay(from: net.Socket, to: net.Socket, chunk: Buffer): void {
    if (this.#state !== 'forwarding' || to.destroyed || to.writableEnded) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  }

  #inspect(chunk: Buffer): void {
    this.#head.push(chunk);
    this.#headBytes += chunk.length;
    const buffered = Buffer.concat(this.#head);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0 && this.#headBytes < MAX_HEAD_BYTES) return;
    if (end >= 0 && isWebSocketUpgrade(buffered.subarray(0, end).toString('latin1'))) {
      this.#state = 'refused';
      this.#head = [];
      // Closed once the answer is out, whatever the client does with its side.
      this.#client.end(REFUSAL, () => this.#client.destroy());
      return;
    }
    this.#forwardHead();
  }

  /** Stops inspecting: connects, and what was held goes upstream first. */
  #forwardHead(): void {
    const held = Buffer.concat(this.#head);
    this.#head = [];
    this.#state = 'forwarding';
    this.#connect();
    if (held.length > 0 && this.#upstream) this.#relay(this.#client, this.#upstream, held);
  }

  /** One side sent its FIN: pass it on, unless the link is silent. */
  #onEnd(to: net.Socket | undefined): void {
    if (this.#state === 'inspecting') {
      this.#forwardHead();
      to = this.#upstream;
    }
    // A silent link carries no FIN, nor answers one: the ending side stays half-open here.
    if (this.#state === 'forwarding') to?.end();
  }

  /** One socket closed: close the other the same way (a reset stays a reset). */
  #onClose(other: net.Socket | undefined, hadError: boolean): void {
    if (other && !other.destroyed && this.#state !== 'blackholed') {
      if (hadError) other.destroy();
      else other.end();
    }
    if (this.#client.destroyed && (this.#upstream?.destroyed ?? true)) this.#onGone();
  }
}

function initialState(mode: ProxyMode): LinkState {
  if (mode === 'blackhole') return 'blackholed';
  return mode === 'refuse-upgrades' ? 'inspecting' : 'forwarding';
}

/** Whether an HTTP request head (request line and header lines) asks for a WebSocket. */
function isWebSocketUpgrade(head: string): boolean {
  return head
    .split('\r\n')
    .slice(1)
    .some((line) => {
      const colon = line.indexOf(':');
      if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== 'upgrade') return false;
      return line
        .slice(colon + 1)
        .split(',')
        .some((token) => token.trim().toLowerCase() === 'websocket');
    });
}

/** TCP RST where the socket is connected; a plain destroy while it is still connecting. */
function resetSocket(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

// Resets and refused connections are what this proxy is for; they end links, not tests.
function ignore(): void {}
