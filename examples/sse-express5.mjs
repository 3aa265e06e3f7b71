// tidewire's SSE class in an Express 5 app: the express-sse program, with only the import
// changed. Clients that reconnect with Last-Event-ID get what they missed.
//
//   npm run build && node examples/sse-express5.mjs
//   curl -N http://127.0.0.1:3000/stream
//   curl -X POST 'http://127.0.0.1:3000/send?event=greeting' \
//     -H 'content-type: application/json' -d '{"hello":"world"}'
import express from 'express';
import { SSE } from 'tidewire/sse';

// Every new client gets this first; one returning with Last-Event-ID gets the missed events.
const sse = new SSE(['welcome']);
const app = express();
app.use(express.json());

// init is bound, so it is the route handler itself, as with express-sse.
app.get('/stream', sse.init);

app.post('/send', (req, res) => {
  sse.send(req.body, req.query.event);
  res.sendStatus(204);
});

// Bad input (an event name with a line break, a body that is not JSON) answers JSON, not a
// stack trace: tidewire's errors carry a `status` and a `code`, as body-parser's do a `status`.
app.use((error, req, res, next) => {
  if (res.headersSent) return next(error);
  const status = error.status ?? 500;
  res.status(status).json({ code: error.code ?? 'ERROR', message: error.message });
});

const clock = setInterval(() => sse.send({ now: new Date().toISOString() }, 'tick'), 1000);

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
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
