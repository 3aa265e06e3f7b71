import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * What a request's `Authorization` header says against a configured token: `missing` (no
 * header, or another scheme such as Basic) is a 401, `wrong` a 403 (SPEC.md § Endpoints).
 */
export type BearerVerdict = 'ok' | 'missing' | 'wrong';

/**
 * Judges `Authorization: Bearer <token>` against `expected`, the one check behind the
 * publish token, the metrics token and the guarded routes of `tidewire serve`.
 *
 * @internal
 */
export function judgeBearer(req: IncomingMessage, expected: string): BearerVerdict {
  const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
  if (!given) return 'missing';
  return timingSafeEqual(digest(given), digest(expected)) ? 'ok' : 'wrong';
}

/** Compared as digests: equal lengths, so `timingSafeEqual` neither throws nor leaks length. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
