/**
 * `tidewire/client`: one client for every transport, for browsers, workers and Node.
 *
 * @module
 */
import { Client } from './client.js';
import type { ClientOptions } from './options.js';

export { Client };
export type { ClientEvents, LifecycleEvent, PublishOptions } from './client.js';
export type { EnvelopeHandler, Subscription, SubscribeOptions } from './channels.js';
export { ClientError, type ClientErrorCode } from './errors.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export type {
  ClientOptions,
  EventSourceConstructor,
  HeartbeatOptions,
  OutboxOptions,
  ReconnectOptions,
  TokenResult,
  TransportName,
  WebSocketConstructor,
} from './options.js';
export { TidewireError, isTidewireError } from '../protocol/errors.js';
export type { Envelope } from '../protocol/envelope.js';
export type { ErrorCode } from '../protocol/codes.js';

/**
 * Creates a client of the hub at `url` (its origin: `https://push.example.com`; the client
 * derives `wss://` and adds `basePath`, default `/rt`). It connects at once unless
 * `autoConnect` is false.
 *
 * @example
 * import WebSocket from 'ws'; // Node < 22 only
 * const client = createClient('http://127.0.0.1:8080', { WebSocket });
 * const prices = client.subscribe('prices', (data) => console.log(data));
 */
export function createClient(url: string, options: ClientOptions = {}): Client {
  return new Client(url, options);
}
