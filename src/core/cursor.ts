import { isValidChannel } from '../protocol/channel.js';
import { TidewireError } from '../protocol/errors.js';
import { isPlainObject } from '../protocol/frames.js';
import { isPositionText } from './position.js';

/**
 * The cursor: one opaque string that resumes a subscription to several channels, which is
 * what SSE needs (it has only `Last-Event-ID`) and what polls carry between requests.
 *
 * For a single channel the cursor is that channel's position id itself, so that it equals the
 * envelope id. For several it is base64url JSON of `{ channel: position }`. Both forms are
 * told apart without a marker: position ids are lowercase and digits, while base64url of a
 * JSON object always starts with `eyJ`. Each channel carries its own position (and so its
 * own epoch), which is what lets any node of a shared broker decode it.
 */
export type CursorMap = ReadonlyMap<string, string>;

/** Longest cursor accepted; bounds work and memory for hostile input. */
export const MAX_CURSOR_LENGTH = 16 * 1024;

/** Encodes per-channel positions into one cursor string. */
export function encodeCursor(positions: CursorMap): string {
  if (positions.size === 1) {
    return positions.values().next().value as string;
  }
  const object: Record<string, string> = {};
  for (const [channel, position] of positions) object[channel] = position;
  return toBase64Url(JSON.stringify(object));
}

/**
 * Decodes a cursor for a subscription to `channels`. A bare position applies to a
 * single-channel subscription only. Channels missing from the cursor get no position
 * (they start from now); channels in the cursor but not subscribed are ignored.
 * Throws `BAD_CURSOR` for anything malformed.
 */
export function decodeCursor(cursor: string, channels: readonly string[]): Map<string, string> {
  if (cursor.length > MAX_CURSOR_LENGTH) {
    throw new TidewireError('BAD_CURSOR', `cursor is longer than ${MAX_CURSOR_LENGTH} characters`);
  }
  if (isPositionText(cursor)) {
    if (channels.length !== 1) {
      throw new TidewireError(
        'BAD_CURSOR',
        'a single-channel cursor was given for a subscription to several channels',
      );
    }
    return new Map([[channels[0] as string, cursor]]);
  }
  const object = parseMultiCursor(cursor);
  const result = new Map<string, string>();
  for (const channel of channels) {
    const position = object[channel];
    if (position !== undefined) result.set(channel, position);
  }
  return result;
}

function parseMultiCursor(cursor: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(fromBase64Url(cursor));
  } catch {
    throw new TidewireError('BAD_CURSOR', 'cursor is not one that this hub issued');
  }
  if (!isPlainObject(value)) {
    throw new TidewireError('BAD_CURSOR', 'cursor is not one that this hub issued');
  }
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [channel, position] of Object.entries(value)) {
    if (!isValidChannel(channel) || typeof position !== 'string' || !isPositionText(position)) {
      throw new TidewireError('BAD_CURSOR', 'cursor holds an invalid channel or position');
    }
    result[channel] = position;
  }
  return result;
}

// btoa/atob exist in browsers, workers and Node ≥ 16; the client decodes cursors too.
function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}
