import { describe, expect, it } from 'vitest';
import { MAX_CURSOR_LENGTH, decodeCursor, encodeCursor } from './cursor.js';

describe('encodeCursor', () => {
  it('is the position itself for one channel', () => {
    expect(encodeCursor(new Map([['a', 'ep1-7']]))).toBe('ep1-7');
  });

  it('round-trips several channels, names with every allowed character included', () => {
    const positions = new Map([
      ['a', 'ep1-7'],
      ['user:42/feed@x.y_z-w', 'ep2-0'],
    ]);
    const cursor = encodeCursor(positions);
    expect(cursor).toMatch(/^eyJ[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, ['a', 'user:42/feed@x.y_z-w'])).toEqual(positions);
  });
});

/** base64url, the alphabet cursors use (btoa alone would be refused for its `+/=`). */
function b64url(text: string): string {
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

describe('decodeCursor', () => {
  const multi = encodeCursor(
    new Map([
      ['a', 'ep1-1'],
      ['b', 'ep1-2'],
    ]),
  );

  it('applies a bare position to a one-channel subscription', () => {
    expect(decodeCursor('ep1-3', ['x'])).toEqual(new Map([['x', 'ep1-3']]));
  });

  it('keeps only subscribed channels and leaves new ones without a position', () => {
    expect(decodeCursor(multi, ['b', 'c'])).toEqual(new Map([['b', 'ep1-2']]));
  });

  it('refuses a bare position for several channels', () => {
    expect(() => decodeCursor('ep1-3', ['a', 'b'])).toThrow(
      expect.objectContaining({ code: 'BAD_CURSOR' }),
    );
  });

  it.each([
    ['random text', 'hello world'],
    ['base64 of text', b64url('not json')],
    ['base64 of an array', b64url('["a"]')],
    ['bad channel inside', b64url(JSON.stringify({ 'a b': 'ep-1' }))],
    ['bad position inside', b64url(JSON.stringify({ a: 'nope' }))],
    ['non-string position', b64url(JSON.stringify({ a: 5 }))],
    ['standard base64 padding', btoa(JSON.stringify({ a: 'e-1' })) + '='],
    ['too long', 'e'.repeat(MAX_CURSOR_LENGTH + 1)],
    ['invalid UTF-8', b64url('\xff\xfe')],
  ])('refuses %s with BAD_CURSOR', (_name, cursor) => {
    expect(() => decodeCursor(cursor, ['a'])).toThrow(
      expect.objectContaining({ code: 'BAD_CURSOR' }),
    );
  });

  it('is not fooled by __proto__ keys', () => {
    const cursor = b64url(JSON.stringify({ a: 'ep-1' }).replace('{', '{"__proto__":"ep-2",'));
    const decoded = decodeCursor(cursor, ['a', '__proto__']);
    expect(decoded.get('a')).toBe('ep-1');
    expect(decoded.get('__proto__')).toBe('ep-2');
    expect(({} as Record<string, unknown>).a).toBeUndefined();
  });
});
