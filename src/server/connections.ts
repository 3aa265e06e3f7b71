import { TidewireError } from '../protocol/errors.js';
import type { TransportName } from '../core/hub.js';

/** Why the server ends a connection. */
export interface CloseReason {
  /** WebSocket close code (the HTTP transports map it to their own way of ending). */
  readonly code: number;
  readonly reason: string;
}

/** One open connection, as the registry sees it: enough to count it and to end it. */
export interface Connection {
  readonly id: string;
  readonly transport: TransportName;
  readonly ip: string;
  /** Ends the connection; called once. Must be safe when the peer already left. */
  close(reason: CloseReason): void;
}

/**
 * Every open connection of a hub, for the per-IP limit, the counts by transport and the
 * drain on shutdown.
 */
export class ConnectionRegistry {
  readonly #all = new Set<Connection>();
  readonly #perIp = new Map<string, number>();
  #nextId = 0;

  constructor(private readonly maxPerIp: number) {}

  /** A new connection id, unique within this process. */
  nextId(): string {
    return (++this.#nextId).toString(36);
  }

  /** Throws `TOO_MANY_CONNECTIONS` when `ip` is at its limit. */
  checkAdmission(ip: string): void {
    const count = this.#perIp.get(ip) ?? 0;
    if (count >= this.maxPerIp) {
      throw new TidewireError(
        'TOO_MANY_CONNECTIONS',
        `${count} connections open from this address, limit is ${this.maxPerIp}`,
      );
    }
  }

  add(connection: Connection): void {
    if (this.#all.has(connection)) return;
    this.#all.add(connection);
    this.#perIp.set(connection.ip, (this.#perIp.get(connection.ip) ?? 0) + 1);
  }

  remove(connection: Connection): void {
    if (!this.#all.delete(connection)) return;
    const count = (this.#perIp.get(connection.ip) ?? 1) - 1;
    if (count <= 0) this.#perIp.delete(connection.ip);
    else this.#perIp.set(connection.ip, count);
  }

  get size(): number {
    return this.#all.size;
  }

  /** Open connections per transport. */
  countByTransport(): Record<TransportName, number> {
    const counts: Record<TransportName, number> = {
      websocket: 0,
      sse: 0,
      'long-polling': 0,
      polling: 0,
      http: 0,
    };
    for (const connection of this.#all) counts[connection.transport] += 1;
    return counts;
  }

  /**
   * Closes every connection, spread at random over `windowMs` so that clients do not all
   * reconnect at once after a deploy (PITFALLS #9). Resolves once every close was issued.
   */
  drain(reason: CloseReason, windowMs: number): Promise<void> {
    const connections = [...this.#all];
    if (windowMs <= 0 || connections.length === 0) {
      for (const connection of connections) closeQuietly(connection, reason);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let pending = connections.length;
      for (const connection of connections) {
        setTimeout(() => {
          closeQuietly(connection, reason);
          if (--pending === 0) resolve();
        }, Math.random() * windowMs);
      }
    });
  }
}

function closeQuietly(connection: Connection, reason: CloseReason): void {
  try {
    connection.close(reason);
  } catch {
    // The peer is gone already; nothing to tell it.
  }
}
