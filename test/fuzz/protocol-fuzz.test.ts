import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CURSOR_LENGTH, decodeCursor, encodeCursor } from '../../src/core/cursor.js';
import { assertChannel, isValidChannel } from '../../src/protocol/channel.js';
import { readCursor } from '../../src/protocol/cursor.js';
import { RESERVED_EVENTS } from '../../src/protocol/envelope.js';
import { TidewireError } from '../../src/protocol/errors.js';
import { type ClientFrame, parseClientFrame } from '../../src/protocol/frames.js';
import { formatEvent } from '../../src/sse/format.js';
import { type ParsedEvent, createParser } from '../../src/sse/parser.js';
import {
  CHANNEL_ALPHABET,
  HUGE_NUMBERS,
  PROTOTYPE_CHANNELS,
  PROTOTYPE_KEYS,
  channelish,
  eventish,
  hostileJson,
  hostileString,
  invalidChannel,
  loneSurrogate,
  mutated,
  nestedJson,
  objectWithOwnKeys,
  positionish,
  validChannel,
  validPosition,
} from './arbitraries.js';
import { announceFuzzSettings, checkProperty, fuzzTimeoutMs } from './fuzz-config.js';
import { isKnownCode } from './raw-http.js';
import { expectPristinePrototypes } from './prototypes.js';

/**
 * Hostile input against the pure functions that read what peers send: WebSocket frames,
 * cursors, the SSE stream format and channel names. Each either answers or throws a
 * `TidewireError` with a known code; nothing else ever escapes.
 */

beforeAll(() => announceFuzzSettings());
afterEach(() => expectPristinePrototypes());

const TIMEOUT = fuzzTimeoutMs('pure');

type Outcome<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: TidewireError };

/** Runs `read`; fails the test when it throws anything but a TidewireError with a known code. */
function attempt<T>(read: () => T): Outcome<T> {
  try {
    return { ok: true, value: read() };
  } catch (error) {
    if (!(error instanceof TidewireError) || !isKnownCode(error.code)) {
      throw new Error(
        `threw something other than a TidewireError with a known code: ${String(error)}`,
        {
          cause: error,
        },
      );
    }
    return { ok: false, error };
  }
}

// Oracles written from SPEC.md, independent of the regexes in src/.

function matchesChannelGrammar(name: string): boolean {
  return (
    name.length >= 1 &&
    name.length <= 128 &&
    [...name].every((char) => CHANNEL_ALPHABET.includes(char))
  );
}

function isAcceptableEvent(event: string): boolean {
  if (event.length < 1 || event.length > 128 || RESERVED_EVENTS.has(event)) return false;
  for (let i = 0; i < event.length; i++) {
    const code = event.charCodeAt(i);
    if (code <= 0x1f || code === 0x7f) return false;
  }
  return true;
}

function isPositionText(text: string): boolean {
  const dash = text.lastIndexOf('-');
  const epoch = text.slice(0, dash);
  const seq = text.slice(dash + 1);
  return (
    dash > 0 &&
    epoch.length <= 24 &&
    [...epoch].every((char) => '0123456789abcdefghijklmnopqrstuvwxyz'.includes(char)) &&
    /^(0|[1-9][0-9]*)$/.test(seq) &&
    Number.isSafeInteger(Number(seq))
  );
}

/** What a frame that parsed must look like, whatever the input was. */
function expectWellFormedFrame(frame: ClientFrame): void {
  const ref = (frame as { ref?: unknown }).ref;
  expect(ref === undefined || (typeof ref === 'string' && ref.length <= 128)).toBe(true);
  switch (frame.type) {
    case 'subscribe':
    case 'unsubscribe':
      expect(frame.channels.length).toBeGreaterThan(0);
      expect(new Set(frame.channels).size).toBe(frame.channels.length);
      for (const channel of frame.channels) expect(matchesChannelGrammar(channel)).toBe(true);
      if (frame.type === 'subscribe' && frame.since !== undefined) {
        // A null-prototype map: a `__proto__` key is an own entry, never a prototype.
        expect(Object.getPrototypeOf(frame.since)).toBe(null);
        for (const [channel, position] of Object.entries(frame.since)) {
          expect(matchesChannelGrammar(channel)).toBe(true);
          expect(typeof position).toBe('string');
        }
      }
      break;
    case 'publish':
      expect(matchesChannelGrammar(frame.channel)).toBe(true);
      expect(isAcceptableEvent(frame.event)).toBe(true);
      expect(Object.hasOwn(frame, 'data')).toBe(true);
      if (frame.binary) expect(frame.data).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
      break;
    case 'ping':
      expect(frame).toEqual({ type: 'ping' });
      break;
    default:
      throw new Error(`unexpected frame type ${JSON.stringify(frame)}`);
  }
}

function expectFrameOutcome(text: string): Outcome<ClientFrame> {
  const outcome = attempt(() => parseClientFrame(text));
  if (outcome.ok) expectWellFormedFrame(outcome.value);
  return outcome;
}

/** Frame-shaped objects: the right keys with values from anywhere, prototype keys on top. */
const frameShaped: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(
      {
        type: fc.oneof(
          { arbitrary: fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping'), weight: 8 },
          {
            arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, 'toString', 'PING', 'message', ''),
            weight: 1,
          },
          { arbitrary: fc.jsonValue({ maxDepth: 1 }), weight: 1 },
        ),
        channels: fc.oneof(
          { arbitrary: fc.array(channelish, { maxLength: 4 }), weight: 4 },
          { arbitrary: channelish, weight: 1 },
        ),
        channel: channelish,
        since: fc.oneof(
          {
            arbitrary: fc
              .array(
                fc.tuple(
                  fc.oneof(validChannel, hostileString(8)),
                  fc.oneof(positionish, fc.jsonValue({ maxDepth: 1 })),
                ),
                {
                  maxLength: 3,
                },
              )
              .map(objectWithOwnKeys),
            weight: 4,
          },
          { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
        ),
        event: eventish,
        data: hostileJson,
        binary: fc.oneof(fc.boolean(), fc.constantFrom(null, 0, 1, 'true')),
        ref: fc.oneof(
          fc.string({ maxLength: 10 }),
          fc.integer(),
          fc.double(),
          fc.string({ minLength: 120, maxLength: 140 }),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      },
      { requiredKeys: ['type'] },
    ),
    fc.array(fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), hostileJson), { maxLength: 2 }),
  )
  .map(([frame, extra]) => objectWithOwnKeys([...Object.entries(frame), ...extra]));

/** Valid frames with the frame `parseClientFrame` must return for them. */
const validFrame: fc.Arbitrary<{
  readonly sent: Record<string, unknown>;
  readonly expected: ClientFrame;
}> = fc.oneof(
  fc
    .record(
      {
        channels: fc.array(validChannel, { minLength: 1, maxLength: 5 }),
        since: fc.array(fc.tuple(validChannel, validPosition), { maxLength: 3 }),
        ref: fc.oneof(fc.string({ maxLength: 128 }), fc.integer()),
      },
      { requiredKeys: ['channels'] },
    )
    .chain((fields) =>
      fc.constantFrom('subscribe' as const, 'unsubscribe' as const).map((type) => {
        const since = fields.since === undefined ? undefined : objectWithOwnKeys(fields.since);
        const sent: Record<string, unknown> = {
          type,
          channels: fields.channels,
          ...(type === 'subscribe' && since !== undefined ? { since } : {}),
          ...(fields.ref === undefined ? {} : { ref: fields.ref }),
        };
        const channels = [...new Set(fields.channels)];
        const ref = fields.ref === undefined ? undefined : String(fields.ref);
        const expected: ClientFrame =
          type === 'subscribe'
            ? {
                type,
                channels,
                ...(since === undefined ? {} : { since: since as Record<string, string> }),
                ...(ref === undefined ? {} : { ref }),
              }
            : { type, channels, ...(ref === undefined ? {} : { ref }) };
        return { sent, expected };
      }),
    ),
  fc
    .record(
      {
        channel: validChannel,
        event: fc.oneof(
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
          fc.constant(null),
        ),
        data: hostileJson,
        bytes: fc.uint8Array({ maxLength: 20 }),
        binary: fc.boolean(),
        ref: fc.oneof(fc.string({ maxLength: 128 }), fc.integer()),
      },
      { requiredKeys: ['channel', 'data', 'binary'] },
    )
    .filter(
      (fields) =>
        fields.event === undefined || fields.event === null || isAcceptableEvent(fields.event),
    )
    .map((fields) => {
      const data = fields.binary ? Buffer.from(fields.bytes ?? []).toString('base64') : fields.data;
      const ref = fields.ref === undefined ? undefined : String(fields.ref);
      const sent: Record<string, unknown> = {
        type: 'publish',
        channel: fields.channel,
        data,
        ...(fields.event === undefined ? {} : { event: fields.event }),
        ...(fields.binary ? { binary: true } : {}),
        ...(fields.ref === undefined ? {} : { ref: fields.ref }),
      };
      const expected: ClientFrame = {
        type: 'publish',
        channel: fields.channel,
        event: fields.event ?? 'message',
        data: JSON.parse(JSON.stringify(data) ?? 'null') as unknown,
        ...(fields.binary ? { binary: true as const } : {}),
        ...(ref === undefined ? {} : { ref }),
      };
      return { sent, expected };
    }),
  fc.option(fc.integer(), { nil: undefined }).map((ref) => ({
    sent: { type: 'ping', ...(ref === undefined ? {} : { ref }) },
    expected: { type: 'ping' } as ClientFrame,
  })),
);

/** JSON text of a frame, compared as text so that own `__proto__` keys count. */
function canonical(frame: ClientFrame): string {
  return JSON.stringify(frame);
}

describe('parseClientFrame', () => {
  it(
    'answers arbitrary text with a frame or a TidewireError with a known code',
    () => {
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 80 }),
        hostileString(60),
        fc.string({
          unit: fc.constantFrom(
            '{',
            '}',
            '[',
            ']',
            '"',
            ':',
            ',',
            '\\',
            'u',
            'd8',
            '0',
            'type',
            'ping',
            ' ',
          ),
          maxLength: 40,
        }),
      );
      checkProperty(fc.property(text, (input) => void expectFrameOutcome(input)));
    },
    TIMEOUT,
  );

  it(
    'answers arbitrary JSON values, prototype keys included, without polluting anything',
    () => {
      const value = fc.oneof(fc.jsonValue(), hostileJson, frameShaped);
      checkProperty(
        fc.property(value, (input) => {
          const outcome = expectFrameOutcome(JSON.stringify(input) ?? 'null');
          // An object without a known `type` is UNKNOWN_FRAME (or BAD_REQUEST for its ref).
          if (
            !outcome.ok &&
            (typeof input !== 'object' || input === null || Array.isArray(input))
          ) {
            expect(outcome.error.code).toBe('BAD_REQUEST');
          }
        }),
      );
    },
    TIMEOUT,
  );

  it(
    'answers frames with huge numbers, lone surrogates and deep nesting',
    () => {
      const hostileValue = fc.oneof(
        fc.constantFrom(...HUGE_NUMBERS),
        loneSurrogate.map((char) => `"${char}"`),
        loneSurrogate.map((char) => JSON.stringify(char)),
        fc
          .tuple(
            fc.integer({ min: 1, max: 20_000 }),
            fc.constantFrom('array' as const, 'object' as const),
          )
          .map(([depth, kind]) => nestedJson(depth, kind)),
      );
      const template = fc.constantFrom(
        (v: string) => `{"type":"publish","channel":"a","data":${v},"ref":"r"}`,
        (v: string) => `{"type":"publish","channel":"a","event":${v},"data":1}`,
        (v: string) => `{"type":"publish","channel":${v},"data":1}`,
        (v: string) => `{"type":"subscribe","channels":[${v}]}`,
        (v: string) => `{"type":"subscribe","channels":["a"],"since":{"a":${v}}}`,
        (v: string) => `{"type":"subscribe","channels":["a"],"since":${v}}`,
        (v: string) => `{"type":"ping","ref":${v}}`,
        (v: string) => `{"type":${v}}`,
        (v: string) => v,
      );
      checkProperty(
        fc.property(template, hostileValue, (make, value) => void expectFrameOutcome(make(value))),
      );
    },
    TIMEOUT,
  );

  it(
    'answers mutated valid frames with a frame or a known error',
    () => {
      checkProperty(
        fc.property(
          mutated(validFrame.map(({ sent }) => JSON.stringify(sent))),
          (text) => void expectFrameOutcome(text),
        ),
      );
    },
    TIMEOUT,
  );

  it(
    'reads every valid frame back as it was sent',
    () => {
      checkProperty(
        fc.property(validFrame, ({ sent, expected }) => {
          const outcome = expectFrameOutcome(JSON.stringify(sent));
          if (!outcome.ok) throw outcome.error;
          expect(canonical(outcome.value)).toBe(canonical(expected));
          if (outcome.value.type === 'publish') {
            // Data keeps its own `__proto__` keys and its ordinary prototype.
            expect(JSON.stringify(outcome.value.data)).toBe(JSON.stringify(sent.data));
          }
        }),
      );
    },
    TIMEOUT,
  );

  it('keeps a `__proto__` key of data and since as an own key', () => {
    const frame = parseClientFrame(
      '{"type":"publish","channel":"a","data":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}}',
    );
    if (frame.type !== 'publish') throw new Error('not a publish frame');
    const data = frame.data as Record<string, unknown>;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.keys(data)).toEqual(['__proto__', 'constructor']);
    const subscribe = parseClientFrame(
      '{"type":"subscribe","channels":["__proto__"],"since":{"__proto__":"a-1","constructor":"a-2"}}',
    );
    if (subscribe.type !== 'subscribe') throw new Error('not a subscribe frame');
    expect(Object.entries(subscribe.since ?? {})).toEqual([
      ['__proto__', 'a-1'],
      ['constructor', 'a-2'],
    ]);
  });
});

describe('decodeCursor', () => {
  const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
  const channelsArb = fc.uniqueArray(validChannel, { maxLength: 4 });
  const cursorText = fc.oneof(
    { arbitrary: hostileString(40), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 2 },
    { arbitrary: positionish, weight: 2 },
    // Multi-channel cursors: base64url JSON of anything, of objects with odd keys and values.
    {
      arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => base64url(JSON.stringify(value))),
      weight: 2,
    },
    {
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(validChannel, fc.constantFrom(...PROTOTYPE_KEYS), hostileString(6)),
            fc.oneof(validPosition, positionish, fc.jsonValue({ maxDepth: 2 })),
          ),
          { maxLength: 4 },
        )
        .map((entries) => base64url(JSON.stringify(objectWithOwnKeys(entries)))),
      weight: 4,
    },
    { arbitrary: mutated(fc.constant(base64url('{"a":"x-1","b":"y-2"}'))), weight: 2 },
    {
      arbitrary: fc.constantFrom(
        'eyJ',
        'eyJ=',
        `eyJ${'A'.repeat(MAX_CURSOR_LENGTH)}`,
        'a'.repeat(MAX_CURSOR_LENGTH + 1),
      ),
      weight: 1,
    },
  );

  it(
    'answers arbitrary text with positions of subscribed channels or BAD_CURSOR',
    () => {
      checkProperty(
        fc.property(cursorText, channelsArb, (cursor, channels) => {
          const outcome = attempt(() => decodeCursor(cursor, channels));
          if (!outcome.ok) {
            expect(outcome.error.code).toBe('BAD_CURSOR');
            return;
          }
          expect(outcome.value).toBeInstanceOf(Map);
          for (const [channel, position] of outcome.value) {
            expect(channels).toContain(channel);
            expect(isPositionText(position)).toBe(true);
          }
        }),
      );
    },
    TIMEOUT,
  );

  const positionsArb = fc
    .tuple(fc.subarray([...PROTOTYPE_CHANNELS]), fc.uniqueArray(validChannel, { maxLength: 12 }))
    .chain(([special, names]) => {
      const channels = [...new Set([...special, ...names])];
      return fc
        .array(validPosition, { minLength: channels.length, maxLength: channels.length })
        .map(
          (positions) => new Map(channels.map((channel, i) => [channel, positions[i] as string])),
        );
    })
    .filter((positions) => positions.size > 0);

  it(
    'decodes what it encodes, for any channels (prototype names included) and positions',
    () => {
      checkProperty(
        fc.property(
          positionsArb,
          fc.uniqueArray(validChannel, { maxLength: 3 }),
          (positions, extra) => {
            const channels = [...positions.keys()];
            const cursor = encodeCursor(positions);
            const outcome = attempt(() => decodeCursor(cursor, channels));
            if (cursor.length > MAX_CURSOR_LENGTH) {
              // Past the bound the hub refuses its own cursor: it could not travel in a header.
              expect(outcome.ok ? 'decoded' : outcome.error.code).toBe('BAD_CURSOR');
              return;
            }
            if (!outcome.ok) throw outcome.error;
            expect([...outcome.value].sort()).toEqual([...positions].sort());
            // The multi-channel form, read for a subscription with more channels than it holds.
            const multi = encodeCursor(positions, true);
            const wider = [...new Set([...channels, ...extra])];
            const read = decodeCursor(multi, wider);
            expect([...read].sort()).toEqual([...positions].sort());
            // The client reads cursors back with the protocol's reader: the same positions.
            expect([...readCursor(multi, wider)].sort()).toEqual([...positions].sort());
          },
        ),
      );
    },
    TIMEOUT,
  );
});

describe('SSE parser', () => {
  interface Parsed {
    events: ParsedEvent[];
    retries: number[];
    comments: string[];
    lastEventId: string;
  }

  function parseAll(chunks: ReadonlyArray<string | Uint8Array>): Parsed {
    const parsed: Parsed = { events: [], retries: [], comments: [], lastEventId: '' };
    const parser = createParser({
      onEvent: (event) => parsed.events.push(event),
      onRetry: (retry) => parsed.retries.push(retry),
      onComment: (comment) => parsed.comments.push(comment),
    });
    for (const chunk of chunks) parser.feed(chunk);
    parsed.lastEventId = parser.lastEventId;
    return parsed;
  }

  function cut<T extends string | Uint8Array>(input: T, points: readonly number[]): T[] {
    const at = [
      0,
      ...points.map((point) => point % (input.length + 1)).sort((a, b) => a - b),
      input.length,
    ];
    return at.slice(1).map((end, i) => input.slice(at[i], end) as T);
  }

  /** Streams dense in what matters: field names, colons, every line break, BOMs, bad bytes. */
  const streamPiece = fc.oneof(
    {
      arbitrary: fc.constantFrom(
        'data',
        'data:',
        'data: ',
        'event:',
        'event: x',
        'id:',
        'id: 7',
        'retry:',
        'retry: 10',
        ':',
        ': c',
        'x',
      ),
      weight: 4,
    },
    {
      arbitrary: fc.constantFrom('\r', '\n', '\r\n', '\n\r', '\r\r', '\n\n', '\r\n\r\n'),
      weight: 5,
    },
    { arbitrary: fc.constantFrom('\uFEFF', '\0', '\u2028', 'é', '😀', ' '), weight: 1 },
    { arbitrary: hostileString(6), weight: 2 },
  );
  const streamText = fc
    .tuple(
      fc.constantFrom('', '', '\uFEFF', '\uFEFF\uFEFF'),
      fc.array(streamPiece, { maxLength: 30 }),
    )
    .map(([bom, pieces]) => bom + pieces.join(''));
  const streamBytes = fc.oneof(
    { arbitrary: streamText.map((text) => new TextEncoder().encode(text)), weight: 4 },
    { arbitrary: fc.uint8Array({ maxLength: 60 }), weight: 1 },
    {
      arbitrary: fc
        .tuple(streamText, fc.uint8Array({ minLength: 1, maxLength: 4 }), streamText)
        .map(([a, noise, b]) => Buffer.concat([Buffer.from(a), noise, Buffer.from(b)])),
      weight: 1,
    },
  );
  const cuts = fc.array(fc.nat(), { maxLength: 10 });

  it(
    'gives the same events for bytes fed whole, in random chunks, and byte by byte',
    () => {
      checkProperty(
        fc.property(streamBytes, cuts, (bytes, points) => {
          const whole = parseAll([bytes]);
          expect(parseAll(cut(bytes, points))).toEqual(whole);
          expect(parseAll(Array.from(bytes, (byte) => Uint8Array.of(byte)))).toEqual(whole);
        }),
      );
    },
    TIMEOUT,
  );

  it(
    'gives the same events for text fed whole and in random chunks, and as its UTF-8 bytes',
    () => {
      checkProperty(
        fc.property(streamText, cuts, (text, points) => {
          const whole = parseAll([text]);
          expect(parseAll(cut(text, points))).toEqual(whole);
          // Bytes carry well-formed text only: lone surrogates become U+FFFD on the way.
          const wellFormed = new TextDecoder('utf-8', { ignoreBOM: true }).decode(
            new TextEncoder().encode(text),
          );
          expect(parseAll(cut(new TextEncoder().encode(text), points))).toEqual(
            parseAll([wellFormed]),
          );
        }),
      );
    },
    TIMEOUT,
  );

  it('reads CR, LF and CRLF split at every offset the same as whole', () => {
    const stream =
      '\uFEFFid: 1\r\ndata: a\r\rdata: b\n\nevent: e\r\ndata: c\r\n\r\nretry: 5\r\n: x\r\n';
    const bytes = new TextEncoder().encode(stream);
    const whole = parseAll([bytes]);
    expect(whole.events).toEqual([
      { event: 'message', data: 'a', id: '1' },
      { event: 'message', data: 'b', id: '1' },
      { event: 'e', data: 'c', id: '1' },
    ]);
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        expect(parseAll([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)])).toEqual(
          whole,
        );
      }
    }
  });

  const eventFieldText = fc.string({
    unit: fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
      fc.constantFrom(':', ' ', '\u2028', '\u0085', '\uFEFF', 'data: x'),
    ),
    maxLength: 16,
  });
  const dataText = fc.oneof(
    hostileString(60),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.constantFrom(
      '',
      '\r',
      '\n',
      '\r\n',
      '\n\r',
      'a\r\nb',
      '\0',
      '\u2028',
      '\ndata: x',
      '\nevent: admin\n\n',
      '\nretry: 1',
    ),
  );

  it(
    'parses formatEvent output back to the same event, data line breaks normalised to LF',
    () => {
      checkProperty(
        fc.property(
          dataText,
          fc.option(eventFieldText, { nil: undefined }),
          fc.option(eventFieldText, { nil: undefined }),
          cuts,
          (data, event, id, points) => {
            const wire = formatEvent({ data, event, id });
            const expected: ParsedEvent = {
              event: event === undefined || event === '' ? 'message' : event,
              data: data.split(/\r\n|\r|\n/).join('\n'),
              id: id ?? '',
            };
            const parsed = parseAll(cut(wire, points));
            expect(parsed).toEqual({
              events: [expected],
              retries: [],
              comments: [],
              lastEventId: expected.id,
            });
            const viaBytes = parseAll(cut(new TextEncoder().encode(wire), points));
            const wellFormed = (text: string) =>
              new TextDecoder('utf-8', { ignoreBOM: true }).decode(new TextEncoder().encode(text));
            expect(viaBytes.events).toEqual([
              {
                event: wellFormed(expected.event),
                data: wellFormed(expected.data),
                id: wellFormed(expected.id),
              },
            ]);
          },
        ),
      );
    },
    TIMEOUT,
  );

  it(
    'refuses an id or event with CR, LF or NUL, whatever surrounds it',
    () => {
      const withBreak = fc
        .tuple(eventFieldText, fc.constantFrom('\r', '\n', '\r\n', '\0'), eventFieldText)
        .map(([before, bad, after]) => before + bad + after);
      checkProperty(
        fc.property(withBreak, fc.constantFrom('id' as const, 'event' as const), (text, field) => {
          const fields = field === 'id' ? { id: text, data: 'x' } : { event: text, data: 'x' };
          const outcome = attempt(() => formatEvent(fields));
          expect(outcome.ok ? 'written' : outcome.error.code).toBe('BAD_REQUEST');
        }),
      );
    },
    TIMEOUT,
  );
});

describe('assertChannel', () => {
  it(
    'accepts exactly 1-128 characters of A-Z a-z 0-9 _ . : @ / -',
    () => {
      const name = fc.oneof(
        validChannel,
        invalidChannel,
        fc.string({
          unit: fc.constantFrom(
            ...CHANNEL_ALPHABET,
            ' ',
            ',',
            '#',
            '?',
            '%',
            'é',
            '\n',
            '\0',
            '\u0660',
          ),
          maxLength: 130,
        }),
        fc.string({ unit: 'binary', maxLength: 20 }),
        hostileString(20),
      );
      checkProperty(
        fc.property(name, (input) => {
          const expected = matchesChannelGrammar(input);
          expect(isValidChannel(input)).toBe(expected);
          const outcome = attempt(() => assertChannel(input));
          if (expected) expect(outcome).toEqual({ ok: true, value: input });
          else expect(outcome.ok ? 'accepted' : outcome.error.code).toBe('BAD_CHANNEL');
        }),
      );
    },
    TIMEOUT,
  );

  it(
    'refuses anything that is not a string with BAD_CHANNEL',
    () => {
      checkProperty(
        fc.property(
          fc.anything().filter((value) => typeof value !== 'string'),
          (value) => {
            const outcome = attempt(() => assertChannel(value));
            expect(outcome.ok ? 'accepted' : outcome.error.code).toBe('BAD_CHANNEL');
          },
        ),
      );
    },
    TIMEOUT,
  );

  it('draws the length line at 128', () => {
    expect(assertChannel('a'.repeat(128))).toBe('a'.repeat(128));
    expect(() => assertChannel('a'.repeat(129))).toThrow(
      expect.objectContaining({ code: 'BAD_CHANNEL' }),
    );
    expect(() => assertChannel('')).toThrow(expect.objectContaining({ code: 'BAD_CHANNEL' }));
    expect(assertChannel(CHANNEL_ALPHABET)).toBe(CHANNEL_ALPHABET);
  });
});
