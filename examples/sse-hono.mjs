// tidewire's SSE class in a Hono app on Node (@hono/node-server). Clients that reconnect with
// Last-Event-ID get what they missed.
//
//   npm run build && node examples/sse-hono.mjs
//   curl -N http://127.0.0.1:3000/stream
//   curl -X POST 'http://127.0.0.1:3000/send?event=greeting' \
//     -H 'content-type: application/json' -d '{"hello":"world"}'
import { serve } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import { SSE } from 'tidewire/sse';

// Every new client gets this first; one returning with Last-Event-ID gets the missed events.
const sse = new SSE(['welcome']);
const app = new Hono();

app.get('/stream', (c) => {
  // @hono/node-server passes Node's own request and response as c.env.incoming and
  // c.env.outgoing; sse.init writes to the response and keeps it open, and
  // RESPONSE_ALREADY_SENT tells the adapter not to answer on top of it.
  sse.init(c.env.incoming, c.env.outgoing);
  return RESPONSE_ALREADY_SENT;
});

app.post('/send', async (c) => {
  let body;
  try {
    const text = await c.req.text();
    body = text === '' ? null : JSON.parse(text);
  } catch {
    return c.text('body must be JSON\n', 400);
  }
  sse.send(body, c.req.query('event'));
  return c.body(null, 204);
});

// Bad input (an event name with a line break) answers JSON: tidewire's errors carry a
// `status` and a `code`.
app.onError((error, c) =>
  c.json({ code: error.code ?? 'ERROR', message: error.message }, error.status ?? 500),
);

const clock = setInterval(() => sse.send({ now: new Date().toISOString() }, 'tick'), 1000);

const server = serve(
  { fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' },
  (info) => console.log(`listening on http://127.0.0.1:${info.port}`),
);

function shutdown() {
  clearInterval(clock);
  // Ends every stream with a jittered `retry:`, so clients come back spread out.
  sse.close();
  server.close();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
