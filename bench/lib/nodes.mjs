/**
 * Hub nodes as the scenarios need them: a hub on its own http server on 127.0.0.1 (port 0),
 * from the built package, as an application would run it.
 */
import http from 'node:http';
import { createHub } from 'tidewire/server';
import { redisBroker } from 'tidewire/redis';

/**
 * The scenarios, in report order. `setup` resolves with `{ subscribeUrl, publish, close }`:
 * subscribers connect to `subscribeUrl`; `publish(channel, data)` publishes on the node the
 * scenario publishes from.
 */
export const SCENARIOS = {
  memory: {
    label: 'memory',
    isRedis: false,
    describe: 'one node, in-memory broker',
    async setup({ subscribers }) {
      const node = await startNode({ subscribers });
      return { subscribeUrl: node.wsUrl, publish: node.publish, close: node.close };
    },
  },
  'redis-2-nodes': {
    label: 'redis, 2 nodes',
    isRedis: true,
    describe: 'subscribers on node A, publishes on node B: every envelope crosses Redis',
    async setup({ subscribers, redisUrl }) {
      const prefix = uniquePrefix();
      const a = await startNode({ subscribers, broker: redisBroker({ url: redisUrl, prefix }) });
      let b;
      try {
        b = await startNode({ subscribers: 0, broker: redisBroker({ url: redisUrl, prefix }) });
      } catch (error) {
        await a.close();
        throw error;
      }
      return {
        subscribeUrl: a.wsUrl,
        publish: b.publish,
        close: () => Promise.all([a.close(), b.close()]),
      };
    },
  },
  'redis-1-node': {
    label: 'redis, 1 node',
    isRedis: true,
    describe: 'subscribers and publishes on one node, through Redis all the same',
    async setup({ subscribers, redisUrl }) {
      const broker = redisBroker({ url: redisUrl, prefix: uniquePrefix() });
      const node = await startNode({ subscribers, broker });
      return { subscribeUrl: node.wsUrl, publish: node.publish, close: node.close };
    },
  },
};

/** Warnings and errors go to stderr, where they stand out from the report on stdout. */
const logger = {
  info() {},
  warn: (object, message) => console.error(`[tidewire] warn: ${message ?? ''}`, object),
  error: (object, message) => console.error(`[tidewire] error: ${message ?? ''}`, object),
};

async function startNode({ subscribers, broker }) {
  const hub = createHub({
    ...(broker ? { broker } : {}),
    logger,
    // Every subscriber comes from 127.0.0.1: let them all in. Other limits stay at their
    // defaults (1 MiB send buffer per socket included): what an application gets.
    limits: { maxConnectionsPerIp: Math.max(1000, subscribers + 10) },
  });
  const server = http.createServer();
  hub.attach(server);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  await hub.ready;
  const { port } = server.address();
  // `ready` also resolves when Redis could not be reached (the hub starts degraded): a run
  // against an unavailable broker would only measure errors.
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  if (health.status !== 200) {
    await hub.close();
    server.close();
    throw new Error(`the hub is not healthy: ${health.status} ${await health.text()}`);
  }
  return {
    wsUrl: `ws://127.0.0.1:${port}/rt/ws`,
    publish: (channel, data) => hub.publish(channel, data),
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Keys of separate scenarios (and of runs that share a Redis) never meet.
function uniquePrefix() {
  return `tidewire-bench:${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
}
