/**
 * The browser's hints about the network: `online` (retry now rather than at the end of a
 * backoff), `offline` (a link that looks open may be dead) and `visibilitychange` (a page shown
 * again checks its link at once, since its timers may have been frozen while hidden). Outside
 * browsers, windows and workers there is nothing to watch.
 *
 * @internal
 * @module
 */

import { isHidden } from './heartbeat.js';

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** What to do on each hint; a hint without a handler is not listened to. */
export interface EnvironmentHandlers {
  /** The network is back. */
  readonly onOnline?: (() => void) | undefined;
  /** The network went away. */
  readonly onOffline?: (() => void) | undefined;
  /** The page became visible again. */
  readonly onVisible?: (() => void) | undefined;
}

type Listening = [Partial<EventTargetLike> | undefined, string, (() => void) | undefined];

/**
 * Starts watching: `online` and `offline` on the global scope, `visibilitychange` on
 * `document`, where they exist. Returns the function that stops it (no listener outlives its
 * owner).
 */
export function watchEnvironment({
  onOnline,
  onOffline,
  onVisible,
}: EnvironmentHandlers): () => void {
  const scope = globalThis as Partial<EventTargetLike> & { document?: Partial<EventTargetLike> };
  const listening: Listening[] = [
    [scope, 'online', onOnline],
    [scope, 'offline', onOffline],
    [
      scope.document,
      'visibilitychange',
      onVisible &&
        (() => {
          if (!isHidden()) onVisible();
        }),
    ],
  ];
  for (const [target, type, listener] of listening) {
    if (listener) target?.addEventListener?.(type, listener);
  }
  return () => {
    for (const [target, type, listener] of listening) {
      if (listener) target?.removeEventListener?.(type, listener);
    }
  };
}
