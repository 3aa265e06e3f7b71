/**
 * Options of `bench/fanout.mjs`. `--quick` changes the defaults only (a smoke run of about a
 * minute), so `--quick --rounds 2` still means two rounds.
 */
import { parseArgs } from 'node:util';
import { SERVERS } from './servers.mjs';

const DEFAULTS = {
  rounds: 3,
  large: 5000,
  largeMessages: 100,
  largeRate: 50,
  small: 2000,
  smallMessages: 200,
  smallRate: 100,
  latencyMessages: 60,
  latencyRate: 10,
  burstMessages: 500,
  size: 100,
  pollIdleSeconds: 30,
};
const QUICK = {
  ...DEFAULTS,
  rounds: 1,
  large: 1000,
  largeMessages: 40,
  small: 400,
  smallMessages: 50,
  latencyMessages: 20,
  burstMessages: 100,
  pollIdleSeconds: 4,
};

const NUMERIC = {
  rounds: 'rounds; each figure is the median over them',
  large: 'subscribers of the idle-memory and large fan-out scenario',
  largeMessages: 'messages of the large fan-out',
  largeRate: 'publishes per second of the large fan-out',
  small: 'subscribers of the latency, fan-out and burst scenarios',
  smallMessages: 'messages of the fan-out',
  smallRate: 'publishes per second of the fan-out',
  latencyMessages: 'messages of the latency run (below saturation)',
  latencyRate: 'publishes per second of the latency run',
  burstMessages: 'messages of the burst (published as fast as the server takes them)',
  size: 'bytes of each payload',
  pollIdleSeconds: 'seconds over which idle long polls are measured',
};

const flagOf = (key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const line = (name, text) => (`  ${name}`.padEnd(30) + text).trimEnd();

export const USAGE = `Usage: npm run bench -- [options]   (or: node bench/fanout.mjs [options] after npm run build)

Fan-out of tidewire against raw ws, Socket.IO, better-sse, express-sse and Nchan: each server
alone on CPU 0, the subscribers on CPU 1, every scenario in the same run.

Options:
${[
  ...Object.entries(NUMERIC).map(([key, what]) =>
    line(`--${flagOf(key)} N`, `${what} (default ${DEFAULTS[key]})`),
  ),
  line('--servers LIST', `comma-separated, of ${SERVERS.map(({ name }) => name).join(', ')}`),
  line('--out DIR', 'where the report goes, default bench/results'),
  line('--no-save', 'print the report only'),
  line('--quick', 'a smoke run of about a minute per round: fewer subscribers and messages'),
  line('-h, --help', ''),
].join('\n')}`;

export function readFanoutOptions(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(NUMERIC).map((key) => [flagOf(key), { type: 'string' }])),
      servers: { type: 'string' },
      out: { type: 'string' },
      'no-save': { type: 'boolean' },
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { help: true };
  const base = values.quick ? QUICK : DEFAULTS;
  const options = { quick: Boolean(values.quick) };
  for (const key of Object.keys(NUMERIC)) {
    const text = values[flagOf(key)];
    const value = text === undefined ? base[key] : Number(text);
    if (!Number.isInteger(value) || value < 1) {
      throw new TypeError(
        `--${flagOf(key)} must be a positive integer, got ${JSON.stringify(text)}`,
      );
    }
    options[key] = value;
  }
  const names =
    values.servers?.split(',').map((name) => name.trim()) ?? SERVERS.map(({ name }) => name);
  for (const name of names) {
    if (!SERVERS.some((server) => server.name === name)) {
      throw new TypeError(
        `unknown server ${JSON.stringify(name)}; known: ${SERVERS.map((s) => s.name).join(', ')}`,
      );
    }
  }
  options.servers = SERVERS.filter(({ name }) => names.includes(name));
  options.out = values.out ?? fileUrlPath('../results');
  options.save = !values['no-save'];
  return options;
}

function fileUrlPath(relative) {
  return new URL(relative, import.meta.url).pathname;
}
