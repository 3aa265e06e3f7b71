import { WebSocket } from 'ws';
import { waitFor } from './wait.js';

/** A received frame: JSON frames parsed, bare text (`pong`) kept as a string. */
export type Frame = Record<string, unknown> | string;

/** A `ws` client that records every frame and the close. */
export class TestSocket {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason: string | undefined;
  #cursor = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (isBinary) {
        this.frames.push(text);
        return;
      }
      try {
        this.frames.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        this.frames.push(text);
      }
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
    ws.on('error', () => {});
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** JSON frames of a type (`message`, `subscribed`, …) received so far. */
  ofType(type: string): Array<Record<string, unknown>> {
    return this.frames.filter(
      (f): f is Record<string, unknown> => typeof f === 'object' && f.type === type,
    );
  }

  /** The next frame (after those already returned by `next`) that matches. */
  async next(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return waitFor(
      () => {
        for (let i = this.#cursor; i < this.frames.length; i++) {
          const frame = this.frames[i] as Frame;
          if (match(frame)) {
            this.#cursor = i + 1;
            return frame;
          }
        }
        return undefined;
      },
      timeoutMs,
      'a matching frame',
    );
  }

  /** Waits for `count` frames of `type` in total. */
  async waitForType(
    type: string,
    count: number,
    timeoutMs = 5000,
  ): Promise<Array<Record<string, unknown>>> {
    return waitFor(
      () => {
        const frames = this.ofType(type);
        return frames.length >= count ? frames : undefined;
      },
      timeoutMs,
      `${count} ${type} frames`,
    );
  }

  async closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    await waitFor(() => this.closeCode !== undefined, timeoutMs, 'the socket to close');
    return { code: this.closeCode as number, reason: this.closeReason ?? '' };
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens a socket and waits for it to be open (or closed by a refusal). */
export async function connectWs(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2] = {},
): Promise<TestSocket> {
  const ws = new WebSocket(url, options);
  const socket = new TestSocket(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
    ws.once('error', reject);
  });
  return socket;
}

/** Subscribes and waits for one `subscribed` frame per channel. */
export async function subscribe(
  socket: TestSocket,
  channels: string[],
  since?: Record<string, string>,
): Promise<Array<Record<string, unknown>>> {
  const before = socket.ofType('subscribed').length;
  socket.send({ type: 'subscribe', channels, ...(since ? { since } : {}) });
  const frames = await socket.waitForType('subscribed', before + channels.length);
  return frames.slice(before);
}
