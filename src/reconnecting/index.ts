/**
 * `tidewire/reconnecting`: drop-in, standard-API WebSocket and EventSource wrappers that add
 * reconnect with full-jitter backoff, a heartbeat and a send queue, for any WebSocket or SSE
 * server, tidewire or not. No Node built-ins: browsers, workers and Node alike.
 *
 * @module
 */
export { type BackoffOptions, DEFAULT_BACKOFF } from '../client/backoff.js';
export { ReconnectingError, type ReconnectingErrorCode } from './errors.js';
export {
  type CloseEventFields,
  type ErrorEventFields,
  type EventHandler,
  ReconnectingCloseEvent,
  ReconnectingErrorEvent,
} from './events.js';
export { DEFAULT_HEARTBEAT, type HeartbeatOptions } from './heartbeat.js';
export {
  DEFAULTS,
  type FetchLike,
  type HeadersProvider,
  type ReconnectingEventSourceEventMap,
  type ReconnectingEventSourceOptions,
  type ReconnectingWebSocketEventMap,
  type ReconnectingWebSocketOptions,
  type UrlProvider,
  type WebSocketConstructor,
  type WebSocketLike,
} from './options.js';
export { ReconnectingEventSource } from './reconnecting-event-source.js';
export { ReconnectingWebSocket } from './reconnecting-websocket.js';
export type { SendData } from './send-queue.js';
export type { FetchLikeResponse } from './stream-outcome.js';
