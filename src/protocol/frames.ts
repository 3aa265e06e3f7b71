import { assertChannel } from './channel.js';
import type { Envelope } from './envelope.js';
import { normalizeEvent } from './envelope.js';
import { TidewireError } from './errors.js';
import type { ErrorCode } from './codes.js';

/**
 * WebSocket frames (SPEC.md § Endpoints). Every frame is a JSON text object with a `type`,
 * except the bare text `ping`/`pong` that hand-written clients use.
 *
 * @module
 */

export interface SubscribeFrame {
  readonly type: 'subscribe';
  readonly channels: readonly string[];
  /** Position to resume from, per channel. */
  readonly since?: Readonly<Record<string, string>>;
  readonly ref?: string;
}

export interface UnsubscribeFrame {
  readonly type: 'unsubscribe';
  readonly channels: readonly string[];
  readonly ref?: string;
}

export interface PublishFrame {
  readonly type: 'publish';
  readonly channel: string;
  readonly event: string;
  readonly data: unknown;
  readonly binary?: true;
  readonly ref?: string;
}

export interface PingFrame {
  readonly type: 'ping';
}

export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PublishFrame | PingFrame;

export interface SubscribedFrame {
  readonly type: 'subscribed';
  readonly channel: string;
  readonly position: string;
  readonly recovered: boolean;
}

export type MessageFrame = { readonly type: 'message' } & Envelope;

export interface AckFrame {
  readonly type: 'ack';
  readonly ref: string;
  /** The id of the published envelope. */
  readonly id: string;
  /** Its publish time (ms), so that the client can hand back the whole envelope. */
  readonly ts: number;
}

export interface PongFrame {
  readonly type: 'pong';
}

export interface GapFrame {
  readonly type: 'gap';
  readonly channel: string;
}

export interface ErrorFrame {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  readonly ref?: string;
}

export type ServerFrame =
  SubscribedFrame | MessageFrame | AckFrame | PongFrame | GapFrame | ErrorFrame;

/** Client-chosen correlation ids are echoed back; bound them so they cannot bloat answers. */
const MAX_REF_LENGTH = 128;

/**
 * Parses and validates one client frame. Throws a `TidewireError` (BAD_JSON, UNKNOWN_FRAME,
 * BAD_REQUEST, BAD_CHANNEL, BAD_EVENT) whose message says what was expected; the error
 * carries the frame's `ref` when one could be read, so that the answer can be correlated.
 */
export function parseClientFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TidewireError('BAD_JSON', 'frame is not valid JSON');
  }
  if (!isPlainObject(value)) {
    throw new TidewireError('BAD_REQUEST', 'frame must be a JSON object with a "type"');
  }
  const ref = readRef(value.ref);
  try {
    return parseTyped(value, ref);
  } catch (error) {
    if (error instanceof TidewireError) error.ref = ref;
    throw error;
  }
}

function parseTyped(value: Record<string, unknown>, ref: string | undefined): ClientFrame {
  switch (value.type) {
    case 'subscribe':
      return {
        type: 'subscribe',
        channels: readChannels(value.channels),
        ...(value.since === undefined ? {} : { since: readSince(value.since) }),
        ...(ref === undefined ? {} : { ref }),
      };
    case 'unsubscribe':
      return {
        type: 'unsubscribe',
        channels: readChannels(value.channels),
        ...(ref === undefined ? {} : { ref }),
      };
    case 'publish':
      return readPublish(value, ref);
    case 'ping':
      return { type: 'ping' };
    default:
      throw new TidewireError(
        'UNKNOWN_FRAME',
        `unknown frame type ${JSON.stringify(describeType(value.type)).slice(0, 40)}: expected subscribe, unsubscribe, publish or ping`,
      );
  }
}

/**
 * The `type` of an unknown frame, for the error message. Never `String()` of an object: it
 * runs the peer's data as `toString` (a deeply nested array overflows the stack, an own
 * `toString` key that is no function throws a TypeError), which would answer INTERNAL.
 */
function describeType(type: unknown): string {
  if (Array.isArray(type)) return 'array';
  return typeof type === 'object' && type !== null ? 'object' : String(type);
}

/** Reads the body of a publish: the WebSocket `publish` frame and `POST /rt/send` share it. */
export function readPublish(value: Record<string, unknown>, ref?: string): PublishFrame {
  const channel = assertChannel(value.channel);
  const event = normalizeEvent(value.event);
  if (!('data' in value)) {
    throw new TidewireError('BAD_REQUEST', 'publish needs a "data" field');
  }
  if (value.binary !== undefined && value.binary !== true && value.binary !== false) {
    throw new TidewireError('BAD_REQUEST', '"binary" must be a boolean');
  }
  const binary = value.binary === true;
  if (binary && (typeof value.data !== 'string' || !BASE64.test(value.data))) {
    throw new TidewireError('BAD_REQUEST', 'binary data must be a base64 string');
  }
  return {
    type: 'publish',
    channel,
    event,
    data: value.data,
    ...(binary ? { binary: true as const } : {}),
    ...(ref === undefined ? {} : { ref }),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function readRef(ref: unknown): string | undefined {
  if (ref === undefined) return undefined;
  if (typeof ref === 'number' && Number.isFinite(ref)) return String(ref);
  if (typeof ref === 'string' && ref.length <= MAX_REF_LENGTH) return ref;
  throw new TidewireError(
    'BAD_REQUEST',
    `"ref" must be a string of at most ${MAX_REF_LENGTH} characters`,
  );
}

function readChannels(channels: unknown): string[] {
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new TidewireError('BAD_REQUEST', '"channels" must be a non-empty array of channel names');
  }
  return [...new Set(channels.map(assertChannel))];
}

function readSince(since: unknown): Record<string, string> {
  if (!isPlainObject(since)) {
    throw new TidewireError('BAD_CURSOR', '"since" must be an object of channel → position');
  }
  const result: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [channel, position] of Object.entries(since)) {
    assertChannel(channel);
    if (typeof position !== 'string') {
      throw new TidewireError('BAD_CURSOR', `position for ${channel} must be a string`);
    }
    result[channel] = position;
  }
  return result;
}

/** Whether `value` is a non-null, non-array object (what `JSON.parse` makes of `{…}`). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
