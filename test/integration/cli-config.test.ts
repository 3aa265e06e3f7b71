import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, ensureCliBuilt } from '../support/cli.js';
import { poll, publishHttp, requestJson } from '../support/http-client.js';
import {
  type ListeningProcess,
  killListening,
  startListening,
} from '../support/listening-process.js';
import { findLog, logLines } from '../support/log-lines.js';
import { TestEventStream } from '../support/sse-client.js';
import { waitFor } from '../support/wait.js';

let dir: string;
beforeAll(async () => {
  await ensureCliBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'tidewire-cli-config-'));
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => killListening());

let files = 0;
/** Writes a config file (an object is written as JSON, a string as is). */
function configFile(content: object | string): string {
  const file = path.join(dir, `config-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** `tidewire serve` with exactly these flags (no --port/--host added) until it listens. */
function serveWith(args: string[], env: Record<string, string> = {}): Promise<ListeningProcess> {
  return startListening([CLI_BIN, 'serve', ...args], { env });
}

/** `tidewire serve` expected to refuse its configuration: its exit code and stderr. */
async function refused(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI_BIN, 'serve', '--port', '0', ...args], {
    env: { ...process.env, ...env },
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr, stdout };
}

const NO_DEMO = ['--no-demo'];

describe('tidewire serve configuration', () => {
  it('takes flags over environment over config file over defaults', async () => {
    const file = configFile({
      port: 0,
      host: '127.0.0.1',
      demo: false,
      publishToken: 'file-publish-secret',
      historySize: 2,
      metricsToken: 'file-metrics-secret',
    });
    const served = await serveWith(['--config', file, '--history-size', '4'], {
      TIDEWIRE_PUBLISH_TOKEN: 'env-publish-secret',
      TIDEWIRE_HISTORY_SIZE: '3',
    });
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    // The environment's token replaced the file's.
    expect((await publishHttp(served.url, 'h', 0, undefined, 'file-publish-secret')).status).toBe(
      403,
    );
    const published = [];
    for (let i = 1; i <= 6; i++) {
      const answer = await publishHttp(served.url, 'h', i, undefined, 'env-publish-secret');
      expect(answer.status).toBe(201);
      published.push(answer.body.id);
    }
    // The flag's history size (4), not the environment's (3) nor the file's (2).
    const epoch = (published[0] as string).replace(/-\d+$/, '');
    const answer = await poll(served.url, ['h'], `${epoch}-0`, 0);
    expect(answer.body.messages.map((entry) => entry.type ?? entry.data)).toEqual([
      'gap',
      3,
      4,
      5,
      6,
    ]);
    // The file's metrics token, untouched by the others.
    expect((await requestJson(`${served.url}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${served.url}/metrics`, {
      headers: { Authorization: 'Bearer file-metrics-secret' },
    });
    expect(metrics.status).toBe(200);

    const started = findLog(served.output(), 'hub started');
    expect(started).toMatchObject({
      level: 'info',
      url: served.url,
      configFile: file,
      config: { historySize: 4, publishToken: '[redacted]', metricsToken: '[redacted]' },
      sources: {
        port: 'file',
        host: 'file',
        publishToken: 'env',
        historySize: 'flag',
        metricsToken: 'file',
      },
    });
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    expect(served.output()).not.toMatch(
      /file-publish-secret|env-publish-secret|file-metrics-secret/,
    );
  });

  it('reads the file named by TIDEWIRE_CONFIG, and --config wins over it', async () => {
    const fromEnv = configFile({ publishToken: 'from-env-file' });
    const fromFlag = configFile({ publishToken: 'from-flag-file' });
    const [viaEnv, viaFlag] = await Promise.all([
      serveWith(['--port', '0', ...NO_DEMO], { TIDEWIRE_CONFIG: fromEnv }),
      serveWith(['--port', '0', '--config', fromFlag, ...NO_DEMO], { TIDEWIRE_CONFIG: fromEnv }),
    ]);
    expect((await publishHttp(viaEnv.url, 'x', 1, undefined, 'from-env-file')).status).toBe(201);
    expect((await publishHttp(viaFlag.url, 'x', 1, undefined, 'from-env-file')).status).toBe(403);
    expect((await publishHttp(viaFlag.url, 'x', 1, undefined, 'from-flag-file')).status).toBe(201);
  });

  it('hands the new settings to the hub: origins, base path, message size, metrics, log level', async () => {
    const [served, quiet] = await Promise.all([
      serveWith(['--port', '0', ...NO_DEMO, '--base-path', '/push', '--max-message-bytes', '100'], {
        TIDEWIRE_ORIGIN: 'https://app.example, https://other.example',
        TIDEWIRE_METRICS: 'false',
      }),
      serveWith(['--port', '0', ...NO_DEMO, '--log-level', 'warn']),
    ]);
    const allowed = await TestEventStream.open(`${served.url}/push/sse?channel=a`, {
      Origin: 'https://other.example',
    });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://other.example');
    allowed.close();
    const foreign = await TestEventStream.open(`${served.url}/push/sse?channel=a`, {
      Origin: 'https://evil.example',
    });
    expect(foreign.status).toBe(403);
    const large = await fetch(`${served.url}/push/publish/a`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify('x'.repeat(200)),
    });
    expect(large.status).toBe(413);
    expect((await requestJson(`${served.url}/metrics`)).status).toBe(404);

    // At warn, the info lines go; the plain listening line stays.
    expect(quiet.output()).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n/);
    expect((await fetch(`${quiet.url}/metrics`)).status).toBe(200);
    quiet.child.kill('SIGTERM');
    expect(await quiet.exited).toBe(0);
    expect(logLines(quiet.output()).filter((line) => line.level === 'info')).toEqual([]);
  });

  it('refuses unknown keys and bad values with exit code 1, naming the key and its source', async () => {
    // Every message is checked in src/cli/config.test.ts; here, one per source, as a process.
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [
        ['--config', configFile({ prot: 8080 })],
        {},
        /^error: config file .*config-\d+\.json: unknown key "prot" \(did you mean "port"\?\)/,
      ],
      [
        [],
        { TIDEWIRE_HISTORY_SIZE: '0' },
        /^error: environment variable TIDEWIRE_HISTORY_SIZE="0": historySize must be an integer of at least 1/,
      ],
      [['--origin', 'https://a.example/path'], {}, /is not an origin such as https:\/\/app/],
    ];
    const results = await Promise.all(cases.map(([args, env]) => refused(args, env)));
    results.forEach((result, index) => {
      const expected = (cases[index] as [string[], Record<string, string>, RegExp])[2];
      expect(result.code, expected.source).toBe(1);
      expect(result.stderr).toMatch(expected);
      expect(result.stdout).toBe(''); // nothing listened, nothing logged
    });
  });

  it('warns about a TIDEWIRE_ variable that is no setting, and names the likely one', async () => {
    const served = await serveWith(['--port', '0', ...NO_DEMO], { TIDEWIRE_PROT: '9000' });
    const warning = await waitFor(() => findLog(served.output(), /TIDEWIRE_PROT/));
    expect(warning).toMatchObject({
      level: 'warn',
      msg: 'environment variable TIDEWIRE_PROT is not a setting (did you mean TIDEWIRE_PORT?)',
    });
  });
});

describe('tidewire serve logs', () => {
  it('writes JSON lines with level, time and msg, and logs no secret', async () => {
    const file = configFile({ redis: 'redis://user:redis-pass-secret@127.0.0.1:1' });
    const served = await serveWith(['--port', '0', ...NO_DEMO, '--config', file], {
      TIDEWIRE_PUBLISH_TOKEN: 'publish-secret',
      TIDEWIRE_METRICS_TOKEN: 'metrics-secret',
    });
    const started = await waitFor(() => findLog(served.output(), 'hub started'));
    expect(started.config).toMatchObject({
      redis: 'redis://user:***@127.0.0.1:1',
      publishToken: '[redacted]',
      metricsToken: '[redacted]',
    });
    for (const line of logLines(served.output())) {
      expect(line).toMatchObject({ level: expect.any(String), msg: expect.any(String) });
      expect(new Date(line.time).toISOString()).toBe(line.time);
    }
    expect(served.output()).not.toMatch(/redis-pass-secret|publish-secret|metrics-secret/);
  });

  it('reports refusals at once, then no more than one line a minute', async () => {
    const served = await serveWith(['--port', '0', ...NO_DEMO, '--publish-token', 't']);
    expect((await publishHttp(served.url, 'x', 1)).status).toBe(401);
    const first = await waitFor(
      () => findLog(served.output(), 'requests refused or connections closed by the hub'),
      3000,
    );
    expect(first).toMatchObject({
      level: 'warn',
      dropped: { unauthorized: 1 },
      total: { unauthorized: 1 },
    });
    for (let i = 0; i < 20; i++) await publishHttp(served.url, 'x', 1, undefined, 'wrong');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const reports = logLines(served.output()).filter((line) => line.msg === first.msg);
    expect(reports).toHaveLength(1);
    // The drain says what was refused in all.
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
    expect(findLog(served.output(), 'stopped')).toMatchObject({
      dropped: { unauthorized: 1, forbidden: 20 },
    });
  });
});
