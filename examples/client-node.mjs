// tidewire/client in Node: follow a channel of a hub and publish to another, over WebSocket
// (Node < 22 passes `ws`), falling back to SSE and long polling by itself. Every message
// prints as one JSON line; the client reconnects and resumes on its own.
//
//   npm run build && node examples/node-http.mjs          # a hub with a clock channel
//   HUB=http://127.0.0.1:3000 node examples/client-node.mjs
import { WebSocket } from 'ws';
import { createClient } from 'tidewire/client';

const client = createClient(process.env.HUB ?? 'http://127.0.0.1:3000', { WebSocket });

client.on('open', ({ transport }) => console.log(JSON.stringify({ open: transport })));
client.on('reconnecting', ({ attempt, delayMs }) => {
  console.log(JSON.stringify({ reconnecting: attempt, delayMs }));
});
client.on('gap', ({ channel }) => console.log(JSON.stringify({ gap: channel })));
client.on('error', (error) => console.error(error.message));

const clock = client.subscribe('clock', (data, envelope) => {
  console.log(JSON.stringify({ id: envelope.id, event: envelope.event, data }));
});

// Queued while offline, acked once the hub has it.
await clock.ready;
const envelope = await client.publish('greetings', { from: 'client-node' }, { event: 'hello' });
console.log(JSON.stringify({ published: envelope.id }));

process.on('SIGTERM', () => client.destroy());
process.on('SIGINT', () => client.destroy());
