/**
 * Every error tidewire reports, with the HTTP status and WebSocket close code it maps to.
 *
 * Close codes: RFC 6455 codes where one fits (1001 going away, 1008 policy, 1009 too big,
 * 1011 internal, 1012 service restart, 1013 try again later). Our own codes split once:
 * 4000–4499 mean "reconnect (with backoff)", 4500–4999 mean "terminal: do not reconnect
 * without changing something" (a new token, a different channel). Clients read only the range.
 *
 * @module
 */

/** Close codes in this range ask the client to reconnect. */
export const RECONNECT_CLOSE_RANGE = { min: 4000, max: 4499 } as const;
/** Close codes in this range tell the client not to reconnect as is. */
export const TERMINAL_CLOSE_RANGE = { min: 4500, max: 4999 } as const;

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  SLOW_CONSUMER: 4000,
  IDLE_TIMEOUT: 4001,
  TOO_MANY_CONNECTIONS: 4002,
  RATE_LIMITED: 4003,
  UNAUTHORIZED: 4501,
  FORBIDDEN: 4503,
} as const;

interface CodeInfo {
  /** HTTP status for the HTTP transports and APIs. */
  readonly status: number;
  /** Close code when the error ends a WebSocket; undefined when it only answers one frame. */
  readonly closeCode?: number;
}

/**
 * The stable string codes. Adding one is a contract change: document it in README. Close codes
 * are written as numbers (those of `CloseCode`), so that the browser client, which needs this
 * table for `TidewireError.status`, does not also carry `CloseCode`.
 */
export const ERROR_CODES = {
  BAD_REQUEST: { status: 400 },
  BAD_JSON: { status: 400 },
  UNKNOWN_FRAME: { status: 400 },
  BAD_CHANNEL: { status: 400 },
  BAD_EVENT: { status: 400 },
  BAD_CURSOR: { status: 400 },
  ALREADY_SUBSCRIBED: { status: 409 },
  TOO_MANY_SUBSCRIPTIONS: { status: 400 },
  MESSAGE_TOO_LARGE: { status: 413, closeCode: 1009 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415 },
  TOO_MANY_CONNECTIONS: { status: 429, closeCode: 4002 },
  RATE_LIMITED: { status: 429, closeCode: 4003 },
  SLOW_CONSUMER: { status: 503, closeCode: 4000 },
  IDLE_TIMEOUT: { status: 408, closeCode: 4001 },
  UNAUTHORIZED: { status: 401, closeCode: 4501 },
  FORBIDDEN: { status: 403, closeCode: 4503 },
  PUBLISH_DISABLED: { status: 403 },
  NOT_FOUND: { status: 404 },
  METHOD_NOT_ALLOWED: { status: 405 },
  BROKER_UNAVAILABLE: { status: 503 },
  SHUTTING_DOWN: { status: 503, closeCode: 1012 },
  INTERNAL: { status: 500, closeCode: 1011 },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** HTTP status for an error code. */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** WebSocket close code for an error code that ends a connection (1008 when none is specific). */
export function closeCodeOf(code: ErrorCode): number {
  const info: CodeInfo = ERROR_CODES[code];
  return info.closeCode ?? 1008; // CloseCode.POLICY_VIOLATION
}

/** Whether a client should reconnect after the server closed with `closeCode`. */
export function isReconnectCloseCode(closeCode: number): boolean {
  if (closeCode >= TERMINAL_CLOSE_RANGE.min && closeCode <= TERMINAL_CLOSE_RANGE.max) return false;
  return closeCode !== CloseCode.POLICY_VIOLATION && closeCode !== CloseCode.MESSAGE_TOO_BIG;
}
