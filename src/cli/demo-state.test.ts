import { describe, expect, it } from 'vitest';
import type { ConnectionInfo, Envelope, MessageListener } from '../server/index.js';
import { trackDashboardState } from './demo-state.js';

/** Stands in for `hub.onMessage`: what a test sends reaches the listener as a client's. */
function fakeHub() {
  const listeners = new Set<MessageListener>();
  const connection: ConnectionInfo = { id: '1', transport: 'websocket', ip: '127.0.0.1' };
  let id = 0;
  return {
    onMessage(listener: MessageListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    send(channel: string, event: string, data: unknown, binary?: true) {
      const envelope: Envelope = { id: `e-${++id}`, channel, event, data, ts: 0, binary };
      for (const listener of listeners) listener(connection, envelope);
    },
  };
}

describe('trackDashboardState', () => {
  it('starts light and windowed, then follows valid theme and fullscreen events', () => {
    const hub = fakeHub();
    const tracker = trackDashboardState(hub);
    expect(tracker.current()).toEqual({ theme: 'light', fullscreen: false });
    hub.send('dashboard', 'theme', { theme: 'dark' });
    hub.send('dashboard', 'fullscreen', { fullscreen: true });
    expect(tracker.current()).toEqual({ theme: 'dark', fullscreen: true });
    hub.send('dashboard', 'theme', { theme: 'light' });
    expect(tracker.current()).toEqual({ theme: 'light', fullscreen: true });
  });

  it('ignores other channels, other events and values that are not valid', () => {
    const hub = fakeHub();
    const tracker = trackDashboardState(hub);
    hub.send('demo', 'theme', { theme: 'dark' });
    hub.send('dashboard', 'message', { theme: 'dark', fullscreen: true });
    hub.send('dashboard', 'theme', { theme: 'DARK' });
    hub.send('dashboard', 'theme', 'dark');
    hub.send('dashboard', 'theme', null);
    hub.send('dashboard', 'theme', ['dark']);
    hub.send('dashboard', 'fullscreen', { fullscreen: 1 });
    hub.send('dashboard', 'fullscreen', { theme: 'dark' });
    hub.send('dashboard', 'theme', 'eyJ0aGVtZSI6ImRhcmsifQ==', true);
    expect(tracker.current()).toEqual({ theme: 'light', fullscreen: false });
  });

  it('stops following once stopped', () => {
    const hub = fakeHub();
    const tracker = trackDashboardState(hub);
    tracker.stop();
    hub.send('dashboard', 'theme', { theme: 'dark' });
    expect(tracker.current().theme).toBe('light');
  });
});
