import { describe, expect, it } from 'vitest';
import { ReplayBuffer, type ReplayResult } from './replay-buffer.js';

/** The epoch part of a buffer's ids (`<epoch>-<seq>`). */
function epochOf(buffer: ReplayBuffer): string {
  const match = /^([0-9a-z]{8})-\d+$/.exec(buffer.headId);
  if (match?.[1] === undefined) throw new Error(`unexpected id ${buffer.headId}`);
  return match[1];
}

/** An epoch that is surely not `epoch`: its first character changed. */
function otherEpoch(epoch: string): string {
  return `${epoch.startsWith('a') ? 'b' : 'a'}${epoch.slice(1)}`;
}

/** Pushes `count` events under ids the buffer assigns; the text of event n is `e<n>`. */
function pushOwn(buffer: ReplayBuffer, count: number, from = 1): string[] {
  const ids: string[] = [];
  for (let n = from; n < from + count; n++) {
    const id = buffer.nextId();
    buffer.push(id, `e${n}`);
    ids.push(id);
  }
  return ids;
}

function replay(...events: string[]): ReplayResult {
  return { kind: 'replay', events };
}

const unknown: ReplayResult = { kind: 'unknown' };

describe('ReplayBuffer ids', () => {
  it('starts at <epoch>-0 with <epoch>-1 as the next id', () => {
    const buffer = new ReplayBuffer(10);
    const epoch = epochOf(buffer);
    expect(buffer.headId).toBe(`${epoch}-0`);
    expect(buffer.nextId()).toBe(`${epoch}-1`);
  });

  it('moves headId and nextId by one per push, whatever id the event carries', () => {
    const buffer = new ReplayBuffer(10);
    const epoch = epochOf(buffer);
    buffer.push(buffer.nextId(), 'a');
    expect(buffer.headId).toBe(`${epoch}-1`);
    expect(buffer.nextId()).toBe(`${epoch}-2`);
    buffer.push('user-id', 'b');
    expect(buffer.headId).toBe(`${epoch}-2`);
    expect(buffer.nextId()).toBe(`${epoch}-3`);
  });

  it('does not move when nextId is only asked', () => {
    const buffer = new ReplayBuffer(10);
    const next = buffer.nextId();
    expect(buffer.nextId()).toBe(next);
    expect(buffer.headId).toBe(`${epochOf(buffer)}-0`);
  });

  it('gives each instance its own epoch', () => {
    const epochs = new Set(Array.from({ length: 20 }, () => epochOf(new ReplayBuffer(1))));
    expect(epochs.size).toBeGreaterThan(1);
  });
});

describe('ReplayBuffer.since with its own ids', () => {
  it('replays exactly the events after the given id, in order', () => {
    const buffer = new ReplayBuffer(10);
    const ids = pushOwn(buffer, 5);
    expect(buffer.since(ids[1] as string)).toEqual(replay('e3', 'e4', 'e5'));
    expect(buffer.since(ids[0] as string)).toEqual(replay('e2', 'e3', 'e4', 'e5'));
  });

  it('replays everything from <epoch>-0 while nothing has been dropped', () => {
    const buffer = new ReplayBuffer(10);
    const start = buffer.headId;
    pushOwn(buffer, 3);
    expect(buffer.since(start)).toEqual(replay('e1', 'e2', 'e3'));
  });

  it('answers an empty replay for the head id', () => {
    const buffer = new ReplayBuffer(10);
    expect(buffer.since(buffer.headId)).toEqual(replay());
    pushOwn(buffer, 3);
    expect(buffer.since(buffer.headId)).toEqual(replay());
  });

  it('keeps working after the ring wraps around', () => {
    const buffer = new ReplayBuffer(3);
    const ids = pushOwn(buffer, 8);
    // Held: e6 e7 e8. The id of e5 is the oldest that still resumes without loss.
    expect(buffer.since(ids[4] as string)).toEqual(replay('e6', 'e7', 'e8'));
    expect(buffer.since(ids[5] as string)).toEqual(replay('e7', 'e8'));
    expect(buffer.since(ids[6] as string)).toEqual(replay('e8'));
    expect(buffer.since(ids[7] as string)).toEqual(replay());
  });

  it('wraps correctly at every fill level', () => {
    const capacity = 4;
    const buffer = new ReplayBuffer(capacity);
    const ids: string[] = [buffer.headId];
    for (let n = 1; n <= 3 * capacity + 1; n++) {
      ids.push(...pushOwn(buffer, 1, n));
      const oldest = Math.max(0, n - capacity);
      for (let seen = 0; seen <= n; seen++) {
        const expected =
          seen >= oldest
            ? replay(...Array.from({ length: n - seen }, (_, i) => `e${seen + i + 1}`))
            : unknown;
        expect(buffer.since(ids[seen] as string), `after ${n} pushes, from ${seen}`).toEqual(
          expected,
        );
      }
    }
  });

  it('answers unknown for an id older than the buffer reaches', () => {
    const buffer = new ReplayBuffer(3);
    const start = buffer.headId;
    const ids = pushOwn(buffer, 5);
    expect(buffer.since(start)).toEqual(unknown);
    expect(buffer.since(ids[0] as string)).toEqual(unknown);
    expect(buffer.since(ids[1] as string)).toEqual(replay('e3', 'e4', 'e5'));
  });

  it('answers unknown for an id of another epoch (another instance or a restart)', () => {
    const buffer = new ReplayBuffer(10);
    pushOwn(buffer, 5);
    const foreign = otherEpoch(epochOf(buffer));
    expect(buffer.since(`${foreign}-2`)).toEqual(unknown);
    expect(buffer.since(`${foreign}-0`)).toEqual(unknown);
    const other = new ReplayBuffer(10);
    pushOwn(other, 5);
    if (epochOf(other) !== epochOf(buffer)) expect(buffer.since(other.headId)).toEqual(unknown);
  });

  it('answers unknown for a malformed id of its own epoch', () => {
    const buffer = new ReplayBuffer(10);
    pushOwn(buffer, 5);
    const epoch = epochOf(buffer);
    for (const id of [
      `${epoch}-`,
      `${epoch}-x`,
      `${epoch}-02`,
      `${epoch}--1`,
      `${epoch}-1.5`,
      `${epoch}-1e0`,
      `${epoch}- 1`,
      `${epoch}-1 `,
      `${epoch}-9999999999999999999`,
      epoch,
      '',
    ]) {
      expect(buffer.since(id), JSON.stringify(id)).toEqual(unknown);
    }
  });

  it('answers unknown for a seq beyond the head', () => {
    const buffer = new ReplayBuffer(10);
    pushOwn(buffer, 5);
    const epoch = epochOf(buffer);
    expect(buffer.since(`${epoch}-6`)).toEqual(unknown);
    expect(buffer.since(`${epoch}-1000`)).toEqual(unknown);
    expect(new ReplayBuffer(10).since(`${epoch}-1`)).toEqual(unknown);
  });
});

describe('ReplayBuffer.since with ids the application chose', () => {
  it('replays the events after the event that carries the id', () => {
    const buffer = new ReplayBuffer(10);
    buffer.push('a', 'ta');
    buffer.push('b', 'tb');
    buffer.push(buffer.nextId(), 't3');
    buffer.push('c', 'tc');
    expect(buffer.since('a')).toEqual(replay('tb', 't3', 'tc'));
    expect(buffer.since('b')).toEqual(replay('t3', 'tc'));
    expect(buffer.since('c')).toEqual(replay());
  });

  it('resumes from the newest event when several carry the same id', () => {
    const buffer = new ReplayBuffer(10);
    buffer.push('same', 't1');
    buffer.push('x', 't2');
    buffer.push('same', 't3');
    buffer.push('y', 't4');
    expect(buffer.since('same')).toEqual(replay('t4'));
  });

  it('answers unknown for an id that no held event carries', () => {
    const buffer = new ReplayBuffer(2);
    buffer.push('a', 'ta');
    buffer.push('b', 'tb');
    buffer.push('c', 'tc');
    expect(buffer.since('a')).toEqual(unknown);
    expect(buffer.since('zzz')).toEqual(unknown);
    expect(buffer.since('b')).toEqual(replay('tc'));
  });

  it('mixes with its own ids: positions count every event', () => {
    const buffer = new ReplayBuffer(10);
    const epoch = epochOf(buffer);
    buffer.push('user-1', 't1');
    buffer.push(buffer.nextId(), 't2');
    expect(buffer.nextId()).toBe(`${epoch}-3`);
    expect(buffer.since(`${epoch}-1`)).toEqual(replay('t2'));
    expect(buffer.since(`${epoch}-2`)).toEqual(replay());
  });
});

describe('ReplayBuffer with capacity 0', () => {
  it('keeps nothing, yet resumes a client that stands at the head', () => {
    const buffer = new ReplayBuffer(0);
    const epoch = epochOf(buffer);
    expect(buffer.since(buffer.headId)).toEqual(replay());
    buffer.push(buffer.nextId(), 'e1');
    buffer.push('mine', 'e2');
    expect(buffer.headId).toBe(`${epoch}-2`);
    expect(buffer.since(`${epoch}-2`)).toEqual(replay());
  });

  it('answers unknown for every id behind the head and every chosen id', () => {
    const buffer = new ReplayBuffer(0);
    const epoch = epochOf(buffer);
    buffer.push(buffer.nextId(), 'e1');
    buffer.push('mine', 'e2');
    expect(buffer.since(`${epoch}-0`)).toEqual(unknown);
    expect(buffer.since(`${epoch}-1`)).toEqual(unknown);
    expect(buffer.since('mine')).toEqual(unknown);
  });
});
