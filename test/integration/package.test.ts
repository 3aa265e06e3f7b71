import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { Envelope, Hub, HubOptions } from '../../src/server/index.js';
import { createHub } from '../../src/server/index.js';
import type { RequestHandler } from 'express';
import type { ParsedEvent, SSEOptions } from '../../src/sse/index.js';
import { SSE, createParser, formatEvent } from '../../src/sse/index.js';
import type {
  Client,
  ClientEvents,
  ClientOptions,
  EnvelopeHandler,
  Subscription,
  TransportName,
} from '../../src/client/index.js';
import { createClient } from '../../src/client/index.js';
import type {
  ReconnectingEventSource,
  ReconnectingWebSocket,
} from '../../src/reconnecting/index.js';
import { redisSkipReason, startRedisServer } from '../support/redis-server.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

beforeAll(() => {
  if (!existsSync(`${root}dist/reconnecting/index.cjs`))
    execFileSync('npx', ['tsup'], { cwd: root, stdio: 'ignore' });
}, 60_000);

/** Runs a script in a child process from the package root, as a user of the package would. */
function run(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

describe('the built package', () => {
  it('imports as ESM by its name and subpaths', () => {
    const out = run([
      '--input-type=module',
      '-e',
      "import { createHub } from 'tidewire/server'; import { formatEvent } from 'tidewire/sse';" +
        "const hub = createHub(); const e = await hub.publish('a', 1); await hub.close();" +
        "console.log(typeof createHub, e.channel, JSON.stringify(formatEvent({ data: 'x' })));" +
        "import { createParser, SSE } from 'tidewire/sse'; const got = [];" +
        "createParser({ onEvent: (ev) => got.push(ev.data) }).feed('data: y\\n\\n');" +
        'console.log(got.join(), typeof SSE, new SSE().sessionCount);',
    ]);
    expect(out).toBe('function a "data: x\\n\\n"\ny function 0');
  });

  it('requires as CommonJS by its name and subpaths', () => {
    const out = run([
      '-e',
      "const { createHub, TidewireError } = require('tidewire/server');" +
        "const { formatEvent, createParser, SSE } = require('tidewire/sse');" +
        "const hub = createHub(); hub.publish('a', 2).then(async (e) => { await hub.close();" +
        'console.log(typeof createHub, typeof TidewireError, e.data, typeof formatEvent,' +
        'typeof createParser, typeof SSE); });',
    ]);
    expect(out).toBe('function function 2 function function function');
  });

  it('runs tidewire/client in Node against the hub, ESM and CJS alike', () => {
    const script = (load: string) =>
      `${load}; const hub = createHub(); const server = http.createServer(); hub.attach(server);` +
      "server.listen(0, '127.0.0.1', async () => {" +
      "  const client = createClient('http://127.0.0.1:' + server.address().port, { WebSocket });" +
      "  const got = new Promise((resolve) => client.subscribe('a', (data) => resolve(data)));" +
      "  await client.subscribe('a').ready; const acked = await client.publish('a', 'hi');" +
      '  console.log(client.transport, acked.channel, await got, typeof ReconnectingWebSocket,' +
      '    typeof ReconnectingEventSource);' +
      '  client.destroy(); await hub.close(); server.close(); });';
    const esm = run([
      '--input-type=module',
      '-e',
      script(
        "import http from 'node:http'; import { WebSocket } from 'ws';" +
          "import { createHub } from 'tidewire/server'; import { createClient } from 'tidewire/client';" +
          "import { ReconnectingWebSocket, ReconnectingEventSource } from 'tidewire/reconnecting'",
      ),
    ]);
    const cjs = run([
      '-e',
      script(
        "const http = require('node:http'); const { WebSocket } = require('ws');" +
          "const { createHub } = require('tidewire/server'); const { createClient } = require('tidewire/client');" +
          "const { ReconnectingWebSocket, ReconnectingEventSource } = require('tidewire/reconnecting')",
      ),
    ]);
    expect(esm).toBe('websocket a hi function function');
    expect(cjs).toBe('websocket a hi function function');
  });

  it.skipIf(redisSkipReason)('runs tidewire/redis nodes as one, ESM and CJS alike', async () => {
    const redis = await startRedisServer();
    try {
      // Two hubs on one Redis: the second one's publish follows the first one's in one numbering.
      const script = (load: string) =>
        `${load}; const broker = () => redisBroker({ url: '${redis.url}', prefix: 'pkg:' + process.pid + ':' });` +
        'const a = createHub({ broker: broker() }); const b = createHub({ broker: broker() });' +
        "Promise.all([a.ready, b.ready]).then(async () => { const one = await a.publish('x', 1);" +
        "  const two = await b.publish('x', 2); const [epoch1, seq1] = one.id.split('-');" +
        "  const [epoch2, seq2] = two.id.split('-'); console.log(epoch1 === epoch2, seq1, seq2);" +
        '  await a.close(); await b.close(); });';
      const esm = run([
        '--input-type=module',
        '-e',
        script(
          "import { createHub } from 'tidewire/server'; import { redisBroker } from 'tidewire/redis'",
        ),
      ]);
      const cjs = run([
        '-e',
        script(
          "const { createHub } = require('tidewire/server'); const { redisBroker } = require('tidewire/redis')",
        ),
      ]);
      expect(esm).toBe('true 1 2');
      expect(cjs).toBe('true 1 2');
    } finally {
      await redis.close();
    }
  });

  it('ships minified browser builds with no Node built-ins', () => {
    for (const file of ['browser/client.min.js', 'browser/reconnecting.min.js']) {
      const code = readFileSync(`${root}dist/${file}`, 'utf8');
      expect(code, file).not.toMatch(/from\s*["']node:|require\(|\bBuffer\b|\bprocess\./);
    }
  });

  it('ships type declarations for ESM and CJS', () => {
    for (const file of [
      'server/index.d.ts',
      'server/index.d.cts',
      'sse/index.d.ts',
      'sse/index.d.cts',
      'client/index.d.ts',
      'client/index.d.cts',
      'reconnecting/index.d.ts',
      'reconnecting/index.d.cts',
      'redis/index.d.ts',
      'redis/index.d.cts',
    ]) {
      expect(existsSync(`${root}dist/${file}`), file).toBe(true);
    }
  });
});

describe('public types', () => {
  it('types publish, the envelope and the options without any', () => {
    expectTypeOf(createHub).parameter(0).toEqualTypeOf<HubOptions | undefined>();
    expectTypeOf(createHub).returns.toEqualTypeOf<Hub>();
    expectTypeOf<Hub['publish']>().returns.toEqualTypeOf<Promise<Envelope>>();
    expectTypeOf<Envelope['id']>().toEqualTypeOf<string>();
    expectTypeOf<Envelope['data']>().toEqualTypeOf<unknown>();
    expectTypeOf<NonNullable<HubOptions['limits']>['maxMessageBytes']>().toEqualTypeOf<
      number | undefined
    >();
    expectTypeOf(formatEvent).returns.toEqualTypeOf<string>();
  });

  it('types the SSE toolkit so that express-sse programs type-check unchanged', () => {
    expectTypeOf<ParsedEvent>().toEqualTypeOf<{
      readonly event: string;
      readonly data: string;
      readonly id: string;
    }>();
    expectTypeOf(createParser({ onEvent: () => {} }).feed)
      .parameter(0)
      .toEqualTypeOf<string | Uint8Array>();
    const sse = new SSE(['initial'], { isSerialized: false, initialEvent: 'init' });
    // `app.get('/stream', sse.init)` in Express 5's own types.
    expectTypeOf(sse.init).toExtend<RequestHandler>();
    expectTypeOf(sse.send).parameters.toEqualTypeOf<
      [data: unknown, event?: string | false, id?: string | number]
    >();
    expectTypeOf<SSEOptions['heartbeatMs']>().toEqualTypeOf<number | undefined>();
  });

  it('types the client: lifecycle events apart from envelope routes, no any', () => {
    expectTypeOf(createClient).returns.toEqualTypeOf<Client>();
    expectTypeOf<Client['publish']>().returns.toEqualTypeOf<Promise<Envelope>>();
    expectTypeOf<Client['readyState']>().toEqualTypeOf<0 | 1 | 2 | 3>();
    expectTypeOf<ClientEvents['gap']>().toEqualTypeOf<{ readonly channel: string }>();
    expectTypeOf<ClientEvents['error']>().toEqualTypeOf<Error>();
    expectTypeOf<Parameters<Client['on']>[0]>().toEqualTypeOf<
      'open' | 'close' | 'error' | 'reconnecting' | 'gap'
    >();
    expectTypeOf<Parameters<Client['register']>[1]>().toEqualTypeOf<EnvelopeHandler>();
    expectTypeOf<Parameters<EnvelopeHandler>>().toEqualTypeOf<
      [data: unknown, envelope: Envelope]
    >();
    expectTypeOf<Subscription['ready']>().toEqualTypeOf<Promise<void>>();
    expectTypeOf<NonNullable<ClientOptions['transports']>[number]>().toEqualTypeOf<TransportName>();
    expectTypeOf<ReconnectingWebSocket['readyState']>().toEqualTypeOf<number>();
    expectTypeOf<ReconnectingEventSource['lastEventId']>().toEqualTypeOf<string>();
  });
});
