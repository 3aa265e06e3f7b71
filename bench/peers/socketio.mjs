/**
 * Peer: a Socket.IO 4 server, WebSocket transport only (no polling handshake first, as a
 * client with `transports: ['websocket']` connects), emitting objects the way applications
 * do: `io.emit('m', object)`. Socket.IO encodes the packet once per emit and writes the same
 * frame to every socket (socket.io-adapter `broadcast`, engine.io `wsPreEncodedFrame`).
 */
import http from 'node:http';
import { Server } from 'socket.io';
import { listenLocal, servePeer } from '../lib/peer-ipc.mjs';

servePeer(async () => {
  const server = http.createServer();
  const io = new Server(server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    serveClient: false,
  });
  const port = await listenLocal(server);
  return {
    // Engine.IO v4 straight over WebSocket: the dialect speaks the packets itself.
    ready: {
      port,
      url: `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
      dialect: 'socketio',
    },
    publish(text) {
      // The parse is the bench's, once per publish: the application would hold the object.
      io.emit('m', JSON.parse(text));
    },
    connections: () => io.engine.clientsCount,
    close: () => new Promise((resolve) => io.close(() => resolve())),
  };
});
