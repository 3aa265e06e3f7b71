/**
 * `tidewire/sse`: the Server-Sent Events toolkit, usable without the rest of tidewire.
 *
 * @module
 */
export { formatEvent, type SseEventFields } from './format.js';
