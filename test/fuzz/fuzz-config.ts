import fc from 'fast-check';

/**
 * The one place for the fuzz settings of `test/fuzz/`: a fixed seed, so that every run of the
 * suite tries the same inputs and a failure can be replayed, and the number of runs per
 * property.
 *
 * - `TIDEWIRE_FUZZ_SEED=<n>` replays (or explores) another seed.
 * - `TIDEWIRE_FUZZ_RUNS=<n>` is the long mode (`npm run test:fuzz` sets 20000): pure
 *   properties run `n` times each; properties that make real requests run `n / 10` times (at
 *   least their default), since each run costs a round trip over a socket.
 *
 * fast-check's failure message names the seed and the `path` of the counterexample; the
 * message this module adds says which variables reproduce the run.
 */

const DEFAULT_SEED = 20261124;

/** Runs per property by default: sized to keep the whole folder within ~20 s on two cores. */
const DEFAULT_RUNS = { pure: 1000, live: 150 } as const;

/** What a property costs per run: `pure` functions, or `live` requests to a real hub. */
export type FuzzKind = keyof typeof DEFAULT_RUNS;

function readPositiveInteger(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** The seed every property starts from. */
export const FUZZ_SEED = readPositiveInteger('TIDEWIRE_FUZZ_SEED') ?? DEFAULT_SEED;

/** The long-mode run count, when one was asked for. */
export const FUZZ_RUNS_OVERRIDE = readPositiveInteger('TIDEWIRE_FUZZ_RUNS');

/** Whether the suite runs in long mode (`TIDEWIRE_FUZZ_RUNS` set). */
export const IS_LONG_MODE = FUZZ_RUNS_OVERRIDE !== undefined;

/**
 * Runs of one property: `defaultRuns` (or the default of its kind) in a normal run, the
 * long-mode count when `TIDEWIRE_FUZZ_RUNS` is set.
 */
export function fuzzRuns(kind: FuzzKind, defaultRuns: number = DEFAULT_RUNS[kind]): number {
  if (FUZZ_RUNS_OVERRIDE === undefined) return defaultRuns;
  if (kind === 'pure') return FUZZ_RUNS_OVERRIDE;
  return Math.max(defaultRuns, Math.round(FUZZ_RUNS_OVERRIDE / 10));
}

/**
 * A vitest timeout for a test that runs a property: `baseMs` in a normal run, scaled with the
 * number of runs in long mode (a live run takes a few ms; allow 20 ms each).
 */
export function fuzzTimeoutMs(kind: FuzzKind, baseMs = 15_000): number {
  if (!IS_LONG_MODE) return baseMs;
  const perRunMs = kind === 'pure' ? 2 : 20;
  return Math.max(baseMs, baseMs + fuzzRuns(kind) * perRunMs);
}

/** fast-check parameters for one property. */
export function fuzzParameters<T>(kind: FuzzKind, defaultRuns?: number): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: fuzzRuns(kind, defaultRuns) };
}

const ANNOUNCED = Symbol.for('tidewire.fuzz.announced');

/**
 * Prints the seed and the run counts so that a failure seen in CI can be replayed with the
 * same inputs: once per test context (vitest gives each test file a fresh one).
 */
export function announceFuzzSettings(): void {
  const scope = globalThis as { [ANNOUNCED]?: boolean };
  if (scope[ANNOUNCED]) return;
  scope[ANNOUNCED] = true;
  const runs = IS_LONG_MODE
    ? `long mode: pure properties ${fuzzRuns('pure')} runs, live ones ${fuzzRuns('live')} or their default if higher`
    : 'pure properties ~1000 runs, live ones 20-300 (TIDEWIRE_FUZZ_RUNS=<n> for long mode)';
  console.info(`[tidewire fuzz] seed ${FUZZ_SEED}, ${runs}; ${replayHint()}`);
}

function replayHint(): string {
  const runs = IS_LONG_MODE ? ` TIDEWIRE_FUZZ_RUNS=${FUZZ_RUNS_OVERRIDE}` : '';
  return `replay with TIDEWIRE_FUZZ_SEED=${FUZZ_SEED}${runs}`;
}

/** `fc.assert` of a synchronous property with the suite's seed and run count. */
export function checkProperty<T>(
  property: fc.IProperty<T>,
  kind: FuzzKind = 'pure',
  defaultRuns?: number,
): void {
  try {
    fc.assert(property, fuzzParameters<T>(kind, defaultRuns));
  } catch (error) {
    throw withReplayHint(error);
  }
}

/** `fc.assert` of an asynchronous property with the suite's seed and run count. */
export async function checkAsyncProperty<T>(
  property: fc.IAsyncProperty<T>,
  kind: FuzzKind = 'live',
  defaultRuns?: number,
): Promise<void> {
  try {
    await fc.assert(property, fuzzParameters<T>(kind, defaultRuns));
  } catch (error) {
    throw withReplayHint(error);
  }
}

function withReplayHint(error: unknown): unknown {
  if (error instanceof Error) error.message = `${error.message}\n[tidewire fuzz] ${replayHint()}`;
  return error;
}
