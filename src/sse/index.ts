/**
 * `tidewire/sse`: the Server-Sent Events toolkit, usable without the rest of tidewire: a
 * spec-exact encoder and streaming parser, and `SSE`, a drop-in for the `express-sse` class.
 *
 * @module
 */
export { formatEvent, type SseEventFields } from './format.js';
export {
  createParser,
  type EventStreamParser,
  type ParsedEvent,
  type ParserOptions,
} from './parser.js';
export { SSE, type SSEOptions } from './express-sse.js';
export type { SseRequest, SseResponse } from './session.js';
