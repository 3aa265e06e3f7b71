/**
 * One scenario from start to end: its hub nodes; a publish-only run before any subscriber
 * (the broker's own ceiling, with no fan-out); then the subscriber process and three phases
 * (warm-up, latency, throughput), each measured alone. Whatever happens, the subscribers and
 * the nodes are closed before it returns.
 */
import { publishFlood, publishPaced } from './load.mjs';
import { startSubscribers } from './subscribers.mjs';
import { startUsage } from './usage.mjs';

const CHANNEL = 'bench';
/** Where the publish-only run publishes: a channel nobody subscribes to, on any node. */
const BARE_CHANNEL = 'bench-bare';
const PHASE = { bare: 0, warmup: 1, latency: 2, throughput: 3 };
/** Warm-up: the JIT, Redis's script cache (the first EVALSHA is a NOSCRIPT), TCP windows. */
const WARMUP_MESSAGES = 500;
/** A phase ends this long after the last delivery when some never come (a loss). */
const QUIET_MS = 3_000;
/** No phase of a default run takes near this; a run that does is stuck, not slow. */
const PHASE_TIMEOUT_MS = 120_000;

/**
 * Runs `scenario` (one of `SCENARIOS` in nodes.mjs).
 *
 * @param redis - the running redis-server (`redis-server.mjs`), for Redis scenarios.
 * @returns the scenario's figures: `{ name, label, describe, warmup, latency, throughput }`.
 */
export async function runScenario(name, scenario, { options, redis }) {
  const system = await scenario.setup({ subscribers: options.subscribers, redisUrl: redis?.url });
  const subscribers = startSubscribers();
  const pad = 'x'.repeat(options.payload);
  const base = { publish: system.publish, channel: CHANNEL, pad, inFlight: options.inFlight };
  const measure = (phase, messages, load) =>
    measurePhase({
      subscribers,
      redis: scenario.isRedis ? redis : undefined,
      phase,
      messages,
      load,
    });
  try {
    const bare = await measurePublishOnly({
      redis: scenario.isRedis ? redis : undefined,
      messages: options.throughputMessages,
      load: (messages) =>
        publishFlood({ ...base, channel: BARE_CHANNEL, phaseId: PHASE.bare, messages }),
    });
    await subscribers.connect({
      url: system.subscribeUrl,
      count: options.subscribers,
      channel: CHANNEL,
    });
    const warmupMessages = Math.min(WARMUP_MESSAGES, options.throughputMessages);
    const warmup = await measure(PHASE.warmup, warmupMessages, (phaseId, messages) =>
      publishFlood({ ...base, phaseId, messages }),
    );
    const latency = await measure(PHASE.latency, options.messages, (phaseId, messages) =>
      publishPaced({ ...base, phaseId, messages, rate: options.rate }),
    );
    const throughput = await measure(
      PHASE.throughput,
      options.throughputMessages,
      (phaseId, messages) => publishFlood({ ...base, phaseId, messages }),
    );
    return {
      name,
      label: scenario.label,
      describe: scenario.describe,
      warmup: summarizeDelivery(warmup),
      latency: summarizeLatency(latency, options),
      throughput: { ...summarizeThroughput(throughput, options), publishOnly: bare },
    };
  } finally {
    await subscribers.close();
    await system.close();
  }
}

async function measurePhase({ subscribers, redis, phase, messages, load }) {
  await subscribers.start({ phaseId: phase, messages });
  const usage = await startUsage(redis);
  const published = await load(phase, messages);
  const delivery = await subscribers.collect({ quietMs: QUIET_MS, timeoutMs: PHASE_TIMEOUT_MS });
  const used = await usage.stop({ messages, subscriberCpuMicros: delivery.cpuMicros });
  return { messages, published, delivery, used };
}

async function measurePublishOnly({ redis, messages, load }) {
  const usage = await startUsage(redis);
  const published = await load(messages);
  const used = await usage.stop({ messages, subscriberCpuMicros: 0 });
  const seconds = (published.lastAcceptedAt - published.startedAt) / 1e6;
  return {
    messages,
    publishErrors: published.errors,
    publishesPerSecond: (messages - published.errors) / seconds,
    usage: used,
  };
}

function summarizeDelivery({ messages, published, delivery }) {
  return {
    messages,
    deliveries: delivery.delivered,
    expected: delivery.expected,
    lost: delivery.lost,
    publishErrors: published.errors,
    duplicates: delivery.duplicates,
    outOfOrder: delivery.outOfOrder,
    gaps: delivery.gaps,
    unexpectedCloses: delivery.closes,
    errorFrames: delivery.errors,
  };
}

function summarizeLatency(phase, options) {
  return {
    ...summarizeDelivery(phase),
    rate: options.rate,
    latencyMs: toMillis(phase.delivery.latency),
    publishLagMs: toMillis(phase.published.lag),
    usage: phase.used,
  };
}

function summarizeThroughput(phase, options) {
  const { published, delivery, messages } = phase;
  const acceptSeconds = (published.lastAcceptedAt - published.startedAt) / 1e6;
  const deliverSeconds = (delivery.lastAt - published.startedAt) / 1e6;
  return {
    ...summarizeDelivery(phase),
    inFlight: options.inFlight,
    publishesPerSecond: (messages - published.errors) / acceptSeconds,
    deliveriesPerSecond: delivery.delivered / deliverSeconds,
    seconds: deliverSeconds,
    // Under saturation this is queueing time: how far behind the subscribers ran.
    latencyMs: toMillis(delivery.latency),
    usage: phase.used,
  };
}

function toMillis(summary) {
  return Object.fromEntries(
    Object.entries(summary).map(([key, value]) => [key, key === 'count' ? value : value / 1e3]),
  );
}
