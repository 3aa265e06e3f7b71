// tidewire on a plain Node http server: the hub takes /rt/* (WebSocket upgrades included) and
// /health; every other request goes to the server's own handler.
//
//   npm run build && node examples/node-http.mjs
//   curl -N 'http://127.0.0.1:3000/rt/sse?channel=clock'
import http from 'node:http';
import { createHub } from 'tidewire/server';

const hub = createHub();

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('my app; push on /rt/ws, /rt/sse, /rt/poll\n');
});
hub.attach(server);

const clock = setInterval(() => {
  hub.publish('clock', { now: new Date().toISOString() }, { event: 'tick' });
}, 1000);

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

process.on('SIGTERM', async () => {
  clearInterval(clock);
  await hub.close({ drainWindowMs: 1000 });
  server.close();
});
