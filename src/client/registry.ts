/**
 * The registry behind `Client.shared`: one client per hub URL, reference counted, closed a
 * short while after its last release, so that a component mounted, unmounted and mounted again
 * (React StrictMode, fast re-renders) keeps one connection (PITFALLS #16).
 *
 * @internal
 * @module
 */

interface Shareable {
  destroy(): void;
}

interface Entry<T extends Shareable> {
  readonly client: T;
  count: number;
  timer?: ReturnType<typeof setTimeout>;
}

const entries = new Map<string, Entry<Shareable>>();

/** The client registered under `key`, with one more reference, or the one `create` makes. */
export function acquire<T extends Shareable>(key: string, create: () => T): T {
  const entry = entries.get(key) as Entry<T> | undefined;
  if (entry) {
    clearTimeout(entry.timer);
    entry.count++;
    return entry.client;
  }
  const client = create();
  entries.set(key, { client, count: 1 });
  return client;
}

/**
 * Drops one reference to `client`. Returns false when it is not a shared client. The last
 * release destroys it after `delayMs`, unless it is acquired again first.
 */
export function release(client: Shareable, delayMs: number): boolean {
  for (const [key, entry] of entries) {
    if (entry.client !== client) continue;
    // A release past the last one (a cleanup run twice) neither restarts the delay nor leaves
    // a debt that a later holder's first release would pay by closing under another holder.
    if (entry.count === 0) return true;
    if (--entry.count === 0) {
      entry.timer = setTimeout(() => {
        entries.delete(key);
        client.destroy();
      }, delayMs);
    }
    return true;
  }
  return false;
}

/** Forgets `client` (it was destroyed): the next `acquire` of its key makes a new one. */
export function forget(client: Shareable): void {
  for (const [key, entry] of entries) {
    if (entry.client !== client) continue;
    clearTimeout(entry.timer);
    entries.delete(key);
  }
}
