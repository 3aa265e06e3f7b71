import { TidewireError } from '../protocol/errors.js';
import type { TransportName } from '../core/hub.js';

/**
 * How long a drain waits, after its last close, for peers that have not finished closing.
 * ws would wait 30 s for a WebSocket peer that never answers the closing handshake; a
 * shutdown should not (the WebSocket transport reaps unresponsive peers after 1 s too).
 */
const CLOSE_GRACE_MS = 1000;

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
  /** Bytes written to it that the peer has not read yet (0 for a held poll). */
  bufferedBytes(): number;
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
  /** Told of every removal: how a drain learns that its connections are gone. */
  readonly #onRemove = new Set<(connection: Connection) => void>();
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
    for (const listener of this.#onRemove) listener(connection);
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

  /** Bytes waiting in every connection's send buffer: what slow readers cost. */
  bufferedBytes(): number {
    let total = 0;
    for (const connection of this.#all) total += connection.bufferedBytes();
    return total;
  }

  /**
   * Closes every connection, spread at random over `windowMs` so that clients do not all
   * reconnect at once after a deploy (PITFALLS #9). Resolves once every connection is gone,
   * not merely told: a WebSocket stays open (and counted) until its peer answers the closing
   * handshake, and a caller that stops its server or exits as soon as this resolves would
   * otherwise cut the last ones before they read their 1012. A peer that does not answer
   * within `CLOSE_GRACE_MS` of the last close is not waited for.
   */
  drain(reason: CloseReason, windowMs: number): Promise<void> {
    const pending = new Set(this.#all);
    if (pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let grace: ReturnType<typeof setTimeout> | undefined;
      const onRemove = (connection: Connection) => {
        if (pending.delete(connection) && pending.size === 0) finish();
      };
      const finish = () => {
        clearTimeout(grace);
        this.#onRemove.delete(onRemove);
        resolve();
      };
      this.#onRemove.add(onRemove);
      let unsent = pending.size;
      const closeOne = (connection: Connection) => {
        closeQuietly(connection, reason);
        if (--unsent === 0 && pending.size > 0) grace = setTimeout(finish, CLOSE_GRACE_MS);
      };
      for (const connection of [...pending]) {
        if (windowMs <= 0) closeOne(connection);
        else setTimeout(() => closeOne(connection), Math.random() * windowMs);
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
