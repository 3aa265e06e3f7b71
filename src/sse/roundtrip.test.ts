import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEvent, type SseEventFields } from './format.js';
import { createParser, type ParsedEvent } from './parser.js';

/**
 * fast-check settings: a fixed seed so a run is reproducible (`FC_SEED` replays another one)
 * and `FC_RUNS` runs per property.
 */
function fcParams(): { seed: number; numRuns: number } {
  const seed = process.env.FC_SEED;
  const runs = process.env.FC_RUNS;
  return {
    seed: seed === undefined || seed === '' ? 42 : Number(seed),
    numRuns: runs === undefined || runs === '' ? 200 : Number(runs),
  };
}

function check<T>(property: fc.IProperty<T>): void {
  fc.assert(property, fcParams());
}

const LINE_BREAK = /\r\n|\r|\n/;

/** Text units that matter to the format, mixed with any code point (astral ones included). */
const textUnit = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      '\r',
      '\n',
      '\r\n',
      '\n\r',
      ' ',
      ':',
      '\0',
      '\uFEFF',
      '\uFFFD',
      '\u2028',
      'é',
      '€',
      '😀',
      'data: ',
      'id:',
      'event',
      'retry: 1',
    ),
    weight: 3,
  },
);
const anyText = fc.string({ unit: textUnit, maxLength: 30 });
/** Text an `id` or `event` may hold: no CR, LF or NUL. */
const fieldText = fc.string({
  unit: textUnit.filter((unit) => !/[\r\n\0]/.test(unit)),
  maxLength: 20,
});

const eventFields: fc.Arbitrary<SseEventFields & { data?: string }> = fc.record({
  id: fc.option(fc.oneof({ arbitrary: fieldText, weight: 4 }, fc.integer()), { nil: undefined }),
  event: fc.option(fieldText, { nil: undefined }),
  data: fc.option(anyText, { nil: undefined, freq: 6 }),
  retry: fc.option(fc.nat(), { nil: undefined, freq: 2 }),
  comment: fc.option(anyText, { nil: undefined, freq: 2 }),
});

/** Random cut points; `boundaries` fits them to the input's length. */
const cutPoints = fc.array(fc.nat(), { maxLength: 12 });

/** Cuts `length` at the given points (taken modulo length + 1), in order, ends included. */
function boundaries(length: number, points: readonly number[]): number[] {
  const cuts = points.map((point) => point % (length + 1)).sort((a, b) => a - b);
  return [0, ...cuts, length];
}

function cutBytes(input: Uint8Array, points: readonly number[]): Uint8Array[] {
  const at = boundaries(input.length, points);
  return at.slice(1).map((end, i) => input.subarray(at[i], end));
}

function cutString(input: string, points: readonly number[]): string[] {
  const at = boundaries(input.length, points);
  return at.slice(1).map((end, i) => input.slice(at[i], end));
}

interface Outcome {
  events: ParsedEvent[];
  retries: number[];
  comments: string[];
  lastEventId: string;
  /** Codes of the oversized events; only when a `maxEventLength` is given. */
  tooLong?: string[];
}

function parseChunks(chunks: readonly (string | Uint8Array)[], maxEventLength?: number): Outcome {
  const outcome: Outcome = { events: [], retries: [], comments: [], lastEventId: '' };
  const tooLong: string[] = [];
  if (maxEventLength !== undefined) outcome.tooLong = tooLong;
  const parser = createParser({
    onEvent: (event) => outcome.events.push(event),
    onRetry: (retryMs) => outcome.retries.push(retryMs),
    onComment: (comment) => outcome.comments.push(comment),
    onError: (error) => {
      if (maxEventLength === undefined) throw error;
      tooLong.push(error.code);
    },
    maxEventLength,
  });
  for (const chunk of chunks) parser.feed(chunk);
  outcome.lastEventId = parser.lastEventId;
  return outcome;
}

/** What a parser must report for the formatted events, tracking the last event ID. */
function expectedOutcome(list: readonly (SseEventFields & { data?: string })[]): Outcome {
  const outcome: Outcome = { events: [], retries: [], comments: [], lastEventId: '' };
  for (const fields of list) {
    if (fields.comment !== undefined) outcome.comments.push(...fields.comment.split(LINE_BREAK));
    if (fields.retry !== undefined) outcome.retries.push(fields.retry);
    if (fields.id !== undefined) outcome.lastEventId = String(fields.id);
    if (fields.data === undefined) continue;
    outcome.events.push({
      event: fields.event === undefined || fields.event === '' ? 'message' : fields.event,
      data: fields.data.split(LINE_BREAK).join('\n'),
      id: outcome.lastEventId,
    });
  }
  return outcome;
}

describe('formatEvent → parser round trip', () => {
  it('parses formatted events back from UTF-8 bytes cut at random offsets', () => {
    check(
      fc.property(fc.array(eventFields, { maxLength: 8 }), cutPoints, (list, points) => {
        const stream = list.map((fields) => formatEvent(fields)).join('');
        const chunks = cutBytes(new TextEncoder().encode(stream), points);
        expect(parseChunks(chunks)).toEqual(expectedOutcome(list));
      }),
    );
  });

  it('parses formatted events back from string chunks cut at random offsets', () => {
    check(
      fc.property(fc.array(eventFields, { maxLength: 8 }), cutPoints, (list, points) => {
        const stream = list.map((fields) => formatEvent(fields)).join('');
        expect(parseChunks(cutString(stream, points))).toEqual(expectedOutcome(list));
      }),
    );
  });

  it('parses formatted events back when fed one byte at a time', () => {
    check(
      fc.property(fc.array(eventFields, { maxLength: 4 }), (list) => {
        const encoded = new TextEncoder().encode(
          list.map((fields) => formatEvent(fields)).join(''),
        );
        const chunks = Array.from(encoded, (byte) => Uint8Array.of(byte));
        expect(parseChunks(chunks)).toEqual(expectedOutcome(list));
      }),
    );
  });

  it('parses a stream that starts with a BOM the same', () => {
    check(
      fc.property(fc.array(eventFields, { maxLength: 4 }), cutPoints, (list, points) => {
        const stream = `\uFEFF${list.map((fields) => formatEvent(fields)).join('')}`;
        const chunks = cutBytes(new TextEncoder().encode(stream), points);
        expect(parseChunks(chunks)).toEqual(expectedOutcome(list));
      }),
    );
  });

  it('parses non-string data back to its JSON text', () => {
    check(
      fc.property(
        fc.jsonValue().filter((value) => typeof value !== 'string'),
        cutPoints,
        (value, points) => {
          const chunks = cutString(formatEvent({ data: value }), points);
          expect(parseChunks(chunks).events).toEqual([
            { event: 'message', data: JSON.stringify(value), id: '' },
          ]);
        },
      ),
    );
  });

  it('round-trips an event name that starts with a space', () => {
    expect(parseChunks([formatEvent({ event: ' x', data: 'a' })]).events).toEqual([
      { event: ' x', data: 'a', id: '' },
    ]);
  });
});

describe('parser on arbitrary input', () => {
  /**
   * Input dense in field names, colons and line breaks, with lone surrogates too, and often
   * one or two BOMs in front (only the first may be stripped).
   */
  const streamText = fc
    .tuple(
      fc.constantFrom('', '', '\uFEFF', '\uFEFF\uFEFF'),
      fc.string({
        unit: fc.oneof(
          textUnit,
          fc.constantFrom(
            '\n\n',
            '\r\r',
            'data',
            'id: 1',
            'event: e',
            'retry: 9',
            '\uD83D',
            '\uDE00',
          ),
        ),
        maxLength: 60,
      }),
    )
    .map(([boms, text]) => boms + text);
  const streamBytes = fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    streamText.map((text) => new TextEncoder().encode(text)),
    fc.tuple(streamText, fc.uint8Array({ maxLength: 8 }), streamText).map(([a, noise, b]) => {
      const encoder = new TextEncoder();
      return Uint8Array.from([...encoder.encode(a), ...noise, ...encoder.encode(b)]);
    }),
    fc
      .tuple(
        fc.constantFrom('', '\uFEFF', '\uFEFF\uFEFF'),
        fc.array(eventFields, { minLength: 1, maxLength: 3 }),
      )
      .map(([boms, list]) =>
        new TextEncoder().encode(boms + list.map((fields) => formatEvent(fields)).join('')),
      ),
  );

  it('never throws on bytes and gives the same result in one chunk or many', () => {
    check(
      fc.property(streamBytes, cutPoints, (input, points) => {
        const whole = parseChunks([input]);
        expect(parseChunks(cutBytes(input, points))).toEqual(whole);
      }),
    );
  });

  it('drops oversized events the same way whatever the chunking', () => {
    check(
      fc.property(streamBytes, cutPoints, fc.integer({ min: 1, max: 40 }), (input, points, max) => {
        const whole = parseChunks([input], max);
        expect(parseChunks(cutBytes(input, points), max)).toEqual(whole);
        expect(
          parseChunks(
            Array.from(input, (byte) => Uint8Array.of(byte)),
            max,
          ),
        ).toEqual(whole);
      }),
    );
  });

  it('never throws on bytes fed one at a time and gives the same result', () => {
    check(
      fc.property(streamBytes, (input) => {
        const whole = parseChunks([input]);
        expect(parseChunks(Array.from(input, (byte) => Uint8Array.of(byte)))).toEqual(whole);
      }),
    );
  });

  it('never throws on strings and gives the same result in one chunk or many', () => {
    check(
      fc.property(
        fc.oneof(streamText, fc.string({ unit: 'binary' })),
        cutPoints,
        (input, points) => {
          const whole = parseChunks([input]);
          expect(parseChunks(cutString(input, points))).toEqual(whole);
        },
      ),
    );
  });

  it('reads bytes exactly as the string of their UTF-8 decoding', () => {
    check(
      fc.property(streamBytes, cutPoints, (input, points) => {
        const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(input);
        expect(parseChunks(cutBytes(input, points))).toEqual(parseChunks([text]));
      }),
    );
  });
});

describe('formatEvent refusals', () => {
  const withBreak = fc
    .tuple(fieldText, fc.constantFrom('\r', '\n', '\0', '\r\n'), fieldText)
    .map(([before, bad, after]) => `${before}${bad}${after}`);

  it('refuses any id that contains CR, LF or NUL with BAD_REQUEST', () => {
    check(
      fc.property(withBreak, (id) => {
        expect(() => formatEvent({ id, data: 'x' })).toThrow(
          expect.objectContaining({ code: 'BAD_REQUEST' }),
        );
      }),
    );
  });

  it('refuses any event that contains CR, LF or NUL with BAD_REQUEST', () => {
    check(
      fc.property(withBreak, (event) => {
        expect(() => formatEvent({ event, data: 'x' })).toThrow(
          expect.objectContaining({ code: 'BAD_REQUEST' }),
        );
      }),
    );
  });

  it('accepts any id and event free of CR, LF and NUL', () => {
    check(
      fc.property(fieldText, fieldText, (id, event) => {
        expect(() => formatEvent({ id, event })).not.toThrow();
      }),
    );
  });
});
