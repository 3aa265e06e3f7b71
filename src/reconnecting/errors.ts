/**
 * The local errors of the reconnecting wrappers. `TidewireError` carries codes a server sends;
 * these are the wrapper refusing a call, so they get their own small class.
 *
 * @module
 */

/** Why a call was refused: the send queue is full, or the wrapper was closed for good. */
export type ReconnectingErrorCode = 'QUEUE_FULL' | 'CLOSED';

/**
 * Thrown by `send()` when the send queue is full (rather than dropping the message silently)
 * and by `send()` or `reconnect()` once the wrapper is closed for good.
 */
export class ReconnectingError extends Error {
  override readonly name = 'ReconnectingError';

  constructor(
    readonly code: ReconnectingErrorCode,
    message: string,
  ) {
    super(message);
  }
}
