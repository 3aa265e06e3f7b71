import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubCore } from '../core/hub.js';
import type { ConnectionRegistry } from '../server/connections.js';
import type { ResolvedOptions } from '../server/options.js';

/**
 * What every transport gets from the hub: the core to subscribe and publish through, the
 * registry that counts and drains connections, and the resolved options. A new transport
 * touches this folder and the routing in `server/http.ts`, nothing in core.
 */
export interface TransportContext {
  readonly core: HubCore;
  readonly connections: ConnectionRegistry;
  readonly options: ResolvedOptions;
  /** Whether the hub is draining: new connections are refused with `SHUTTING_DOWN`. */
  isClosing(): boolean;
}

/** An HTTP transport answers GET requests routed to it. */
export interface HttpTransport {
  handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void;
  /** Stops the transport's timers; connections are ended by the registry's drain. */
  close(): void;
}
