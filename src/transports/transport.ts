import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubCore } from '../core/hub.js';
import type { AccessControl } from '../server/access.js';
import type { ConnectionRegistry } from '../server/connections.js';
import type { HubCounters } from '../server/counters.js';
import type { Identity } from '../server/options.js';
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
  /** Origin, rate and auth checks (the transports ask `authorize` per channel). */
  readonly access: AccessControl;
  /** What `/metrics` reports: deliveries, drops. */
  readonly counters: HubCounters;
  /** Whether the hub is draining: new connections are refused with `SHUTTING_DOWN`. */
  isClosing(): boolean;
}

/** An HTTP transport answers GET requests routed to it, once the request passed the gate. */
export interface HttpTransport {
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    query: URLSearchParams,
    identity: Identity,
  ): void;
  /** Stops the transport's timers; connections are ended by the registry's drain. */
  close(): void;
}
