import { describe, expect, it } from 'vitest';
import {
  formatPosition,
  isPositionText,
  newEpoch,
  parsePosition,
  tryParsePosition,
} from './position.js';

describe('positions', () => {
  it('formats and parses back', () => {
    expect(formatPosition({ epoch: 'abc123', seq: 42 })).toBe('abc123-42');
    expect(parsePosition('abc123-42')).toEqual({ epoch: 'abc123', seq: 42 });
    expect(parsePosition('e-0')).toEqual({ epoch: 'e', seq: 0 });
  });

  it('refuses what is not a position', () => {
    for (const text of [
      '',
      '-1',
      'abc',
      'abc-',
      'ABC-1',
      'abc-01',
      'abc-1.5',
      'abc--1',
      'a b-1',
      'abc-99999999999999999',
    ]) {
      expect(tryParsePosition(text), text).toBeUndefined();
      expect(isPositionText(text), text).toBe(false);
    }
    expect(() => parsePosition('nope')).toThrow(expect.objectContaining({ code: 'BAD_CURSOR' }));
  });

  it('makes distinct, well-formed epochs', () => {
    const epochs = new Set(Array.from({ length: 200 }, () => newEpoch()));
    expect(epochs.size).toBe(200);
    for (const epoch of epochs) expect(isPositionText(`${epoch}-1`)).toBe(true);
  });
});
