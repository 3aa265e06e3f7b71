/**
 * Peer: express-sse 1.0 on Express, the way its README wires it: `GET /sse` → `sse.init`, a
 * publish is `sse.send(object)`. Every stream is a listener of one EventEmitter; each listener
 * stringifies the data and writes `id:` and `data:` lines itself.
 */
import http from 'node:http';
import express from 'express';
import SSE from 'express-sse';
import { listenLocal, servePeer } from '../lib/peer-ipc.mjs';

servePeer(async () => {
  const sse = new SSE();
  const app = express();
  app.get('/sse', sse.init);
  const server = http.createServer(app);
  const port = await listenLocal(server);
  return {
    ready: { port, url: `http://127.0.0.1:${port}/sse`, dialect: 'sse' },
    publish(text) {
      // The parse is the bench's, once per publish: the application would hold the object.
      sse.send(JSON.parse(text));
    },
    // `init` adds one 'data' listener per stream and removes it when the request closes.
    connections: () => sse.listenerCount('data'),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
});
