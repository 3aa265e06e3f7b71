import { fromBase64Url } from '../protocol/cursor.js';
import type { TokenResult } from './options.js';

/**
 * Tokens from `getToken()`: the value, and when it expires (given, or read from a JWT's
 * `exp`), so that the client fetches a fresh one and reconnects before the server would
 * refuse the old one (PITFALLS #14).
 *
 * @internal
 * @module
 */

export interface Token {
  readonly value: string;
  readonly expiresAt: number | undefined;
}

export function readToken(result: TokenResult | undefined): Token | undefined {
  if (result === null || result === undefined || result === '') return undefined;
  if (typeof result === 'string') return { value: result, expiresAt: jwtExpiry(result) };
  return { value: result.token, expiresAt: result.expiresAt ?? jwtExpiry(result.token) };
}

/**
 * When to refresh: a tenth of the token's remaining life before it expires, at most a minute
 * before, and never sooner than in a second. Undefined when the token does not expire.
 */
export function refreshDelay(token: Token, now = Date.now()): number | undefined {
  if (token.expiresAt === undefined) return undefined;
  const life = token.expiresAt - now;
  // setTimeout takes at most 2^31 - 1 ms; a longer life is refreshed on a later reconnect.
  return Math.min(2 ** 31 - 1, Math.max(1000, life - Math.min(60_000, life / 10)));
}

/** The `exp` claim of a JWT, in ms; undefined for anything else. */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(fromBase64Url(parts[1] as string)) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
