/**
 * tidewire under test: one hub on the in-memory broker, as `tidewire serve` runs it, serving
 * every transport at once; the orchestrator picks which one its subscribers speak. Publishes
 * go through `hub.publish()`, the path an application's own publishes take.
 */
import http from 'node:http';
import { createHub } from '../../dist/server/index.js';
import { listenLocal, servePeer } from '../lib/peer-ipc.mjs';

const CHANNEL = 'bench';

servePeer(async () => {
  const hub = createHub({
    // The load generator connects thousands of sockets from one address.
    limits: { maxConnectionsPerIp: Infinity },
    metrics: false,
    logger: { info() {}, warn() {}, error: (...args) => console.error(...args) },
  });
  const server = http.createServer();
  hub.attach(server);
  const port = await listenLocal(server);
  const base = `127.0.0.1:${port}/rt`;
  return {
    ready: {
      port,
      url: `ws://${base}/ws`,
      dialect: 'tidewire-ws',
      sseUrl: `http://${base}/sse?channel=${CHANNEL}`,
      pollUrl: `http://${base}/poll?channel=${CHANNEL}&timeout=25000`,
    },
    // The data is the payload's object, as an application publishes it: the envelope's JSON
    // is the hub's one serialisation of it. Not returned: the in-memory broker fans out within
    // the publish, and a burst must yield to the event loop between publishes as the
    // synchronous peers' do, not run on microtasks alone (see `publishBurst`).
    publish(text) {
      hub.publish(CHANNEL, JSON.parse(text)).catch((error) => {
        console.error(error);
        process.exit(1);
      });
    },
    connections: () => Object.values(hub.stats().connections).reduce((a, b) => a + b, 0),
    async close() {
      await hub.close();
      server.closeAllConnections();
      server.close();
    },
  };
});
