/**
 * Peer: a `ws` WebSocketServer broadcasting the way the ws README and most applications do it,
 * `client.send(text)` for each open client. ws frames the message again for every client
 * (a header and a copy of the text into a Buffer each time): the baseline a user starts from.
 */
import { WebSocket, WebSocketServer } from 'ws';
import { servePeer } from '../lib/peer-ipc.mjs';

servePeer(async () => {
  // Compression off, as in every peer: it would measure zlib, and tidewire does not deflate.
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    backlog: 4096,
    perMessageDeflate: false,
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const { port } = wss.address();
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
      return new Promise((resolve) => wss.close(resolve));
    },
  };
});
