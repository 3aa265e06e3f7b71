import { type ErrorCode, closeCodeOf, httpStatusOf } from './codes.js';

/**
 * The one error class of tidewire, shared by server and client. Its `code` is stable and
 * picks the HTTP status and the WebSocket close code (see `codes.ts`).
 *
 * @example
 * throw new TidewireError('MESSAGE_TOO_LARGE', 'message is 70000 bytes, limit is 65536');
 */
export class TidewireError extends Error {
  override readonly name = 'TidewireError';
  /** The client's correlation id, when the error answers a frame that carried one. */
  ref?: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  /**
   * HTTP status this error answers with. Express's error handler (and others that follow the
   * `http-errors` convention) answers with it as is.
   */
  get status(): number {
    return httpStatusOf(this.code);
  }

  /** WebSocket close code this error closes with, when it ends a connection. */
  get closeCode(): number {
    return closeCodeOf(this.code);
  }

  /** The JSON body of an HTTP error answer and the payload of a WebSocket `error` frame. */
  toJSON(): { code: ErrorCode; message: string; ref?: string } {
    return this.ref === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, ref: this.ref };
  }
}

/** Narrowing helper that also works across bundles (no instanceof on a duplicated class). */
export function isTidewireError(value: unknown): value is TidewireError {
  return value instanceof Error && (value as { name?: unknown }).name === 'TidewireError';
}
