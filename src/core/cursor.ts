import { isValidChannel } from '../protocol/channel.js';
import { TidewireError } from '../protocol/errors.js';
import { isPlainObject } from '../protocol/frames.js';
import { encodeCursor, fromBase64Url } from '../protocol/cursor.js';
import { isPositionText } from './position.js';

export { encodeCursor };

/**
 * The hub's side of the cursor (its wire form is in `protocol/cursor.ts`): decoding with every
 * check that hostile input needs. Each channel carries its own position (and so its own
 * epoch), which is what lets any node of a shared broker decode it.
 */
export type CursorMap = ReadonlyMap<string, string>;

/** Longest cursor accepted; bounds work and memory for hostile input. */
export const MAX_CURSOR_LENGTH = 16 * 1024;

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
