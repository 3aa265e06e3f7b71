/**
 * Peer: `ws` with the frame built once per message and the same bytes written to every
 * client, the "encode once, write many" that socket.io's adapter does. The best plain Node
 * and `ws` can do: per client only a socket write is left.
 */
import { WebSocket, WebSocketServer, Sender } from 'ws';
import { servePeer } from '../lib/peer-ipc.mjs';

/** An unmasked, final text frame: what a server sends (RFC 6455 § 5.1, § 5.2). */
const TEXT_FRAME = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

servePeer(async () => {
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
      return new Promise((resolve) => wss.close(resolve));
    },
  };
});
