/**
 * The report: one Markdown document (printed, and saved as `broker-<date>.md`) and its JSON
 * twin with every figure, for whoever compares runs later.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Above this much CPU (% of one core) used by others in a phase, the report warns. */
const BUSY_NEIGHBOUR_PERCENT = 25;

/** Which delivery faults a phase may show; each must be 0. */
const FAULTS = [
  ['lost', 'lost'],
  ['publishErrors', 'publish errors'],
  ['duplicates', 'duplicates'],
  ['outOfOrder', 'out of order'],
  ['gaps', 'gap frames'],
  ['unexpectedCloses', 'sockets closed'],
  ['errorFrames', 'error frames'],
];

/** Every fault of every phase as `"<scenario>, <phase>: 3 lost"` lines; empty when clean. */
export function listFaults(report) {
  const lines = [];
  for (const scenario of report.scenarios) {
    for (const phase of ['warmup', 'latency', 'throughput']) {
      for (const [key, label] of FAULTS) {
        const count = scenario[phase][key];
        if (count) lines.push(`${scenario.label}, ${phase}: ${count} ${label}`);
      }
    }
    const bareErrors = scenario.throughput.publishOnly.publishErrors;
    if (bareErrors) lines.push(`${scenario.label}, publish only: ${bareErrors} publish errors`);
  }
  return lines;
}

/** The report as Markdown. */
export function toMarkdown(report) {
  const { options, machine, scenarios } = report;
  const memory = scenarios.find((s) => s.name === 'memory');
  const redis = scenarios.filter((s) => s.name !== 'memory');
  const columns = scenarios.flatMap((s) =>
    s !== memory && memory ? [s.label, '÷ memory'] : [s.label],
  );
  const row = (label, pick, format, withRatio = true) =>
    [
      label,
      ...scenarios.flatMap((s) => {
        const cell = format(pick(s));
        if (s === memory || !memory) return [cell];
        return [cell, withRatio ? ratio(pick(s), pick(memory)) : ''];
      }),
    ].join(' | ');
  const table = (rows) =>
    [
      `| | ${columns.join(' | ')} |`,
      `| --- |${columns.map(() => ' ---: |').join('')}`,
      ...rows.map((line) => `| ${line} |`),
    ].join('\n');
  const latency = (key) => (s) => s.latency.latencyMs[key];
  const usage = (phase) => (s) => s[phase].usage;

  const faults = listFaults(report);
  const busiest = Math.max(
    0,
    ...scenarios.flatMap((s) =>
      [s.latency.usage, s.throughput.usage].map((u) => u.otherCpuPercent ?? 0),
    ),
  );
  return `# Broker benchmark: in-memory vs Redis

${report.date} · \`${report.command}\`
${
  busiest > BUSY_NEIGHBOUR_PERCENT
    ? `\n**Other work ran on this machine meanwhile** (up to ${whole(busiest)} % of a core in one phase, column
"others"): the figures are noisier than a quiet machine's.\n`
    : ''
}
Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB · ${machine.os} ·
Node ${machine.node} · ${machine.redis ? `redis-server ${machine.redis}` : 'no redis-server'}

${options.subscribers} WebSocket subscribers (\`ws\`, raw frames) on one channel, in a process of their own; the hub nodes
run in the bench's process and publish with \`hub.publish()\`; everything on 127.0.0.1. Each message carries
${options.payload} bytes of padding. Latency runs from the \`hub.publish()\` call to the frame's arrival at a
subscriber (before its JSON parse), on one monotonic clock, over every delivery.

${[
  ...scenarios.map((s) => `- **${s.label}**: ${s.describe}`),
  ...report.skipped.map((s) => `- **${s.label}**: not run: ${s.reason}`),
].join('\n')}

## Latency: ${count(options.messages)} messages at ${options.rate}/s

${table([
  row('p50 (ms)', latency('p50'), ms),
  row('p95 (ms)', latency('p95'), ms),
  row('p99 (ms)', latency('p99'), ms),
  row('max (ms)', latency('max'), ms),
  row('deliveries', (s) => s.latency.deliveries, count, false),
  row('lost', (s) => s.latency.lost, count, false),
  row('CPU % hub / subscribers / redis / softirq / others', usage('latency'), cpu, false),
])}

## Throughput: ${count(options.throughputMessages)} messages, ${options.inFlight} publishes in flight

${table([
  row('publishes/s', (s) => s.throughput.publishesPerSecond, count),
  row('publishes/s, no subscriber', (s) => s.throughput.publishOnly.publishesPerSecond, count),
  row('deliveries/s', (s) => s.throughput.deliveriesPerSecond, count),
  row('lost', (s) => s.throughput.lost, count, false),
  row('latency p50 / p99 under load (ms)', (s) => s.throughput.latencyMs, pair, false),
  row('CPU % hub / subscribers / redis / softirq / others', usage('throughput'), cpu, false),
  row('hub event loop busy %', (s) => s.throughput.usage.hubEventLoopPercent, whole, false),
  ...(redis.length > 0
    ? [
        row('redis CPU µs per publish', (s) => s.throughput.usage.redisCpuMicrosPerPublish, us),
        row(
          'redis CPU µs per publish, no subscriber',
          (s) => s.throughput.publishOnly.usage.redisCpuMicrosPerPublish,
          us,
        ),
        row(
          'µs inside Lua per script call',
          (s) => s.throughput.usage.redisMicrosPerScriptCall,
          us,
        ),
      ]
    : []),
])}

${
  faults.length === 0
    ? 'No delivery faults: no loss, duplicate, reordering, gap, error frame or closed socket in any phase.'
    : `**Delivery faults** (each must be 0):\n\n${faults.map((line) => `- ${line}`).join('\n')}`
}

"÷ memory" is the Redis figure over the in-memory one. CPU is in % of one core over the phase:
the bench's process (the hubs), the subscriber process, redis-server, the kernel's interrupt work
(loopback TCP, charged to no process) and other processes. Figures taken next to a busy neighbour
are not comparable.
`;
}

/** Writes `<name>-<date>.md` and `.json` into `dir`; returns their paths. */
export function saveReport(report, markdown, dir, name = 'broker') {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${name}-${report.date.slice(0, 10)}`);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  return [`${base}.md`, `${base}.json`];
}

function ratio(value, reference) {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return '–';
  return `×${(value / reference).toFixed(2)}`;
}

function ms(value) {
  if (value === undefined) return '–';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function us(value) {
  return value === undefined ? '–' : value.toFixed(1);
}

function whole(value) {
  return value === undefined ? '–' : value.toFixed(0);
}

function count(value) {
  return value === undefined ? '–' : Math.round(value).toLocaleString('en-US');
}

function pair(summary) {
  return `${ms(summary.p50)} / ${ms(summary.p99)}`;
}

function cpu(usage) {
  const parts = [usage.hubCpuPercent, usage.subscriberCpuPercent, usage.redisCpuPercent];
  return [...parts, usage.softirqCpuPercent, usage.otherCpuPercent].map(whole).join(' / ');
}
