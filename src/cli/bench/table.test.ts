import { describe, expect, it } from 'vitest';
import { fakeReport, fakeResult } from './fixtures.test-util.js';
import { COLUMNS, describeRun, markdownTable } from './table.js';

describe('markdownTable', () => {
  const results = [fakeResult('websocket'), fakeResult('long-polling', 20)];
  const lines = markdownTable(results).split('\n');

  it('has a header, a rule and a row per transport, all of one width', () => {
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^\| websocket +\| 40000\/40000 \|/);
    expect(lines[3]).toMatch(/^\| long-polling \|/);
    expect(new Set(lines.map((line) => line.length)).size).toBe(1);
  });

  it('aligns numbers right, in Markdown and in the terminal', () => {
    const rule = lines[1]!.split('|').slice(1, -1);
    expect(rule[0]).toMatch(/^ -+ $/);
    expect(rule.slice(1).every((cell) => /^ -+: $/.test(cell))).toBe(true);
    expect(lines[2]).toContain('|  0.900 |'); // p50 of 0.9 ms, padded on the left
  });

  it('formats each figure to a readable precision', () => {
    const cells = lines[3]!
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    const cell = (header: string) => cells[COLUMNS.findIndex((c) => c.header === header)];
    expect(cell('deliveries/s')).toBe('3996');
    expect(cell('p50 ms')).toBe('18.0');
    expect(cell('p95 ms')).toBe('46.9');
    expect(cell('max ms')).toBe('2800');
    expect(cell('requests/msg')).toBe('0.000');
    expect(cell('RSS KiB/conn')).toBe('10.4');
  });
});

describe('describeRun', () => {
  it('says what ran on what', () => {
    expect(describeRun(fakeReport([fakeResult('sse')]))).toBe(
      '200 clients per transport, 20 msg/s for 10 s (200 messages of 256 bytes), short polls ' +
        'every 2000 ms; AMD EPYC, 2 cores, Node v20.20.2, load average 0.50 at start.',
    );
  });
});
