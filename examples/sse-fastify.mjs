// tidewire's SSE class in a Fastify app. Clients that reconnect with Last-Event-ID get what
// they missed.
//
//   npm run build && node examples/sse-fastify.mjs
//   curl -N http://127.0.0.1:3000/stream
//   curl -X POST 'http://127.0.0.1:3000/send?event=greeting' \
//     -H 'content-type: application/json' -d '{"hello":"world"}'
import Fastify from 'fastify';
import { SSE } from 'tidewire/sse';

// Every new client gets this first; one returning with Last-Event-ID gets the missed events.
const sse = new SSE(['welcome']);
const app = Fastify();

app.get('/stream', (request, reply) => {
  // hijack() tells Fastify that this handler answers by itself: Fastify sends nothing and
  // leaves the raw Node response, which sse.init writes to and keeps open, alone.
  reply.hijack();
  sse.init(request.raw, reply.raw);
});

app.post('/send', async (request, reply) => {
  sse.send(request.body, request.query.event);
  return reply.code(204).send();
});

const clock = setInterval(() => sse.send({ now: new Date().toISOString() }, 'tick'), 1000);

await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' });
console.log(`listening on http://127.0.0.1:${app.server.address().port}`);

async function shutdown() {
  clearInterval(clock);
  // Ends every stream with a jittered `retry:`, so clients come back spread out.
  sse.close();
  await app.close();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
