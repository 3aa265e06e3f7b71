import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BenchReport, TransportResult } from '../../src/cli/bench/results.js';
import { CLI_BIN, ensureCliBuilt } from '../support/cli.js';
import { ROOT } from '../support/dist.js';
import { waitFor } from '../support/wait.js';

/**
 * `tidewire bench` as users run it: the built bin, a real hub process per transport, real
 * clients over 127.0.0.1. The figures are checked for sense, never for speed (STYLE.md § Tests:
 * speed lives in bench/).
 */

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const running = new Set<ChildProcessWithoutNullStreams>();
const dir = mkdtempSync(path.join(tmpdir(), 'tidewire-bench-'));

beforeAll(ensureCliBuilt, 60_000);

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Starts the bin with `args`. `mark` goes into its environment, which its hub processes
 * inherit: `processesMarked` finds them by it, whoever their parent is by then.
 */
function start(args: readonly string[], mark = randomUUID()) {
  const child = spawn(process.execPath, [CLI_BIN, 'bench', ...args], {
    cwd: dir,
    env: { ...process.env, TIDEWIRE_BENCH_TEST_MARK: mark },
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => {
    child.on('exit', (code) => {
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, stderr: () => stderr };
}

/** Pids of live processes whose environment holds `mark`. */
function processesMarked(mark: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const environ = readFileSync(`/proc/${name}/environ`, 'utf8');
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      // A zombie has exited; only its parent's wait is missing.
      if (environ.includes(`TIDEWIRE_BENCH_TEST_MARK=${mark}`) && !/^State:\s+Z/m.test(status)) {
        pids.push(Number(name));
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

describe('tidewire bench --quick', () => {
  const mark = randomUUID();
  const html = path.join(dir, 'r.html');
  const json = path.join(dir, 'r.json');
  let run: Run;
  let report: BenchReport;
  const byTransport = (name: string): TransportResult =>
    report.transports.find((r) => r.transport === name)!;

  beforeAll(async () => {
    run = await start(['--quick', '--out', html, '--json', json], mark).done;
    report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
  }, 60_000);

  it('exits 0 and prints a Markdown table with a row per transport', () => {
    expect(run.code, run.stderr).toBe(0);
    const rows = run.stdout.split('\n').filter((line) => line.startsWith('|'));
    expect(rows[0]).toMatch(/^\| transport +\| delivered +\|.*\| p50 ms \|.*\| bytes\/msg \|/);
    expect(rows[1]).toMatch(/^\| -+ \| -+: \|/);
    const names = rows.slice(2).map((row) => row.split('|')[1]!.trim());
    expect(names).toEqual(['websocket', 'sse', 'long-polling', 'polling']);
  });

  it('shows progress on stderr, one plain line per phase when not on a terminal', () => {
    expect(run.stderr).toContain('[1/4] websocket: connecting (25 clients)');
    expect(run.stderr).toContain('[4/4] polling: publishing (1000 deliveries)');
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).not.toContain('\u001b'); // ESC: no terminal control sequence
  });

  it('delivered every message to every client exactly once, on every transport', () => {
    expect(report.ok).toBe(true);
    expect(report.settings).toMatchObject({
      clients: 25,
      rate: 20,
      durationSeconds: 2,
      messages: 40,
    });
    for (const result of report.transports) {
      expect(result, result.transport).toMatchObject({
        expected: 25 * 40,
        delivered: 25 * 40,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
        gaps: 0,
      });
    }
  });

  it('measures sane latencies, ordered by percentile', () => {
    for (const { transport, latencyMs, latencyCurveMs } of report.transports) {
      const { min, p50, p95, p99, max } = latencyMs;
      expect(min, transport).toBeGreaterThan(0);
      expect([p50, p95, p99, max], transport).toEqual([p50, p95, p99, max].sort((a, b) => a - b));
      expect(min, transport).toBeLessThanOrEqual(p50);
      expect(latencyCurveMs).toHaveLength(report.latencyCurvePercentiles.length);
    }
    // Short polls every 2 s: a message waits for the next one, up to the interval.
    expect(byTransport('polling').latencyMs.max).toBeLessThan(2000 + 2000);
  });

  it('counts bytes and requests per delivery on the hub side', () => {
    for (const { transport, server } of report.transports) {
      // Every delivery carries the 256-byte payload plus its envelope and framing.
      expect(server.bytesPerDelivery, transport).toBeGreaterThan(256);
      expect(server.cpuMicrosPerDelivery, transport).toBeGreaterThan(0);
      expect(server.heapPerConnectionBytes, transport).toBeGreaterThan(-64 * 1024);
    }
    // A WebSocket and an SSE stream are opened once; messages need no request.
    expect(byTransport('websocket').server.requestsPerDelivery).toBe(0);
    expect(byTransport('sse').server.requestsPerDelivery).toBe(0);
    // A long poll answers about one message per request at 20 msg/s (a few in one answer).
    expect(byTransport('long-polling').server.requestsPerDelivery).toBeGreaterThan(0.3);
    expect(byTransport('long-polling').server.requestsPerDelivery).toBeLessThanOrEqual(1.5);
    // A short poll every 2 s fetches many messages at once.
    const polling = byTransport('polling').server.requestsPerDelivery;
    expect(polling).toBeGreaterThan(0);
    expect(polling).toBeLessThan(0.5);
    // Clients of the HTTP transports send requests; WebSocket clients send next to nothing.
    expect(byTransport('long-polling').server.clientBytesPerDelivery).toBeGreaterThan(50);
  });

  it('writes one self-contained HTML report: script, style and data inlined, no URL to fetch', () => {
    const page = readFileSync(html, 'utf8');
    const script = readFileSync(path.join(ROOT, 'dist/pages/bench-report.js'), 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain(script.slice(0, 200));
    expect(page).toContain('<script type="application/json" id="bench-data">');
    expect(page).toContain('.uplot'); // uPlot's CSS, inlined with the page's
    expect(page.match(/<tr data-transport=/g)).toHaveLength(4);
    expect(page).not.toMatch(/\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(page).not.toMatch(/@import|url\(\s*["']?https?:/i);
    const data = /<script type="application\/json" id="bench-data">(.*?)<\/script>/s.exec(page);
    expect(JSON.parse(data![1]!)).toEqual(report);
  });

  it('leaves no hub process behind', () => {
    expect(processesMarked(mark)).toEqual([]);
  });
});

describe('tidewire bench options', () => {
  it.each([
    [
      ['--clients', '0'],
      /option '--clients <n>' argument '0' is invalid\. expected an integer from 1/,
    ],
    [['--rate', 'abc'], /option '--rate <msgs\/s>' argument 'abc' is invalid\. expected a number/],
    [['--transports', 'websocket,ajax'], /unknown "ajax": expected a comma-separated list/],
    [['--size', '10'], /option '--size <bytes>' argument '10' is invalid/],
    [
      ['--rate', '0.1', '--duration', '2'],
      /^error: --rate 0\.1 for --duration 2 publishes no message/,
    ],
    [
      ['--out', '/nonexistent/r.html'],
      /^error: cannot write \/nonexistent\/r\.html: \/nonexistent is not/,
    ],
  ])('refuses %j with exit code 1 and a clear message, no stack', async (args, message) => {
    const run = await start(args).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.stdout).toBe('');
  });

  it('lists its options in --help', async () => {
    const run = await start(['--help']).done;
    expect(run.code).toBe(0);
    for (const flag of [
      '--clients',
      '--rate',
      '--duration',
      '--size',
      '--transports',
      '--poll-interval',
      '--quick',
      '--out',
      '--json',
    ]) {
      expect(run.stdout).toContain(flag);
    }
  });
});

describe('tidewire bench, killed', () => {
  it('takes its hub process with it', async () => {
    const mark = randomUUID();
    const bench = start(['--transports', 'websocket', '--clients', '5', '--duration', '60'], mark);
    await waitFor(() => bench.stderr().includes('publishing'), 20_000, 'the bench to publish');
    expect(processesMarked(mark).length).toBeGreaterThanOrEqual(2); // the bench and its hub
    bench.child.kill('SIGKILL');
    await waitFor(() => processesMarked(mark).length === 0, 5000, 'the hub process to exit');
  }, 30_000);
});
