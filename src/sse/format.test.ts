import { describe, expect, it } from 'vitest';
import { formatEvent } from './format.js';

describe('formatEvent', () => {
  it('writes every field in order, ending with a blank line', () => {
    expect(
      formatEvent({ id: '7', event: 'tick', data: { p: 1 }, retry: 1000, comment: 'hi' }),
    ).toBe(': hi\nretry: 1000\nid: 7\nevent: tick\ndata: {"p":1}\n\n');
  });

  it('splits data on every kind of line break', () => {
    expect(formatEvent({ data: 'a\nb\r\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n');
  });

  it('writes string data as is and other data as JSON', () => {
    expect(formatEvent({ data: '{"x":1}' })).toBe('data: {"x":1}\n\n');
    expect(formatEvent({ data: 5 })).toBe('data: 5\n\n');
    expect(formatEvent({ data: '' })).toBe('data: \n\n');
  });

  it.each([
    ['an id with LF', { id: 'a\nb' }],
    ['an id with CR', { id: 'a\rb' }],
    ['an id with NUL', { id: 'a\0b' }],
    ['an event with LF', { event: 'a\nb' }],
    ['a negative retry', { retry: -1 }],
    ['a fractional retry', { retry: 1.5 }],
  ])('refuses %s', (_name, fields) => {
    expect(() => formatEvent(fields)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});
