import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { TidewireError } from '../protocol/errors.js';
import { type AccessControl, settle } from './access.js';
import type { HubCounters } from './counters.js';
import type { Identity } from './options.js';
import type { HttpTransport } from '../transports/transport.js';
import type { WebSocketTransport } from '../transports/websocket.js';
import { allowMethods, parseRequestTarget, sendError, sendJson } from './http-util.js';
import type { PublishApi } from './publish-api.js';

/** A Node request handler that also fits Express and Connect (`next` for what is not ours). */
export type RequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void;

/** @internal What the router dispatches to. */
export interface Routes {
  readonly sse: HttpTransport;
  readonly poll: HttpTransport;
  readonly websocket: WebSocketTransport;
  readonly publishApi: PublishApi;
  readonly access: AccessControl;
  readonly counters: HubCounters;
  health(): { status: number; body: object };
  readonly serveHealth: boolean;
  /** Answers `GET /metrics`; undefined when metrics are off. */
  readonly metrics: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  isClosing(): boolean;
}

interface ExpressRequest {
  originalUrl?: string;
}

/**
 * Routes a request under `basePath` to its endpoint. What is not ours goes to `next` when
 * there is one (Express), else gets a JSON 404.
 */
export function createRequestHandler(routes: Routes, basePath: string): RequestHandler {
  return (req, res, next) => {
    // Express strips the mount path from req.url; originalUrl keeps the whole path.
    const url = parseRequestTarget((req as ExpressRequest).originalUrl ?? req.url ?? '/');
    if (url === undefined) {
      sendError(res, new TidewireError('BAD_REQUEST', 'request target is not a valid URL'));
      return;
    }
    const path = url.pathname;
    if (routes.serveHealth && path === '/health') {
      if (!allowMethods(req, res, ['GET', 'HEAD'])) return;
      const { status, body } = routes.health();
      sendJson(res, status, body);
      return;
    }
    if (routes.metrics && path === '/metrics') {
      if (allowMethods(req, res, ['GET', 'HEAD'])) routes.metrics(req, res);
      return;
    }
    if (!path.startsWith(`${basePath}/`)) {
      if (next) next();
      else sendError(res, new TidewireError('NOT_FOUND', `no endpoint at ${path}`));
      return;
    }
    // SSE answers a drain itself (a native EventSource must not see an error status).
    if (routes.isClosing() && path !== `${basePath}/sse`) {
      // Connection: close, so that the client does not reuse a socket that is about to go.
      routes.counters.drop('shutting_down');
      sendError(
        res,
        new TidewireError('SHUTTING_DOWN', 'server is shutting down, retry elsewhere'),
        {
          Connection: 'close',
        },
      );
      return;
    }
    route(routes, path.slice(basePath.length), req, res, url.searchParams);
  };
}

/** The endpoints a browser page uses: Origin allowlist, per-IP rate and `authenticate`. */
const BROWSER_ENDPOINTS: Record<string, string> = {
  '/sse': 'GET',
  '/poll': 'GET',
  '/send': 'POST',
};

function route(
  routes: Routes,
  subPath: string,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
): void {
  const method = BROWSER_ENDPOINTS[subPath];
  if (method !== undefined) {
    // The gate answers preflights itself, so it goes before the method check.
    if (!routes.access.admitHttp(req, res) || !allowMethods(req, res, [method])) return;
    settle(
      () => routes.access.authenticate(req),
      (identity) => routeBrowser(routes, subPath, req, res, query, identity),
      (error) => sendError(res, error),
    );
  } else if (subPath.startsWith('/publish/') && subPath.length > '/publish/'.length) {
    if (allowMethods(req, res, ['POST'])) {
      void routes.publishApi.publish(req, res, subPath.slice('/publish/'.length), query);
    }
  } else if (subPath === '/ws') {
    sendJson(
      res,
      426,
      { code: 'BAD_REQUEST', message: 'this endpoint needs a WebSocket upgrade' },
      {
        Upgrade: 'websocket',
      },
    );
  } else {
    sendError(res, new TidewireError('NOT_FOUND', `no endpoint at ${subPath}`));
  }
}

function routeBrowser(
  routes: Routes,
  subPath: string,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams,
  identity: Identity,
): void {
  if (subPath === '/sse') routes.sse.handle(req, res, query, identity);
  else if (subPath === '/poll') routes.poll.handle(req, res, query, identity);
  else void routes.publishApi.send(req, res, identity);
}

/**
 * Attaches to a Node http(s) server: WebSocket upgrades on `${basePath}/ws`, and HTTP
 * requests: ours are handled, the rest go to the server's existing request listeners (an
 * Express app passed to `createServer`), or get a 404 when it has none.
 */
export function attachToServer(
  server: Server,
  handler: RequestHandler,
  websocket: WebSocketTransport,
  basePath: string,
): void {
  const previous = server.listeners('request') as Array<
    (req: IncomingMessage, res: ServerResponse) => void
  >;
  server.removeAllListeners('request');
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const next =
      previous.length > 0
        ? () => previous.forEach((listener) => listener.call(server, req, res))
        : undefined;
    handler(req, res, next);
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = parseRequestTarget(req.url ?? '/')?.pathname;
    if (path === `${basePath}/ws`) {
      websocket.handleUpgrade(req, socket, head);
    } else if (server.listenerCount('upgrade') === 1) {
      // Nobody else handles upgrades: answer rather than leave the socket hanging.
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  };
  server.on('request', onRequest);
  server.on('upgrade', onUpgrade);
}
