import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { Envelope, Hub, HubOptions } from '../../src/server/index.js';
import { createHub } from '../../src/server/index.js';
import type { RequestHandler } from 'express';
import type { ParsedEvent, SSEOptions } from '../../src/sse/index.js';
import { SSE, createParser, formatEvent } from '../../src/sse/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

beforeAll(() => {
  if (!existsSync(`${root}dist/server/index.cjs`))
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

  it('ships type declarations for ESM and CJS', () => {
    for (const file of [
      'server/index.d.ts',
      'server/index.d.cts',
      'sse/index.d.ts',
      'sse/index.d.cts',
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
});
