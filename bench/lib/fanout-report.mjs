/**
 * The fan-out report: each figure the median over the rounds, ratios against each group's
 * reference row, the targets of the issue with their verdicts, as Markdown (and JSON).
 */

const KIB = 1024;

/** Median of the defined numbers among `values`, or undefined. */
export function median(values) {
  const sorted = values
    .filter((v) => typeof v === 'number' && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The median of `pick(run)` over a server's runs. */
function figure(report, name, pick) {
  return median(
    (report.runs[name] ?? []).map((run) => {
      try {
        return pick(run);
      } catch {
        return undefined;
      }
    }),
  );
}

const fixed = (digits) => (value) => (value === undefined ? '–' : value.toFixed(digits));
const thousands = (value) =>
  value === undefined ? '–' : Math.round(value).toLocaleString('en-US');
const ratio = (value, reference) =>
  value === undefined || !reference ? '' : ` (${(value / reference).toFixed(2)}×)`;

function table(header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function groupRows(report, group, columns) {
  const servers = report.servers.filter((s) => s.group === group && report.runs[s.name]?.length);
  const reference = servers.find((s) => s.reference);
  return servers.map((server) => [
    server.reference ? `**${server.label}** (reference)` : server.label,
    ...columns.map(({ pick, format, hasRatio }) => {
      const value = figure(report, server.name, pick);
      const base = hasRatio && reference ? figure(report, reference.name, pick) : undefined;
      return `${format(value)}${hasRatio ? ratio(value, base) : ''}`;
    }),
  ]);
}

/** The targets of the issue, each with the measured ratio and a verdict. */
export function targets(report) {
  const f = (name, pick) => figure(report, name, pick);
  const rate = (phase) => (run) => run.phases[phase].deliveriesPerSecond;
  const perCpu = (phase) => (run) => run.phases[phase].deliveries / run.phases[phase].cpuSeconds;
  const p99 = (run) => run.phases.latency.latencyMs.p99;
  const marginalPerConnection = (run) => run.idle.marginalPerConnection;
  const { small, large } = report.options;
  // Throughput targets two ways: deliveries/s, which caps where the load generator saturates
  // (about 200 000 a second), and deliveries per server CPU-second, which does not.
  const throughput = [
    ['WebSocket', 'tidewire-ws', 'ws-framed-once', 1.0, ['small', 'large']],
    ['WebSocket', 'tidewire-ws', 'socketio', 1.5, ['small']],
    ['SSE', 'tidewire-sse', 'better-sse', 1.5, ['small', 'large']],
    ['SSE', 'tidewire-sse', 'express-sse', 2.0, ['small']],
  ];
  const list = [];
  for (const [measure, pick] of [
    ['deliveries/s', rate],
    ['deliveries per server CPU-second', perCpu],
  ]) {
    for (const [transport, subject, peer, bound, phases] of throughput) {
      for (const phase of phases) {
        const to = phase === 'small' ? small : large;
        list.push([
          `${transport} fan-out to ${to}, ${measure}`,
          subject,
          peer,
          pick(phase),
          '≥',
          bound,
        ]);
      }
    }
  }
  list.push(
    ['WebSocket latency p99 at 10/s', 'tidewire-ws', 'ws', p99, '≤', 1.1],
    [
      'memory per idle WebSocket (marginal RSS)',
      'tidewire-ws',
      'ws',
      marginalPerConnection,
      '≤',
      1.2,
    ],
    [
      'memory per idle SSE stream (marginal RSS)',
      'tidewire-sse',
      'better-sse',
      marginalPerConnection,
      '≤',
      0.75,
    ],
  );
  const rows = list.map(([what, subject, peer, pick, sense, bound]) => {
    const value = f(subject, pick);
    const base = f(peer, pick);
    const measured = value !== undefined && base ? value / base : undefined;
    const met =
      measured === undefined ? undefined : sense === '≥' ? measured >= bound : measured <= bound;
    return { what, against: peer, target: `${sense} ${bound}×`, measured, met };
  });
  const pollCpu = f('tidewire-long-poll', (run) => run.idle.cpuPercent);
  rows.push({
    what: 'idle long polls, % of one core',
    against: '',
    target: '< 5 %',
    measured: pollCpu,
    met: pollCpu === undefined ? undefined : pollCpu < 5,
    isPercent: true,
  });
  return rows;
}

export function toFanoutMarkdown(report) {
  const o = report.options;
  const { machine } = report;
  const perConnection = (key) => (run) => run.idle[key] / KIB;
  const sections = [
    `# Fan-out: tidewire against ws, Socket.IO, better-sse, express-sse and Nchan`,
    `${report.date.slice(0, 10)} · \`${report.command}\` · ${report.minutes.toFixed(1)} min · ` +
      `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`,
    `Each server alone on CPU 0, the subscribers on CPU 1 (${report.isPinned ? 'taskset' : '**not pinned**: taskset failed'}). ` +
      `Every figure is the median of ${o.rounds} round${o.rounds === 1 ? '' : 's'}; ratios (×) are against the group's reference row, measured in the same run. ` +
      `Payloads of ${o.size} bytes; deliveries/s counts from the first message's publish to the last delivery.`,
  ];
  const fanOutColumns = [
    { pick: (r) => r.phases.small.deliveriesPerSecond, format: thousands, hasRatio: true },
    { pick: (r) => r.phases.large.deliveriesPerSecond, format: thousands, hasRatio: true },
    { pick: (r) => r.phases.burst.deliveriesPerSecond, format: thousands, hasRatio: true },
    {
      pick: (r) =>
        r.phases.small.cpuSeconds + r.phases.large.cpuSeconds + r.phases.burst.cpuSeconds,
      format: fixed(1),
      hasRatio: false,
    },
    {
      pick: (r) => Object.values(r.phases).reduce((n, p) => n + p.lost + p.duplicates, 0),
      format: thousands,
      hasRatio: false,
    },
  ];
  const fanOutHeader = [
    'server',
    `${o.small}×${o.smallMessages} @ ${o.smallRate}/s`,
    `${o.large}×${o.largeMessages} @ ${o.largeRate}/s`,
    `burst ${o.small}×${o.burstMessages}`,
    'server CPU s',
    'lost + dup',
  ];
  const efficiency = (phase) => ({
    pick: (r) => r.phases[phase].deliveries / r.phases[phase].cpuSeconds,
    format: thousands,
    hasRatio: true,
  });
  const efficiencyColumns = [efficiency('small'), efficiency('large'), efficiency('burst')];
  const efficiencyHeader = fanOutHeader.slice(0, 4);
  const latencyColumns = ['p50', 'p95', 'p99', 'max'].map((p) => ({
    pick: (r) => r.phases.latency.latencyMs[p],
    format: fixed(2),
    hasRatio: p === 'p99',
  }));
  const memoryColumns = [
    { pick: (r) => r.connect.large.ms / 1000, format: fixed(1), hasRatio: false },
    { pick: perConnection('rssPerConnection'), format: fixed(1), hasRatio: true },
    { pick: perConnection('marginalPerConnection'), format: fixed(1), hasRatio: true },
    { pick: perConnection('heapPerConnection'), format: fixed(1), hasRatio: false },
    { pick: (r) => r.idle.cpuPercent, format: fixed(2), hasRatio: false },
  ];
  const memoryHeader = [
    'server',
    `connect ${o.large} (s)`,
    'RSS KiB/conn',
    'marginal KiB/conn',
    'heap KiB/conn',
    'idle CPU %',
  ];
  for (const [group, title] of [
    ['websocket', 'WebSocket'],
    ['sse', 'Server-Sent Events'],
  ]) {
    sections.push(`## ${title}`);
    sections.push(
      `Deliveries per second:\n\n${table(fanOutHeader, groupRows(report, group, fanOutColumns))}`,
    );
    sections.push(
      'Deliveries per second of server CPU (what one core of server does when the load ' +
        'generator, not the server, is what saturates: past about 200 000 deliveries/s):\n\n' +
        table(efficiencyHeader, groupRows(report, group, efficiencyColumns)),
    );
    sections.push(
      `Latency below saturation, ${o.small} subscribers at ${o.latencyRate}/s (ms):\n\n` +
        table(['server', 'p50', 'p95', 'p99', 'max'], groupRows(report, group, latencyColumns)),
    );
    sections.push(
      `${o.large} idle subscribers:\n\n${table(memoryHeader, groupRows(report, group, memoryColumns))}`,
    );
  }
  sections.push(`## Long polling`);
  sections.push(
    `${o.small} long polls held 25 s, idle for ${o.pollIdleSeconds} s:\n\n` +
      table(
        ['server', 'CPU % of one core', 'RSS KiB/conn', 'heap KiB/conn'],
        groupRows(report, 'long-polling', [
          { pick: (r) => r.idle.cpuPercent, format: fixed(2), hasRatio: false },
          { pick: perConnection('rssPerConnection'), format: fixed(1), hasRatio: false },
          { pick: perConnection('heapPerConnection'), format: fixed(1), hasRatio: false },
        ]),
      ),
  );
  sections.push(`## Targets`);
  sections.push(
    table(
      ['target', 'against', 'bound', 'measured', ''],
      targets(report).map((t) => [
        t.what,
        t.against,
        t.target,
        t.measured === undefined
          ? '–'
          : t.isPercent
            ? `${t.measured.toFixed(2)} %`
            : `${t.measured.toFixed(2)}×`,
        t.met === undefined ? 'not run' : t.met ? 'met' : '**missed**',
      ]),
    ),
  );
  const skipped = Object.entries(report.unavailable);
  if (skipped.length) {
    sections.push(`Not run: ${skipped.map(([name, why]) => `${name} (${why})`).join('; ')}.`);
  }
  return `${sections.join('\n\n')}\n`;
}
