import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessControl, readToken, settle } from './access.js';
import { HubCounters } from './counters.js';
import { type HubOptions, resolveOptions } from './options.js';

/**
 * The pure parts of the access checks, read off real requests: a server on 127.0.0.1 hands
 * each request it gets to the test, which asks `AccessControl` about it. Real headers as
 * Node parses them (joined `X-Forwarded-For` lines, lower-cased names), a real peer address.
 */

const quietLogger = { info() {}, warn() {}, error() {} };

let server: http.Server;
let port: number;
const waiting: Array<(req: IncomingMessage) => void> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    waiting.shift()?.(req);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Sent {
  readonly path?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly localAddress?: string;
}

/** Sends a request to the test server and returns it as the server received it. */
function receive({ path = '/rt/poll', headers = {}, localAddress }: Sent = {}) {
  const received = new Promise<IncomingMessage>((resolve) => waiting.push(resolve));
  const request = http.request({
    host: '127.0.0.1',
    port,
    path,
    headers,
    agent: false,
    ...(localAddress === undefined ? {} : { localAddress }),
  });
  request.on('response', (res) => res.resume());
  request.end();
  return received;
}

function accessWith(options: HubOptions = {}): AccessControl {
  return new AccessControl(resolveOptions(options, quietLogger), new HubCounters());
}

async function ipOf(options: HubOptions, sent: Sent): Promise<string> {
  return accessWith(options).clientIp(await receive(sent));
}

describe('clientIp', () => {
  it('is the socket peer by default, whatever X-Forwarded-For says', async () => {
    expect(await ipOf({}, {})).toBe('127.0.0.1');
    expect(await ipOf({}, { localAddress: '127.0.0.2' })).toBe('127.0.0.2');
    expect(await ipOf({}, { headers: { 'X-Forwarded-For': '203.0.113.7' } })).toBe('127.0.0.1');
  });

  it('with trustProxy: 1, is the address the proxy appended', async () => {
    const xff = (value: string | string[]) => ({ headers: { 'X-Forwarded-For': value } });
    expect(await ipOf({ trustProxy: 1 }, xff('203.0.113.7'))).toBe('203.0.113.7');
    expect(await ipOf({ trustProxy: 1 }, xff(' 203.0.113.7 '))).toBe('203.0.113.7');
  });

  it('with trustProxy: 1, ignores entries the client made up in front of the real one', async () => {
    // The client sent `X-Forwarded-For: 6.6.6.6, 7.7.7.7`; its proxy appended its address.
    const spoofed = { headers: { 'X-Forwarded-For': '6.6.6.6, 7.7.7.7, 203.0.113.7' } };
    expect(await ipOf({ trustProxy: 1 }, spoofed)).toBe('203.0.113.7');
    // Or the proxy added a header line of its own: Node joins them in order.
    const lines = { headers: { 'X-Forwarded-For': ['6.6.6.6', '203.0.113.7'] } };
    expect(await ipOf({ trustProxy: 1 }, lines)).toBe('203.0.113.7');
  });

  it('with trustProxy: 2, skips the inner proxy too, and a spoofed entry still does not count', async () => {
    // client 203.0.113.7 → proxy 198.51.100.1 → proxy 127.0.0.1 (the peer) → hub.
    const chain = { headers: { 'X-Forwarded-For': '6.6.6.6, 203.0.113.7, 198.51.100.1' } };
    expect(await ipOf({ trustProxy: 2 }, chain)).toBe('203.0.113.7');
    expect(await ipOf({ trustProxy: 1 }, chain)).toBe('198.51.100.1');
  });

  it('falls back to the peer without X-Forwarded-For, and to the farthest entry of a short chain', async () => {
    expect(await ipOf({ trustProxy: 1 }, {})).toBe('127.0.0.1');
    expect(await ipOf({ trustProxy: 1 }, { headers: { 'X-Forwarded-For': ' , ' } })).toBe(
      '127.0.0.1',
    );
    expect(await ipOf({ trustProxy: 3 }, { headers: { 'X-Forwarded-For': '203.0.113.7' } })).toBe(
      '203.0.113.7',
    );
  });

  it('refuses a trustProxy that is not a hop count', () => {
    expect(() => accessWith({ trustProxy: -1 })).toThrow(RangeError);
    expect(() => accessWith({ trustProxy: 1.5 })).toThrow(RangeError);
  });
});

describe('readToken', () => {
  async function tokenOf(sent: Sent, cookie?: string): Promise<string | undefined> {
    const req = await receive(sent);
    return cookie === undefined ? readToken(req) : readToken(req, { cookie });
  }
  const auth = (value: string) => ({ headers: { Authorization: value } });

  it('reads an Authorization: Bearer header, whatever the case of the scheme', async () => {
    expect(await tokenOf(auth('Bearer abc.def-1'))).toBe('abc.def-1');
    expect(await tokenOf(auth('bearer abc'))).toBe('abc');
    expect(await tokenOf(auth('Bearer   abc  '))).toBe('abc');
  });

  it('reads no token from another scheme or a bare scheme', async () => {
    for (const value of [
      'Basic YWxhZGRpbjpvcGVuc2VzYW1l',
      'Bearer',
      'Bearer ',
      'abc',
      'Bearer a b',
    ]) {
      expect([value, await tokenOf(auth(value))]).toEqual([value, undefined]);
    }
  });

  it('reads the token query parameter (EventSource, browser WebSocket), decoded', async () => {
    expect(await tokenOf({ path: '/rt/sse?channel=a&token=q1' })).toBe('q1');
    expect(await tokenOf({ path: '/rt/ws?token=a%2Bb%3D' })).toBe('a+b=');
    expect(await tokenOf({ path: '/rt/sse?token=' })).toBeUndefined();
    expect(await tokenOf({ path: '/rt/sse?tokens=x' })).toBeUndefined();
  });

  it('prefers the header over the query, and the query over the cookie', async () => {
    const all = {
      path: '/rt/sse?token=from-query',
      headers: { Authorization: 'Bearer from-header', Cookie: 'sid=from-cookie' },
    };
    expect(await tokenOf(all, 'sid')).toBe('from-header');
    const noHeader = { path: all.path, headers: { Cookie: 'sid=from-cookie' } };
    expect(await tokenOf(noHeader, 'sid')).toBe('from-query');
    // A header of another scheme does not hide the query.
    const basic = { path: all.path, headers: { Authorization: 'Basic eDp5' } };
    expect(await tokenOf(basic)).toBe('from-query');
  });

  it('reads the named cookie only when asked, by its exact name, decoded', async () => {
    const cookies = (value: string) => ({ headers: { Cookie: value } });
    expect(await tokenOf(cookies('sid=abc'))).toBeUndefined();
    expect(await tokenOf(cookies('theme=dark; sid=abc; lang=fr'), 'sid')).toBe('abc');
    expect(await tokenOf(cookies('xsid=wrong; sid_old=wrong; sid=right'), 'sid')).toBe('right');
    expect(await tokenOf(cookies('sid=a%20b%3Bc'), 'sid')).toBe('a b;c');
    expect(await tokenOf(cookies('sid='), 'sid')).toBeUndefined();
    expect(await tokenOf(cookies('sid=%E0%A4%A'), 'sid')).toBeUndefined();
    expect(await tokenOf(cookies('other=1'), 'sid')).toBeUndefined();
  });
});

describe('checkOrigin', () => {
  async function verdictOf(options: HubOptions, headers: Record<string, string>) {
    return accessWith(options).checkOrigin(await receive({ headers }));
  }
  const own = () => `http://127.0.0.1:${port}`;

  it('allows a request without Origin, and the hub’s own origin, with no CORS needed', async () => {
    expect(await verdictOf({}, {})).toEqual({ allowed: true, crossOrigin: undefined });
    expect(await verdictOf({}, { Origin: own() })).toEqual({
      allowed: true,
      crossOrigin: undefined,
    });
    // The own origin is the Host the request came to, default port or not.
    expect(await verdictOf({}, { Origin: 'http://push.example', Host: 'push.example:80' })).toEqual(
      { allowed: true, crossOrigin: undefined },
    );
  });

  it('refuses another port, another scheme or another host than the hub’s own', async () => {
    for (const origin of [
      `http://127.0.0.1:${port + 1}`,
      `https://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      'http://127.0.0.1',
    ]) {
      expect(await verdictOf({}, { Origin: origin })).toEqual({ allowed: false, origin });
    }
  });

  it('allows a listed origin, compared as the browser sends it (case, default port)', async () => {
    const options: HubOptions = {
      origins: ['HTTPS://App.Example.com:443/', 'http://b.example:8080'],
    };
    for (const origin of ['https://app.example.com', 'http://b.example:8080']) {
      expect(await verdictOf(options, { Origin: origin })).toEqual({
        allowed: true,
        crossOrigin: origin,
      });
    }
    for (const origin of [
      'http://app.example.com',
      'https://app.example.com:8443',
      'https://app.example.com.evil.example',
      'https://evil.example',
      'http://b.example',
    ]) {
      expect(await verdictOf(options, { Origin: origin })).toEqual({ allowed: false, origin });
    }
  });

  it('refuses Origin: null (sandboxed frames, file: pages) unless every origin is allowed', async () => {
    expect(await verdictOf({ origins: ['https://app.example'] }, { Origin: 'null' })).toEqual({
      allowed: false,
      origin: 'null',
    });
    expect(await verdictOf({ origins: '*' }, { Origin: 'null' })).toEqual({
      allowed: true,
      crossOrigin: 'null',
    });
  });

  it("allows any origin with '*', alone or in the list, echoing it", async () => {
    for (const origins of ['*', ['https://app.example', '*']] as const) {
      expect(await verdictOf({ origins }, { Origin: 'https://anyone.example' })).toEqual({
        allowed: true,
        crossOrigin: 'https://anyone.example',
      });
    }
  });

  it('takes the own origin from X-Forwarded-Proto and -Host only behind a trusted proxy', async () => {
    // A TLS-terminating proxy: the page is https://push.example, the hub sees plain http.
    const headers = {
      Origin: 'https://push.example',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'push.example, inner.local:8080',
    };
    expect(await verdictOf({ trustProxy: 1 }, headers)).toEqual({
      allowed: true,
      crossOrigin: undefined,
    });
    expect(await verdictOf({}, headers)).toEqual({
      allowed: false,
      origin: 'https://push.example',
    });
    // Without X-Forwarded-Host, the Host header is the host.
    const protoOnly = {
      Origin: 'https://push.example',
      'X-Forwarded-Proto': 'https',
      Host: 'push.example',
    };
    expect(await verdictOf({ trustProxy: 1 }, protoOnly)).toEqual({
      allowed: true,
      crossOrigin: undefined,
    });
  });
});

describe('the origins option', () => {
  it('refuses what is not scheme://host[:port]', () => {
    for (const origin of [
      'app.example.com',
      'https://app.example/path',
      'https://a.example/?q',
      'null',
    ]) {
      expect(() => accessWith({ origins: [origin] }), origin).toThrow(RangeError);
    }
  });
});

describe('settle', () => {
  it('hands a plain value on at once, without waiting for a tick', () => {
    const seen: unknown[] = [];
    settle(
      () => 42,
      (value) => seen.push(value),
      (error) => seen.push(error),
    );
    expect(seen).toEqual([42]);
  });

  it('sends a throw, a rejection and a throwing onValue to onError', async () => {
    const errors: unknown[] = [];
    const boom = new Error('boom');
    settle(
      () => {
        throw boom;
      },
      () => {},
      (error) => errors.push(error),
    );
    settle(
      () => Promise.reject(boom),
      () => {},
      (error) => errors.push(error),
    );
    settle(
      () => Promise.resolve(1),
      () => {
        throw boom;
      },
      (error) => errors.push(error),
    );
    settle(
      () => 1,
      () => {
        throw boom;
      },
      (error) => errors.push(error),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual([boom, boom, boom, boom]);
  });
});
