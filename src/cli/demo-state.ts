import type { Envelope, Hub } from '../server/index.js';

/** Where every tab of the dashboard publishes its theme and full-screen switches. */
export const DASHBOARD_CHANNEL = 'dashboard';

export type DashboardTheme = 'light' | 'dark';

/** What a new tab of the dashboard reads at load (`GET /demo/state`) before it follows the channel. */
export interface DashboardState {
  readonly theme: DashboardTheme;
  readonly fullscreen: boolean;
}

const INITIAL_STATE: DashboardState = { theme: 'light', fullscreen: false };

/** The dashboard's shared state, as the last tabs that changed it published it. */
export interface DashboardStateTracker {
  current(): DashboardState;
  /** Stops listening to the hub. */
  stop(): void;
}

/**
 * Follows what tabs publish on channel `dashboard` (event `theme` with `{ theme }`, event
 * `fullscreen` with `{ fullscreen }`) through `hub.onMessage`, keeping only valid values: a
 * tab that publishes anything else changes nothing. Only what clients send counts, as the
 * page publishes with the client; with Redis, only what reaches this node.
 */
export function trackDashboardState(hub: Pick<Hub, 'onMessage'>): DashboardStateTracker {
  let state = INITIAL_STATE;
  const stop = hub.onMessage((_connection, envelope) => {
    if (envelope.channel === DASHBOARD_CHANNEL) state = applyChange(state, envelope);
  });
  return { current: () => state, stop };
}

function applyChange(state: DashboardState, envelope: Envelope): DashboardState {
  const data: unknown = envelope.data;
  if (typeof data !== 'object' || data === null || envelope.binary) return state;
  if (envelope.event === 'theme' && 'theme' in data && isTheme(data.theme)) {
    return { ...state, theme: data.theme };
  }
  if (
    envelope.event === 'fullscreen' &&
    'fullscreen' in data &&
    typeof data.fullscreen === 'boolean'
  ) {
    return { ...state, fullscreen: data.fullscreen };
  }
  return state;
}

function isTheme(value: unknown): value is DashboardTheme {
  return value === 'light' || value === 'dark';
}
