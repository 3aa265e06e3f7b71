import { afterEach, describe, expect, it, vi } from 'vitest';
import { readToken, refreshDelay } from './token.js';

/** A JWT as a server would hand one out; the signature is never checked by the client. */
function jwt(payload: object): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(payload)}.c2lnbmF0dXJl`;
}

const EXP = 1_900_000_000; // seconds, as in a JWT

afterEach(() => {
  vi.useRealTimers();
});

describe('readToken', () => {
  it('reads nothing from null, undefined and the empty string', () => {
    expect(readToken(null)).toBeUndefined();
    expect(readToken(undefined)).toBeUndefined();
    expect(readToken('')).toBeUndefined();
  });

  it('takes an opaque string as a token that does not expire', () => {
    expect(readToken('opaque-token')).toEqual({ value: 'opaque-token', expiresAt: undefined });
    expect(readToken('a.b.c')).toEqual({ value: 'a.b.c', expiresAt: undefined });
  });

  it('reads the exp claim of a JWT string, in ms', () => {
    const token = jwt({ sub: 'ada', exp: EXP });
    expect(readToken(token)).toEqual({ value: token, expiresAt: EXP * 1000 });
  });

  it('decodes base64url payloads (with - and _) of any padding', () => {
    // `???>>>` encodes to `Pz8_Pj4-`: both URL-safe characters, and lengths that need padding.
    for (const sub of ['???>>>', '???>>>a', '???>>>ab']) {
      const token = jwt({ sub, exp: EXP });
      expect(token.split('.')[1]).toMatch(/[-_]/);
      expect(readToken(token)?.expiresAt).toBe(EXP * 1000);
    }
  });

  it('reads no expiry from a JWT without a numeric exp, or that is not a JWT', () => {
    const cases = [
      jwt({ sub: 'ada' }),
      jwt({ exp: String(EXP) }),
      jwt({ exp: null }),
      `${jwt({ exp: EXP }).split('.').slice(0, 2).join('.')}`,
      `x.${Buffer.from('not json').toString('base64url')}.y`,
      'x.!!!.y',
      'x..y',
      `x.${Buffer.from('"just a string"').toString('base64url')}.y`,
      `x.${Buffer.from([0xff, 0xfe]).toString('base64url')}.y`,
    ];
    for (const token of cases) {
      expect(readToken(token), token).toEqual({ value: token, expiresAt: undefined });
    }
  });

  it('takes an object with its expiresAt', () => {
    expect(readToken({ token: 'opaque', expiresAt: 1234 })).toEqual({
      value: 'opaque',
      expiresAt: 1234,
    });
    expect(readToken({ token: 'opaque' })).toEqual({ value: 'opaque', expiresAt: undefined });
  });

  it('falls back to the exp of a JWT in an object, and prefers an explicit expiresAt', () => {
    const token = jwt({ exp: EXP });
    expect(readToken({ token })).toEqual({ value: token, expiresAt: EXP * 1000 });
    expect(readToken({ token, expiresAt: 42 })).toEqual({ value: token, expiresAt: 42 });
  });
});

describe('refreshDelay', () => {
  const now = 1_000_000;
  const at = (expiresAt: number | undefined) => refreshDelay({ value: 't', expiresAt }, now);

  it('is undefined for a token that does not expire', () => {
    expect(at(undefined)).toBeUndefined();
  });

  it('refreshes a tenth of the remaining life before expiry', () => {
    expect(at(now + 100_000)).toBe(90_000);
    expect(at(now + 5000)).toBe(4500);
    expect(at(now + 600_000)).toBe(540_000);
  });

  it('refreshes at most a minute before expiry', () => {
    expect(at(now + 3_600_000)).toBe(3_600_000 - 60_000);
    expect(at(now + 24 * 3_600_000)).toBe(24 * 3_600_000 - 60_000);
  });

  it('waits at least a second, even for a token about to expire or already expired', () => {
    expect(at(now + 1100)).toBe(1000);
    expect(at(now + 500)).toBe(1000);
    expect(at(now)).toBe(1000);
    expect(at(now - 60_000)).toBe(1000);
  });

  it('stays within what setTimeout accepts (2^31 - 1 ms)', () => {
    expect(at(now + 365 * 24 * 3_600_000)).toBe(2 ** 31 - 1);
    expect(at(Number.MAX_SAFE_INTEGER)).toBe(2 ** 31 - 1);
  });

  it('counts from Date.now() by default', () => {
    vi.useFakeTimers();
    vi.setSystemTime(5_000_000);
    expect(refreshDelay({ value: 't', expiresAt: 5_100_000 })).toBe(90_000);
    vi.setSystemTime(5_050_000);
    expect(refreshDelay({ value: 't', expiresAt: 5_100_000 })).toBe(45_000);
  });

  it('refreshes a JWT before its exp', () => {
    vi.useFakeTimers();
    vi.setSystemTime((EXP - 600) * 1000);
    const token = readToken(jwt({ exp: EXP }));
    expect(token && refreshDelay(token)).toBe(540_000);
  });
});
