import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Hub, type HubOptions, createHub } from '../../src/server/index.js';

/** A file the page server answers, by path. */
export interface PageAsset {
  readonly type: string;
  readonly body: string;
}

export interface PageHubOptions {
  readonly hub?: HubOptions;
  /** A port to reuse (restart tests). Default 0. */
  readonly port?: number;
  /** What `GET <path>` answers, e.g. `/` (the page) and `/client.min.js` (the bundle). */
  readonly assets: ReadonlyMap<string, PageAsset>;
}

/** A hub and the page that uses it, on one origin, so the browser client needs no CORS. */
export interface PageHub {
  readonly hub: Hub;
  readonly server: http.Server;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Drains the hub, then closes the server and every socket; idempotent. */
  close(): Promise<void>;
}

const quietLogger = { info() {}, warn() {}, error() {} };

/**
 * Starts an http server on 127.0.0.1 whose own request listener serves `assets`, with a hub
 * attached: the hub routes `/rt/*` and WebSocket upgrades and hands every other request to
 * that listener (`attachToServer`), as it would to an Express app.
 */
export async function startPageHub(options: PageHubOptions): Promise<PageHub> {
  const hub = createHub({ logger: quietLogger, ...options.hub });
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    const asset = options.assets.get(pathname);
    if (asset === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': asset.type, 'Cache-Control': 'no-store' });
    res.end(asset.body);
  });
  hub.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    hub,
    server,
    url: `http://127.0.0.1:${port}`,
    port,
    close() {
      closing ??= (async () => {
        await hub.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
