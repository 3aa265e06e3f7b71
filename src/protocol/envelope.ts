import { TidewireError } from './errors.js';

/**
 * One published message, the same JSON on every transport (SPEC.md § Envelope).
 *
 * `id` is opaque to clients: unique and ordered within `channel`, and what a client hands
 * back to resume. When `binary` is true, `data` is the base64 text of the published bytes:
 * the transports are text-only (SSE, JSON polls), so bytes travel as base64 everywhere.
 */
export interface Envelope {
  readonly id: string;
  readonly channel: string;
  readonly event: string;
  readonly data: unknown;
  readonly ts: number;
  readonly binary?: true;
}

/** The event name an envelope gets when the publisher gives none. */
export const DEFAULT_EVENT = 'message';

// Event names end up in SSE `event:` lines and in client routing maps: no control characters
// (CR, LF and NUL would inject SSE fields), and bounded like channel names.
// eslint-disable-next-line no-control-regex
const EVENT_PATTERN = /^[^\u0000-\u001f\u007f]{1,128}$/;

/**
 * Event names an envelope may not have. On SSE the envelope event is the `event:` field, which
 * it shares with the hub's own `subscribed` and `gap` events and with EventSource's built-in
 * `open` and `error` (an `event: error` would reach `onerror` listeners). Refusing them makes
 * an envelope impossible to mistake for any of those, on every transport alike.
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set(['subscribed', 'gap', 'open', 'error']);

/** Returns the event name to use (`message` when absent), or throws `BAD_EVENT`. */
export function normalizeEvent(event: unknown): string {
  if (event === undefined || event === null) return DEFAULT_EVENT;
  if (typeof event !== 'string' || !EVENT_PATTERN.test(event)) {
    throw new TidewireError(
      'BAD_EVENT',
      'invalid event name: expected a string of 1-128 characters without control characters',
    );
  }
  if (RESERVED_EVENTS.has(event)) {
    throw new TidewireError(
      'BAD_EVENT',
      `event name "${event}" is reserved (${[...RESERVED_EVENTS].join(', ')}): pick another`,
    );
  }
  return event;
}

/**
 * Deepest nesting of arrays and objects that envelope data may have. `JSON.parse` reads any
 * depth, but `JSON.stringify`, which every transport runs on the envelope, overflows the stack
 * a few thousand levels down: such data was acked, then failed on every delivery (issue 6).
 * 128 is serde_json's default: far above real data, far below the stack.
 */
export const MAX_DATA_DEPTH = 128;

/** A `BAD_REQUEST` error when `data` nests deeper than `MAX_DATA_DEPTH`, else undefined. */
export function checkDataDepth(data: unknown): TidewireError | undefined {
  if (!isDeeperThan(data, MAX_DATA_DEPTH)) return undefined;
  return new TidewireError(
    'BAD_REQUEST',
    `data nests arrays and objects deeper than ${MAX_DATA_DEPTH} levels`,
  );
}

function isDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  const children = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
  return children.some((child) => isDeeperThan(child, levels - 1));
}
