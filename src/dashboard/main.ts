/**
 * The dashboard at `/` of `tidewire serve`: four panels, one real client per transport, side
 * by side on the demo ticker; buttons that break the connections in the ways production does;
 * a look that every open tab shares through the hub.
 *
 * @module
 */
import { createClient } from '../client/index.js';
import { measureClockOffset } from './clock.js';
import { Controls } from './controls.js';
import './dashboard.css';
import { setText } from './dom.js';
import { Network } from './network.js';
import { Panel, type PanelContext, type PanelSpec } from './panel.js';
import { SharedView, type ViewState } from './shared-view.js';

const PANELS: readonly PanelSpec[] = [
  {
    transport: 'websocket',
    title: 'WebSocket',
    how: 'One socket both ways; the hub pushes a frame per message.',
  },
  {
    transport: 'sse',
    title: 'SSE',
    how: 'Server-Sent Events: one response that never ends, an event per message.',
  },
  {
    transport: 'long-polling',
    title: 'Long polling',
    how: 'A request held until there is news, answered, and asked again.',
  },
  {
    transport: 'polling',
    title: 'Short polling',
    how: 'A request every 2 s, answered at once with what is new.',
  },
];

/** How often the numbers and charts refresh. */
const RENDER_INTERVAL_MS = 250;
/** The clock offset is measured again now and then: clocks drift. */
const CLOCK_INTERVAL_MS = 60_000;

function start(): void {
  const basePath = document.body.dataset.basePath ?? '/rt';
  const origin = location.origin;
  const network = new Network();
  let clockOffsetMs = 0;
  const refreshClock = () =>
    measureClockOffset('/demo/clock').then(
      (offset) => {
        clockOffsetMs = offset;
      },
      // Without the hub's time, latencies assume the clocks agree (true on one machine).
      () => {},
    );
  void refreshClock();
  setInterval(() => void refreshClock(), CLOCK_INTERVAL_MS);

  const context: PanelContext = { origin, basePath, network, clockOffsetMs: () => clockOffsetMs };
  const panels = PANELS.map((spec) => new Panel(spec, context));
  required('panels').append(...panels.map((panel) => panel.root));

  // The look travels on a client of its own, behind the same network: paused, a change
  // waits in the client's outbox and goes out on reconnect.
  const viewTap = network.tap();
  const viewClient = createClient(origin, {
    basePath,
    WebSocket: viewTap.WebSocket,
    fetch: viewTap.fetch,
    EventSource: false,
  });
  const view = new SharedView(viewClient, (state) => applyView(state, panels));
  void view.load('/demo/state');
  new Controls({ network, view, notice: required('notice') }).bind();

  const missedTotal = required('missed-total');
  setInterval(() => {
    const now = Date.now();
    for (const panel of panels) panel.render(now);
    const missed = panels.reduce((sum, panel) => sum + panel.missed, 0);
    setText(missedTotal, String(missed));
    missedTotal.parentElement?.classList.toggle('has-missed', missed > 0);
  }, RENDER_INTERVAL_MS);
}

/** Shows the shared look: theme colours (charts are redrawn in them) and full screen. */
function applyView(state: ViewState, panels: readonly Panel[]): void {
  const root = document.documentElement;
  const isNewTheme = root.dataset.theme !== state.theme;
  root.dataset.theme = state.theme;
  root.dataset.fullscreen = String(state.fullscreen);
  if (isNewTheme) for (const panel of panels) panel.restyle();
  // Another screen may take this one out of full screen; only a click here may enter it.
  if (!state.fullscreen && document.fullscreenElement) void document.exitFullscreen();
  setText(required('theme'), state.theme === 'dark' ? 'Light theme' : 'Dark theme');
  setText(required('fullscreen'), state.fullscreen ? 'Exit full screen' : 'Full screen');
}

function required(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
