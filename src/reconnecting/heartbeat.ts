/**
 * The wrappers' dead-link detection: the optional app-level heartbeat of
 * `ReconnectingWebSocket` and the `heartbeatTimeoutMs` watchdog of `ReconnectingEventSource`.
 * Browsers cannot send WebSocket pings and notice a dead network only when TCP gives up, often
 * a minute later (reconnecting-websocket#98, PITFALLS #17); a probe the server answers finds
 * it in seconds. The watch itself is the client's `Liveness`; what is the wrappers' own is
 * their options, their timing and the pong.
 *
 * @module
 */

import { Liveness } from '../client/heartbeat.js';
import { MAX_TIMEOUT_MS } from './timer.js';

/** The app-level heartbeat of `ReconnectingWebSocket`. */
export interface HeartbeatOptions {
  /** The probe sent after `intervalMs` without any incoming message. Default `'ping'`. */
  readonly message?: string;
  /** Silence, in ms, after which a probe is sent. Default 25 000 (SPEC.md § Client defaults). */
  readonly intervalMs?: number;
  /**
   * How long, in ms, to wait after a probe for any incoming message before the link counts as
   * dead. Default 10 000.
   */
  readonly timeoutMs?: number;
  /**
   * What the server answers: an incoming message equal to this string, or for which this
   * function returns true, is swallowed (not dispatched). Default `'pong'`.
   */
  readonly pong?: string | ((data: unknown) => boolean);
}

/** SPEC.md § Client defaults. */
export const DEFAULT_HEARTBEAT = {
  message: 'ping',
  intervalMs: 25_000,
  timeoutMs: 10_000,
} as const;

/**
 * A timer that fires later than this (ms) proves nothing about the link: background tabs run
 * timers at 1 s granularity at best (Chrome's intensive throttling: once a minute), and a
 * suspended laptop runs them whenever it wakes up (PITFALLS #8, socket.io#4040).
 */
const LATE_TIMER_MS = 1000;

/**
 * Watches a link that just opened: after `intervalMs` of silence it probes; when nothing at all
 * arrives within `timeoutMs` of the probe, `onDead`. The caller reports everything that
 * arrives to `heard()` and stops the watch when its link goes. No relaxed timeout for hidden
 * pages (the options have none), and a timer more than a second late re-probes instead of
 * killing a link that may be healthy. Delays past what `setTimeout` takes are cut to it.
 *
 * @internal
 */
export function startHeartbeat(
  options: HeartbeatOptions,
  onDead: () => void,
  probe?: () => void,
): Liveness {
  const timeoutMs = Math.min(options.timeoutMs ?? DEFAULT_HEARTBEAT.timeoutMs, MAX_TIMEOUT_MS);
  return new Liveness({
    quietMs: Math.min(options.intervalMs ?? DEFAULT_HEARTBEAT.intervalMs, MAX_TIMEOUT_MS),
    timeoutMs,
    hiddenTimeoutMs: timeoutMs,
    lateMs: LATE_TIMER_MS,
    probe,
    onDead,
  });
}

/**
 * Whether an incoming message is the server's answer to a probe, to be swallowed (never without
 * a heartbeat).
 *
 * @internal
 */
export function isPong(options: HeartbeatOptions | undefined, data: unknown): boolean {
  if (options === undefined) return false;
  const pong = options.pong ?? 'pong';
  return typeof pong === 'function' ? pong(data) : data === pong;
}
