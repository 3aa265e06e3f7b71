import { TidewireError } from '../protocol/errors.js';

/**
 * A position in one channel: the epoch of the channel's history and a sequence number.
 *
 * The sequence orders envelopes within a channel. The epoch names one incarnation of the
 * channel's history: a fresh in-memory hub, a flushed Redis, or a channel whose history was
 * dropped all start a new epoch, so that a position from before can never be mistaken for one
 * of the new history (it would silently skip envelopes). Text form: `<epoch>-<seq>`, epoch in
 * `[0-9a-z]`, seq in decimal. Clients treat it as opaque.
 */
export interface Position {
  readonly epoch: string;
  readonly seq: number;
}

const POSITION_PATTERN = /^([0-9a-z]{1,24})-(0|[1-9][0-9]{0,15})$/;

/** Formats a position as the opaque id clients see. */
export function formatPosition(position: Position): string {
  return `${position.epoch}-${position.seq}`;
}

/** Parses an id, or returns undefined when it is not one. */
export function tryParsePosition(text: string): Position | undefined {
  const match = POSITION_PATTERN.exec(text);
  if (!match) return undefined;
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { epoch: match[1] as string, seq };
}

/** Parses an id, or throws `BAD_CURSOR`. */
export function parsePosition(text: string): Position {
  const position = tryParsePosition(text);
  if (!position) {
    throw new TidewireError('BAD_CURSOR', `not a position: ${JSON.stringify(text.slice(0, 64))}`);
  }
  return position;
}

/** Whether `text` has the form of a position id. */
export function isPositionText(text: string): boolean {
  return tryParsePosition(text) !== undefined;
}

/** A fresh epoch: time-based prefix (readable ordering in logs) plus randomness. */
export function newEpoch(now: number = Date.now()): string {
  const random = Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  return `${now.toString(36)}${random}`;
}
