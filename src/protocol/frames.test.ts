import { describe, expect, it } from 'vitest';
import { parseClientFrame } from './frames.js';

describe('parseClientFrame', () => {
  it('reads each frame type', () => {
    expect(
      parseClientFrame('{"type":"subscribe","channels":["a","b","a"],"since":{"a":"e-1"}}'),
    ).toEqual({
      type: 'subscribe',
      channels: ['a', 'b'],
      since: { a: 'e-1' },
    });
    expect(parseClientFrame('{"type":"unsubscribe","channels":["a"]}')).toEqual({
      type: 'unsubscribe',
      channels: ['a'],
    });
    expect(parseClientFrame('{"type":"publish","channel":"a","data":{"x":1},"ref":"r1"}')).toEqual({
      type: 'publish',
      channel: 'a',
      event: 'message',
      data: { x: 1 },
      ref: 'r1',
    });
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ type: 'ping' });
  });

  it.each([
    ['not JSON', '{', 'BAD_JSON'],
    ['an array', '[]', 'BAD_REQUEST'],
    ['a string', '"x"', 'BAD_REQUEST'],
    ['an unknown type', '{"type":"hello"}', 'UNKNOWN_FRAME'],
    ['no channels', '{"type":"subscribe"}', 'BAD_REQUEST'],
    ['empty channels', '{"type":"subscribe","channels":[]}', 'BAD_REQUEST'],
    ['a bad channel', '{"type":"subscribe","channels":["a b"]}', 'BAD_CHANNEL'],
    ['a bad since', '{"type":"subscribe","channels":["a"],"since":[1]}', 'BAD_CURSOR'],
    [
      'a non-string position',
      '{"type":"subscribe","channels":["a"],"since":{"a":1}}',
      'BAD_CURSOR',
    ],
    ['publish without data', '{"type":"publish","channel":"a"}', 'BAD_REQUEST'],
    [
      'an event with a line break',
      '{"type":"publish","channel":"a","event":"x\\ny","data":1}',
      'BAD_EVENT',
    ],
    [
      'binary data that is not base64',
      '{"type":"publish","channel":"a","binary":true,"data":"%%"}',
      'BAD_REQUEST',
    ],
    ['a long ref', `{"type":"ping","ref":"${'r'.repeat(200)}"}`, 'BAD_REQUEST'],
  ])('refuses %s', (_name, text, code) => {
    expect(() => parseClientFrame(text)).toThrow(expect.objectContaining({ code }));
  });

  it('keeps the ref on errors so that the answer can be correlated', () => {
    expect(() =>
      parseClientFrame('{"type":"publish","channel":"a b","data":1,"ref":"r9"}'),
    ).toThrow(expect.objectContaining({ code: 'BAD_CHANNEL', ref: 'r9' }));
  });

  it('does not pollute prototypes', () => {
    const frame = parseClientFrame(
      '{"type":"publish","channel":"a","data":{"__proto__":{"polluted":true}}}',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(frame.type).toBe('publish');
  });
});
