// tidewire's SSE class (a drop-in for express-sse) on a plain Node http server: no framework,
// no hub. Clients that reconnect with Last-Event-ID get what they missed.
//
//   npm run build && node examples/sse-node-http.mjs
//   curl -N http://127.0.0.1:3000/stream
//   curl -X POST 'http://127.0.0.1:3000/send?event=greeting' -d '{"hello":"world"}'
import http from 'node:http';
import { SSE } from 'tidewire/sse';

// Every new client gets this first; one returning with Last-Event-ID gets the missed events.
const sse = new SSE(['welcome']);

const MAX_BODY_BYTES = 64 * 1024;

const server = http.createServer(async (req, res) => {
  const [pathname, query = ''] = (req.url ?? '/').split('?');
  // sse.init takes Node's own request and response: it writes the headers and keeps it open.
  if (req.method === 'GET' && pathname === '/stream') return sse.init(req, res);
  if (req.method === 'POST' && pathname === '/send') {
    try {
      const event = new URLSearchParams(query).get('event') ?? undefined;
      sse.send(await readJson(req), event);
      res.writeHead(204).end();
    } catch (error) {
      // An event name with a line break (TidewireError, status 400) or a body that is not JSON.
      const status = error.status ?? 400;
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ code: error.code ?? 'BAD_REQUEST', message: error.message }));
    }
    return;
  }
  res.writeHead(404).end();
});

async function readJson(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > MAX_BODY_BYTES) throw new Error(`body over ${MAX_BODY_BYTES} bytes`);
  }
  return text === '' ? null : JSON.parse(text);
}

const clock = setInterval(() => sse.send({ now: new Date().toISOString() }, 'tick'), 1000);

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

function shutdown() {
  clearInterval(clock);
  // Ends every stream with a jittered `retry:`, so clients come back spread out.
  sse.close();
  server.close();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
