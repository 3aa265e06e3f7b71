import http from 'node:http';
import { WebSocket } from 'ws';
import { TestSocket } from './ws-client.js';

/**
 * Requests as a browser page or an attacker would make them, with full control of what fetch
 * hides or refuses: `Host`, `Origin`, `Cookie`, and the client's own address (`localAddress`:
 * any of 127.0.0.0/8 works on Linux, so one test can be several clients).
 */

export interface RawOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | string[]>;
  readonly body?: string;
  /** The client address to connect from, e.g. `127.0.0.2`. */
  readonly localAddress?: string;
}

/** An answer: status, headers, and the body (empty for an event stream, which is left open). */
export interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request on a fresh connection (no agent: every request is its own client). An SSE
 * stream that was admitted (200 `text/event-stream`) is closed as soon as its headers are in.
 */
export function rawRequest(url: string, options: RawOptions = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        const answer = { status: res.statusCode ?? 0, headers: res.headers };
        if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve({ ...answer, body: '' });
          request.destroy();
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ ...answer, body }));
        res.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The `{ code, message }` body of an error answer. */
export function errorBody(answer: RawAnswer): { code: string; message: string } {
  return JSON.parse(answer.body) as { code: string; message: string };
}

/** What an upgrade came to: a socket (maybe closed at once), or an HTTP refusal. */
export type UpgradeOutcome =
  | { readonly kind: 'open'; readonly socket: TestSocket }
  | { readonly kind: 'refused'; readonly answer: RawAnswer };

/**
 * Tries a WebSocket upgrade. A refusal before the handshake (`unexpected-response` in ws)
 * comes back with its status, headers and body: no socket was opened.
 */
export function tryUpgrade(url: string, options: RawOptions = {}): Promise<UpgradeOutcome> {
  const ws = new WebSocket(url, {
    headers: options.headers as Record<string, string> | undefined,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const socket = new TestSocket(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ kind: 'open', socket }));
    ws.once('unexpected-response', (request, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        request.destroy();
        resolve({
          kind: 'refused',
          answer: { status: res.statusCode ?? 0, headers: res.headers, body },
        });
      });
    });
    ws.once('error', reject);
  });
}
