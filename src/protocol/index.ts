/**
 * The wire: envelope, frames, error codes. Shared by server and client; no Node built-ins.
 *
 * @module
 */
export * from './codes.js';
export * from './errors.js';
export * from './channel.js';
export * from './envelope.js';
export * from './frames.js';
export * from './cursor.js';
