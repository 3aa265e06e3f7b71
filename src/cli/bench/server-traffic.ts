/**
 * Counts what goes through an http server's sockets, on the server's side: bytes written and
 * read (TCP payload: HTTP heads, bodies, chunk framing, WebSocket frames), requests and
 * WebSocket upgrades. It is what the network carries, whatever the transport, where the hub's
 * own metrics count envelopes.
 *
 * @module
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { TrafficCounts } from './hub-ipc.js';

/**
 * Starts counting on `server`; returns the reader of the totals since then. Call it after
 * `hub.attach(server)`: `attach` takes over the `request` listeners that exist before it.
 */
export function countTraffic(server: Server): () => TrafficCounts {
  const live = new Set<Socket>();
  let closedWritten = 0;
  let closedRead = 0;
  let connections = 0;
  let requests = 0;
  let upgrades = 0;
  server.on('connection', (socket: Socket) => {
    connections += 1;
    live.add(socket);
    // A socket's counters survive its close: add them to the closed total then.
    socket.once('close', () => {
      live.delete(socket);
      closedWritten += socket.bytesWritten;
      closedRead += socket.bytesRead;
    });
  });
  server.on('request', () => {
    requests += 1;
  });
  // Prepended so that it counts before the hub takes the socket. An extra `upgrade` listener
  // makes the hub leave upgrades to other paths unanswered; the bench only upgrades /rt/ws.
  server.prependListener('upgrade', () => {
    upgrades += 1;
  });
  return () => {
    let bytesWritten = closedWritten;
    let bytesRead = closedRead;
    for (const socket of live) {
      bytesWritten += socket.bytesWritten;
      bytesRead += socket.bytesRead;
    }
    return { bytesWritten, bytesRead, requests, upgrades, connections, openSockets: live.size };
  };
}
