import { describe, expect, it } from 'vitest';
import type { TidewireError } from '../protocol/errors.js';
import { createParser, type EventStreamParser, type ParsedEvent } from './parser.js';

interface Collected {
  readonly parser: EventStreamParser;
  readonly events: ParsedEvent[];
  readonly retries: number[];
  readonly comments: string[];
  readonly errors: TidewireError[];
}

function collect(maxEventLength?: number): Collected {
  const events: ParsedEvent[] = [];
  const retries: number[] = [];
  const comments: string[] = [];
  const errors: TidewireError[] = [];
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onRetry: (retryMs) => retries.push(retryMs),
    onComment: (comment) => comments.push(comment),
    onError: (error) => errors.push(error),
    maxEventLength,
  });
  return { parser, events, retries, comments, errors };
}

/** Feeds the chunks one by one to a fresh parser and answers everything it reported. */
function parse(chunks: readonly (string | Uint8Array)[], maxEventLength?: number): Collected {
  const collected = collect(maxEventLength);
  for (const chunk of chunks) collected.parser.feed(chunk);
  return collected;
}

/** The events of a stream fed in one chunk. */
function eventsOf(...chunks: (string | Uint8Array)[]): ParsedEvent[] {
  return parse(chunks).events;
}

function msg(data: string, id = '', event = 'message'): ParsedEvent {
  return { event, data, id };
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Everything a parser reported, in a form `toEqual` compares. */
function outcome(collected: Collected): unknown {
  return {
    events: collected.events,
    retries: collected.retries,
    comments: collected.comments,
    errors: collected.errors.map((error) => error.code),
    lastEventId: collected.parser.lastEventId,
  };
}

describe('UTF-8 BOM', () => {
  it('strips one leading BOM from a string stream', () => {
    expect(eventsOf('\uFEFFdata: x\n\n')).toEqual([msg('x')]);
  });

  it('strips one leading BOM from a byte stream', () => {
    expect(eventsOf(utf8('\uFEFFdata: x\n\n'))).toEqual([msg('x')]);
  });

  it('strips a leading BOM whose bytes are split over several chunks', () => {
    expect(eventsOf(bytes(0xef), bytes(0xbb), bytes(0xbf), utf8('data: x\n\n'))).toEqual([
      msg('x'),
    ]);
  });

  it('strips a BOM that follows empty chunks', () => {
    expect(eventsOf('', '\uFEFFdata: x\n\n')).toEqual([msg('x')]);
    expect(eventsOf(new Uint8Array(0), utf8('\uFEFFdata: x\n\n'))).toEqual([msg('x')]);
  });

  it('does not strip a second BOM from a string stream: it starts the field name', () => {
    expect(eventsOf('\uFEFF\uFEFFdata: x\n\n')).toEqual([]);
  });

  it('does not strip a second BOM from a byte stream: it starts the field name', () => {
    expect(eventsOf(utf8('\uFEFF\uFEFFdata: x\n\n'))).toEqual([]);
    expect(eventsOf(utf8('\uFEFF'), utf8('\uFEFFdata: x\n\n'))).toEqual([]);
  });

  it('keeps a BOM after the stream start as part of the line', () => {
    expect(eventsOf('data: a\n\n', '\uFEFFdata: b\n\n')).toEqual([msg('a')]);
    expect(eventsOf('d', 'ata: a\n\n\uFEFFdata: b\n\n')).toEqual([msg('a')]);
    expect(eventsOf(utf8('data: a\n\n'), utf8('\uFEFFdata: b\n\n'))).toEqual([msg('a')]);
  });

  it('keeps a BOM inside a value', () => {
    expect(eventsOf('data: \uFEFFx\n\n')).toEqual([msg('\uFEFFx')]);
  });

  it('strips one leading BOM again after reset()', () => {
    const { parser, events } = collect();
    parser.feed('\uFEFFdata: a\n\n');
    parser.reset();
    parser.feed('\uFEFFdata: b\n\n');
    parser.reset();
    parser.feed(utf8('\uFEFFdata: c\n\n'));
    expect(events).toEqual([msg('a'), msg('b'), msg('c')]);
  });
});

describe('line ends', () => {
  it('accepts LF, CR and CRLF', () => {
    expect(eventsOf('data: a\n\n')).toEqual([msg('a')]);
    expect(eventsOf('data: a\r\r')).toEqual([msg('a')]);
    expect(eventsOf('data: a\r\n\r\n')).toEqual([msg('a')]);
  });

  it('accepts line ends mixed in one stream', () => {
    expect(eventsOf('data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\n\revent: e\ndata: f\n\r')).toEqual(
      [msg('a\nb\nc'), msg('d'), msg('f', '', 'e')],
    );
  });

  it('reads LF CR as two line ends, so it ends the event', () => {
    expect(eventsOf('data: a\n\rdata: b\n\n')).toEqual([msg('a'), msg('b')]);
  });

  it('treats a CRLF split across two chunks as one line end', () => {
    expect(eventsOf('data: a\r', '\ndata: b\n\n')).toEqual([msg('a\nb')]);
  });

  it('treats a CRLF split across two byte chunks as one line end', () => {
    expect(eventsOf(utf8('data: a\r'), utf8('\ndata: b\n\n'))).toEqual([msg('a\nb')]);
  });

  it('ends the line at a CR at the end of a chunk followed by a chunk not starting with LF', () => {
    expect(eventsOf('data: a\r', 'data: b\r', '\r')).toEqual([msg('a\nb')]);
    const { parser, events } = collect();
    parser.feed('data: a\r');
    parser.feed('\r');
    expect(events).toEqual([msg('a')]);
  });

  it('keeps the pending CR across an empty chunk', () => {
    expect(eventsOf('data: a\r', '', '\ndata: b\n\n')).toEqual([msg('a\nb')]);
    expect(eventsOf(utf8('data: a\r'), new Uint8Array(0), utf8('\ndata: b\n\n'))).toEqual([
      msg('a\nb'),
    ]);
  });

  it('does not join a CR and an LF that a broken character sits between', () => {
    // The lone lead byte decodes to '' first, then to U+FFFD: a line of its own, ignored.
    expect(eventsOf(utf8('data: a\r'), bytes(0xc3), utf8('\ndata: b\n\n'))).toEqual([msg('a\nb')]);
  });

  it('treats a CR CR LF as two line ends (an empty line), even split after the first CR', () => {
    expect(eventsOf('data: a\r\r\ndata: b\n\n')).toEqual([msg('a'), msg('b')]);
    expect(eventsOf('data: a\r', '\r\ndata: b\n\n')).toEqual([msg('a'), msg('b')]);
  });

  it('treats a split CRLF as one line end only once', () => {
    expect(eventsOf('data: a\r', '\n', '\ndata: b\n\n')).toEqual([msg('a'), msg('b')]);
  });
});

describe('UTF-8 decoding across chunks', () => {
  it.each([
    ['a 2-byte character', 'é'],
    ['a 3-byte character', '€'],
    ['a 4-byte character', '😀'],
  ])('joins %s split at every byte', (_name, char) => {
    const encoded = utf8(`data: ${char}${char}\n\n`);
    for (let cut = 1; cut < encoded.length; cut++) {
      expect(eventsOf(encoded.subarray(0, cut), encoded.subarray(cut))).toEqual([
        msg(`${char}${char}`),
      ]);
    }
  });

  it('decodes a stream of 2-, 3- and 4-byte characters fed one byte at a time', () => {
    const encoded = utf8('event: é€😀\ndata: 😀€é\nid: ü\n\n');
    const chunks = Array.from(encoded, (byte) => bytes(byte));
    expect(eventsOf(...chunks)).toEqual([msg('😀€é', 'ü', 'é€😀')]);
  });

  it('joins a surrogate pair split across two string chunks', () => {
    expect(eventsOf('data: \uD83D', '\uDE00\n\n')).toEqual([msg('😀')]);
  });

  it('replaces invalid UTF-8 bytes with U+FFFD', () => {
    expect(eventsOf(concat(utf8('data: a'), bytes(0xff), utf8('b\n\n')))).toEqual([
      msg('a\uFFFDb'),
    ]);
    expect(eventsOf(concat(utf8('data: '), bytes(0xc3, 0x28), utf8('\n\n')))).toEqual([
      msg('\uFFFD('),
    ]);
    expect(eventsOf(concat(utf8('data: '), bytes(0xed, 0xa0, 0x80), utf8('\n\n')))).toEqual([
      msg('\uFFFD\uFFFD\uFFFD'),
    ]);
  });

  it('replaces a truncated sequence before a line end with U+FFFD', () => {
    expect(eventsOf(utf8('data: a'), bytes(0xe2, 0x82), utf8('\n\n'))).toEqual([msg('a\uFFFD')]);
  });
});

describe('splitting a stream at every offset', () => {
  const stream =
    '\uFEFF: hello \u00E9\r\n' +
    'retry: 2500\r' +
    'id: 1\n' +
    'event: tick\r\n' +
    'data: caf\u00E9 \u20AC\n' +
    'data\r\n' +
    'data: \uD83D\uDE00:x\r' +
    '\r\n' +
    ':\n' +
    'id\n' +
    'data:  two\r\r' +
    'id: \u20AC7\nevent: only-id\n\n' +
    'data: last\n\n' +
    'data: incomplete\n';
  const encoded = utf8(stream);
  const expected = {
    events: [
      msg('caf\u00E9 \u20AC\n\n\uD83D\uDE00:x', '1', 'tick'),
      msg(' two'),
      msg('last', '\u20AC7'),
    ],
    retries: [2500],
    comments: ['hello \u00E9', ''],
    errors: [],
    lastEventId: '\u20AC7',
  };

  it('gives the expected result in one chunk', () => {
    expect(outcome(parse([encoded]))).toEqual(expected);
    expect(outcome(parse([stream]))).toEqual(expected);
  });

  it('gives the same result for bytes cut in two at every offset', () => {
    for (let cut = 0; cut <= encoded.length; cut++) {
      const result = parse([encoded.subarray(0, cut), encoded.subarray(cut)]);
      expect(outcome(result), `cut at byte ${cut}`).toEqual(expected);
    }
  });

  it('gives the same result for bytes cut in three at every pair of offsets', () => {
    for (let a = 1; a < encoded.length; a++) {
      for (let b = a; b < encoded.length; b++) {
        const chunks = [encoded.subarray(0, a), encoded.subarray(a, b), encoded.subarray(b)];
        const result = parse(chunks);
        // Comparing JSON text keeps the ~10,000 cuts fast; toEqual only runs to show a failure.
        if (JSON.stringify(outcome(result)) !== JSON.stringify(expected)) {
          expect(outcome(result), `cut at bytes ${a} and ${b}`).toEqual(expected);
        }
      }
    }
  });

  it('gives the same result for bytes fed one at a time', () => {
    expect(outcome(parse(Array.from(encoded, (byte) => bytes(byte))))).toEqual(expected);
  });

  it('gives the same result for a string cut in two at every offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const result = parse([stream.slice(0, cut), stream.slice(cut)]);
      expect(outcome(result), `cut at ${cut}`).toEqual(expected);
    }
  });

  it('gives the same result for a string fed one code unit at a time', () => {
    expect(outcome(parse(stream.split('')))).toEqual(expected);
  });
});

describe('fields', () => {
  it('reads a `data` line without a colon as a data field with an empty value', () => {
    expect(eventsOf('data\n\n')).toEqual([msg('')]);
  });

  it('reads an `event` line without a colon as an empty type, which means `message`', () => {
    expect(eventsOf('event: x\nevent\ndata: a\n\n')).toEqual([msg('a')]);
  });

  it('ignores unknown fields', () => {
    expect(eventsOf('foo: bar\nData: no\ndata : no\nDATA\nx\ndata: a\nbar\n\n')).toEqual([
      msg('a'),
    ]);
  });

  it('does not dispatch an event made only of unknown fields', () => {
    expect(eventsOf('foo: bar\nbaz\n\n')).toEqual([]);
  });

  it('strips one space after the colon', () => {
    expect(eventsOf('data: x\n\n')).toEqual([msg('x')]);
  });

  it('strips only one space after the colon', () => {
    expect(eventsOf('data:  x\n\n')).toEqual([msg(' x')]);
    expect(eventsOf('event:  t\ndata: x\n\n')).toEqual([msg('x', '', ' t')]);
  });

  it('reads a value with no space after the colon', () => {
    expect(eventsOf('data:x\n\n')).toEqual([msg('x')]);
  });

  it('does not strip a tab or trailing spaces', () => {
    expect(eventsOf('data:\tx \n\n')).toEqual([msg('\tx ')]);
  });

  it('keeps a colon in the value', () => {
    expect(eventsOf('data: a:b\n\n')).toEqual([msg('a:b')]);
    expect(eventsOf('data::\n\n')).toEqual([msg(':')]);
  });

  it('reads a value of one space as empty', () => {
    expect(eventsOf('data: \n\n')).toEqual([msg('')]);
  });

  it('keeps NUL and other control characters in data', () => {
    expect(eventsOf('data: a\0b\u0001\n\n')).toEqual([msg('a\0b\u0001')]);
  });
});

describe('comments', () => {
  it('reports a comment line with one leading space stripped', () => {
    const { comments, events } = parse([': hello\n', ':  two spaces\n', ':no space\n', ':\n']);
    expect(comments).toEqual(['hello', ' two spaces', 'no space', '']);
    expect(events).toEqual([]);
  });

  it('keeps colons in a comment', () => {
    expect(parse([': a: b:\n']).comments).toEqual(['a: b:']);
  });

  it('does not end the event that a comment sits in', () => {
    const { comments, events } = parse(['data: a\n: keep-alive\ndata: b\n\n']);
    expect(comments).toEqual(['keep-alive']);
    expect(events).toEqual([msg('a\nb')]);
  });

  it('reports a comment as soon as its line ends, before the event is dispatched', () => {
    const { parser, comments, events } = collect();
    parser.feed('data: a\n: now\n');
    expect(comments).toEqual(['now']);
    expect(events).toEqual([]);
  });

  it('works without an onComment callback', () => {
    const events: ParsedEvent[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    parser.feed(': ignored\ndata: a\nretry: 5\n\n');
    expect(events).toEqual([msg('a')]);
  });
});

describe('id', () => {
  it('sets the id of the event', () => {
    expect(eventsOf('id: 7\ndata: a\n\n')).toEqual([msg('a', '7')]);
  });

  it('uses the last id line of the event', () => {
    expect(eventsOf('id: 1\nid: 2\ndata: a\n\n')).toEqual([msg('a', '2')]);
  });

  it('keeps the last event id for later events without an id line', () => {
    expect(eventsOf('id: 1\ndata: a\n\ndata: b\n\n')).toEqual([msg('a', '1'), msg('b', '1')]);
  });

  it('ignores an id with NUL and keeps the previous id', () => {
    expect(eventsOf('id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n')).toEqual([
      msg('a', '1'),
      msg('b', '1'),
    ]);
    expect(eventsOf('id: 1\nid: \0\ndata: a\n\n')).toEqual([msg('a', '1')]);
  });

  it('resets the last event id to empty with an empty id', () => {
    expect(eventsOf('id: 1\ndata: a\n\nid:\ndata: b\n\n')).toEqual([msg('a', '1'), msg('b')]);
    expect(eventsOf('id: 1\ndata: a\n\nid\ndata: b\n\n')).toEqual([msg('a', '1'), msg('b')]);
    expect(eventsOf('id: 1\ndata: a\n\nid: \ndata: b\n\n')).toEqual([msg('a', '1'), msg('b')]);
  });

  it('keeps spaces after the first one in an id', () => {
    expect(eventsOf('id:  x \ndata: a\n\n')).toEqual([msg('a', ' x ')]);
  });

  it('updates the last event id from a block without data, for later events', () => {
    const { parser, events } = parse(['id: 5\n\n']);
    expect(events).toEqual([]);
    expect(parser.lastEventId).toBe('5');
    parser.feed('data: a\n\n');
    expect(events).toEqual([msg('a', '5')]);
  });

  it('exposes the last event id only once its event has ended', () => {
    const { parser } = collect();
    expect(parser.lastEventId).toBe('');
    parser.feed('id: 1\ndata: a\n\n');
    expect(parser.lastEventId).toBe('1');
    parser.feed('id: 2\ndata: b\n');
    expect(parser.lastEventId).toBe('1');
    parser.feed('\n');
    expect(parser.lastEventId).toBe('2');
  });

  it('does not let an id of an incomplete event leak into the next one', () => {
    const { parser, events } = parse(['id: 1\ndata: a\n\nid: 2\ndata: b\n']);
    parser.reset();
    parser.feed('data: c\n\n');
    expect(events).toEqual([msg('a', '1'), msg('c', '1')]);
    expect(parser.lastEventId).toBe('1');
  });
});

describe('retry', () => {
  it('reports a value of ASCII digits as a number', () => {
    expect(parse(['retry: 1500\n']).retries).toEqual([1500]);
    expect(parse(['retry:0\n']).retries).toEqual([0]);
    expect(parse(['retry: 007\n']).retries).toEqual([7]);
  });

  it('reports retries in order, each as soon as its line ends', () => {
    const { parser, retries } = collect();
    parser.feed('retry: 1\ndata: a\nretry: 2\n');
    expect(retries).toEqual([1, 2]);
  });

  it.each([
    ['a fraction', 'retry: 1.5'],
    ['a negative number', 'retry: -1'],
    ['a plus sign', 'retry: +1'],
    ['trailing letters', 'retry: 10a'],
    ['an exponent', 'retry: 1e3'],
    ['hex', 'retry: 0x10'],
    ['an empty value', 'retry: '],
    ['no value', 'retry'],
    ['a space left after stripping one', 'retry:  5'],
    ['a trailing space', 'retry: 5 '],
    ['non-ASCII digits', 'retry: \u0661\u0662'],
    ['full-width digits', 'retry: \uFF15'],
  ])('ignores %s', (_name, line) => {
    expect(parse([`${line}\n`]).retries).toEqual([]);
  });

  it('does not dispatch an event for a block with only retry', () => {
    expect(parse(['retry: 5\n\n']).events).toEqual([]);
  });
});

describe('event type', () => {
  it('defaults to message', () => {
    expect(eventsOf('data: a\n\n')).toEqual([msg('a', '', 'message')]);
  });

  it('is set by `event:`', () => {
    expect(eventsOf('event: tick\ndata: a\n\n')).toEqual([msg('a', '', 'tick')]);
  });

  it('is the last `event:` field of the event', () => {
    expect(eventsOf('event: a\nevent: b\ndata: x\n\n')).toEqual([msg('x', '', 'b')]);
  });

  it('is reset after each dispatch', () => {
    expect(eventsOf('event: tick\ndata: a\n\ndata: b\n\n')).toEqual([
      msg('a', '', 'tick'),
      msg('b'),
    ]);
  });

  it('is reset by a block without data', () => {
    expect(eventsOf('event: tick\n\ndata: b\n\n')).toEqual([msg('b')]);
  });

  it('is `message` when set to the empty string', () => {
    expect(eventsOf('event:\ndata: a\n\n')).toEqual([msg('a')]);
  });
});

describe('data and dispatch', () => {
  it('does not dispatch a block with only event and id lines', () => {
    const { events, parser } = parse(['event: tick\nid: 3\n\n']);
    expect(events).toEqual([]);
    expect(parser.lastEventId).toBe('3');
  });

  it('does not dispatch for blank lines alone', () => {
    expect(eventsOf('\n\n\r\n\r\r')).toEqual([]);
  });

  it('dispatches an event with empty data for `data:` with an empty value', () => {
    expect(eventsOf('data:\n\n')).toEqual([msg('')]);
  });

  it('joins several data lines with LF', () => {
    expect(eventsOf('data: a\ndata: b\ndata: c\n\n')).toEqual([msg('a\nb\nc')]);
  });

  it('removes the trailing LF only once', () => {
    expect(eventsOf('data\ndata\n\n')).toEqual([msg('\n')]);
    expect(eventsOf('data: a\ndata\n\n')).toEqual([msg('a\n')]);
    expect(eventsOf('data\ndata\ndata\n\n')).toEqual([msg('\n\n')]);
  });

  it('does not dispatch an incomplete event until its blank line arrives', () => {
    const { parser, events } = collect();
    parser.feed('data: a\n');
    parser.feed('data: b');
    expect(events).toEqual([]);
    parser.feed('\n');
    expect(events).toEqual([]);
    parser.feed('\n');
    expect(events).toEqual([msg('a\nb')]);
  });

  it('does not take the end of a chunk for the end of a line', () => {
    expect(eventsOf('da', 'ta: a', 'b', '\n', '\n')).toEqual([msg('ab')]);
  });

  it('dispatches every event of one chunk, in order', () => {
    expect(eventsOf('data: 1\n\ndata: 2\n\ndata: 3\n\n')).toEqual([msg('1'), msg('2'), msg('3')]);
  });
});

describe('reset()', () => {
  it('drops the incomplete line', () => {
    const { parser, events } = collect();
    parser.feed('data: a\n\ndata: par');
    parser.reset();
    parser.feed('tial\n\ndata: b\n\n');
    expect(events).toEqual([msg('a'), msg('b')]);
  });

  it('drops the incomplete event', () => {
    const { parser, events } = collect();
    parser.feed('event: x\ndata: a\n');
    parser.reset();
    parser.feed('data: b\n\n');
    expect(events).toEqual([msg('b')]);
  });

  it('drops pending partial UTF-8 bytes', () => {
    const { parser, events } = collect();
    parser.feed(utf8('data: a\n'));
    parser.feed(bytes(0xe2, 0x82));
    parser.reset();
    parser.feed(utf8('data: b\n\n'));
    expect(events).toEqual([msg('b')]);
  });

  it('keeps the last event id', () => {
    const { parser, events } = collect();
    parser.feed('id: 1\ndata: a\n\n');
    parser.reset();
    expect(parser.lastEventId).toBe('1');
    parser.feed('data: b\n\n');
    expect(events).toEqual([msg('a', '1'), msg('b', '1')]);
  });

  it('replaces the last event id with options.lastEventId', () => {
    const { parser, events } = collect();
    parser.feed('id: 1\ndata: a\n\n');
    parser.reset({ lastEventId: 'x' });
    expect(parser.lastEventId).toBe('x');
    parser.feed('data: b\n\ndata: c\n\n');
    expect(events).toEqual([msg('a', '1'), msg('b', 'x'), msg('c', 'x')]);
  });

  it('can clear the last event id with an empty options.lastEventId', () => {
    const { parser, events } = collect();
    parser.feed('id: 1\ndata: a\n\n');
    parser.reset({ lastEventId: '' });
    parser.feed('data: b\n\n');
    expect(events).toEqual([msg('a', '1'), msg('b')]);
  });

  it('ends a discarded oversized event', () => {
    const { parser, events, errors } = collect(10);
    parser.feed('data: 0123456789abc');
    parser.reset();
    parser.feed('data: b\n\n');
    expect(errors).toHaveLength(1);
    expect(events).toEqual([msg('b')]);
  });
});

describe('maxEventLength', () => {
  it('accepts an event whose data and line are exactly at the limit, and refuses one more', () => {
    // The measure is the data so far plus the whole line being read, field name included.
    const { events, errors } = parse(['data: 0123456789\n\n'], 16);
    expect(errors).toEqual([]);
    expect(events).toEqual([msg('0123456789')]);
    expect(parse(['data: 0123456789\n\n'], 15).errors).toHaveLength(1);
  });

  it('gives the same outcome however the input is chunked', () => {
    const input = 'data: 123456\n\n: xxxxxxxxxxxxxxxxxxxx\ndata: a\n\ndata: ok\n\n';
    const outcome = (chunks: string[]) => {
      const { events, comments, errors } = parse(chunks, 14);
      return { events, comments, errors: errors.map((error) => error.code) };
    };
    const whole = outcome([input]);
    for (let cut = 1; cut < input.length; cut++) {
      expect(outcome([input.slice(0, cut), input.slice(cut)]), `cut at ${cut}`).toEqual(whole);
    }
    expect(whole.events).toEqual([msg('123456'), msg('ok')]);
    expect(whole.errors).toHaveLength(1);
  });

  it('drops one long data line fed in many chunks, reports it once, then goes on', () => {
    const { parser, events, errors } = collect(100);
    parser.feed('data: ');
    for (let i = 0; i < 50; i++) parser.feed('0123456789');
    parser.feed('\n\ndata: next\n\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'TidewireError', code: 'MESSAGE_TOO_LARGE' });
    expect(events).toEqual([msg('next')]);
  });

  it('drops an event of many data lines, reports it once, then goes on', () => {
    const { events, errors } = parse(
      [`${'data: 0123456789\n'.repeat(30)}\ndata: next\n\n`, 'data: again\n\n'],
      100,
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe('MESSAGE_TOO_LARGE');
    expect(events).toEqual([msg('next'), msg('again')]);
  });

  it('drops an event of many data lines fed line by line', () => {
    const { parser, events, errors } = collect(100);
    for (let i = 0; i < 30; i++) parser.feed('data: 0123456789\n');
    parser.feed('\ndata: next\n\n');
    expect(errors.map((error) => error.code)).toEqual(['MESSAGE_TOO_LARGE']);
    expect(events).toEqual([msg('next')]);
  });

  it('drops a long line that arrives whole with its own line end', () => {
    const { events, errors } = parse([`data: ${'x'.repeat(200)}\ndata: y\n\ndata: next\n\n`], 100);
    expect(errors).toHaveLength(1);
    expect(events).toEqual([msg('next')]);
  });

  it('does not take the line end of a dropped long line for a blank line', () => {
    const { parser, events, errors } = collect(100);
    parser.feed(`data: ${'x'.repeat(200)}`);
    parser.feed('\n');
    parser.feed('data: same event\n');
    parser.feed('\n');
    parser.feed('data: next\n\n');
    expect(errors).toHaveLength(1);
    expect(events).toEqual([msg('next')]);
  });

  it('does not take the CRLF of a dropped long line split across chunks for two line ends', () => {
    const { parser, events, errors } = collect(100);
    parser.feed(`data: ${'x'.repeat(200)}\r`);
    parser.feed('\ndata: same event\r\n\r\ndata: next\r\n\r\n');
    expect(errors).toHaveLength(1);
    expect(events).toEqual([msg('next')]);
  });

  it('keeps dropping the rest of a long line that spans chunks past the limit many times', () => {
    const { parser, events, errors } = collect(100);
    parser.feed('data: ');
    for (let i = 0; i < 10; i++) parser.feed('x'.repeat(150));
    parser.feed('\n\ndata: next\n\n');
    expect(errors).toHaveLength(1);
    expect(events).toEqual([msg('next')]);
  });

  it('skips every line of the dropped event up to its blank line, id, retry and comments too', () => {
    const { parser, events, retries, comments, errors } = parse(
      [`id: 1\ndata: ${'x'.repeat(200)}\nid: 2\nretry: 5\n: skipped\nevent: e\ndata: y\n\n`],
      100,
    );
    expect(errors).toHaveLength(1);
    expect(retries).toEqual([]);
    expect(comments).toEqual([]);
    expect(events).toEqual([]);
    // The id line before the overflow was read; the one after it was skipped.
    expect(parser.lastEventId).toBe('1');
    parser.feed('data: next\n\n');
    expect(events).toEqual([msg('next', '1')]);
  });

  it('reports each oversized event once', () => {
    const long = `data: ${'x'.repeat(200)}\n\n`;
    const { events, errors } = parse([long, 'data: a\n\n', long, 'data: b\n\n'], 100);
    expect(errors).toHaveLength(2);
    expect(events).toEqual([msg('a'), msg('b')]);
  });

  it('counts in UTF-16 code units', () => {
    expect(parse(['data: 😀😀\n\n'], 10).events).toEqual([msg('😀😀')]);
    expect(parse(['data: 😀😀😀\n\n'], 10).errors).toHaveLength(1);
  });
});

describe('callbacks that throw', () => {
  it('parses the rest of the chunk and rethrows the first error from feed()', () => {
    const events: ParsedEvent[] = [];
    const first = new Error('first');
    const parser = createParser({
      onEvent: (event) => {
        events.push(event);
        if (event.data === 'a') throw first;
        if (event.data === 'b') throw new Error('second');
      },
    });
    expect(() => parser.feed('data: a\n\ndata: b\n\ndata: c\n\n')).toThrow(first);
    expect(events).toEqual([msg('a'), msg('b'), msg('c')]);
  });

  it('leaves the parser usable after rethrowing', () => {
    const events: ParsedEvent[] = [];
    const parser = createParser({
      onEvent: (event) => {
        events.push(event);
        if (event.data === 'a') throw new Error('boom');
      },
    });
    expect(() => parser.feed('id: 1\ndata: a\n\ndata: b')).toThrow('boom');
    expect(() => parser.feed('\n\n')).not.toThrow();
    expect(events).toEqual([msg('a', '1'), msg('b', '1')]);
  });

  it('rethrows what onRetry, onComment and onError throw, after parsing the chunk', () => {
    const events: ParsedEvent[] = [];
    const thrower = (label: string) => () => {
      throw new Error(label);
    };
    const parser = createParser({
      onEvent: (event) => events.push(event),
      onRetry: thrower('retry'),
      onComment: thrower('comment'),
      onError: thrower('error'),
      maxEventLength: 12,
    });
    expect(() => parser.feed('retry: 1\ndata: a\n\n')).toThrow('retry');
    expect(() => parser.feed(': c\ndata: b\n\n')).toThrow('comment');
    expect(() => parser.feed('data: 0123456789\n\ndata: c\n\n')).toThrow('error');
    expect(events).toEqual([msg('a'), msg('b'), msg('c')]);
  });

  it('rethrows a thrown value that is not an Error, even undefined', () => {
    const parser = createParser({
      onEvent: () => {
        throw undefined;
      },
    });
    let caught: unknown = 'nothing thrown';
    try {
      parser.feed('data: a\n\n');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeUndefined();
  });
});
