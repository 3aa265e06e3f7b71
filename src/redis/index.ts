/**
 * `tidewire/redis`: many hub nodes as one. Every node gets the same broker options; clients
 * may land on any node at every connect or poll, with no sticky sessions.
 *
 * @example
 * import { createHub } from 'tidewire/server';
 * import { redisBroker } from 'tidewire/redis';
 *
 * const hub = createHub({ broker: redisBroker({ url: process.env.REDIS_URL }) });
 *
 * @module
 */
export { RedisBroker, redisBroker, type RedisBrokerOptions } from '../brokers/redis.js';
