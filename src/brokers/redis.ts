import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import type {
  Broker,
  BrokerHandler,
  ChannelRead,
  HistoryOptions,
  PublishRequest,
} from '../core/broker.js';
import { DEFAULT_HISTORY } from '../core/broker.js';
import { type Position, newEpoch } from '../core/position.js';
import type { Envelope } from '../protocol/envelope.js';
import { TidewireError } from '../protocol/errors.js';
import { PUBLISH_SCRIPT, READ_SCRIPT, channelKeys, fanoutChannel } from './redis-scripts.js';

export interface RedisBrokerOptions extends HistoryOptions {
  /** Where Redis is: `redis://[user:password@]host:port[/db]` or `rediss://…`. Default `redis://127.0.0.1:6379`. */
  readonly url?: string;
  /**
   * An ioredis client whose connection settings (address, auth, TLS, Sentinel) the broker
   * uses instead of `url`. The broker opens its own two connections from it (`duplicate()`),
   * with its own fail-fast settings, and never touches or closes the client itself.
   */
  readonly client?: Redis;
  /** Prefix of every key and pub/sub channel, so that several apps can share one Redis. Default `tidewire:`. */
  readonly prefix?: string;
  /**
   * How long a channel keeps its numbering after its last publish or subscriber. Past it, a
   * returning client's position is unknown (a `gap`). Default 1 hour, at least `maxAgeMs`.
   */
  readonly idleChannelTtlMs?: number;
  /** A Redis command that has not answered after this long fails (the publish rejects). Default 5000. */
  readonly commandTimeoutMs?: number;
  /**
   * How long `start()` waits for Redis. Past it the hub starts anyway, degraded (`/health`
   * answers 503, publishes fail), and keeps reconnecting. Default 5000.
   */
  readonly startTimeoutMs?: number;
  /** Longest wait between two reconnect attempts (full jitter below it). Default 5000. */
  readonly reconnectMaxDelayMs?: number;
}

interface Script {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): Script => ({
  lua,
  sha: createHash('sha1').update(lua).digest('hex'),
});
const PUBLISH = script(PUBLISH_SCRIPT);
const READ = script(READ_SCRIPT);

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const URL_SCHEMES = new Set(['redis:', 'rediss:']);

/**
 * The broker of many nodes: ids, history and fan-out in Redis, so that any node can serve
 * any client, with no sticky sessions. Each publish is one Lua script that numbers, stores
 * and fans out atomically (see `redis-scripts.ts`); each node listens only to the channels
 * its clients subscribed to.
 *
 * When Redis goes away, publishes and new subscriptions fail at once with
 * `BROKER_UNAVAILABLE` (never queued, never dropped silently), open client connections stay,
 * and both connections reconnect with jittered backoff. Once back, the node subscribes again
 * and asks the hub to re-read the history of every channel it serves (`onResync`): what was
 * published meanwhile on a connection that stayed up is delivered from history, and a history
 * that was lost (a Redis restarted without persistence) becomes a `gap`.
 */
export class RedisBroker implements Broker {
  readonly #options: RedisBrokerOptions;
  readonly #prefix: string;
  readonly #maxCount: number;
  readonly #maxAgeMs: number;
  readonly #idleTtlMs: number;
  readonly #channels = new Set<string>();
  #commands: Redis | undefined;
  #fanout: Redis | undefined;
  #handler: BrokerHandler | undefined;
  #isFanoutReady = false;
  #isAvailable = false;
  #hasStarted = false;
  #isClosed = false;
  #lastError = '';
  #touchTimer: ReturnType<typeof setInterval> | undefined;
  /** Set while `start()` waits for Redis. */
  #onceAvailable: (() => void) | undefined;

  constructor(options: RedisBrokerOptions = {}) {
    this.#options = options;
    this.#prefix = options.prefix ?? 'tidewire:';
    this.#maxCount = options.maxCount ?? DEFAULT_HISTORY.maxCount;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_HISTORY.maxAgeMs;
    this.#idleTtlMs = Math.max(options.idleChannelTtlMs ?? 3_600_000, this.#maxAgeMs);
    if (!(this.#maxCount >= 1)) throw new RangeError('history maxCount must be at least 1');
    if (!(this.#maxAgeMs >= 1)) throw new RangeError('history maxAgeMs must be at least 1');
    if (!options.client) assertRedisUrl(options.url ?? DEFAULT_URL);
  }

  async start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
    const connection = this.#connectionOptions();
    // Both connections are the broker's own, even with a `client`: its settings (address,
    // auth, TLS, Sentinel) are copied, but not its queueing and resending, which would hold a
    // publish past its timeout or store it twice.
    const open = (options: RedisOptions) => {
      const client = this.#options.client;
      return client
        ? client.duplicate(options)
        : new Redis(this.#options.url ?? DEFAULT_URL, options);
    };
    this.#commands = open({ ...connection, connectionName: 'tidewire' });
    this.#fanout = open({
      ...connection,
      connectionName: 'tidewire-fanout',
      autoResubscribe: false,
    });
    this.#watch(this.#commands);
    this.#watch(this.#fanout);
    this.#fanout.on('ready', () => void this.#fanoutOnReady());
    this.#commands.on('ready', () => {
      // Redis forgets scripts when it restarts: load them before publishes need them, so that
      // the first burst does not send them whole once per publish (see `#run`).
      for (const { lua } of [PUBLISH, READ]) this.#commands?.script('LOAD', lua).catch(() => {});
      if (this.#fanout?.status === 'ready' && !this.#isFanoutReady) void this.#fanoutOnReady();
    });
    this.#fanout.on('close', () => {
      this.#isFanoutReady = false;
      this.#updateAvailability();
    });
    this.#fanout.on('message', (channel: string, message: string) =>
      this.#fanoutOnMessage(channel, message),
    );
    this.#commands.connect().catch(() => {});
    this.#fanout.connect().catch(() => {});

    // Channels nobody publishes to would lose their numbering after `idleTtlMs` while
    // clients still sit on them; re-reading them now and then keeps it.
    const touchEvery = Math.max(100, Math.min(this.#maxAgeMs, this.#idleTtlMs) / 3);
    this.#touchTimer = setInterval(() => this.#touchChannels(), touchEvery);
    this.#touchTimer.unref?.();

    await this.#waitAvailable(this.#options.startTimeoutMs ?? 5_000);
    this.#hasStarted = true;
    if (!this.#isAvailable) {
      handler.onAvailabilityChange?.(false, `redis is unreachable (${this.#describeError()})`);
    }
  }

  async publish(request: PublishRequest): Promise<Envelope> {
    const commands = this.#readyCommands();
    const keys = channelKeys(this.#prefix, request.channel);
    const reply = await this.#run(
      commands,
      PUBLISH,
      [keys.meta, keys.history],
      [
        newEpoch(),
        JSON.stringify(request.channel),
        JSON.stringify(request.event),
        JSON.stringify(request.data) ?? 'null',
        request.binary ? ',"binary":true' : '',
        String(this.#maxCount),
        String(this.#maxAgeMs),
        String(this.#idleTtlMs),
        keys.fanout,
      ],
    );
    const [id, ts] = reply as [string, string];
    return {
      id,
      channel: request.channel,
      event: request.event,
      data: request.data,
      ts: Number(ts),
      ...(request.binary ? { binary: true as const } : {}),
    };
  }

  async read(channel: string, since?: Position): Promise<ChannelRead> {
    const commands = this.#readyCommands();
    const reply = (await this.#readChannel(commands, channel, since)) as string[];
    const [epoch, top, ...envelopes] = reply;
    return {
      epoch: epoch as string,
      top: Number(top),
      envelopes: envelopes.map((json) => JSON.parse(json) as Envelope),
    };
  }

  async subscribe(channel: string): Promise<void> {
    const fanout = this.#fanout;
    if (!fanout || !this.#isFanoutReady) throw this.#unavailable();
    this.#channels.add(channel);
    try {
      await fanout.subscribe(fanoutChannel(this.#prefix, channel));
    } catch (error) {
      this.#channels.delete(channel);
      throw this.#unavailable(error);
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.#channels.delete(channel)) return;
    // A connection that is down has no subscription to undo: on reconnect it subscribes
    // again to what is in the set, and this channel no longer is.
    if (this.#isFanoutReady) {
      await this.#fanout?.unsubscribe(fanoutChannel(this.#prefix, channel)).catch(() => {});
    }
  }

  isAvailable(): boolean {
    return this.#isAvailable;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#touchTimer);
    this.#onceAvailable?.(); // a start() still waiting for Redis ends now
    this.#channels.clear();
    const quit = (redis: Redis | undefined) =>
      redis &&
      (redis.status === 'ready'
        ? redis.quit().catch(() => redis.disconnect())
        : redis.disconnect());
    await Promise.all([quit(this.#fanout), quit(this.#commands)]);
    this.#isAvailable = false;
  }

  #connectionOptions(): RedisOptions {
    const maxDelay = this.#options.reconnectMaxDelayMs ?? 5_000;
    return {
      lazyConnect: true,
      // Fail at once while Redis is away: a publish must reject, not wait in a queue and
      // go out minutes later, and a command cut by a dropped link must not be resent (it
      // may have run: a resent publish would be a second envelope).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#options.commandTimeoutMs ?? 5_000,
      // Full jitter: nodes that lost the same Redis do not all come back at the same instant.
      retryStrategy: (attempt) =>
        Math.round(50 + Math.random() * Math.min(maxDelay, 100 * 2 ** attempt)),
    };
  }

  #watch(redis: Redis): void {
    redis.on('error', (error: Error) => {
      this.#lastError = error.message;
    });
    redis.on('ready', () => {
      this.#lastError = ''; // a later outage must not be described by an old error
      this.#updateAvailability();
    });
    redis.on('close', () => this.#updateAvailability());
  }

  async #fanoutOnReady(): Promise<void> {
    const fanout = this.#fanout;
    if (!fanout) return;
    // History is read on the command link: subscribing before it is back would lose the
    // resync (its read fails) and let live envelopes skip ahead of what cannot be read yet
    // (a false gap). The command link's `ready` calls this again.
    if (this.#commands?.status !== 'ready') return;
    const channels = [...this.#channels];
    try {
      if (channels.length > 0) {
        await fanout.subscribe(...channels.map((channel) => fanoutChannel(this.#prefix, channel)));
      }
    } catch (error) {
      // The link dropped again while subscribing; its next `ready` tries again.
      this.#lastError = error instanceof Error ? error.message : String(error);
      return;
    }
    this.#isFanoutReady = true;
    this.#updateAvailability();
    // Envelopes published while this connection was down never reached it: the hub re-reads
    // them from history. The subscribe above came first, so nothing falls between the two.
    if (channels.length > 0) this.#handler?.onResync?.(channels);
  }

  #fanoutOnMessage(_fanout: string, message: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch {
      return; // not ours: someone else published on our prefix
    }
    if (typeof envelope?.channel !== 'string' || !this.#channels.has(envelope.channel)) return;
    // The message is the envelope's JSON as the publish script wrote it, in the order and
    // form `JSON.stringify` gives: fan-out reuses it as is.
    this.#handler?.onEnvelope(envelope, message);
  }

  #updateAvailability(): void {
    if (this.#isClosed) {
      this.#isAvailable = false; // closing is no outage: nothing to report
      return;
    }
    const available = this.#commands?.status === 'ready' && this.#isFanoutReady;
    if (available === this.#isAvailable) return;
    this.#isAvailable = available;
    if (available) this.#onceAvailable?.();
    if (!this.#hasStarted) return;
    this.#handler?.onAvailabilityChange?.(
      available,
      available ? 'redis is reachable again' : `redis connection lost (${this.#describeError()})`,
    );
  }

  /** Resolves once both links are up, or after `timeoutMs` (the node then starts degraded). */
  #waitAvailable(timeoutMs: number): Promise<void> {
    if (this.#isAvailable) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#onceAvailable = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#onceAvailable = done;
    });
  }

  #touchChannels(): void {
    const commands = this.#commands;
    if (!commands || commands.status !== 'ready') return;
    for (const channel of this.#channels) {
      this.#readChannel(commands, channel, undefined).catch(() => {});
    }
  }

  #readChannel(commands: Redis, channel: string, since: Position | undefined): Promise<unknown> {
    const keys = channelKeys(this.#prefix, channel);
    return this.#run(
      commands,
      READ,
      [keys.meta, keys.history],
      [
        newEpoch(),
        since?.epoch ?? '',
        String(since?.seq ?? 0),
        String(this.#maxAgeMs),
        String(this.#idleTtlMs),
      ],
    );
  }

  #readyCommands(): Redis {
    const commands = this.#commands;
    if (!commands || commands.status !== 'ready') throw this.#unavailable();
    return commands;
  }

  /** Runs a script by its hash; Redis forgets scripts on restart, so send it whole once then. */
  async #run(redis: Redis, { lua, sha }: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      try {
        return await redis.evalsha(sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await redis.eval(lua, keys.length, ...keys, ...args);
      }
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  #unavailable(cause?: unknown): TidewireError {
    // ioredis's own wording names options the broker sets; say what happened instead.
    const reason =
      cause instanceof Error && cause.name === 'MaxRetriesPerRequestError'
        ? 'the connection dropped before Redis answered'
        : cause instanceof Error
          ? cause.message
          : this.#describeError();
    return new TidewireError('BROKER_UNAVAILABLE', `redis is unavailable: ${reason}`, { cause });
  }

  #describeError(): string {
    if (this.#isClosed) return 'the broker is closed';
    if (this.#lastError) return this.#lastError;
    const down = [this.#commands, this.#fanout].find((redis) => redis?.status !== 'ready');
    return down ? `not connected (${down.status})` : 'subscribing again';
  }
}

/** Creates the Redis broker: pass it as `createHub({ broker })` on every node. */
export function redisBroker(options: RedisBrokerOptions = {}): RedisBroker {
  return new RedisBroker(options);
}

function assertRedisUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`not a Redis URL: ${JSON.stringify(url)} (expected redis://host:port)`);
  }
  if (!URL_SCHEMES.has(parsed.protocol)) {
    throw new TypeError(`not a Redis URL: ${JSON.stringify(url)} (expected redis:// or rediss://)`);
  }
}
