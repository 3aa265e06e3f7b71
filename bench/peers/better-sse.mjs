/**
 * Peer: better-sse 0.16 on a plain Node http server. Each `GET /sse` becomes a session
 * registered on one channel; a publish is `channel.broadcast(text)`.
 *
 * better-sse serialises and sanitises the data once per session, not once per broadcast
 * (`Channel#broadcast` calls `session.push` for each). Its default serialiser is
 * `JSON.stringify`, which would send our text as a quoted JSON string; the identity serialiser
 * sends it as is, so that the event's `data` is the message text, as with every other peer.
 * (An application that broadcasts objects pays one `JSON.stringify` per session on top.)
 */
import http from 'node:http';
import { createChannel, createSession } from 'better-sse';
import { listenLocal, servePeer } from '../lib/peer-ipc.mjs';

const SESSION_OPTIONS = { serializer: (data) => data };

servePeer(async () => {
  const channel = createChannel();
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/sse') {
      res.writeHead(404).end();
      return;
    }
    createSession(req, res, SESSION_OPTIONS).then(
      (session) => channel.register(session),
      (error) => {
        console.error(error);
        res.destroy();
      },
    );
  });
  const port = await listenLocal(server);
  return {
    ready: { port, url: `http://127.0.0.1:${port}/sse`, dialect: 'sse' },
    publish(text) {
      channel.broadcast(text);
    },
    connections: () => channel.sessionCount,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
});
