import { describe, expect, it } from 'vitest';
import { limitLogger } from './log-limiter.js';

type Line = [level: string, fields: object, message: string | undefined];

function recorder() {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, message?: string) =>
    lines.push([level, fields, message]);
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('limitLogger', () => {
  it('writes a few lines of one message, then one line saying how many it left out', () => {
    const { lines, logger } = recorder();
    const limited = limitLogger(logger, { perMessage: 2, windowMs: 60_000 });
    for (let i = 0; i < 5; i++) limited.error({ err: i }, 'resync failed');
    limited.warn({}, 'something else');
    expect(lines).toEqual([
      ['error', { err: 0 }, 'resync failed'],
      ['error', { err: 1 }, 'resync failed'],
      ['warn', {}, 'something else'],
    ]);
    limited.flush();
    expect(lines.slice(3)).toEqual([
      ['error', { suppressed: 3, windowMs: 60_000 }, 'resync failed (repeated)'],
    ]);
    // A new window writes again.
    limited.error({ err: 5 }, 'resync failed');
    expect(lines.at(-1)).toEqual(['error', { err: 5 }, 'resync failed']);
    limited.flush();
  });

  it('caps all messages together, so that messages with a varying part cannot flood', () => {
    const { lines, logger } = recorder();
    const limited = limitLogger(logger, { perMessage: 5, total: 3, windowMs: 60_000 });
    for (let i = 0; i < 10; i++) limited.error({}, `broker op on channel-${i}`);
    expect(lines.map(([, , message]) => message)).toEqual([
      'broker op on channel-0',
      'broker op on channel-1',
      'broker op on channel-2',
    ]);
    limited.flush();
    expect(lines.slice(3)).toEqual([
      ['warn', { suppressed: 7, windowMs: 60_000 }, 'log lines suppressed'],
    ]);
  });

  it('says what it left out when the window ends, by itself', async () => {
    const { lines, logger } = recorder();
    const limited = limitLogger(logger, { perMessage: 1, windowMs: 30 });
    limited.warn({}, 'slow consumer closed');
    limited.warn({}, 'slow consumer closed');
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(lines.at(-1)).toEqual([
      'warn',
      { suppressed: 1, windowMs: 30 },
      'slow consumer closed (repeated)',
    ]);
  });
});
