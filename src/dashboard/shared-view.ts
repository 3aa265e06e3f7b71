import type { Client } from '../client/index.js';

/** The channel every open dashboard follows for its look. */
export const VIEW_CHANNEL = 'dashboard';

export type Theme = 'light' | 'dark';

/** How every screen shows the dashboard. */
export interface ViewState {
  readonly theme: Theme;
  readonly fullscreen: boolean;
}

/**
 * The dashboard's look, shared by every open tab through the hub (the classic wall-screen
 * use: change it on one screen, every screen follows). A change is applied here at once and
 * published on `dashboard`; every tab, this one included, applies what arrives. A new tab
 * starts from the state the server last saw (`GET /demo/state`), then follows the channel.
 */
export class SharedView {
  #state: ViewState = { theme: 'light', fullscreen: false };
  readonly #client: Client;
  readonly #apply: (state: ViewState) => void;

  constructor(client: Client, apply: (state: ViewState) => void) {
    this.#client = client;
    this.#apply = apply;
    client.subscribe(VIEW_CHANNEL);
    client.register('theme', (data) => {
      if (isTheme(data)) this.#set({ theme: data.theme });
    });
    client.register('fullscreen', (data) => {
      if (isFullscreen(data)) this.#set({ fullscreen: data.fullscreen });
    });
  }

  get state(): ViewState {
    return this.#state;
  }

  /** Takes the state the server last saw; a tab that cannot read it keeps the default. */
  async load(url: string): Promise<void> {
    try {
      const response = await fetch(url, { cache: 'no-store' });
      if (!response.ok) return;
      const body: unknown = await response.json();
      if (isTheme(body)) this.#set({ theme: body.theme });
      if (isFullscreen(body)) this.#set({ fullscreen: body.fullscreen });
    } catch {
      // Offline or an older hub: the default look will do until a change arrives.
    }
  }

  /** Changes the theme here and on every other screen. */
  setTheme(theme: Theme): Promise<void> {
    this.#set({ theme });
    return this.#publish('theme', { theme });
  }

  /** Enters or leaves full screen here and on every other screen. */
  setFullscreen(fullscreen: boolean): Promise<void> {
    this.#set({ fullscreen });
    return this.#publish('fullscreen', { fullscreen });
  }

  #set(change: Partial<ViewState>): void {
    const next = { ...this.#state, ...change };
    if (next.theme === this.#state.theme && next.fullscreen === this.#state.fullscreen) return;
    this.#state = next;
    this.#apply(next);
  }

  /** Publishes; while offline the client's outbox holds it and sends it on reconnect. */
  async #publish(event: string, data: object): Promise<void> {
    await this.#client.publish(VIEW_CHANNEL, data, { event });
  }
}

function isTheme(data: unknown): data is { theme: Theme } {
  const theme = (data as { theme?: unknown } | null)?.theme;
  return theme === 'light' || theme === 'dark';
}

function isFullscreen(data: unknown): data is { fullscreen: boolean } {
  return typeof (data as { fullscreen?: unknown } | null)?.fullscreen === 'boolean';
}
