import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { TidewireError, isTidewireError } from '../protocol/errors.js';
import type { HubCounters } from './counters.js';
import { sendError, sendJson } from './http-util.js';
import type { ChannelAction, Identity, ResolvedOptions } from './options.js';
import { IpRateLimiter } from './rate-limit.js';

/**
 * Who may connect and what they may do: the Origin allowlist with its CORS answers, the
 * per-IP request rate, and the `authenticate`/`authorize` hooks. Every browser-facing
 * endpoint goes through here before its transport sees the request (SECURITY.md).
 *
 * @module
 */

/** Request headers a page may send cross-origin: the client's token, body type, resume id. */
const ALLOWED_HEADERS = 'Authorization, Content-Type, Last-Event-ID, Accept, Cache-Control';
/** How long a browser may reuse a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = '600';

export type OriginVerdict =
  /** No Origin, or the hub's own: no CORS headers needed. */
  | { readonly allowed: true; readonly crossOrigin: undefined }
  /** A listed foreign origin: answers carry CORS headers for it. */
  | { readonly allowed: true; readonly crossOrigin: string }
  | { readonly allowed: false; readonly origin: string };

export class AccessControl {
  readonly #options: ResolvedOptions;
  readonly #counters: HubCounters;
  readonly #ipLimiter: IpRateLimiter | undefined;

  constructor(options: ResolvedOptions, counters: HubCounters) {
    this.#options = options;
    this.#counters = counters;
    const rate = options.limits.maxRequestsPerSecondPerIp;
    this.#ipLimiter = Number.isFinite(rate)
      ? new IpRateLimiter(rate, Math.max(1, rate))
      : undefined;
  }

  /** The client's address: the socket's peer, or from `X-Forwarded-For` past trusted proxies. */
  clientIp(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? 'unknown';
    const hops = this.#options.trustProxy;
    if (hops === 0) return peer;
    const forwarded = headerText(req.headers['x-forwarded-for'])
      .split(',')
      .map((address) => address.trim())
      .filter((address) => address !== '');
    // The chain as the hub sees it, nearest last; each trusted proxy appended the one before.
    const chain = [...forwarded, peer];
    return chain[Math.max(0, chain.length - 1 - hops)] ?? peer;
  }

  /** Whether the request's Origin may use the browser-facing endpoints. */
  checkOrigin(req: IncomingMessage): OriginVerdict {
    return judgeOrigin(req, this.#options);
  }

  /**
   * The gate of an HTTP request to `/sse`, `/poll` or `/send`: answers CORS preflights, refuses
   * a foreign origin (403) and an IP past its rate (429), and sets the CORS headers of the
   * answer. Returns false when it answered the request itself.
   */
  admitHttp(req: IncomingMessage, res: ServerResponse): boolean {
    const verdict = this.checkOrigin(req);
    if (!verdict.allowed) {
      this.#counters.drop('origin');
      sendError(res, originError(), { Vary: 'Origin' });
      return false;
    }
    if (verdict.crossOrigin !== undefined) {
      res.setHeader('Access-Control-Allow-Origin', verdict.crossOrigin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
      res.setHeader('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        // A preflight (a page about to send a bearer token or JSON): allowed, say for how long.
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
        res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
        res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_S);
        res.writeHead(204).end();
        return false;
      }
    } else if (req.method === 'OPTIONS') {
      sendJson(res, 204, '', { Allow: 'GET, POST, OPTIONS' });
      return false;
    }
    const limited = this.checkRate(req);
    if (limited) {
      sendError(res, limited);
      return false;
    }
    return true;
  }

  /** A `RATE_LIMITED` error when the request's IP is past its rate, else undefined. */
  checkRate(req: IncomingMessage): RateLimitedError | undefined {
    if (!this.#ipLimiter) return undefined;
    const verdict = this.#ipLimiter.admit(this.clientIp(req));
    if (verdict.ok) return undefined;
    this.#counters.drop('rate_limited');
    return new RateLimitedError(verdict.retryAfterSeconds);
  }

  /**
   * Who the request is: the `authenticate` hook's answer, or undefined without one. Throws
   * (or rejects with) `UNAUTHORIZED` when the hook refuses: it returned nothing or threw
   * something other than a `TidewireError` (a failed token check).
   */
  authenticate(req: IncomingMessage): Identity | Promise<Identity> {
    const hook = this.#options.authenticate;
    if (!hook) return undefined;
    const refuse = (error: unknown): never => {
      this.#counters.drop(
        isTidewireError(error) && error.code === 'FORBIDDEN' ? 'forbidden' : 'unauthorized',
      );
      if (isTidewireError(error)) throw error;
      throw new TidewireError('UNAUTHORIZED', 'authentication failed', { cause: error });
    };
    const accept = (identity: Identity): Identity => {
      if (identity === undefined || identity === null || identity === false) {
        return refuse(new TidewireError('UNAUTHORIZED', 'authentication required'));
      }
      return identity;
    };
    let result: Identity | Promise<Identity>;
    try {
      result = hook(req);
    } catch (error) {
      return refuse(error);
    }
    return isPromise(result) ? result.then(accept, refuse) : accept(result);
  }

  /**
   * Whether `identity` may `action` on every one of `channels`; throws (or rejects with)
   * `FORBIDDEN` naming the first refused channel. All or nothing: a subscribe that names one
   * forbidden channel subscribes to none.
   */
  authorize(
    identity: Identity,
    channels: readonly string[],
    action: ChannelAction,
  ): void | Promise<void> {
    const hook = this.#options.authorize;
    if (!hook) return;
    const answers = channels.map((channel) => {
      try {
        return hook(identity, channel, action);
      } catch (error) {
        return Promise.reject(error);
      }
    });
    const judge = (verdicts: readonly boolean[]): void => {
      const refused = verdicts.findIndex((verdict) => verdict !== true);
      if (refused === -1) return;
      this.#counters.drop('forbidden');
      throw new TidewireError(
        'FORBIDDEN',
        `not allowed to ${action} on channel "${channels[refused] ?? ''}"`,
      );
    };
    if (!answers.some(isPromise)) return judge(answers as boolean[]);
    return Promise.all(answers).then(judge, (error: unknown) => {
      if (isTidewireError(error)) throw error;
      this.#options.logger.error({ err: error }, 'authorize hook threw');
      throw new TidewireError('INTERNAL', 'authorization failed', { cause: error });
    });
  }
}

/** `RATE_LIMITED`, with the seconds the client should wait (`Retry-After`). */
export class RateLimitedError extends TidewireError {
  constructor(readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', `too many requests from this address, retry in ${retryAfterSeconds} s`);
  }
}

/**
 * Whether the request's Origin may use the hub from a browser: no Origin (curl, servers), the
 * hub's own (as the request reached it, through trusted proxies), or one of `origins`.
 */
export function judgeOrigin(
  req: IncomingMessage,
  options: { readonly origins: readonly string[] | '*'; readonly trustProxy: number },
): OriginVerdict {
  const origin = headerText(req.headers.origin);
  if (origin === '') return { allowed: true, crossOrigin: undefined };
  if (origin === ownOrigin(req, options.trustProxy)) {
    return { allowed: true, crossOrigin: undefined };
  }
  const listed = options.origins;
  if (listed === '*' || listed.includes(normalizeOrigin(origin))) {
    return { allowed: true, crossOrigin: origin };
  }
  return { allowed: false, origin };
}

/** `scheme://host[:port]` of the hub as this request reached it. */
function ownOrigin(req: IncomingMessage, trustProxy: number): string | undefined {
  const trusted = trustProxy > 0;
  const forwardedProto = trusted ? firstValue(req.headers['x-forwarded-proto']) : '';
  const forwardedHost = trusted ? firstValue(req.headers['x-forwarded-host']) : '';
  const isTls = (req.socket as Partial<TLSSocket>).encrypted === true;
  const scheme = forwardedProto || (isTls ? 'https' : 'http');
  const host = forwardedHost || headerText(req.headers.host);
  if (host === '') return undefined;
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return undefined;
  }
}

/** The refusal of a foreign Origin; it does not echo the caller's text. */
export function originError(): TidewireError {
  return new TidewireError('FORBIDDEN', 'this Origin may not use the hub (see the origins option)');
}

/**
 * Reads a bearer token the way the tidewire client sends it: the `Authorization: Bearer`
 * header, else the `token` query parameter (EventSource and browser WebSockets cannot set
 * headers), else the cookie named `cookie` when given. For `authenticate` hooks.
 */
export function readToken(
  req: IncomingMessage,
  options: { cookie?: string } = {},
): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headerText(req.headers.authorization))?.[1];
  if (bearer) return bearer;
  const query = (req.url ?? '').split('?')[1];
  const fromQuery = query === undefined ? null : new URLSearchParams(query).get('token');
  if (fromQuery) return fromQuery;
  if (options.cookie === undefined) return undefined;
  for (const pair of headerText(req.headers.cookie).split(';')) {
    const separator = pair.indexOf('=');
    if (separator === -1 || pair.slice(0, separator).trim() !== options.cookie) continue;
    try {
      return decodeURIComponent(pair.slice(separator + 1).trim()) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** `HTTPS://App.example.com:443` → `https://app.example.com`, as the allowlist is stored. */
function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}

function headerText(value: string | string[] | undefined): string {
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function firstValue(value: string | string[] | undefined): string {
  return headerText(value).split(',')[0]?.trim() ?? '';
}

/**
 * Runs `produce` and hands its value to `onValue`, at once when it is not a promise: without
 * hooks the checks stay synchronous and cost no tick. Whatever throws goes to `onError`, so
 * that no rejection is left unhandled.
 */
export function settle<T>(
  produce: () => T | Promise<T>,
  onValue: (value: T) => void,
  onError: (error: unknown) => void,
): void {
  let result: T | Promise<T>;
  try {
    result = produce();
  } catch (error) {
    onError(error);
    return;
  }
  if (isPromise(result)) {
    result.then(onValue, onError).catch(onError);
    return;
  }
  try {
    onValue(result);
  } catch (error) {
    onError(error);
  }
}

/** Whether the client of `res` left (or it was answered) while a hook was deciding. */
export function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || !res.socket || res.socket.destroyed;
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
