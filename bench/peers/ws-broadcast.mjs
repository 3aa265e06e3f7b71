/**
 * Peer: a `ws` WebSocketServer broadcasting the way the ws README and most applications do it,
 * `client.send(text)` for each open client. ws frames the message again for every client
 * (a header and a copy of the text into a Buffer each time): the baseline a user starts from.
 */
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { listenLocal, servePeer } from '../lib/peer-ipc.mjs';

servePeer(async () => {
  // Compression off, as in every peer: it would measure zlib, and tidewire does not deflate.
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const port = await listenLocal(server);
  return {
    ready: { port, url: `ws://127.0.0.1:${port}/`, dialect: 'ws' },
    publish(text) {
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(text);
      }
    },
    connections: () => wss.clients.size,
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      return new Promise((resolve) => server.close(resolve));
    },
  };
});
