/**
 * Command-line and environment options of `bench/broker.mjs`. A flag wins over its variable,
 * which wins over the default; `--quick` changes the defaults only, so `--quick
 * --subscribers 500` still means 500.
 */
import { parseArgs } from 'node:util';

/** Scenario names, in the order they run and appear in the report. */
export const SCENARIO_NAMES = ['memory', 'redis-2-nodes', 'redis-1-node'];

// Default: about a minute for the three scenarios on two cores (200 subscribers; 5 s of
// paced publishing and a few seconds of flood each). `--quick` is a smoke run of seconds.
const DEFAULTS = {
  subscribers: 200,
  messages: 1000,
  rate: 200,
  throughputMessages: 10_000,
  inFlight: 64,
  payload: 100,
};
const QUICK = {
  subscribers: 50,
  messages: 200,
  rate: 200,
  throughputMessages: 2000,
  inFlight: 64,
  payload: 100,
};

// Per-subscriber, per-message state lives in the subscriber process (a seen-flag byte and a
// latency sample of 8 bytes): bound it so that a typo cannot ask for gigabytes.
const MAX_DELIVERIES_PER_PHASE = 20_000_000;

const NUMERIC = {
  subscribers: { flag: 'subscribers', env: 'BENCH_SUBSCRIBERS', what: 'WebSocket subscribers' },
  messages: { flag: 'messages', env: 'BENCH_MESSAGES', what: 'messages of the latency run' },
  rate: { flag: 'rate', env: 'BENCH_RATE', what: 'publishes per second of the latency run' },
  throughputMessages: {
    flag: 'throughput-messages',
    env: 'BENCH_THROUGHPUT_MESSAGES',
    what: 'messages of the throughput run',
  },
  inFlight: {
    flag: 'in-flight',
    env: 'BENCH_IN_FLIGHT',
    what: 'publishes awaiting the broker at once in the throughput run',
  },
  payload: { flag: 'payload', env: 'BENCH_PAYLOAD', what: 'bytes of padding in each message' },
};

const option = (name, text) => (`  ${name}`.padEnd(28) + text).trimEnd();

export const USAGE = `Usage: npm run bench:broker -- [options]   (or: node bench/broker.mjs [options] after npm run build)

Publish-to-deliver latency and throughput of the hub on the in-memory broker and on Redis
(one real redis-server on 127.0.0.1, started and stopped by the bench).

Options (environment variable in brackets):
${[
  ...Object.values(NUMERIC).map(({ flag, env, what }) => option(`--${flag} N`, `${what} [${env}]`)),
  option('--scenarios LIST', `comma-separated, of ${SCENARIO_NAMES.join(', ')} [BENCH_SCENARIOS]`),
  option('--out DIR', 'where the report goes, default bench/results [BENCH_OUT]'),
  option('--no-save', 'print the report only'),
  option(
    '--quick',
    `smaller defaults: ${QUICK.subscribers} subscribers, ${QUICK.messages} + ${QUICK.throughputMessages} messages [BENCH_QUICK=1]`,
  ),
  option('-h, --help', ''),
].join('\n')}

Defaults: ${DEFAULTS.subscribers} subscribers, ${DEFAULTS.messages} messages at ${DEFAULTS.rate}/s, ${DEFAULTS.throughputMessages} messages with ${DEFAULTS.inFlight} in flight, ${DEFAULTS.payload} bytes of padding.`;

/**
 * Reads the options from `argv` and `env`. Throws a `TypeError` that says what was expected
 * on a bad value.
 */
export function readOptions(argv = process.argv.slice(2), env = process.env) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.values(NUMERIC).map(({ flag }) => [flag, { type: 'string' }])),
      scenarios: { type: 'string' },
      out: { type: 'string' },
      'no-save': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: env.BENCH_QUICK === '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const base = values.quick ? QUICK : DEFAULTS;
  const options = {
    quick: values.quick,
    help: values.help,
    save: !values['no-save'],
    out: values.out ?? env.BENCH_OUT ?? 'bench/results',
    scenarios: readScenarios(values.scenarios ?? env.BENCH_SCENARIOS),
  };
  for (const [key, { flag, env: name }] of Object.entries(NUMERIC)) {
    const text = values[flag] ?? env[name];
    options[key] = text === undefined ? base[key] : readCount(`--${flag}`, text, key === 'payload');
  }
  for (const messages of [options.messages, options.throughputMessages]) {
    if (options.subscribers * messages > MAX_DELIVERIES_PER_PHASE) {
      throw new TypeError(
        `${options.subscribers} subscribers × ${messages} messages is more than ` +
          `${MAX_DELIVERIES_PER_PHASE} deliveries in one run; lower one of them`,
      );
    }
  }
  return options;
}

function readCount(flag, text, allowZero) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    const least = allowZero ? 'a whole number' : 'a positive whole number';
    throw new TypeError(`${flag} must be ${least}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function readScenarios(text) {
  if (text === undefined) return [...SCENARIO_NAMES];
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !SCENARIO_NAMES.includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new TypeError(
      `--scenarios takes a comma-separated list of ${SCENARIO_NAMES.join(', ')}; got ${JSON.stringify(text)}`,
    );
  }
  // The report's order, whatever order they were given in.
  return SCENARIO_NAMES.filter((name) => names.includes(name));
}
