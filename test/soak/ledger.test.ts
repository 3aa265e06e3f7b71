import { describe, expect, it } from 'vitest';
import { ChannelLog, type GapPolicy, Ledger, Truth, checkLog } from './ledger.js';

/**
 * The soak's checker on hand-made logs: what it must count as lost, duplicated, out of order,
 * and which gaps it accepts. (The soak itself can only show that it finds nothing wrong; these
 * show that it would.)
 */

type Step = string | 'gap';

/** A ledger of channel `a` acked for `ids`, and a client log that started at `start`. */
function setup(acked: readonly string[], start: string) {
  const ledger = new Ledger();
  const channel = ledger.channel('a');
  const log = new ChannelLog('client', channel, start);
  acked.forEach((id, k) => channel.ack(id, k));
  return { channel, log };
}

function check(
  acked: readonly string[],
  start: string,
  received: readonly Step[],
  policy: GapPolicy = { kind: 'none' },
) {
  const { channel, log } = setup(acked, start);
  const kOf = (id: string) => acked.indexOf(id);
  for (const step of received) {
    if (step === 'gap') log.gap(0);
    else log.envelope(step, kOf(step));
  }
  const { problems, ...counts } = checkLog(log, new Truth(channel), policy);
  return { ...counts, problems, dataMismatches: channel.dataMismatches };
}

const ids = (epoch: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${epoch}-${from + i}`);

describe('checkLog', () => {
  it('accepts every envelope from the start, once and in order', () => {
    const result = check(ids('e', 1, 5), 'e-0', ids('e', 1, 5));
    expect(result).toMatchObject({ deliveries: 5, lost: 0, duplicated: 0, reordered: 0 });
    expect(result.problems).toEqual([]);
  });

  it('starts from the position the client started at', () => {
    expect(check(ids('e', 1, 5), 'e-3', ids('e', 4, 5)).lost).toBe(0);
    expect(check(ids('e', 1, 5), 'e-2', ids('e', 4, 5)).lost).toBe(1);
  });

  it('counts a skipped envelope, and one missing at the end, as lost', () => {
    const result = check(ids('e', 1, 6), 'e-0', ['e-1', 'e-2', 'e-4', 'e-5']);
    expect(result).toMatchObject({ lost: 2, lostAcked: 2 });
    expect(result.problems).toEqual([
      'client on a: lost 1 (e-3) with no gap between e-2 and e-4',
      'client on a: lost 1 (e-6) at the end, after e-5',
    ]);
  });

  it('counts duplicates, adjacent or not, and an envelope that comes after a later one', () => {
    const result = check(ids('e', 1, 4), 'e-0', ['e-1', 'e-3', 'e-2', 'e-3', 'e-4', 'e-1']);
    expect(result).toMatchObject({ duplicated: 2, reordered: 1 });
  });

  it('knows of envelopes stored without an ack from the numbering, and misses them too', () => {
    // e-3 was stored by a publish that failed: nobody was acked for it, e-4 proves it exists.
    const result = check(['e-1', 'e-2', 'e-4'], 'e-0', ['e-1', 'e-2', 'e-4']);
    expect(result).toMatchObject({ lost: 1, lostAcked: 0 });
  });

  it('takes a data mismatch for what it is', () => {
    const { channel, log } = setup(['e-1'], 'e-0');
    log.envelope('e-1', 99);
    expect(channel.dataMismatches).toBe(1);
  });

  describe('with hub restarts (a new epoch each)', () => {
    const epoch: GapPolicy = { kind: 'epoch' };
    const published = [...ids('a', 1, 4), ...ids('b', 1, 3), ...ids('c', 1, 2)];

    it('accepts a gap, then the new epoch from its start, skipping what the old one held', () => {
      const received = ['a-1', 'a-2', 'gap', ...ids('b', 1, 3), 'gap', ...ids('c', 1, 2)];
      const result = check(published, 'a-0', received, epoch);
      expect(result).toMatchObject({ lost: 0, epochGaps: 2, unexpectedGaps: 0 });
    });

    it('accepts one gap across two restarts', () => {
      const result = check(published, 'a-0', ['a-1', 'gap', 'c-1', 'c-2'], epoch);
      expect(result).toMatchObject({ lost: 0, epochGaps: 1 });
    });

    it('counts what the new epoch held and was skipped as lost', () => {
      const result = check(
        published,
        'a-0',
        [...ids('a', 1, 4), 'gap', 'b-2', 'b-3', 'gap', 'c-1', 'c-2'],
        epoch,
      );
      expect(result).toMatchObject({ lost: 1, epochGaps: 2 });
    });

    it('flags a move to a new epoch with no gap, and a gap within an epoch', () => {
      const silent = check(
        published,
        'a-0',
        [...ids('a', 1, 4), ...ids('b', 1, 3), 'gap', 'c-1', 'c-2'],
        epoch,
      );
      expect(silent).toMatchObject({ lost: 0, missingGaps: 1, epochGaps: 1 });
      const spurious = check(
        published,
        'a-0',
        ['a-1', 'gap', 'a-3', 'a-4', 'gap', ...ids('b', 1, 3), 'gap', ...ids('c', 1, 2)],
        epoch,
      );
      expect(spurious).toMatchObject({ lost: 1, unexpectedGaps: 1, epochGaps: 2 });
    });
  });

  describe('where no gap is allowed', () => {
    it('flags every gap, and counts what it skipped as lost', () => {
      const result = check(ids('e', 1, 5), 'e-0', ['e-1', 'gap', 'e-4', 'e-5']);
      expect(result).toMatchObject({ lost: 2, unexpectedGaps: 1 });
    });
  });

  describe('with trimmed history', () => {
    // Ten publishes had started when the client heard the gap, history keeps 4: e-7…e-10.
    const trimmed = (stored: number): GapPolicy => ({
      kind: 'trimmed',
      maxCount: 4,
      storedBefore: () => stored,
    });

    it('accepts a gap followed by the oldest envelope history could still hold', () => {
      const result = check(
        ids('e', 1, 12),
        'e-0',
        ['e-1', 'e-2', 'gap', ...ids('e', 7, 12)],
        trimmed(10),
      );
      expect(result).toMatchObject({ lost: 0, trimGaps: 1, unexpectedGaps: 0 });
    });

    it('refuses a gap that skipped more than trimming can explain', () => {
      const result = check(
        ids('e', 1, 12),
        'e-0',
        ['e-1', 'e-2', 'gap', ...ids('e', 8, 12)],
        trimmed(10),
      );
      expect(result).toMatchObject({ lost: 5, unexpectedGaps: 1 });
    });

    it('refuses a gap that skipped nothing', () => {
      const result = check(ids('e', 1, 4), 'e-0', ['e-1', 'gap', 'e-2', 'e-3', 'e-4'], trimmed(10));
      expect(result).toMatchObject({ lost: 0, unexpectedGaps: 1 });
    });
  });
});
