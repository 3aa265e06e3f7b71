import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertChannel } from '../protocol/channel.js';
import { normalizeEvent } from '../protocol/envelope.js';
import { TidewireError, isTidewireError } from '../protocol/errors.js';
import { isPlainObject, readPublish } from '../protocol/frames.js';
import type { TransportContext } from '../transports/transport.js';
import { judgeBearer } from './bearer.js';
import { parseJson, readBody, sendError, sendJson } from './http-util.js';
import type { Identity } from './options.js';

/**
 * The two ways to publish over HTTP: `POST /rt/publish/:channel` for backends (curl, Python,
 * Go), guarded by the publish token, and `POST /rt/send` for what HTTP clients send, under
 * the same rules as a WebSocket `publish` frame.
 */
export class PublishApi {
  constructor(private readonly context: TransportContext) {}

  /**
   * `POST /rt/publish/:channel[?event=E]`. The body is JSON, except that `text/plain` is
   * published as a string and `application/octet-stream` as binary (base64 on the wire).
   */
  async publish(
    req: IncomingMessage,
    res: ServerResponse,
    channelText: string,
    query: URLSearchParams,
  ) {
    try {
      this.#checkToken(req);
      const channel = assertChannel(safeDecode(channelText));
      const event = normalizeEvent(query.get('event') || undefined);
      const { data, binary } = await this.#readPublishBody(req);
      const envelope = await this.context.core.publish({
        channel,
        event,
        data,
        ...(binary ? { binary } : {}),
      });
      sendJson(res, 201, { id: envelope.id, ts: envelope.ts });
    } catch (error) {
      this.#countDrop(error);
      sendError(res, error);
    }
  }

  /** `POST /rt/send` with `{ channel, event, data }`, from a request that passed the gate. */
  async send(req: IncomingMessage, res: ServerResponse, identity: Identity) {
    const { core, connections, access, options } = this.context;
    try {
      if (!options.allowClientPublish) {
        throw new TidewireError('PUBLISH_DISABLED', 'clients may not publish on this hub');
      }
      const body = await readBody(req, options.limits.maxMessageBytes);
      const value = Buffer.isBuffer(body) ? parseJson(body.toString('utf8')) : body.parsed;
      if (!isPlainObject(value)) {
        throw new TidewireError(
          'BAD_REQUEST',
          'body must be a JSON object { channel, event, data }',
        );
      }
      const { channel, event, data, binary } = readPublish(value);
      await access.authorize(identity, [channel], 'publish');
      const connection = {
        id: connections.nextId(),
        transport: 'http' as const,
        ip: access.clientIp(req),
        identity,
      };
      const envelope = await core.receive(connection, {
        channel,
        event,
        data,
        ...(binary ? { binary } : {}),
      });
      sendJson(res, 201, { id: envelope.id, ts: envelope.ts });
    } catch (error) {
      this.#countDrop(error);
      sendError(res, error);
    }
  }

  /** A body past the size limit is a drop for `/metrics`; other refusals count where made. */
  #countDrop(error: unknown): void {
    if (isTidewireError(error) && error.code === 'MESSAGE_TOO_LARGE') {
      this.context.counters.drop('too_large');
    }
  }

  #checkToken(req: IncomingMessage): void {
    const token = this.context.options.publishToken;
    if (token === undefined) return;
    // SPEC.md § Endpoints: 401 without a bearer token (no header, or another scheme such as
    // Basic), 403 with a wrong one.
    const verdict = judgeBearer(req, token);
    if (verdict === 'missing') {
      this.context.counters.drop('unauthorized');
      throw new TidewireError('UNAUTHORIZED', 'publishing needs "Authorization: Bearer <token>"');
    }
    if (verdict === 'wrong') {
      this.context.counters.drop('forbidden');
      throw new TidewireError('FORBIDDEN', 'the publish token is not valid');
    }
  }

  async #readPublishBody(req: IncomingMessage): Promise<{ data: unknown; binary?: true }> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const body = await readBody(req, this.context.options.limits.maxMessageBytes);
    if (!Buffer.isBuffer(body)) return { data: body.parsed };
    if (type === 'application/octet-stream') return { data: body.toString('base64'), binary: true };
    const text = body.toString('utf8');
    if (type === 'text/plain') return { data: text };
    if (text.trim() === '') return { data: null };
    return { data: parseJson(text) };
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new TidewireError('BAD_CHANNEL', 'channel in the path is not valid percent-encoding');
  }
}
