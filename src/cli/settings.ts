/**
 * Every setting of `tidewire serve`, in one table: its flag, its environment variable, its
 * config-file key (the table's key), its default and how its value is read. The flags,
 * `--help`, the config loader and README's table all come from here, so they cannot disagree.
 *
 * @module
 */
import { InvalidArgumentError } from 'commander';
import { DEFAULT_HISTORY } from '../core/broker.js';
import { DEFAULTS } from '../server/options.js';

/** How one setting is given and read. */
export interface Setting<T> {
  /** Commander's flags (`-p, --port <port>`); a toggle (`--demo`) also gets `--no-demo`. */
  readonly flags: string;
  /** `TIDEWIRE_` and the flag in upper snake case (one exception: `TIDEWIRE_REDIS_URL`). */
  readonly env: string;
  readonly help: string;
  readonly default: T;
  /** The default as `--help` and README show it. */
  readonly shownDefault: string;
  /** Never logged, never echoed in an error. */
  readonly isSecret: boolean;
  readonly kind: 'value' | 'toggle' | 'list';
  /** Reads a flag's argument or an environment variable; throws `InvalidArgumentError`. */
  fromText(text: string): T;
  /** Reads a config-file value; throws `InvalidArgumentError`. */
  fromJson(value: unknown): T;
}

interface Base {
  readonly env?: string;
  /** A one-letter flag too: `-p`. */
  readonly short?: string;
  readonly help: string;
  readonly isSecret?: boolean;
}

/** Log levels of pino, quietest last. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// `--flag` names and `TIDEWIRE_*` names come from the config key.
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (key: string) => `TIDEWIRE_${kebab(key).replace(/-/g, '_').toUpperCase()}`;
const short = (base: Base) => (base.short ? `${base.short}, ` : '');

function integer(
  key: string,
  base: Base & { min: number; max?: number; placeholder: string; shownDefault?: string },
): (defaultValue: number) => Setting<number> {
  const { min, max = Number.MAX_SAFE_INTEGER } = base;
  const rule =
    max === Number.MAX_SAFE_INTEGER
      ? `an integer of at least ${min}`
      : `an integer from ${min} to ${max}`;
  const check = (value: number): number => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${key} must be ${rule}`);
    }
    return value;
  };
  return (defaultValue) => ({
    flags: `${short(base)}--${kebab(key)} <${base.placeholder}>`,
    env: base.env ?? envName(key),
    help: base.help,
    default: defaultValue,
    shownDefault: base.shownDefault ?? String(defaultValue),
    isSecret: false,
    kind: 'value',
    // Number('') is 0 and Number('1e3') is 1000: only plain digits are integers here.
    fromText: (text) => check(/^\s*-?\d+\s*$/.test(text) ? Number(text) : NaN),
    fromJson: (value) => check(typeof value === 'number' ? value : NaN),
  });
}

/** An integer setting that is off unless given. */
function optionalInteger(
  key: string,
  base: Base & { min: number; placeholder: string; shownDefault: string },
): Setting<number | undefined> {
  const inner = integer(key, base)(0);
  return { ...inner, default: undefined, shownDefault: base.shownDefault };
}

function text(
  key: string,
  base: Base & { placeholder: string; check?: (value: string) => void },
): <D extends string | undefined>(defaultValue: D) => Setting<string | D> {
  const check = (value: string): string => {
    if (value.trim() === '') throw new InvalidArgumentError(`${key} must not be empty`);
    base.check?.(value);
    return value;
  };
  return <D extends string | undefined>(defaultValue: D): Setting<string | D> => ({
    flags: `${short(base)}--${kebab(key)} <${base.placeholder}>`,
    env: base.env ?? envName(key),
    help: base.help,
    default: defaultValue,
    shownDefault: defaultValue === undefined ? 'none' : defaultValue,
    isSecret: base.isSecret ?? false,
    kind: 'value',
    fromText: check,
    fromJson: (value) => {
      if (typeof value !== 'string') throw new InvalidArgumentError(`${key} must be a string`);
      return check(value);
    },
  });
}

function toggle(key: string, base: Base, defaultValue: boolean): Setting<boolean> {
  const fromText = (value: string): boolean => {
    const lower = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(lower)) return true;
    if (['false', '0', 'no', 'off'].includes(lower)) return false;
    throw new InvalidArgumentError(`${key} must be true or false`);
  };
  return {
    flags: `--${kebab(key)}`,
    env: base.env ?? envName(key),
    help: base.help,
    default: defaultValue,
    shownDefault: String(defaultValue),
    isSecret: false,
    kind: 'toggle',
    fromText,
    fromJson: (value) => {
      if (typeof value !== 'boolean')
        throw new InvalidArgumentError(`${key} must be true or false`);
      return value;
    },
  };
}

/** `--origin` is repeatable and comma-separated; `*` allows any origin (SPEC.md § Security). */
function originList(key: string, base: Base): Setting<string[]> {
  const fromText = (value: string): string[] =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((origin) => checkOrigin(key, origin));
  return {
    flags: `--${kebab(key)} <origins>`,
    env: base.env ?? envName(key),
    help: base.help,
    default: [],
    shownDefault: 'none',
    isSecret: false,
    kind: 'list',
    fromText,
    fromJson: (value) => {
      if (typeof value === 'string') return fromText(value);
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
        throw new InvalidArgumentError(`${key} must be an array of origins or a string`);
      }
      return value.flatMap(fromText);
    },
  };
}

function checkOrigin(key: string, origin: string): string {
  if (origin === '*') return origin;
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    url = undefined;
  }
  // As the hub checks `origins`: scheme://host[:port], nothing more.
  const isOrigin =
    url !== undefined &&
    url.origin !== 'null' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '' &&
    url.username === '';
  if (!isOrigin) {
    throw new InvalidArgumentError(
      `${key}: "${origin}" is not an origin such as https://app.example.com (scheme://host[:port])`,
    );
  }
  return origin;
}

function checkRedisUrl(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:')) {
    throw new InvalidArgumentError(
      'not a Redis URL (expected redis://[user:password@]host:port or rediss://…)',
    );
  }
}

function logLevel(key: string, base: Base): Setting<LogLevel> {
  const check = (value: unknown): LogLevel => {
    const level = LOG_LEVELS.find((name) => name === value);
    if (!level) throw new InvalidArgumentError(`${key} must be one of ${LOG_LEVELS.join(', ')}`);
    return level;
  };
  return {
    flags: `--${kebab(key)} <level>`,
    env: base.env ?? envName(key),
    help: base.help,
    default: 'info',
    shownDefault: 'info',
    isSecret: false,
    kind: 'value',
    fromText: (value) => check(value.trim().toLowerCase()),
    fromJson: check,
  };
}

const limits = DEFAULTS.limits;

/** Every setting, by its config-file key, in the order of `--help` and README. */
export const SETTINGS = {
  port: integer('port', {
    min: 0,
    max: 65_535,
    placeholder: 'port',
    short: '-p',
    help: 'port to listen on (0 picks a free one)',
  })(8080),
  host: text('host', { placeholder: 'host', short: '-H', help: 'address to listen on' })(
    '127.0.0.1',
  ),
  basePath: text('basePath', { placeholder: 'path', help: 'path prefix of the endpoints' })(
    DEFAULTS.basePath,
  ),
  publishToken: text('publishToken', {
    placeholder: 'token',
    isSecret: true,
    help: 'bearer token that POST /rt/publish/:channel requires',
  })(undefined),
  redis: text('redis', {
    placeholder: 'url',
    env: 'TIDEWIRE_REDIS_URL',
    isSecret: true,
    check: checkRedisUrl,
    help: 'run as one node of many on this Redis (redis://[user:password@]host:port)',
  })(undefined),
  redisPrefix: text('redisPrefix', {
    placeholder: 'prefix',
    help: 'prefix of the Redis keys and channels',
  })('tidewire:'),
  historySize: integer('historySize', {
    min: 1,
    placeholder: 'n',
    help: 'envelopes kept per channel',
  })(DEFAULT_HISTORY.maxCount),
  historyAge: integer('historyAge', {
    min: 1,
    placeholder: 'ms',
    help: 'age of the oldest envelope kept, in ms',
  })(DEFAULT_HISTORY.maxAgeMs),
  drainWindow: integer('drainWindow', {
    min: 0,
    placeholder: 'ms',
    help: 'on SIGTERM/SIGINT, spread closing connections over this many ms',
  })(5000),
  demo: toggle(
    'demo',
    {
      help:
        'publish 10 ticks a second on channel "demo", which the dashboard at / shows (with ' +
        'Redis, give all nodes but one --no-demo)',
    },
    true,
  ),
  origin: originList('origin', {
    help: "origins whose pages may connect (repeatable, comma-separated; '*' allows any)",
  }),
  trustProxy: integer('trustProxy', {
    min: 0,
    placeholder: 'hops',
    help: 'proxies in front whose X-Forwarded-For is trusted for the client address',
  })(0),
  maxMessageBytes: integer('maxMessageBytes', {
    min: 1,
    placeholder: 'bytes',
    help: 'largest WebSocket frame or HTTP body a client may send',
  })(limits.maxMessageBytes),
  maxConnectionsPerIp: integer('maxConnectionsPerIp', {
    min: 1,
    placeholder: 'n',
    help: 'WebSockets, SSE streams and held polls per client address',
  })(limits.maxConnectionsPerIp),
  maxSubscriptions: integer('maxSubscriptions', {
    min: 1,
    placeholder: 'n',
    help: 'channels per connection',
  })(limits.maxSubscriptionsPerConnection),
  idleTimeout: integer('idleTimeout', {
    min: 1,
    placeholder: 'ms',
    help: 'close a WebSocket from which nothing arrived for this long',
  })(limits.idleTimeoutMs),
  maxBufferedBytes: integer('maxBufferedBytes', {
    min: 1,
    placeholder: 'bytes',
    help: 'unread bytes per connection before it is closed as a slow consumer',
  })(limits.maxBufferedBytes),
  rateLimit: integer('rateLimit', {
    min: 1,
    placeholder: 'n',
    help: 'frames per second one WebSocket may send',
  })(limits.maxMessagesPerSecond),
  ipRateLimit: optionalInteger('ipRateLimit', {
    min: 1,
    placeholder: 'n',
    shownDefault: 'off',
    help: 'HTTP requests and upgrades per second per client address',
  }),
  heartbeat: optionalInteger('heartbeat', {
    min: 1,
    placeholder: 'ms',
    shownDefault: `${DEFAULTS.sseHeartbeatMs} (SSE), ${DEFAULTS.wsPingIntervalMs} (WebSocket)`,
    help: 'SSE heartbeat and WebSocket ping interval, in ms',
  }),
  metrics: toggle('metrics', { help: 'answer GET /metrics (Prometheus)' }, true),
  metricsToken: text('metricsToken', {
    placeholder: 'token',
    isSecret: true,
    help: 'bearer token that GET /metrics requires',
  })(undefined),
  logLevel: logLevel('logLevel', { help: `log level: ${LOG_LEVELS.join(', ')}` }),
} satisfies Record<string, Setting<unknown>>;

export type SettingKey = keyof typeof SETTINGS;

/** Every setting's value, once flags, environment, config file and defaults are merged. */
export type ServeConfig = {
  -readonly [K in SettingKey]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;
};

/** The setting keys, in table order (typed: `Object.keys` is `string[]`). */
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

/** The config file's path: `--config` or this variable (it is not a key of the file). */
export const CONFIG_ENV = 'TIDEWIRE_CONFIG';
