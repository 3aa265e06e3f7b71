/**
 * What goes wrong on the client's side of the wire. Errors the server reports keep their
 * server form (`TidewireError`, with the server's code); this class is for what the client
 * itself decides: a publish that timed out, an outbox that is full, a client given up on.
 *
 * @module
 */

/** The stable codes of `ClientError`. */
export type ClientErrorCode =
  /** No ack came within the publish timeout; the message was not sent, or its ack was lost. */
  | 'ACK_TIMEOUT'
  /** The offline outbox is at its bound (`outbox.maxMessages` or `outbox.maxBytes`). */
  | 'OUTBOX_FULL'
  /** The client was destroyed (or released for good) before the publish was acked. */
  | 'DESTROYED'
  /** `client.outbox.clear()` dropped the publish before it was acked. */
  | 'CLEARED'
  /** Reconnecting stopped after `maxRetries` failed attempts, or on a terminal refusal. */
  | 'GAVE_UP'
  /** A transport failed: network error, unexpected status, dead link. */
  | 'TRANSPORT';

/** An error the client raises itself, with a stable `code`. */
export class ClientError extends Error {
  override readonly name = 'ClientError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}
