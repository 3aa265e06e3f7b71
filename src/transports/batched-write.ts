import type { Duplex } from 'node:stream';

/**
 * Writes of one turn of the event loop, batched per socket: the first write to a socket in a
 * turn corks it, and one `process.nextTick` uncorks every socket corked meanwhile. When several
 * envelopes are fanned out in the same turn (a publisher that fell behind its schedule, a
 * broker that delivers a batch), each socket gets them in one `writev` instead of one syscall
 * each: the batching that Node's own `res.write()` does, with one tick for all sockets instead
 * of one per socket. It costs no latency: the tick runs before the event loop goes on to I/O.
 *
 * @internal
 * @module
 */

const corked: Duplex[] = [];
let isScheduled = false;

function uncorkAll(): void {
  isScheduled = false;
  // Taken out first: the list must be empty for the writes of the next turn.
  for (const socket of corked.splice(0)) socket.uncork();
}

/** Writes `data` to `socket`, batched with the turn's other writes to it. */
export function writeBatched(socket: Duplex, data: Buffer): void {
  if (socket.writableCorked === 0) {
    socket.cork();
    corked.push(socket);
    if (!isScheduled) {
      isScheduled = true;
      process.nextTick(uncorkAll);
    }
  }
  socket.write(data);
}
