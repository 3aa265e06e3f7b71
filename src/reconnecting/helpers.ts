/**
 * Small helpers both wrappers share.
 *
 * @module
 */

/**
 * The origin of a URL, as `MessageEvent.origin` carries it; `''` when it does not parse.
 *
 * @internal
 */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

/**
 * A readable one-line message of anything thrown, with its cause when it has one (fetch's
 * "fetch failed" says why only in its cause).
 *
 * @internal
 */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { cause } = error as { cause?: unknown };
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
