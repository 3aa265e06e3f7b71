import { afterEach, describe, expect, it } from 'vitest';
import { isTidewireError } from '../../src/client/index.js';
import type { Client } from '../../src/client/index.js';
import {
  type Authenticate,
  type Authorize,
  type ConnectionInfo,
  type HubOptions,
  TidewireError,
  readToken,
} from '../../src/server/index.js';
import {
  Recorder,
  Resources,
  VARIANTS,
  countingPlatform,
  fastOptions,
} from '../support/client-harness.js';
import type { TestHub } from '../support/hub-server.js';
import {
  type RawAnswer,
  type RawOptions,
  type UpgradeOutcome,
  errorBody,
  rawRequest,
  tryUpgrade,
} from '../support/raw-request.js';
import { sleep, waitFor } from '../support/wait.js';
import type { TestSocket } from '../support/ws-client.js';

/**
 * Every refusal of SPEC.md § Security, against a real hub on 127.0.0.1 with real requests:
 * the Origin allowlist (with CORS and preflights), `authenticate` and `authorize`, on
 * WebSocket, SSE, polling and `/rt/send`, and what the tidewire client makes of them.
 * Per-IP and per-socket rates are in rate-limit.test.ts; connections per IP, message size and
 * the publish token's 401/403/201 in sse, polling, websocket and http-api.test.ts.
 */

const resources = new Resources();
const sockets: TestSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await resources.closeAll();
});

const APP = 'https://app.example';
const EVIL = 'https://evil.example';

async function hubWith(options: HubOptions = {}): Promise<TestHub> {
  return resources.hub(options);
}

/** The browser-facing HTTP endpoints, as a page would call them. */
type Endpoint = 'sse' | 'poll' | 'send';
const ENDPOINTS: readonly Endpoint[] = ['sse', 'poll', 'send'];

function call(
  t: TestHub,
  endpoint: Endpoint,
  options: RawOptions = {},
  query = '',
): Promise<RawAnswer> {
  const channels = 'channel=a';
  if (endpoint === 'send') {
    return rawRequest(`${t.url}/rt/send${query === '' ? '' : `?${query}`}`, {
      method: 'POST',
      body: JSON.stringify({ channel: 'a', event: 'e', data: { from: 'page' } }),
      ...options,
      headers: { 'Content-Type': 'application/json', ...options.headers },
    });
  }
  const extra = endpoint === 'poll' ? '&timeout=0' : '';
  return rawRequest(
    `${t.url}/rt/${endpoint}?${channels}${extra}${query === '' ? '' : `&${query}`}`,
    options,
  );
}

/** What an admitted request answers. */
const OK: Record<Endpoint, number> = { sse: 200, poll: 200, send: 201 };

async function upgrade(t: TestHub, options: RawOptions = {}, query = ''): Promise<UpgradeOutcome> {
  const outcome = await tryUpgrade(`${t.wsUrl}${query === '' ? '' : `?${query}`}`, options);
  if (outcome.kind === 'open') sockets.push(outcome.socket);
  return outcome;
}

async function openSocket(t: TestHub, options: RawOptions = {}, query = ''): Promise<TestSocket> {
  const outcome = await upgrade(t, options, query);
  if (outcome.kind !== 'open') throw new Error(`upgrade refused: ${outcome.answer.status}`);
  return outcome.socket;
}

function expectError(answer: RawAnswer, status: number, code: string, message?: string): void {
  const body = errorBody(answer);
  expect({ status: answer.status, code: body.code }).toEqual({ status, code });
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  if (message !== undefined) expect(body.message).toBe(message);
}

/** Where channel `channel` stands now: the cursor of an empty poll (`headers` to get in). */
async function cursorNow(
  t: TestHub,
  channel = 'a',
  headers: Record<string, string> = {},
): Promise<string> {
  const answer = await rawRequest(`${t.url}/rt/poll?channel=${channel}&timeout=0`, { headers });
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { cursor: string }).cursor;
}

/** The envelopes published on `channel` after `cursor`. */
async function messagesAfter(
  t: TestHub,
  cursor: string,
  channel = 'a',
  headers: Record<string, string> = {},
): Promise<unknown[]> {
  const query = `channel=${channel}&timeout=0&cursor=${encodeURIComponent(cursor)}`;
  const answer = await rawRequest(`${t.url}/rt/poll?${query}`, { headers });
  expect(answer.status).toBe(200);
  return (JSON.parse(answer.body) as { messages: unknown[] }).messages;
}

/** `tidewire_dropped_total{reason}` as `GET /metrics` reports it. */
async function droppedMetric(t: TestHub, reason: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`tidewire_dropped_total{reason="${reason}"}`));
  if (line === undefined) throw new Error(`no tidewire_dropped_total{reason="${reason}"} series`);
  return Number(line.split(' ').at(-1));
}

describe('Origin allowlist', () => {
  it('refuses a foreign Origin with 403 on /rt/sse, /rt/poll and /rt/send, without CORS headers', async () => {
    const t = await hubWith({ origins: [APP] });
    const cursor = await cursorNow(t);
    for (const endpoint of ENDPOINTS) {
      const answer = await call(t, endpoint, { headers: { Origin: EVIL } });
      expectError(
        answer,
        403,
        'FORBIDDEN',
        'this Origin may not use the hub (see the origins option)',
      );
      // No Access-Control-Allow-Origin: the foreign page cannot even read the refusal.
      expect(answer.headers['access-control-allow-origin'], endpoint).toBeUndefined();
      expect(answer.headers.vary, endpoint).toBe('Origin');
    }
    expect(await messagesAfter(t, cursor)).toEqual([]);
  });

  it('refuses a foreign Origin at the WebSocket upgrade with 403: no socket is opened', async () => {
    const t = await hubWith({ origins: [APP] });
    const outcome = await upgrade(t, { headers: { Origin: EVIL } });
    if (outcome.kind !== 'refused') throw new Error('the upgrade was accepted');
    expectError(outcome.answer, 403, 'FORBIDDEN');
    expect(t.hub.stats().connections.websocket).toBe(0);
    expect(t.hub.stats().dropped.origin).toBe(1);
  });

  it('allows requests without Origin and from the hub’s own origin, with no CORS headers', async () => {
    const t = await hubWith({ origins: [APP] });
    for (const headers of [{}, { Origin: t.url }] as Array<Record<string, string>>) {
      for (const endpoint of ENDPOINTS) {
        const answer = await call(t, endpoint, { headers });
        expect([endpoint, answer.status]).toEqual([endpoint, OK[endpoint]]);
        expect(answer.headers['access-control-allow-origin']).toBeUndefined();
        expect(answer.headers['access-control-allow-credentials']).toBeUndefined();
      }
      expect((await upgrade(t, { headers })).kind).toBe('open');
    }
    // Nothing listed at all: the same.
    const bare = await hubWith();
    expect((await call(bare, 'poll', { headers: { Origin: bare.url } })).status).toBe(200);
    expect((await call(bare, 'poll', { headers: { Origin: APP } })).status).toBe(403);
  });

  it('answers a listed origin with Access-Control-Allow-Origin (itself), credentials and Vary', async () => {
    const t = await hubWith({ origins: [APP, 'http://other.example:8080'] });
    for (const endpoint of ENDPOINTS) {
      const answer = await call(t, endpoint, { headers: { Origin: APP } });
      expect([endpoint, answer.status]).toEqual([endpoint, OK[endpoint]]);
      expect(answer.headers['access-control-allow-origin']).toBe(APP);
      expect(answer.headers['access-control-allow-credentials']).toBe('true');
      expect(answer.headers.vary).toMatch(/\bOrigin\b/);
    }
    expect((await upgrade(t, { headers: { Origin: 'http://other.example:8080' } })).kind).toBe(
      'open',
    );
  });

  it('answers a preflight of a listed origin with 204 and what may be sent; refuses a foreign one', async () => {
    const t = await hubWith({ origins: [APP] });
    for (const endpoint of ENDPOINTS) {
      const preflight = (origin: string) =>
        rawRequest(`${t.url}/rt/${endpoint}`, {
          method: 'OPTIONS',
          headers: {
            Origin: origin,
            'Access-Control-Request-Method': endpoint === 'send' ? 'POST' : 'GET',
            'Access-Control-Request-Headers': 'authorization, content-type, last-event-id',
          },
        });
      const allowed = await preflight(APP);
      expect([endpoint, allowed.status]).toEqual([endpoint, 204]);
      expect(allowed.headers['access-control-allow-origin']).toBe(APP);
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');
      const methods = (allowed.headers['access-control-allow-methods'] ?? '').split(/,\s*/);
      expect(methods).toEqual(expect.arrayContaining(['GET', 'POST']));
      const headers = (allowed.headers['access-control-allow-headers'] ?? '')
        .toLowerCase()
        .split(/,\s*/);
      expect(headers).toEqual(
        expect.arrayContaining(['authorization', 'content-type', 'last-event-id']),
      );
      expect(Number(allowed.headers['access-control-max-age'])).toBeGreaterThan(0);
      expect(allowed.headers.vary).toMatch(/\bOrigin\b/);
      const refused = await preflight(EVIL);
      expectError(refused, 403, 'FORBIDDEN');
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it("with origins: '*', allows and echoes any origin, Origin: null included, on every transport", async () => {
    const t = await hubWith({ origins: '*' });
    for (const origin of [EVIL, 'null']) {
      for (const endpoint of ENDPOINTS) {
        const answer = await call(t, endpoint, { headers: { Origin: origin } });
        expect([origin, endpoint, answer.status]).toEqual([origin, endpoint, OK[endpoint]]);
        expect(answer.headers['access-control-allow-origin']).toBe(origin);
        expect(answer.headers['access-control-allow-credentials']).toBe('true');
      }
      expect((await upgrade(t, { headers: { Origin: origin } })).kind).toBe('open');
    }
  });

  it('refuses Origin: null (sandboxed frames, file: pages) when origins are listed', async () => {
    const t = await hubWith({ origins: [APP] });
    for (const endpoint of ENDPOINTS) {
      expectError(await call(t, endpoint, { headers: { Origin: 'null' } }), 403, 'FORBIDDEN');
    }
    const outcome = await upgrade(t, { headers: { Origin: 'null' } });
    expect(outcome.kind === 'refused' && outcome.answer.status).toBe(403);
  });

  it('compares listed origins as browsers send them: case and default port do not matter', async () => {
    const t = await hubWith({ origins: ['HTTPS://App.Example:443/'] });
    const answer = await call(t, 'poll', { headers: { Origin: APP } });
    expect([answer.status, answer.headers['access-control-allow-origin']]).toEqual([200, APP]);
    expect((await upgrade(t, { headers: { Origin: APP } })).kind).toBe('open');
    for (const origin of [
      'http://app.example',
      'https://app.example:8443',
      'https://app.example.evil.example',
    ]) {
      expect([origin, (await call(t, 'poll', { headers: { Origin: origin } })).status]).toEqual([
        origin,
        403,
      ]);
    }
  });

  it('behind a trusted TLS-terminating proxy, takes X-Forwarded-Proto and -Host for the own origin', async () => {
    const viaProxy = {
      Origin: 'https://push.example',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'push.example',
    };
    const trusted = await hubWith({ trustProxy: 1 });
    for (const endpoint of ENDPOINTS) {
      const answer = await call(trusted, endpoint, { headers: viaProxy });
      expect([endpoint, answer.status]).toEqual([endpoint, OK[endpoint]]);
      expect(answer.headers['access-control-allow-origin']).toBeUndefined();
    }
    expect((await upgrade(trusted, { headers: viaProxy })).kind).toBe('open');
    // Not trusted: anyone could send those headers, and the page is foreign.
    const untrusted = await hubWith();
    expect((await call(untrusted, 'poll', { headers: viaProxy })).status).toBe(403);
    const outcome = await upgrade(untrusted, { headers: viaProxy });
    expect(outcome.kind === 'refused' && outcome.answer.status).toBe(403);
  });

  it('stops cross-site WebSocket hijacking: a foreign page cannot open /rt/ws with the victim’s cookie', async () => {
    const sessions: Record<string, { user: string }> = { 'victim-session': { user: 'victim' } };
    const asked: string[] = [];
    const t = await hubWith({
      origins: [APP],
      authenticate: (req) => {
        asked.push(String(req.headers.origin));
        const sid = readToken(req, { cookie: 'sid' });
        return sid === undefined ? undefined : sessions[sid];
      },
    });
    const heard: Array<[unknown, unknown]> = [];
    t.hub.onMessage((connection, envelope) => heard.push([connection.identity, envelope.data]));
    // The browser sends the victim's cookie with a WebSocket that evil.example opens.
    const cookie = 'sid=victim-session';
    const hijack = await upgrade(t, { headers: { Origin: EVIL, Cookie: cookie } });
    if (hijack.kind !== 'refused') throw new Error('the hijacking socket was accepted');
    expect(hijack.answer.status).toBe(403);
    // Nor can it read a stream or send in the victim's name over HTTP.
    expect((await call(t, 'sse', { headers: { Origin: EVIL, Cookie: cookie } })).status).toBe(403);
    expect((await call(t, 'send', { headers: { Origin: EVIL, Cookie: cookie } })).status).toBe(403);
    expect(asked).toEqual([]);
    expect(heard).toEqual([]);
    // The victim's own page, with the same cookie, gets in as the victim.
    const socket = await openSocket(t, { headers: { Origin: APP, Cookie: cookie } });
    socket.send({ type: 'publish', channel: 'a', data: 'hello', ref: 'r1' });
    await socket.next((f) => typeof f === 'object' && f.type === 'ack');
    expect(heard).toEqual([[{ user: 'victim' }, 'hello']]);
    expect(asked).toEqual([APP]);
  });
});

/** A user store of two tokens; `root` may do anything. */
interface User {
  readonly user: string;
  readonly admin?: boolean;
}
const USERS: Readonly<Record<string, User>> = {
  'tok-alice': { user: 'alice' },
  'tok-root': { user: 'root', admin: true },
};

/** Header, `?token=` or the `sid` cookie, looked up in `USERS`. */
const authenticateByToken: Authenticate = (req) => {
  const token = readToken(req, { cookie: 'sid' });
  return token === undefined ? undefined : USERS[token];
};

/** `secret*` for admins only; `readonly` may be read by anyone and written by admins. */
const authorizeByChannel: Authorize = (identity, channel, action) => {
  const admin = (identity as User).admin === true;
  if (channel.startsWith('secret')) return admin;
  if (channel === 'readonly') return action === 'subscribe' || admin;
  return true;
};

describe('authenticate', () => {
  it('refuses no token and a wrong one with 401 and WWW-Authenticate: Bearer on SSE, poll and send', async () => {
    const t = await hubWith({ authenticate: authenticateByToken });
    const root = { Authorization: 'Bearer tok-root' };
    const cursor = await cursorNow(t, 'a', root);
    const attempts: Array<[string, RawOptions, string]> = [
      ['no token', {}, ''],
      ['wrong bearer', { headers: { Authorization: 'Bearer tok-mallory' } }, ''],
      ['wrong query', {}, 'token=tok-mallory'],
      ['wrong cookie', { headers: { Cookie: 'sid=tok-mallory' } }, ''],
      ['basic scheme', { headers: { Authorization: 'Basic dG9rLWFsaWNlOg==' } }, ''],
    ];
    for (const [what, options, query] of attempts) {
      for (const endpoint of ENDPOINTS) {
        const answer = await call(t, endpoint, options, query);
        expect([what, endpoint, answer.status]).toEqual([what, endpoint, 401]);
        expectError(answer, 401, 'UNAUTHORIZED', 'authentication required');
        expect(answer.headers['www-authenticate']).toMatch(/^Bearer\b/);
      }
    }
    expect(await messagesAfter(t, cursor, 'a', root)).toEqual([]);
    expect(t.hub.stats().dropped.unauthorized).toBe(attempts.length * ENDPOINTS.length);
  });

  it('completes the WebSocket handshake and closes with 4501 and a reason when it refuses', async () => {
    const t = await hubWith({ authenticate: authenticateByToken });
    for (const options of [{}, { headers: { Authorization: 'Bearer tok-mallory' } }]) {
      const socket = await openSocket(t, options);
      expect(await socket.closed()).toEqual({ code: 4501, reason: 'authentication required' });
      expect(socket.frames).toEqual([]);
    }
    const byQuery = await openSocket(t, {}, 'token=tok-mallory');
    expect((await byQuery.closed()).code).toBe(4501);
    expect(t.hub.stats().connections.websocket).toBe(0);
  });

  it('admits a good token from the Authorization header, ?token= or a cookie, on every transport', async () => {
    const t = await hubWith({ authenticate: authenticateByToken });
    const ways: Array<[string, RawOptions, string]> = [
      ['bearer', { headers: { Authorization: 'Bearer tok-alice' } }, ''],
      ['query', {}, 'token=tok-alice'],
      ['cookie', { headers: { Cookie: 'theme=dark; sid=tok-alice' } }, ''],
    ];
    for (const [what, options, query] of ways) {
      for (const endpoint of ENDPOINTS) {
        const answer = await call(t, endpoint, options, query);
        expect([what, endpoint, answer.status]).toEqual([what, endpoint, OK[endpoint]]);
      }
      const socket = await openSocket(t, options, query);
      socket.send({ type: 'subscribe', channels: ['a'], ref: 's1' });
      await socket.next((f) => typeof f === 'object' && f.type === 'subscribed');
      expect(socket.closeCode).toBeUndefined();
    }
  });

  interface HookCase {
    readonly name: string;
    readonly hook: Authenticate;
    readonly status: number;
    readonly code: string;
    readonly closeCode: number;
    readonly message: string;
  }
  const unauthorized = { status: 401, code: 'UNAUTHORIZED', closeCode: 4501 } as const;
  const forbidden = { status: 403, code: 'FORBIDDEN', closeCode: 4503 } as const;
  const HOOKS: readonly HookCase[] = [
    {
      name: 'returns false',
      hook: () => false,
      ...unauthorized,
      message: 'authentication required',
    },
    {
      name: 'resolves null later',
      hook: async () => {
        await sleep(20);
        return null;
      },
      ...unauthorized,
      message: 'authentication required',
    },
    {
      name: 'throws an Error',
      hook: () => {
        throw new Error('jwt signature mismatch');
      },
      ...unauthorized,
      message: 'authentication failed',
    },
    {
      name: 'rejects with an Error',
      hook: async () => {
        await sleep(20);
        throw new Error('jwt expired');
      },
      ...unauthorized,
      message: 'authentication failed',
    },
    {
      name: 'throws FORBIDDEN',
      hook: () => {
        throw new TidewireError('FORBIDDEN', 'account suspended');
      },
      ...forbidden,
      message: 'account suspended',
    },
    {
      name: 'rejects with FORBIDDEN',
      hook: async () => {
        await sleep(20);
        throw new TidewireError('FORBIDDEN', 'account suspended');
      },
      ...forbidden,
      message: 'account suspended',
    },
  ];

  it.each(HOOKS)('answers a hook that $name with $status / close $closeCode', async (c) => {
    const t = await hubWith({ authenticate: c.hook });
    for (const endpoint of ENDPOINTS) {
      const answer = await call(t, endpoint);
      expectError(answer, c.status, c.code, c.message);
      // A 401 says how to authenticate; a 403 does not invite another try.
      expect(answer.headers['www-authenticate']).toBe(
        c.status === 401 ? 'Bearer realm="tidewire"' : undefined,
      );
    }
    const socket = await openSocket(t);
    expect(await socket.closed()).toEqual({ code: c.closeCode, reason: c.message });
    const reason = c.status === 401 ? 'unauthorized' : 'forbidden';
    expect(t.hub.stats().dropped[reason]).toBe(ENDPOINTS.length + 1);
  });

  it('hands the identity to hub.onMessage listeners, for WebSocket publishes and /rt/send', async () => {
    const t = await hubWith({ authenticate: authenticateByToken });
    const heard: Array<[ConnectionInfo['transport'], unknown, unknown]> = [];
    t.hub.onMessage((connection, envelope) =>
      heard.push([connection.transport, connection.identity, envelope.data]),
    );
    const socket = await openSocket(t, { headers: { Authorization: 'Bearer tok-alice' } });
    socket.send({ type: 'publish', channel: 'a', data: 'over ws', ref: 'r1' });
    await socket.next((f) => typeof f === 'object' && f.type === 'ack');
    const sent = await call(t, 'send', { headers: { Cookie: 'sid=tok-root' } });
    expect(sent.status).toBe(201);
    expect(heard).toEqual([
      ['websocket', { user: 'alice' }, 'over ws'],
      ['http', { user: 'root', admin: true }, { from: 'page' }],
    ]);
  });
});

describe.each(VARIANTS)(
  'the tidewire client over $name, with getToken',
  ({ transport, options }) => {
    async function authHub(): Promise<TestHub> {
      return hubWith({ authenticate: authenticateByToken });
    }

    it('receives with a good token', async () => {
      const t = await authHub();
      const client = resources.client(t.url, {
        ...fastOptions(transport, options),
        getToken: () => 'tok-alice',
      });
      const recorder = new Recorder(client);
      await recorder.subscribe('news').ready;
      await t.hub.publish('news', { n: 1 });
      await recorder.waitForN('news', 1);
      expect(client.readyState).toBe(1);
    });

    it('stops for good with a bad token: one retry with a fresh token, then GAVE_UP, no loop', async () => {
      const t = await authHub();
      const platform = countingPlatform(options);
      let tokens = 0;
      const client = resources.client(t.url, {
        ...fastOptions(transport, { ...options, ...platform.options }),
        getToken: () => `tok-expired-${++tokens}`,
      });
      const recorder = new Recorder(client);
      recorder.subscribe('news');
      await waitFor(
        () => recorder.of('error').some((e) => codeOf(e) === 'GAVE_UP'),
        3000,
        `GAVE_UP (${platform.total} attempts so far: ${JSON.stringify(recorder.of('close'))})`,
      );
      expect(client.readyState).toBe(3);
      const closes = recorder.of('close');
      expect(closes.at(-1)?.willReconnect).toBe(false);
      expect(closes.some((c) => c.code === 4501 || c.status === 401)).toBe(true);
      const attempts = platform.total;
      // Reconnects would come within 200 ms (fastOptions): none comes.
      await sleep(600);
      expect(platform.total).toBe(attempts);
      expect(attempts).toBe(2);
      expect(tokens).toBe(2);
    });
  },
);

describe('the tidewire client without getToken', () => {
  it.each(['websocket', 'sse', 'long-polling'] as const)(
    'stops at the first refusal over %s: one attempt',
    async (transport) => {
      const t = await hubWith({ authenticate: authenticateByToken });
      const platform = countingPlatform();
      const client = resources.client(t.url, fastOptions(transport, platform.options));
      const recorder = new Recorder(client);
      recorder.subscribe('news');
      await waitFor(() => client.readyState === 3, 5000, 'the client to stop');
      await sleep(400);
      expect(platform.total).toBe(1);
      expect(recorder.of('error').map(codeOf)).toContain('GAVE_UP');
    },
  );
});

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | undefined)?.code;
}

describe('authorize', () => {
  async function authzHub(extra: HubOptions = {}): Promise<TestHub> {
    return hubWith({ authenticate: authenticateByToken, authorize: authorizeByChannel, ...extra });
  }
  const alice = { headers: { Authorization: 'Bearer tok-alice' } };

  it('holds nothing for a client that left while an async authorize was deciding', async () => {
    let decided = 0;
    const t = await hubWith({
      authorize: () =>
        new Promise<boolean>((resolve) =>
          setTimeout(() => {
            decided += 1;
            resolve(true);
          }, 200),
        ),
    });
    for (const endpoint of ['sse', 'poll'] as const) {
      const abort = new AbortController();
      const request = fetch(`${t.url}/rt/${endpoint}?channel=a&timeout=5000`, {
        signal: abort.signal,
      });
      await sleep(50);
      abort.abort();
      await request.catch(() => {});
    }
    await waitFor(() => decided === 2, 2000, 'both hooks to answer');
    await sleep(50);
    const { connections, channels } = t.hub.stats();
    expect([connections.sse, connections['long-polling'], channels]).toEqual([0, 0, 0]);
  });

  it('refuses an SSE stream or a poll that names a forbidden channel with 403, as a whole', async () => {
    const t = await authzHub();
    for (const endpoint of ['sse', 'poll'] as const) {
      const url = `${t.url}/rt/${endpoint}?channel=a&channel=secret&timeout=0`;
      const answer = await rawRequest(url, alice);
      expectError(answer, 403, 'FORBIDDEN', 'not allowed to subscribe on channel "secret"');
      expect(answer.headers['www-authenticate']).toBeUndefined();
      expect((await rawRequest(`${t.url}/rt/${endpoint}?channel=a&timeout=0`, alice)).status).toBe(
        200,
      );
      const root = { headers: { Authorization: 'Bearer tok-root' } };
      expect((await rawRequest(url, root)).status).toBe(200);
    }
    // All or nothing: the refused stream subscribed to nothing, not even `a`.
    expect(t.hub.stats().channels).toBe(0);
  });

  it('answers a forbidden WebSocket subscribe with a FORBIDDEN error frame and its ref; other channels go on', async () => {
    const t = await authzHub();
    const socket = await openSocket(t, alice);
    socket.send({ type: 'subscribe', channels: ['a', 'secret'], ref: 's1' });
    const refused = await socket.next((f) => typeof f === 'object' && f.type === 'error');
    expect(refused).toEqual({
      type: 'error',
      code: 'FORBIDDEN',
      message: 'not allowed to subscribe on channel "secret"',
      ref: 's1',
    });
    socket.send({ type: 'subscribe', channels: ['a'], ref: 's2' });
    await socket.next((f) => typeof f === 'object' && f.type === 'subscribed' && f.channel === 'a');
    await t.hub.publish('secret', 'classified');
    await t.hub.publish('a', 'public');
    await socket.next((f) => typeof f === 'object' && f.type === 'message' && f.channel === 'a');
    expect(socket.closeCode).toBeUndefined();
    // Nothing of `secret` ever came: no subscribed frame, no envelope.
    expect(socket.frames.filter((f) => typeof f === 'object' && f.channel === 'secret')).toEqual(
      [],
    );
    expect(socket.ofType('subscribed')).toHaveLength(1);
  });

  it('refuses a forbidden publish: WebSocket error frame with its ref, /rt/send 403, nothing published', async () => {
    const t = await authzHub();
    const cursor = await cursorNow(t, 'readonly', alice.headers);
    const socket = await openSocket(t, alice);
    socket.send({ type: 'publish', channel: 'readonly', data: 'defaced', ref: 'p1' });
    const refused = await socket.next((f) => typeof f === 'object' && f.type === 'error');
    expect(refused).toEqual({
      type: 'error',
      code: 'FORBIDDEN',
      message: 'not allowed to publish on channel "readonly"',
      ref: 'p1',
    });
    const sent = await rawRequest(`${t.url}/rt/send`, {
      method: 'POST',
      headers: { ...alice.headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ channel: 'readonly', data: 'defaced' }),
    });
    expectError(sent, 403, 'FORBIDDEN', 'not allowed to publish on channel "readonly"');
    // History is unchanged; the socket still publishes where it may.
    expect(await messagesAfter(t, cursor, 'readonly', alice.headers)).toEqual([]);
    socket.send({ type: 'publish', channel: 'a', data: 'fine', ref: 'p2' });
    expect(await socket.next((f) => typeof f === 'object' && f.type === 'ack')).toMatchObject({
      ref: 'p2',
    });
    expect(t.hub.stats().dropped.forbidden).toBe(2);
  });

  it.each(['websocket', 'sse', 'long-polling'] as const)(
    'rejects the client’s publish() with FORBIDDEN over %s, and the client stays open',
    async (transport) => {
      const t = await authzHub();
      const client: Client = resources.client(t.url, {
        ...fastOptions(transport),
        getToken: () => 'tok-alice',
      });
      const recorder = new Recorder(client);
      await recorder.subscribe('a').ready;
      const error: unknown = await client.publish('readonly', 'defaced').catch((e: unknown) => e);
      expect(isTidewireError(error) && error.code).toBe('FORBIDDEN');
      await expect(client.publish('a', 'fine')).resolves.toMatchObject({
        channel: 'a',
        data: 'fine',
      });
      expect(client.readyState).toBe(1);
      expect(recorder.count('close')).toBe(0);
    },
  );

  it('rejects the client’s subscription to a forbidden channel over WebSocket; its other channels go on', async () => {
    const t = await authzHub();
    const client = resources.client(t.url, {
      ...fastOptions('websocket'),
      getToken: () => 'tok-alice',
    });
    const recorder = new Recorder(client);
    await recorder.subscribe('a').ready;
    // Its own subscribe frame: the client batches the subscribes of one tick into one frame,
    // which the hub refuses as a whole.
    await expect(recorder.subscribe('secret').ready).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: 'not allowed to subscribe on channel "secret"',
    });
    await t.hub.publish('secret', 'classified');
    await t.hub.publish('a', { n: 1 });
    await recorder.waitForN('a', 1);
    expect(recorder.envelopes('secret')).toEqual([]);
    expect(client.readyState).toBe(1);
    expect(recorder.count('close')).toBe(0);
  });

  it('keeps frames in order behind a slow async hook: subscribe then unsubscribe ends unsubscribed', async () => {
    const decided: string[] = [];
    const t = await hubWith({
      authorize: async (_identity, channel, action) => {
        await sleep(150);
        decided.push(`${action} ${channel}`);
        return true;
      },
    });
    const socket = await openSocket(t);
    // Back to back: the unsubscribe needs no hook, and must still wait for the subscribe.
    socket.send({ type: 'subscribe', channels: ['a'], ref: 's1' });
    socket.send({ type: 'unsubscribe', channels: ['a'] });
    socket.send({ type: 'ping' });
    await socket.next((f) => typeof f === 'object' && f.type === 'pong');
    expect(decided).toEqual(['subscribe a']);
    expect(t.hub.stats().channels).toBe(0);
    await t.hub.publish('a', 'after the unsubscribe');
    // A later subscribe, through the same hook, to see that the socket reads on.
    socket.send({ type: 'subscribe', channels: ['b'], ref: 's2' });
    await socket.next((f) => typeof f === 'object' && f.type === 'subscribed' && f.channel === 'b');
    await t.hub.publish('a', 'still after');
    await t.hub.publish('b', 'on b');
    await socket.next((f) => typeof f === 'object' && f.type === 'message' && f.channel === 'b');
    expect(socket.ofType('message').map((f) => f.channel)).toEqual(['b']);
  });

  it('answers INTERNAL (500) when the hook throws, and logs it', async () => {
    const logged: Array<[unknown, string]> = [];
    const t = await hubWith({
      logger: {
        info() {},
        warn() {},
        error: (object: unknown, message?: string) => logged.push([object, message ?? '']),
      },
      authorize: (_identity, channel) => {
        if (channel === 'a') throw new Error('policy store unreachable');
        return true;
      },
    });
    for (const endpoint of ['sse', 'poll'] as const) {
      const answer = await call(t, endpoint);
      expectError(answer, 500, 'INTERNAL', 'authorization failed');
    }
    const socket = await openSocket(t);
    socket.send({ type: 'subscribe', channels: ['a'], ref: 's1' });
    expect(await socket.next((f) => typeof f === 'object' && f.type === 'error')).toEqual({
      type: 'error',
      code: 'INTERNAL',
      message: 'authorization failed',
      ref: 's1',
    });
    socket.send({ type: 'publish', channel: 'a', data: 1, ref: 'p1' });
    expect(await socket.next((f) => typeof f === 'object' && f.type === 'error')).toMatchObject({
      code: 'INTERNAL',
      ref: 'p1',
    });
    expectError(await call(t, 'send'), 500, 'INTERNAL', 'authorization failed');
    const hookErrors = logged.filter(([, message]) => message === 'authorize hook threw');
    expect(hookErrors).toHaveLength(5);
    expect((hookErrors[0]?.[0] as { err?: Error }).err?.message).toBe('policy store unreachable');
    // The socket survives a broken hook.
    socket.send({ type: 'subscribe', channels: ['b'], ref: 's2' });
    await socket.next((f) => typeof f === 'object' && f.type === 'subscribed' && f.channel === 'b');
  });

  it('refuses anything but true from the hook', async () => {
    const t = await hubWith({
      authorize: ((_identity: unknown, channel: string) =>
        channel === 'a' ? 'yes' : 1) as unknown as Authorize,
    });
    expectError(await call(t, 'poll'), 403, 'FORBIDDEN');
  });
});

describe('publish token (POST /rt/publish/:channel)', () => {
  it('says how to authenticate on its 401: WWW-Authenticate: Bearer', async () => {
    const t = await hubWith({ publishToken: 's3cret' });
    const post = (headers: Record<string, string>) =>
      rawRequest(`${t.url}/rt/publish/a`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: '1',
      });
    const none = await post({});
    expectError(none, 401, 'UNAUTHORIZED');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer\b/);
    const basic = await post({ Authorization: 'Basic czNjcmV0' });
    expectError(basic, 401, 'UNAUTHORIZED');
    expect(basic.headers['www-authenticate']).toMatch(/^Bearer\b/);
    const wrong = await post({ Authorization: 'Bearer wrong' });
    expectError(wrong, 403, 'FORBIDDEN');
    expect(wrong.headers['www-authenticate']).toBeUndefined();
    expect((await post({ Authorization: 'Bearer s3cret' })).status).toBe(201);
  });
});

describe('GET /metrics', () => {
  it('counts refusals by reason in tidewire_dropped_total', async () => {
    const t = await hubWith({
      origins: [APP],
      authenticate: authenticateByToken,
      authorize: authorizeByChannel,
    });
    const before = {
      origin: await droppedMetric(t, 'origin'),
      unauthorized: await droppedMetric(t, 'unauthorized'),
      forbidden: await droppedMetric(t, 'forbidden'),
    };
    expect(before).toEqual({ origin: 0, unauthorized: 0, forbidden: 0 });
    await call(t, 'poll', { headers: { Origin: EVIL } });
    await upgrade(t, { headers: { Origin: EVIL } });
    await call(t, 'sse');
    const socket = await openSocket(t);
    await socket.closed();
    await rawRequest(`${t.url}/rt/poll?channel=secret&timeout=0`, {
      headers: { Authorization: 'Bearer tok-alice' },
    });
    expect({
      origin: await droppedMetric(t, 'origin'),
      unauthorized: await droppedMetric(t, 'unauthorized'),
      forbidden: await droppedMetric(t, 'forbidden'),
    }).toEqual({ origin: 2, unauthorized: 2, forbidden: 1 });
  });
});
