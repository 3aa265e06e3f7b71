// tidewire in an Express app: the app's routes publish with hub.publish(); browsers receive over
// WebSocket, SSE or polling.
//
//   npm run build && node examples/express.mjs
//   curl -N 'http://127.0.0.1:3000/rt/sse?channel=orders'
//   curl -X POST http://127.0.0.1:3000/orders -H 'content-type: application/json' -d '{"item":"tea"}'
import http from 'node:http';
import express from 'express';
import { createHub } from 'tidewire/server';

const hub = createHub();
const app = express();
app.use(express.json());

app.post('/orders', async (req, res) => {
  const envelope = await hub.publish(
    'orders',
    { ...req.body, at: Date.now() },
    { event: 'created' },
  );
  res.status(201).json({ ok: true, id: envelope.id });
});

app.get('/', (_req, res) => res.send('orders app; live updates on /rt/sse?channel=orders\n'));

// hub.attach() serves /rt/* (WebSocket upgrades included) before the app sees the request.
// Without WebSocket, `app.use(hub.handler())` alone serves SSE and polling.
const server = http.createServer(app);
hub.attach(server);

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

process.on('SIGTERM', async () => {
  await hub.close({ drainWindowMs: 1000 });
  server.close();
});
