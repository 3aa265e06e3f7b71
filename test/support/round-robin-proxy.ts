import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { ProxyTarget } from './tcp-proxy.js';

/** One request or WebSocket upgrade the proxy passed on, and to which node. */
export interface Routed {
  /** Index of the node in the proxy's targets. */
  readonly node: number;
  readonly kind: 'request' | 'upgrade';
  readonly method: string;
  /** The request target as the client sent it (`/rt/poll?channel=a&…`). */
  readonly url: string;
}

/** An HTTP load balancer with no sticky sessions, in front of several hub nodes. */
export interface RoundRobinProxy {
  /** `http://127.0.0.1:PORT`: give it to a client in place of a node's URL. */
  readonly url: string;
  readonly port: number;
  /** Every request and upgrade passed on, in arrival order. */
  readonly routed: readonly Routed[];
  /** How many of `routed` went to each node (same order as the targets). */
  servedBy(filter?: (routed: Routed) => boolean): number[];
  /** Destroys every open client and upstream socket: each client reconnects, elsewhere. */
  dropAll(): void;
  /** Destroys every socket and stops listening; idempotent. */
  close(): Promise<void>;
}

// RFC 9110 § 7.6.1: hop-by-hop headers belong to one connection and are not passed on.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Starts a load balancer on 127.0.0.1, port 0, that sends every HTTP request to the next of
 * `targets` in turn, per request rather than per TCP connection (fetch reuses keep-alive
 * connections; a balancer that routed connections would make polls sticky by accident). A
 * WebSocket upgrade goes to the next node too, and its bytes are then piped both ways.
 * Responses stream through as they come, chunk by chunk, so that SSE is not held back.
 *
 * @example
 * const proxy = await startRoundRobinProxy(nodes.map((node) => ({ host: '127.0.0.1', port: node.port })));
 * const client = createClient(proxy.url, { transports: ['long-polling'] });
 * // … later: proxy.servedBy() is [n0, n1, n2], one count per node
 */
export async function startRoundRobinProxy(
  targets: readonly ProxyTarget[],
): Promise<RoundRobinProxy> {
  if (targets.length === 0) throw new RangeError('a round-robin proxy needs at least one target');
  const routed: Routed[] = [];
  const sockets = new Set<net.Socket>();
  let turn = 0;

  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const next = (kind: Routed['kind'], req: http.IncomingMessage) => {
    const node = turn++ % targets.length;
    routed.push({ node, kind, method: req.method ?? 'GET', url: req.url ?? '/' });
    return targets[node] as ProxyTarget;
  };

  const server = http.createServer({ noDelay: true }, (req, res) => {
    forwardRequest(req, res, next('request', req), track);
  });
  server.on('connection', track);
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    forwardUpgrade(req, socket, head, next('upgrade', req), track);
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    routed,
    servedBy(filter = () => true) {
      const counts = targets.map(() => 0);
      for (const entry of routed) if (filter(entry)) counts[entry.node]! += 1;
      return counts;
    },
    dropAll,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        dropAll();
      });
      return closing;
    },
  };
}

/** Passes one request upstream (a fresh connection each: no pool to drop) and the answer back. */
function forwardRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  target: ProxyTarget,
  track: (socket: net.Socket) => void,
): void {
  const upstream = http.request({
    host: target.host,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: endToEnd(req.headers),
    agent: false,
  });
  upstream.on('socket', (socket) => {
    socket.setNoDelay(true);
    track(socket);
  });
  upstream.on('response', (answer) => {
    res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
    // Headers now, not with the first chunk: an SSE client counts the stream open from them.
    res.flushHeaders();
    answer.on('data', (chunk: Buffer) => {
      if (!res.write(chunk)) {
        answer.pause();
        res.once('drain', () => answer.resume());
      }
    });
    answer.on('end', () => res.end());
    // Cut before its end (a node that went away, `dropAll`): so is the client's answer.
    answer.on('close', () => {
      if (!answer.complete) res.destroy();
    });
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway\n');
  });
  req.on('error', () => upstream.destroy());
  // The client went away (a long poll, a stream): the node must see it go too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** Opens a TCP connection to the node, replays the upgrade request on it, then pipes. */
function forwardUpgrade(
  req: http.IncomingMessage,
  client: net.Socket,
  head: Buffer,
  target: ProxyTarget,
  track: (socket: net.Socket) => void,
): void {
  const upstream = net.connect({ host: target.host, port: target.port });
  track(upstream);
  upstream.setNoDelay(true);
  client.setNoDelay(true);
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', closeBoth);
  upstream.on('error', closeBoth);
  client.on('close', closeBoth);
  upstream.on('close', closeBoth);
  upstream.on('connect', () => {
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
}

/** The headers of a message without the hop-by-hop ones (and those `Connection` names). */
function endToEnd(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
  const kept: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.includes(name)) kept[name] = value;
  }
  return kept;
}
