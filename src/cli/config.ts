/**
 * Loads the settings of `tidewire serve` from flags, `TIDEWIRE_*` environment variables and a
 * JSON config file, in that order of precedence, over the defaults. A bad value or an unknown
 * key stops the server with a message that names the setting and where it came from.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import {
  CONFIG_ENV,
  SETTINGS,
  SETTING_KEYS,
  type ServeConfig,
  type Setting,
  type SettingKey,
} from './settings.js';

/** Where a setting's value came from. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

/** A configuration that cannot run; the message says which setting and which source. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface LoadedConfig {
  readonly config: ServeConfig;
  /** Where each setting's value came from. */
  readonly sources: Readonly<Record<SettingKey, ConfigSource>>;
  /** The config file read, if any. */
  readonly file: string | undefined;
  /** Worth a warning, not a refusal: unknown `TIDEWIRE_*` variables. */
  readonly warnings: readonly string[];
}

export interface ConfigInputs {
  /** What commander parsed: only the flags given are defined (no defaults there). */
  readonly flags: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file; `readFileSync` by default. */
  readonly readFile?: (path: string) => string;
}

/**
 * Merges flags > environment > config file > defaults. Throws `ConfigError` for a value that
 * does not parse, an unknown key in the file, or settings that contradict each other.
 */
export function loadConfig(inputs: ConfigInputs): LoadedConfig {
  const { flags, env } = inputs;
  const file = pickFile(flags, env);
  const fromFile = file ? readConfigFile(file, inputs.readFile) : {};
  const config = {} as Record<SettingKey, unknown>;
  const sources = {} as Record<SettingKey, ConfigSource>;
  for (const key of SETTING_KEYS) {
    const setting: Setting<unknown> = SETTINGS[key];
    const envText = env[setting.env];
    if (flags[key] !== undefined) {
      config[key] = flags[key];
      sources[key] = 'flag';
    } else if (envText !== undefined && envText !== '') {
      // An empty variable counts as unset: compose files and shells leave them so.
      config[key] = fromEnv(setting, envText);
      sources[key] = 'env';
    } else if (key in fromFile) {
      config[key] = fromFile[key];
      sources[key] = 'file';
    } else {
      config[key] = setting.default;
      sources[key] = 'default';
    }
  }
  const loaded = { config: config as ServeConfig, sources, file, warnings: unknownEnv(env) };
  checkTogether(loaded);
  return loaded;
}

function pickFile(
  flags: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  if (typeof flags.config === 'string') return flags.config;
  return env[CONFIG_ENV] || undefined;
}

/** The file's settings, parsed; keys set to `null` mean "the default". */
function readConfigFile(
  path: string,
  readFile: (path: string) => string = (name) => readFileSync(name, 'utf8'),
): Partial<Record<SettingKey, unknown>> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`config file ${path}: cannot read it (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path}: must hold a JSON object of settings`);
  }
  const values: Partial<Record<SettingKey, unknown>> = {};
  for (const [name, value] of Object.entries(parsed)) {
    const key = SETTING_KEYS.find((candidate) => candidate === name);
    if (!key) {
      const hint = suggest(name, SETTING_KEYS);
      throw new ConfigError(
        `config file ${path}: unknown key "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; ` +
          `known keys: ${SETTING_KEYS.join(', ')}`,
      );
    }
    if (value === null) continue;
    const setting: Setting<unknown> = SETTINGS[key];
    try {
      values[key] = setting.fromJson(value);
    } catch (error) {
      const shown = setting.isSecret ? '[redacted]' : JSON.stringify(value);
      throw new ConfigError(
        `config file ${path}: key "${key}" = ${shown}: ${(error as Error).message}`,
      );
    }
  }
  return values;
}

function fromEnv(setting: Setting<unknown>, text: string): unknown {
  try {
    return setting.fromText(text);
  } catch (error) {
    const shown = setting.isSecret ? '[redacted]' : JSON.stringify(text);
    throw new ConfigError(
      `environment variable ${setting.env}=${shown}: ${(error as Error).message}`,
    );
  }
}

/**
 * `TIDEWIRE_*` variables that name no setting. A warning rather than a refusal: the
 * environment is shared with other programs (CI sets `TIDEWIRE_REQUIRE_REDIS` for the tests).
 */
function unknownEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = new Set([CONFIG_ENV, ...SETTING_KEYS.map((key) => SETTINGS[key].env)]);
  return Object.keys(env)
    .filter((name) => name.startsWith('TIDEWIRE_') && !known.has(name))
    .map((name) => {
      const hint = suggest(name, [...known]);
      return `environment variable ${name} is not a setting${hint ? ` (did you mean ${hint}?)` : ''}`;
    });
}

/** Settings that are fine alone but not together. */
function checkTogether({ config, sources }: LoadedConfig): void {
  const { heartbeat, idleTimeout } = config;
  if (heartbeat !== undefined && heartbeat >= idleTimeout) {
    throw new ConfigError(
      `heartbeat (${heartbeat} ms, from ${sourceName(sources.heartbeat)}) must be shorter than ` +
        `idleTimeout (${idleTimeout} ms, from ${sourceName(sources.idleTimeout)}): a quiet but ` +
        'live WebSocket would be closed as idle',
    );
  }
}

function sourceName(source: ConfigSource): string {
  return {
    flag: 'a flag',
    env: 'the environment',
    file: 'the config file',
    default: 'the default',
  }[source];
}

/** The candidate that `name` most likely misspells: same letters ignoring case and `-_`, or 2 edits away. */
function suggest(name: string, candidates: readonly string[]): string | undefined {
  const squash = (text: string) => text.replace(/[-_]/g, '').toLowerCase();
  const exact = candidates.find((candidate) => squash(candidate) === squash(name));
  if (exact) return exact;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const distance = editDistance(squash(name), squash(candidate));
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        substitution,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}
