import type { IncomingMessage, ServerResponse } from 'node:http';
import { TidewireError, isTidewireError } from '../protocol/errors.js';
import { httpStatusOf } from '../protocol/codes.js';
import { assertChannel } from '../protocol/channel.js';

/**
 * Small HTTP helpers shared by the routes and the HTTP transports. Every error answer goes
 * through `sendError`: one status and one `{ code, message }` body per error code.
 */

/** Writes a JSON answer. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Answers an error as its HTTP status and `{ code, message }`; unknown errors become 500. */
export function sendError(
  res: ServerResponse,
  error: unknown,
  headers: Record<string, string> = {},
): void {
  const known = isTidewireError(error) ? error : new TidewireError('INTERNAL', 'internal error');
  sendJson(
    res,
    httpStatusOf(known.code),
    { code: known.code, message: known.message },
    {
      ...statusHeaders(known),
      ...headers,
    },
  );
}

/** What a 401 and a 429 must say besides their body (RFC 9110 § 11.6.1, RFC 6585 § 4). */
function statusHeaders(error: TidewireError): Record<string, string> {
  if (error.code === 'UNAUTHORIZED') return { 'WWW-Authenticate': 'Bearer realm="tidewire"' };
  const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  if (typeof retryAfter === 'number') return { 'Retry-After': String(retryAfter) };
  return {};
}

/**
 * Answers `405 METHOD_NOT_ALLOWED` with `Allow` unless the request's method is one of
 * `methods`; returns whether it may go on.
 */
export function allowMethods(
  req: IncomingMessage,
  res: ServerResponse,
  methods: readonly string[],
): boolean {
  if (methods.includes(req.method ?? '')) return true;
  const error = new TidewireError('METHOD_NOT_ALLOWED', `use ${methods.join(' or ')}`);
  sendError(res, error, { Allow: methods.join(', ') });
  return false;
}

/**
 * Parses a request target. An origin-form target (`/path?query`) is appended to a fixed base
 * rather than resolved against it, so that `//host/x` stays a path and `//[` cannot throw;
 * anything unparsable (`*`, a broken absolute URL) answers undefined.
 */
export function parseRequestTarget(target: string): URL | undefined {
  try {
    return target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target);
  } catch {
    return undefined;
  }
}

interface MaybeParsedBody {
  body?: unknown;
  _body?: boolean;
}

/**
 * Reads a request body up to `limit` bytes. Refuses a larger one with `MESSAGE_TOO_LARGE`
 * as soon as its length is known, without buffering it. Returns a body that a framework
 * (Express's `express.json()` / `express.text()`) already parsed as it is, within the same limit.
 */
export function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer | { parsed: unknown }> {
  const parsed = req as IncomingMessage & MaybeParsedBody;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(tooLarge(`${declared} bytes`, limit));
  }
  if (parsed._body === true || (req.readableEnded && parsed.body !== undefined)) {
    return alreadyRead(parsed.body, limit);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(tooLarge(`more than ${limit} bytes`, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * A body that a framework read before us. It is held to the same limit as one we read (a
 * chunked body has no Content-Length to check first): a framework's own limit, 100 kB for
 * `express.json()`, is not ours. Bytes that `express.raw()` left as a Buffer stay bytes, so
 * that an octet-stream publish is still binary, not the JSON of a Buffer object.
 */
function alreadyRead(body: unknown, limit: number): Promise<Buffer | { parsed: unknown }> {
  const size = Buffer.isBuffer(body)
    ? body.length
    : Buffer.byteLength(typeof body === 'string' ? body : (JSON.stringify(body) ?? ''));
  if (size > limit) return Promise.reject(tooLarge(`${size} bytes`, limit));
  return Promise.resolve(Buffer.isBuffer(body) ? body : { parsed: body });
}

function tooLarge(size: string, limit: number): TidewireError {
  return new TidewireError('MESSAGE_TOO_LARGE', `body is ${size}, limit is ${limit} bytes`);
}

/** Parses a JSON body, or throws `BAD_JSON`. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new TidewireError('BAD_JSON', 'body is not valid JSON');
  }
}

/**
 * Channels of a query: `channel=a&channel=b`, also `channel=a,b` (commas are not allowed in
 * names, so the split is safe). Throws `BAD_REQUEST` when none, `BAD_CHANNEL` for a bad name,
 * `TOO_MANY_SUBSCRIPTIONS` past `max`.
 */
export function readChannelsParam(query: URLSearchParams, max: number): string[] {
  const names = query.getAll('channel').flatMap((value) => value.split(','));
  if (names.length === 0) {
    throw new TidewireError('BAD_REQUEST', 'give at least one channel: ?channel=name');
  }
  const channels = [...new Set(names.map(assertChannel))];
  if (channels.length > max) {
    throw new TidewireError(
      'TOO_MANY_SUBSCRIPTIONS',
      `${channels.length} channels asked, limit is ${max} per connection`,
    );
  }
  return channels;
}
