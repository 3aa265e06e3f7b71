/**
 * The cursor's wire form, shared by the hub and the client: one string that holds a position
 * per channel, which is what SSE needs (it has only `Last-Event-ID`) and what polls carry.
 *
 * For a single channel the cursor is that channel's position id itself, so that it equals the
 * envelope id. For several it is base64url JSON of `{ channel: position }`, which always
 * starts with `eyI` or `eyJ`, while position ids are lowercase letters, digits and `-`: the
 * two forms are told apart without a marker. The hub validates what it decodes
 * (`core/cursor.ts`); the client only reads back cursors the hub gave it.
 *
 * @module
 */

/**
 * The prefix of every multi-channel cursor: base64url of `{"` and of the top bits of the first
 * key's first character: `eyI` when it is one of `0-9 . : / -`, `eyJ` for the rest of a
 * channel name's characters.
 */
const MULTI_CURSOR_PREFIX = /^ey[IJ]/;

/**
 * Encodes per-channel positions into one cursor string: the bare position for a single
 * channel, unless `isMulti` asks for the multi-channel form (a subscription to several
 * channels of which only one has a position yet).
 */
export function encodeCursor(
  positions: ReadonlyMap<string, string>,
  isMulti = positions.size !== 1,
): string {
  if (!isMulti) return positions.values().next().value as string;
  // No prototype: a channel named `__proto__` (a valid name) must be a key, not a setter call.
  const object: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [channel, position] of positions) object[channel] = position;
  return toBase64Url(JSON.stringify(object));
}

/** Whether `cursor` has the multi-channel form (else it is a bare position). */
export function isMultiCursor(cursor: string): boolean {
  return MULTI_CURSOR_PREFIX.test(cursor);
}

/**
 * Reads a cursor back into positions, without validating them: a bare position belongs to the
 * single channel of `channels`. Throws on text that is not base64url JSON.
 */
export function readCursor(cursor: string, channels: readonly string[]): Map<string, string> {
  const positions = new Map<string, string>();
  if (!isMultiCursor(cursor)) {
    // An empty cursor is a poll answer that knows no position yet.
    if (channels.length === 1 && cursor !== '') positions.set(channels[0] as string, cursor);
    return positions;
  }
  const value: unknown = JSON.parse(fromBase64Url(cursor));
  if (typeof value !== 'object' || value === null) return positions;
  for (const channel of channels) {
    const position = (value as Record<string, unknown>)[channel];
    if (typeof position === 'string' && Object.hasOwn(value, channel)) {
      positions.set(channel, position);
    }
  }
  return positions;
}

// btoa/atob exist in browsers, workers and Node ≥ 16.
function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url UTF-8 text; throws on anything else. */
export function fromBase64Url(text: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
