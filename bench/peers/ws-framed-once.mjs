/**
 * Peer: `ws` with the frame built once per message and the same bytes written to every
 * client, the "encode once, write many" that socket.io's adapter does. The best plain Node
 * and `ws` can do: per client only a socket write is left.
 */
import http from 'node:http';
import { WebSocket, WebSocketServer, Sender } from 'ws';
import { listenLocal, servePeer } from '../lib/peer-ipc.mjs';

/** An unmasked, final text frame: what a server sends (RFC 6455 § 5.1, § 5.2). */
const TEXT_FRAME = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

servePeer(async () => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const port = await listenLocal(server);
  return {
    ready: { port, url: `ws://127.0.0.1:${port}/`, dialect: 'ws' },
    publish(text) {
      // `[header, payload]`: two Buffers that no write modifies, so every client may share them.
      const frame = Sender.frame(Buffer.from(text), TEXT_FRAME);
      for (const client of wss.clients) {
        // `ws` has no public "send these frame bytes"; `_sender.sendFrame` is what its own
        // `send()` ends in (ws 8.23 lib/sender.js), and engine.io calls it the same way for
        // Socket.IO broadcasts (`wsPreEncodedFrame`). Bypassing `Sender#send` is safe here: that
        // path queues only while a message is being deflated or a Blob read, and this server
        // has compression off and sends no Blob, so the sender's queue is always empty.
        if (client.readyState === WebSocket.OPEN) client._sender.sendFrame(frame);
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
