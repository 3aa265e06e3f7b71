import { TidewireError } from './errors.js';

/** SPEC.md § Envelope: 1–128 chars of `[A-Za-z0-9_.:@/-]`. */
const CHANNEL_PATTERN = /^[A-Za-z0-9_.:@/-]{1,128}$/;

/** Whether `name` is a valid channel name. */
export function isValidChannel(name: unknown): name is string {
  return typeof name === 'string' && CHANNEL_PATTERN.test(name);
}

/** Returns `name` when valid, else throws `BAD_CHANNEL` saying what was expected. */
export function assertChannel(name: unknown): string {
  if (isValidChannel(name)) return name;
  const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 64)) : typeof name;
  throw new TidewireError(
    'BAD_CHANNEL',
    `invalid channel ${shown}: expected 1-128 characters of A-Z a-z 0-9 _ . : @ / -`,
  );
}
