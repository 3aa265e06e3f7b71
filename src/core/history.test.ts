import { describe, expect, it } from 'vitest';
import type { Envelope } from '../protocol/envelope.js';
import { ChannelHistory } from './history.js';

function envelope(seq: number, ts = seq): Envelope {
  return { id: `e-${seq}`, channel: 'c', event: 'message', data: seq, ts };
}

function fill(history: ChannelHistory, count: number, maxCount: number): void {
  for (let seq = history.top + 1; count > 0; seq++, count--)
    history.append(envelope(seq), maxCount);
}

describe('ChannelHistory', () => {
  it('keeps at most maxCount, the newest', () => {
    const history = new ChannelHistory('e', 0);
    fill(history, 10, 4);
    expect(history.size).toBe(4);
    expect(history.top).toBe(10);
    expect(history.after(undefined).map((e) => e.data)).toEqual([7, 8, 9, 10]);
  });

  it('returns what follows a sequence, and nothing past the top', () => {
    const history = new ChannelHistory('e', 0);
    fill(history, 10, 100);
    expect(history.after(7).map((e) => e.data)).toEqual([8, 9, 10]);
    expect(history.after(10)).toEqual([]);
    expect(history.after(0).length).toBe(10);
  });

  it('returns everything held when the sequence is older than history', () => {
    const history = new ChannelHistory('e', 0);
    fill(history, 10, 3);
    expect(history.after(2).map((e) => e.data)).toEqual([8, 9, 10]);
  });

  it('trims by age without renumbering', () => {
    const history = new ChannelHistory('e', 0);
    fill(history, 10, 100);
    history.trimOlderThan(6);
    expect(history.after(undefined).map((e) => e.data)).toEqual([6, 7, 8, 9, 10]);
    expect(history.after(7).map((e) => e.data)).toEqual([8, 9, 10]);
    fill(history, 1, 100);
    expect(history.top).toBe(11);
  });

  it('stays correct across many compactions', () => {
    const history = new ChannelHistory('e', 0);
    fill(history, 10_000, 50);
    expect(history.size).toBe(50);
    expect(history.after(9_990).map((e) => e.data)).toEqual([
      9991, 9992, 9993, 9994, 9995, 9996, 9997, 9998, 9999, 10000,
    ]);
  });
});
