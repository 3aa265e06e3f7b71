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
  /** Connections a drain has closed: a WebSocket stays here until its closing handshake ends. */
  readonly #told = new WeakSet<Connection>();
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
   * Closes every connection open now, spread at random over `windowMs` so that clients do not
   * all reconnect at once (PITFALLS #9): the drain on shutdown, and `hub.disconnectAll()`.
   * Connections that arrive meanwhile are left alone. Resolves once every connection is gone,
   * not merely told: a WebSocket stays open (and counted) until its peer answers the closing
   * handshake, and a caller that stops its server or exits as soon as this resolves would
   * otherwise cut the last ones before they read their close code. A peer that does not
   * answer within `CLOSE_GRACE_MS` of the last close is not waited for.
   *
   * Two drains may overlap (a shutdown during a `disconnectAll` window): each connection is
   * told once, by whichever reaches it first, and each drain waits for all of its own.
   *
   * @returns how many connections this drain closed (not those that left on their own, or
   *   that another drain closed first).
   */
  drain(reason: CloseReason, windowMs: number): Promise<number> {
    const pending = new Set(this.#all);
    if (pending.size === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      let grace: ReturnType<typeof setTimeout> | undefined;
      const turns: Array<ReturnType<typeof setTimeout>> = [];
      let closedHere = 0;
      const onRemove = (connection: Connection) => {
        if (pending.delete(connection) && pending.size === 0) finish();
      };
      const finish = () => {
        clearTimeout(grace);
        // Turns still to come are for connections that are gone already.
        for (const turn of turns) clearTimeout(turn);
        this.#onRemove.delete(onRemove);
        resolve(closedHere);
      };
      this.#onRemove.add(onRemove);
      let unsent = pending.size;
      const closeOne = (connection: Connection) => {
        // Counted first: closing an HTTP connection removes it at once, which may finish.
        if (this.#markTold(connection)) {
          closedHere += 1;
          closeQuietly(connection, reason);
        }
        if (--unsent === 0 && pending.size > 0) grace = setTimeout(finish, CLOSE_GRACE_MS);
      };
      for (const connection of [...pending]) {
        if (windowMs <= 0) closeOne(connection);
        else turns.push(setTimeout(() => closeOne(connection), Math.random() * windowMs));
      }
    });
  }

  /**
   * Marks `connection` as told to close, unless it is gone or was told already: its `close`
   * is called once. Answers whether the caller is the one to close it.
   */
  #markTold(connection: Connection): boolean {
    if (!this.#all.has(connection) || this.#told.has(connection)) return false;
    this.#told.add(connection);
    return true;
  }
}

function closeQuietly(connection: Connection, reason: CloseReason): void {
  try {
    connection.close(reason);
  } catch {
    // The peer is gone already; nothing to tell it.
  }
}
