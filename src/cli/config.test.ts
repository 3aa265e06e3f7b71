import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigInputs, loadConfig } from './config.js';
import { SETTINGS, SETTING_KEYS } from './settings.js';

/** Loads with an in-memory config file at `tw.json` when `file` is given. */
function load(
  flags: Record<string, unknown> = {},
  env: Record<string, string> = {},
  file?: object | string,
) {
  const inputs: ConfigInputs = {
    flags: file === undefined ? flags : { config: 'tw.json', ...flags },
    env,
    readFile: (path) => {
      if (path !== 'tw.json' || file === undefined) throw new Error(`ENOENT: ${path}`);
      return typeof file === 'string' ? file : JSON.stringify(file);
    },
  };
  return loadConfig(inputs);
}

function refusal(...args: Parameters<typeof load>): string {
  try {
    load(...args);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('loadConfig', () => {
  it('gives every default when nothing is set', () => {
    const { config, sources, file, warnings } = load();
    for (const key of SETTING_KEYS) {
      expect(config[key]).toEqual(SETTINGS[key].default);
      expect(sources[key]).toBe('default');
    }
    expect(config).toMatchObject({ port: 8080, host: '127.0.0.1', demo: true, logLevel: 'info' });
    expect(file).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('takes a flag over the environment, the environment over the file, the file over defaults', () => {
    const { config, sources } = load(
      { port: 1 },
      { TIDEWIRE_PORT: '2', TIDEWIRE_HOST: '0.0.0.0' },
      { port: 3, host: '::1', basePath: '/push', historySize: 9 },
    );
    expect(config).toMatchObject({ port: 1, host: '0.0.0.0', basePath: '/push', historySize: 9 });
    expect(sources).toMatchObject({
      port: 'flag',
      host: 'env',
      basePath: 'file',
      drainWindow: 'default',
    });
  });

  it('reads the file from TIDEWIRE_CONFIG when there is no --config', () => {
    const loaded = loadConfig({
      flags: {},
      env: { TIDEWIRE_CONFIG: 'from-env.json' },
      readFile: () => '{"historyAge": 1000}',
    });
    expect(loaded.file).toBe('from-env.json');
    expect(loaded.config.historyAge).toBe(1000);
  });

  it('treats an empty variable and a null in the file as not set', () => {
    const { config, sources } = load(
      {},
      { TIDEWIRE_REDIS_URL: '', TIDEWIRE_PORT: '' },
      { port: null },
    );
    expect(config.redis).toBeUndefined();
    expect(config.port).toBe(8080);
    expect(sources.port).toBe('default');
  });

  it('reads each kind of value from text and from JSON', () => {
    const fromEnv = load(
      {},
      {
        TIDEWIRE_DEMO: 'false',
        TIDEWIRE_METRICS: '0',
        TIDEWIRE_ORIGIN: 'https://a.example, https://b.example:8443',
        TIDEWIRE_IP_RATE_LIMIT: '50',
        TIDEWIRE_LOG_LEVEL: 'WARN',
        TIDEWIRE_REDIS_URL: 'rediss://user:pw@redis.internal:6380/2',
      },
    ).config;
    expect(fromEnv).toMatchObject({
      demo: false,
      metrics: false,
      origin: ['https://a.example', 'https://b.example:8443'],
      ipRateLimit: 50,
      logLevel: 'warn',
      redis: 'rediss://user:pw@redis.internal:6380/2',
    });
    const fromFile = load({}, {}, { demo: false, origin: ['*'], heartbeat: 5000 }).config;
    expect(fromFile).toMatchObject({ demo: false, origin: ['*'], heartbeat: 5000 });
    expect(load({}, {}, { origin: 'https://a.example,https://b.example' }).config.origin).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
  });

  it('names the key, the file and the rule for a bad value in the file', () => {
    expect(refusal({}, {}, { port: 'eighty' })).toBe(
      'config file tw.json: key "port" = "eighty": port must be an integer from 0 to 65535',
    );
    expect(refusal({}, {}, { port: 70_000 })).toMatch(
      /key "port" = 70000: port must be an integer/,
    );
    expect(refusal({}, {}, { historySize: 1.5 })).toMatch(
      /historySize must be an integer of at least 1/,
    );
    expect(refusal({}, {}, { demo: 'yes' })).toMatch(
      /key "demo" = "yes": demo must be true or false/,
    );
    expect(refusal({}, {}, { origin: [1] })).toMatch(
      /origin must be an array of origins or a string/,
    );
    expect(refusal({}, {}, { origin: 'https://a.example/x' })).toMatch(
      /origin: "https:\/\/a\.example\/x" is not an origin/,
    );
    expect(refusal({}, {}, { logLevel: 'loud' })).toMatch(
      /logLevel must be one of trace, debug, info, warn, error, fatal, silent/,
    );
    expect(refusal({}, {}, { host: '' })).toMatch(/host must not be empty/);
  });

  it('never echoes a secret in a message', () => {
    expect(refusal({}, {}, { publishToken: 12345 })).toBe(
      'config file tw.json: key "publishToken" = [redacted]: publishToken must be a string',
    );
    expect(refusal({}, { TIDEWIRE_REDIS_URL: 'http://user:pw@x' })).toBe(
      'environment variable TIDEWIRE_REDIS_URL=[redacted]: not a Redis URL ' +
        '(expected redis://[user:password@]host:port or rediss://…)',
    );
  });

  it('refuses an unknown key in the file, suggesting the likely one', () => {
    expect(refusal({}, {}, { prot: 1 })).toMatch(
      /^config file tw\.json: unknown key "prot" \(did you mean "port"\?\); known keys: port, host, /,
    );
    expect(refusal({}, {}, { publish_token: 't' })).toMatch(/did you mean "publishToken"/);
    expect(refusal({}, {}, { somethingElse: 1 })).not.toMatch(/did you mean/);
  });

  it('refuses a file that cannot be read or is not a JSON object', () => {
    expect(refusal({ config: 'missing.json' })).toMatch(
      /^config file missing\.json: cannot read it/,
    );
    expect(refusal({}, {}, '{ "port": 1, }')).toMatch(/^config file tw\.json: not valid JSON/);
    expect(refusal({}, {}, '[]')).toBe('config file tw.json: must hold a JSON object of settings');
  });

  it('names the variable and the rule for a bad environment value', () => {
    expect(refusal({}, { TIDEWIRE_PORT: '8080x' })).toBe(
      'environment variable TIDEWIRE_PORT="8080x": port must be an integer from 0 to 65535',
    );
    expect(refusal({}, { TIDEWIRE_DRAIN_WINDOW: '1e3' })).toMatch(/drainWindow must be an integer/);
    expect(refusal({}, { TIDEWIRE_METRICS: 'maybe' })).toMatch(/metrics must be true or false/);
  });

  it('refuses a heartbeat no shorter than the idle timeout, naming both sources', () => {
    expect(refusal({ heartbeat: 70_000 })).toBe(
      'heartbeat (70000 ms, from a flag) must be shorter than idleTimeout (60000 ms, from the ' +
        'default): a quiet but live WebSocket would be closed as idle',
    );
    expect(load({ heartbeat: 10_000 }, { TIDEWIRE_IDLE_TIMEOUT: '30000' }).config).toMatchObject({
      heartbeat: 10_000,
      idleTimeout: 30_000,
    });
  });

  it('warns about TIDEWIRE_ variables that name no setting, without refusing them', () => {
    const { warnings } = load({}, { TIDEWIRE_PROT: '1', TIDEWIRE_REQUIRE_REDIS: '1', OTHER: 'x' });
    expect(warnings).toEqual([
      'environment variable TIDEWIRE_PROT is not a setting (did you mean TIDEWIRE_PORT?)',
      'environment variable TIDEWIRE_REQUIRE_REDIS is not a setting',
    ]);
  });
});

describe('SETTINGS', () => {
  it('names every variable TIDEWIRE_ and the flag in upper snake case, but the Redis URL', () => {
    for (const key of SETTING_KEYS) {
      const flag = /--([a-z-]+)/.exec(SETTINGS[key].flags)?.[1] as string;
      const expected =
        key === 'redis'
          ? 'TIDEWIRE_REDIS_URL'
          : `TIDEWIRE_${flag.replace(/-/g, '_').toUpperCase()}`;
      expect(SETTINGS[key].env).toBe(expected);
      // The config key is the flag in camel case.
      expect(flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())).toBe(key);
    }
  });
});

describe('README', () => {
  it('lists every setting in the table of tidewire serve: flag, variable, key and default', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const rows = readme.split('\n').filter((line) => line.startsWith('| `'));
    for (const key of SETTING_KEYS) {
      const { flags, env } = SETTINGS[key];
      const row = rows.find((line) => line.startsWith(`| \`${flags}\``));
      expect(row, `README row for ${flags}`).toBeDefined();
      expect(row).toContain(`| \`${env}\``);
      expect(row).toContain(`| \`${key}\``);
    }
  });
});
