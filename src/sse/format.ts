import { TidewireError } from '../protocol/errors.js';

/** The fields of one Server-Sent Event. Every field is optional. */
export interface SseEventFields {
  /** Sets the client's last event ID. Must not contain CR, LF or NUL. */
  readonly id?: string | number;
  /** The event type (`message` when absent). Must not contain CR, LF or NUL. */
  readonly event?: string;
  /** A string is written as is; anything else as JSON. Line breaks become `data:` lines. */
  readonly data?: unknown;
  /** Reconnection delay in ms: a non-negative integer. */
  readonly retry?: number;
  /** A comment line (`: text`), e.g. a heartbeat. Line breaks become more comment lines. */
  readonly comment?: string;
}

// Any of the three line breaks of the event stream format (WHATWG HTML § 9.2.5).
const LINE_BREAK = /\r\n|\r|\n/;

/**
 * Formats one event of the `text/event-stream` format, ending with the blank line that
 * dispatches it. Fields that could inject other fields (an `id` or `event` with CR, LF or
 * NUL) are refused with `BAD_REQUEST`, as are a `retry` that is not a non-negative integer
 * and data that JSON cannot encode.
 *
 * @example
 * formatEvent({ id: '7', event: 'tick', data: { price: 1 } });
 * // 'id: 7\nevent: tick\ndata: {"price":1}\n\n'
 */
export function formatEvent(fields: SseEventFields): string {
  let out = '';
  if (fields.comment !== undefined) {
    for (const line of fields.comment.split(LINE_BREAK)) out += `: ${line}\n`;
  }
  if (fields.retry !== undefined) {
    if (!Number.isSafeInteger(fields.retry) || fields.retry < 0) {
      throw new TidewireError('BAD_REQUEST', 'SSE retry must be a non-negative integer');
    }
    out += `retry: ${fields.retry}\n`;
  }
  if (fields.id !== undefined) {
    const id = String(fields.id);
    if (/[\r\n\0]/.test(id)) {
      throw new TidewireError('BAD_REQUEST', 'SSE id must not contain CR, LF or NUL');
    }
    out += `id: ${id}\n`;
  }
  if (fields.event !== undefined) {
    if (/[\r\n\0]/.test(fields.event)) {
      throw new TidewireError('BAD_REQUEST', 'SSE event must not contain CR, LF or NUL');
    }
    out += `event: ${fields.event}\n`;
  }
  if (fields.data !== undefined) {
    const text = typeof fields.data === 'string' ? fields.data : encodeJson(fields.data);
    for (const line of text.split(LINE_BREAK)) out += `data: ${line}\n`;
  }
  return `${out}\n`;
}

function encodeJson(data: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (error) {
    throw new TidewireError('BAD_REQUEST', `SSE data cannot be encoded as JSON: ${String(error)}`);
  }
  // JSON.stringify answers undefined for a function or a symbol.
  if (json === undefined)
    throw new TidewireError('BAD_REQUEST', 'SSE data cannot be encoded as JSON');
  return json;
}
