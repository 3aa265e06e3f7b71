import { expect } from 'vitest';

/**
 * Proof that nothing reached the built-in prototypes: a snapshot of their own properties
 * taken when the suite loads, compared after each test (prototype pollution).
 */

const WATCHED: ReadonlyArray<readonly [string, object]> = [
  ['Object.prototype', Object.prototype],
  ['Array.prototype', Array.prototype],
  ['Function.prototype', Function.prototype],
  ['String.prototype', String.prototype],
];

/** `name: kind` per own property (a list: a `__proto__` key must not reach a setter here). */
function describeOwn(target: object): string[] {
  return Reflect.ownKeys(target).map((key) => {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    const kind = descriptor && 'value' in descriptor ? typeof descriptor.value : 'accessor';
    return `${String(key)}: ${kind}${descriptor?.enumerable ? ' enumerable' : ''}`;
  });
}

const snapshot = new Map(WATCHED.map(([name, target]) => [name, describeOwn(target)]));

/** Fails when a watched prototype gained, lost or changed an own property. */
export function expectPristinePrototypes(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
  for (const [name, target] of WATCHED) {
    expect(describeOwn(target), name).toEqual(snapshot.get(name));
  }
}
