/**
 * The two loads. Each message is `{ p: phase, i: index, t: stamp in µs, pad }`: the
 * subscribers identify every delivery by `(p, i)` and take its latency from `t`.
 *
 * `t` is taken just before `hub.publish()`: the latency is publish-to-deliver as an
 * application sees it, broker and fan-out and the subscriber's frame parsing included.
 */
import { nowMicros } from './clock.mjs';
import { summarize } from './stats.mjs';

/**
 * Publishes `messages` at `rate` per second on a fixed schedule, without waiting for each
 * publish: well below saturation, every message meets idle queues.
 *
 * @returns `{ durationMicros, errors, lag }`; `lag` summarises how late each publish left
 * against its schedule (a busy event loop shows here, not in the latency).
 */
export async function publishPaced({ publish, channel, phaseId, messages, rate, pad }) {
  const interval = 1e6 / rate;
  const lags = new Float64Array(messages);
  const pending = [];
  let errors = 0;
  const startedAt = nowMicros();
  for (let i = 0; i < messages; i++) {
    const due = startedAt + i * interval;
    // Timers have millisecond steps, so a publish may leave up to a millisecond late; that
    // shows in `lag`, not in the latency, which starts at `t`. (Spinning to the microsecond
    // would take a core from the hub on a small machine.)
    const wait = due - nowMicros();
    if (wait > 500) await sleep(Math.round(wait / 1_000));
    const t = nowMicros();
    lags[i] = t - due;
    pending.push(
      publish(channel, { p: phaseId, i, t, pad }).catch(() => {
        errors++;
      }),
    );
  }
  await Promise.all(pending);
  return { durationMicros: nowMicros() - startedAt, errors, lag: summarize(lags) };
}

/**
 * Publishes `messages` as fast as the broker accepts them, with at most `inFlight` publishes
 * awaiting the broker at once.
 *
 * Each publisher yields to the event loop after each publish. The in-memory broker fans out
 * within `publish()` and resolves at once, so without it the loop would run on microtasks
 * alone: sockets would not be flushed until the last publish, and what we measured would be
 * a burst into buffers, not a flow.
 *
 * @returns `{ startedAt, lastAcceptedAt, errors }` (µs, `nowMicros()` clock).
 */
export async function publishFlood({ publish, channel, phaseId, messages, inFlight, pad }) {
  let next = 0;
  let errors = 0;
  let lastAcceptedAt = 0;
  const publisher = async () => {
    while (next < messages) {
      const i = next++;
      try {
        await publish(channel, { p: phaseId, i, t: nowMicros(), pad });
        lastAcceptedAt = nowMicros();
      } catch {
        errors++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const startedAt = nowMicros();
  await Promise.all(Array.from({ length: Math.min(inFlight, messages) }, publisher));
  return { startedAt, lastAcceptedAt, errors };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
