import type { Network } from './network.js';
import type { SharedView } from './shared-view.js';

/** Where the server's demo endpoints are (`tidewire serve --demo`). */
const DISCONNECT_ALL_URL = '/demo/disconnect-all';
/** Where the publish token, once asked for, is kept for this tab. */
const TOKEN_KEY = 'tidewire.publishToken';

interface ControlsContext {
  readonly network: Network;
  readonly view: SharedView;
  /** Where a button says what it did. */
  readonly notice: HTMLElement;
}

/** The dashboard's buttons: the server drops everyone, pause the network, theme, full screen. */
export class Controls {
  readonly #context: ControlsContext;
  #pausedAt: number | undefined;
  #pauseTimer: ReturnType<typeof setInterval> | undefined;

  constructor(context: ControlsContext) {
    this.#context = context;
  }

  bind(): void {
    const { view } = this.#context;
    on('drop-all', () => void this.#dropEveryone());
    on('pause', (button) => this.#togglePause(button));
    on('theme', () => void view.setTheme(view.state.theme === 'dark' ? 'light' : 'dark'));
    on('fullscreen', () => this.#toggleFullscreen());
    // Esc leaves the browser's full screen: the other screens follow this one out.
    document.addEventListener('fullscreenchange', () => {
      if (!document.fullscreenElement && view.state.fullscreen) void view.setFullscreen(false);
    });
  }

  /** Asks the hub to close every connection: every client reconnects and resumes. */
  async #dropEveryone(): Promise<void> {
    let token = sessionStorage.getItem(TOKEN_KEY) ?? undefined;
    for (let tries = 0; tries < 2; tries++) {
      const response = await fetch(DISCONNECT_ALL_URL, {
        method: 'POST',
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      }).catch(() => undefined);
      if (!response) return this.#say('The hub cannot be reached (is the network paused?)');
      if (response.ok) {
        const { disconnected } = (await response.json()) as { disconnected?: number };
        return this.#say(
          `The hub closed ${disconnected ?? 'every'} connection(s): WebSocket and SSE ` +
            'reconnect and resume; a held poll is answered and the next one follows.',
        );
      }
      if (response.status !== 401 && response.status !== 403) {
        return this.#say(`The hub refused: ${response.status} ${await errorMessage(response)}`);
      }
      // The hub runs with --publish-token: this button needs it too.
      sessionStorage.removeItem(TOKEN_KEY);
      token = prompt('This hub wants its publish token to drop everyone:') ?? undefined;
      if (!token) return this.#say('Not dropped: the hub wants its publish token.');
      sessionStorage.setItem(TOKEN_KEY, token);
    }
    this.#say('Not dropped: the hub refused that token.');
  }

  #togglePause(button: HTMLElement): void {
    const { network } = this.#context;
    if (network.isPaused) {
      network.resume();
      clearInterval(this.#pauseTimer);
      this.#pausedAt = undefined;
      button.setAttribute('aria-pressed', 'false');
      button.textContent = 'Pause network';
      this.#say('Network back: every panel reconnects at once and replays what it missed.');
      return;
    }
    network.pause();
    this.#pausedAt = Date.now();
    button.setAttribute('aria-pressed', 'true');
    const showPaused = () => {
      const seconds = Math.round((Date.now() - (this.#pausedAt ?? Date.now())) / 1000);
      button.textContent = `Resume network (${seconds} s)`;
    };
    showPaused();
    this.#pauseTimer = setInterval(showPaused, 1000);
    this.#say('Network paused: every connection is cut and every new one fails, as offline.');
  }

  #toggleFullscreen(): void {
    const { view } = this.#context;
    const fullscreen = !view.state.fullscreen;
    // Only this tab had the click that the browser's full screen needs; the others fill
    // their window instead.
    if (fullscreen) void document.documentElement.requestFullscreen?.().catch(() => {});
    void view.setFullscreen(fullscreen);
  }

  #say(text: string): void {
    this.#context.notice.textContent = text;
  }
}

function on(id: string, handle: (button: HTMLElement) => void): void {
  const button = document.getElementById(id);
  button?.addEventListener('click', () => handle(button));
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: string };
    return body.message ?? response.statusText;
  } catch {
    return response.statusText;
  }
}
