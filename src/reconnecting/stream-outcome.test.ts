import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type FetchLikeResponse,
  MAX_RETRY_AFTER_MS,
  type Outcome,
  clampRetry,
  classifyResponse,
  nextDelay,
  parseRetryAfter,
} from './stream-outcome.js';

function answer(status: number, headers: Record<string, string> = {}): FetchLikeResponse {
  return { status, url: '', headers: new Headers(headers), body: new ReadableStream() };
}

const NOW = Date.parse('2025-01-01T00:00:00Z');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('classifyResponse', () => {
  it('opens on 200 text/event-stream, parameters and case aside', () => {
    expect(
      classifyResponse(answer(200, { 'content-type': 'Text/Event-Stream; charset=utf-8' })),
    ).toBeUndefined();
  });

  it('stops on 200 with another type or no body, on 204 and on other statuses', () => {
    expect(classifyResponse(answer(200, { 'content-type': 'text/plain' }))).toMatchObject({
      kind: 'stop',
      message: "expected text/event-stream, got 'text/plain'",
    });
    const noBody = { ...answer(200, { 'content-type': 'text/event-stream' }), body: null };
    expect(classifyResponse(noBody)?.kind).toBe('stop');
    for (const status of [204, 301, 400, 404, 410]) {
      expect(classifyResponse(answer(status))).toMatchObject({ kind: 'stop', status });
    }
  });

  it('asks the hook on 401 and 403', () => {
    expect(classifyResponse(answer(401))).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(classifyResponse(answer(403))).toMatchObject({ kind: 'unauthorized', status: 403 });
  });

  it('retries 429 and 5xx, reading Retry-After on 429 and 503 only', () => {
    const headers = { 'retry-after': '7' };
    expect(classifyResponse(answer(500, headers))).toMatchObject({ kind: 'retry', status: 500 });
    expect(classifyResponse(answer(500, headers))?.retryAfterMs).toBeUndefined();
    expect(classifyResponse(answer(503, headers))?.retryAfterMs).toBe(7000);
    expect(classifyResponse(answer(429, headers))?.retryAfterMs).toBe(7000);
    expect(classifyResponse(answer(502))?.kind).toBe('retry');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, clamped to [0, MAX_RETRY_AFTER_MS]', () => {
    expect(parseRetryAfter(' 3 ', NOW)).toBe(3000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', NOW)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', NOW)).toBe(0);
    expect(parseRetryAfter('999999999', NOW)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
  });
});

describe('nextDelay', () => {
  const ended: Outcome = { kind: 'ended', message: '' };
  const failed: Outcome = { kind: 'retry', message: '' };
  const backoff = { baseMs: 100, capMs: 1000 };

  it("waits the server's retry: after a clean end, else the first backoff window", () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(nextDelay(ended, 0, 2500, backoff)).toBe(2500);
    expect(nextDelay(ended, 0, undefined, backoff)).toBe(50);
  });

  it('backs off on failures, never below retry: nor Retry-After, never above capMs', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    expect([0, 1, 2, 3, 4, 5].map((n) => nextDelay(failed, n, undefined, backoff))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(nextDelay(failed, 0, 300, backoff)).toBe(300);
    expect(nextDelay(failed, 3, 300, backoff)).toBe(799);
    expect(nextDelay({ ...failed, retryAfterMs: 5000 }, 0, 300, backoff)).toBe(5000);
  });

  it('clamps retry: to capMs', () => {
    expect(clampRetry(86_400_000, backoff)).toBe(1000);
    expect(clampRetry(86_400_000, {})).toBe(30_000);
    expect(clampRetry(0, backoff)).toBe(0);
  });
});
