import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Hub, type HubOptions, createHub } from '../../src/server/index.js';

/** A hub attached to a real http server on 127.0.0.1, port 0. */
export interface TestHub {
  readonly hub: Hub;
  readonly server: http.Server;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/rt/ws` */
  readonly wsUrl: string;
  readonly port: number;
  /** Drains the hub and closes the server and every socket. */
  close(): Promise<void>;
}

const quietLogger = { info() {}, warn() {}, error() {} };

/** Starts a hub; `port` reuses a port (for restart tests). */
export async function startHub(options: HubOptions = {}, port = 0): Promise<TestHub> {
  const hub = createHub({ logger: quietLogger, ...options });
  const server = http.createServer();
  hub.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${actual}`;
  let closed = false;
  return {
    hub,
    server,
    url,
    wsUrl: `ws://127.0.0.1:${actual}${options.basePath ?? '/rt'}/ws`,
    port: actual,
    async close() {
      if (closed) return;
      closed = true;
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
