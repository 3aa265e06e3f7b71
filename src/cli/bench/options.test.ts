import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  BenchOptionError,
  DEFAULTS,
  QUICK,
  integerIn,
  parseTransports,
  positiveUpTo,
  resolveSettings,
} from './options.js';

describe('resolveSettings', () => {
  it('fills in the defaults: 200 clients, 20 msg/s, 10 s, 256 bytes, all four transports', () => {
    expect(resolveSettings({ out: 'r.html' })).toEqual({
      clients: DEFAULTS.clients,
      rate: 20,
      durationSeconds: 10,
      sizeBytes: 256,
      transports: ['websocket', 'sse', 'long-polling', 'polling'],
      pollIntervalMs: 2000,
      messages: 200,
      quick: false,
    });
  });

  it('takes the small defaults with --quick, and a given flag still wins', () => {
    const quick = resolveSettings({ out: 'r.html', quick: true });
    expect(quick).toMatchObject({ clients: QUICK.clients, durationSeconds: QUICK.durationSeconds });
    expect(resolveSettings({ out: 'r.html', quick: true, clients: 3 }).clients).toBe(3);
  });

  it('rounds rate × duration to whole messages', () => {
    expect(resolveSettings({ out: 'r.html', rate: 2.5, duration: 3 }).messages).toBe(8);
  });

  it('refuses a run that publishes nothing or records too much', () => {
    expect(() => resolveSettings({ out: 'r.html', rate: 0.1, duration: 2 })).toThrow(
      BenchOptionError,
    );
    expect(() => resolveSettings({ out: 'r.html', rate: 0.1, duration: 2 })).toThrow(
      /publishes no message/,
    );
    expect(() =>
      resolveSettings({ out: 'r.html', clients: 20_000, rate: 1000, duration: 60 }),
    ).toThrow(/deliveries per transport/);
  });
});

describe('integerIn', () => {
  const parse = integerIn(1, 100);

  it('takes whole numbers in range', () => {
    expect(parse('1')).toBe(1);
    expect(parse('100')).toBe(100);
  });

  it('refuses anything else with the range in the message', () => {
    for (const text of ['0', '101', 'abc', '1.5', '-3', '', ' ', '1e2', '0x10']) {
      expect(() => parse(text)).toThrow(InvalidArgumentError);
    }
    expect(() => parse('0')).toThrow('expected an integer from 1 to 100.');
  });
});

describe('positiveUpTo', () => {
  const parse = positiveUpTo(50);

  it('takes numbers above 0 up to the bound, decimals too', () => {
    expect(parse('0.5')).toBe(0.5);
    expect(parse('50')).toBe(50);
  });

  it('refuses 0, negatives, words and infinities', () => {
    for (const text of ['0', '-1', 'abc', '', 'Infinity', 'NaN', '50.1']) {
      expect(() => parse(text)).toThrow('expected a number above 0 and at most 50.');
    }
  });
});

describe('parseTransports', () => {
  it('keeps the order given and drops repeats and blanks', () => {
    expect(parseTransports('polling, websocket,,polling')).toEqual(['polling', 'websocket']);
  });

  it('names what it does not know', () => {
    expect(() => parseTransports('websocket,ajax')).toThrow('unknown "ajax": expected');
    expect(() => parseTransports(',')).toThrow(InvalidArgumentError);
  });
});
