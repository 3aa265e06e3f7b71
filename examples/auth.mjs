// Who may connect and what they may do: an Origin allowlist, tokens checked by `authenticate`,
// and per-user channels checked by `authorize`.
//
//   npm run build && node examples/auth.mjs
//   TOKEN=$(curl -s -X POST 'http://127.0.0.1:3000/login?user=ada' | node -pe 'JSON.parse(fs.readFileSync(0)).token')
//   curl -N "http://127.0.0.1:3000/rt/sse?channel=user:ada:inbox&token=$TOKEN"     # allowed
//   curl -N "http://127.0.0.1:3000/rt/sse?channel=user:bob:inbox&token=$TOKEN"     # 403
//   curl -N 'http://127.0.0.1:3000/rt/sse?channel=news'                            # 401
//   curl -X POST 'http://127.0.0.1:3000/notify?user=ada' -d 'hello'
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { createHub, readToken } from 'tidewire/server';

// A demo token: "<user>.<hmac>". Use your real sessions or JWTs here.
const SECRET = process.env.SECRET ?? 'change me';
const sign = (user) => createHmac('sha256', SECRET).update(user).digest('base64url');
const issue = (user) => `${user}.${sign(user)}`;
function verify(token) {
  const [user, mac] = (token ?? '').split('.');
  if (!user || !mac) return undefined;
  const expected = Buffer.from(sign(user));
  const given = Buffer.from(mac);
  return expected.length === given.length && timingSafeEqual(expected, given) ? user : undefined;
}

const hub = createHub({
  // Pages served from these origins may connect with cookies; the hub's own pages always may.
  origins: (process.env.ORIGINS ?? 'http://localhost:5173').split(','),
  // Bearer header, then ?token= (EventSource), then the `session` cookie. Undefined → 401.
  authenticate: (req) => {
    const user = verify(readToken(req, { cookie: 'session' }));
    return user === undefined ? undefined : { user };
  },
  // Everyone may read `news`; only you may read or write your own `user:<you>:…` channels.
  authorize: ({ user }, channel, action) =>
    (channel === 'news' && action === 'subscribe') || channel.startsWith(`user:${user}:`),
});

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const user = url.searchParams.get('user') ?? '';
  if (req.method === 'POST' && url.pathname === '/login' && /^[a-z]{1,32}$/.test(user)) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: issue(user) }));
  } else if (req.method === 'POST' && url.pathname === '/notify' && /^[a-z]{1,32}$/.test(user)) {
    // Your backend publishes server-side: no hooks apply to hub.publish().
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', async () => {
      const envelope = await hub.publish(`user:${user}:inbox`, { text }, { event: 'notice' });
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: envelope.id }));
    });
  } else {
    res.writeHead(404).end();
  }
});
hub.attach(server);

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

process.on('SIGTERM', async () => {
  await hub.close({ drainWindowMs: 1000 });
  server.close();
});
