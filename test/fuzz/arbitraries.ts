import fc from 'fast-check';

/**
 * Generators shared by the hostile-input suites: the strings an attacker reaches for
 * (line breaks, NUL, lone surrogates, prototype keys, SSE field names) mixed with anything.
 */

/** Characters of a channel name (SPEC.md § Envelope), written out rather than as a regex. */
export const CHANNEL_ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:@/-';

/** Keys that reach `Object.prototype` when assigned to a plain object. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Valid channel names that are also names of `Object.prototype` members. */
export const PROTOTYPE_CHANNELS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '__defineGetter__',
  'valueOf',
] as const;

/** What SSE and HTTP injection attempts look like. */
export const INJECTIONS = [
  '\r',
  '\n',
  '\r\n',
  '\n\n',
  '\r\r',
  '\0',
  '\ndata: x',
  '\nevent: admin',
  '\nid: 9',
  '\nretry: 1',
  '\r\ndata: x\r\n\r\n',
  '\n\nevent: admin\ndata: evil\n\n',
  '\r\nX-Injected: 1',
  '\r\nSet-Cookie: injected=1',
  '\u2028',
  '\u2029',
  '\u0085',
  '\uFEFF',
] as const;

/** One lone UTF-16 surrogate. */
export const loneSurrogate = fc
  .integer({ min: 0xd800, max: 0xdfff })
  .map((code) => String.fromCharCode(code));

/** One unit of hostile text: any code point, a lone surrogate, a line break, an injection. */
export const hostileUnit = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 5 },
  { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 5 },
  { arbitrary: loneSurrogate, weight: 1 },
  { arbitrary: fc.constantFrom(...INJECTIONS, ...PROTOTYPE_KEYS, ':', ' ', '%', '"'), weight: 3 },
);

/** Hostile text of up to `maxLength` units. */
export function hostileString(maxLength = 40): fc.Arbitrary<string> {
  return fc.string({ unit: hostileUnit, maxLength });
}

/** A valid channel name, prototype member names included now and then. */
export const validChannel: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.string({
      unit: fc.constantFrom(...CHANNEL_ALPHABET),
      minLength: 1,
      maxLength: 12,
    }),
    weight: 6,
  },
  { arbitrary: fc.constantFrom(...PROTOTYPE_CHANNELS), weight: 2 },
  {
    arbitrary: fc.string({
      unit: fc.constantFrom(...CHANNEL_ALPHABET),
      minLength: 120,
      maxLength: 128,
    }),
    weight: 1,
  },
);

/** A string that is not a valid channel name (and why, for the grammar test). */
export const invalidChannel: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc.string({ unit: fc.constantFrom(...CHANNEL_ALPHABET), minLength: 129, maxLength: 200 }),
  fc
    .tuple(
      validChannel,
      hostileString(4).filter((s) => [...s].some((c) => !CHANNEL_ALPHABET.includes(c))),
      fc.nat(),
    )
    .map(([name, bad, at]) => {
      const cut = at % (name.length + 1);
      return `${name.slice(0, cut)}${bad}${name.slice(cut)}`;
    }),
);

/** Something in the place of a channel name: mostly valid, often not, sometimes not a string. */
export const channelish: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: validChannel, weight: 6 },
  { arbitrary: invalidChannel, weight: 2 },
  { arbitrary: hostileString(12), weight: 1 },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
);

/** A position id as the hub writes them: `<epoch>-<seq>`. */
export const validPosition: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({
      unit: fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyz'),
      minLength: 1,
      maxLength: 24,
    }),
    fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat()),
  )
  .map(([epoch, seq]) => `${epoch}-${seq}`);

/** Something in the place of a position: valid ones, near misses and hostile text. */
export const positionish: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: validPosition, weight: 4 },
  {
    arbitrary: fc.constantFrom(
      '',
      '-',
      'a-',
      '-1',
      'a-01',
      'A-1',
      'a-9007199254740993',
      'a-99999999999999999',
      `${'a'.repeat(25)}-1`,
      'a-1 ',
      'a_1',
      'eyJ',
      'eyJhIjoiYS0xIn0',
    ),
    weight: 2,
  },
  { arbitrary: hostileString(20), weight: 2 },
);

/** An event name: valid ones (unicode included), reserved ones, control characters. */
export const eventish: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }), weight: 4 },
  {
    arbitrary: fc.constantFrom('message', 'tick', ' x', 'data', 'id', 'retry', ':', '\u2028'),
    weight: 2,
  },
  { arbitrary: fc.constantFrom('subscribed', 'gap', 'open', 'error'), weight: 1 },
  { arbitrary: hostileString(12), weight: 2 },
  { arbitrary: fc.constantFrom('', 'x'.repeat(129), null, 1, true, {}, []), weight: 1 },
);

/** JSON data, with prototype keys at any depth now and then. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 4 },
    { arbitrary: hostileString(20), weight: 2 },
    {
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 6 })),
            tie('value'),
          ),
          {
            maxLength: 4,
          },
        )
        .map(objectWithOwnKeys),
      weight: 2,
    },
    { arbitrary: fc.array(tie('value'), { maxLength: 4 }), weight: 1 },
  ),
})).value;

/**
 * An object with exactly these own keys, `__proto__` included as an own data property (what
 * `JSON.parse` makes of `{"__proto__": …}`), never as a prototype.
 */
export function objectWithOwnKeys(
  entries: ReadonlyArray<readonly [string, unknown]>,
): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

/** Random edits of a text: what a buggy or hostile client makes of a valid frame. */
export function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.constantFrom('insert', 'delete', 'replace', 'duplicate', 'truncate', 'swap'),
    fc.nat(),
    fc.nat({ max: 8 }),
    fc.oneof(
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        '"',
        ',',
        ':',
        '\\',
        '\\u',
        '\\ud800',
        'null',
        '1e999',
        '-',
        ' ',
        '\n',
      ),
      hostileString(3),
    ),
  );
  return fc.tuple(text, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([start, edits]) => {
    let out = start;
    for (const [kind, position, length, insert] of edits) {
      const at = position % (out.length + 1);
      if (kind === 'insert') out = out.slice(0, at) + insert + out.slice(at);
      else if (kind === 'delete') out = out.slice(0, at) + out.slice(at + length + 1);
      else if (kind === 'replace') out = out.slice(0, at) + insert + out.slice(at + length + 1);
      else if (kind === 'duplicate') out = out.slice(0, at + length) + out.slice(at);
      else if (kind === 'truncate') out = out.slice(0, at);
      else out = out.slice(at) + out.slice(0, at);
    }
    return out;
  });
}

/** Arrays and objects nested `depth` levels deep, as JSON text (parsers are not recursive). */
export function nestedJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Numbers that JSON writes but doubles cannot hold as written. */
export const HUGE_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '123456789012345678901234567890',
  '-0',
  '0.1e999999999',
  '9007199254740993',
] as const;
