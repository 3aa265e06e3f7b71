import net from 'node:net';
import { expect } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/protocol/codes.js';

/**
 * A raw HTTP/1.1 client over `net.Socket` for the hostile-input suites: it sends exactly the
 * bytes it is given (fetch and http.request refuse or normalise much of what an attacker
 * sends) and keeps the exact response head, so that tests can prove that no input ever turns
 * into a response header.
 */

/** One answer as it came off the wire. */
export interface RawResponse {
  readonly status: number;
  /** The head as received (latin1), status line included, without the blank line. */
  readonly head: string;
  /** Header fields in order, names lowercased. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** The body, de-chunked; empty for an event stream (the test stops after the head). */
  readonly body: Buffer;
}

export interface RawRequestOptions {
  /** How long to wait for the whole answer; past it the request fails as a hang. Default 3000. */
  readonly timeoutMs?: number;
}

/** The value of a header of `response`, the first when repeated. */
export function headerOf(response: RawResponse, name: string): string | undefined {
  return response.headers.find(([field]) => field === name.toLowerCase())?.[1];
}

/**
 * Builds a request. `target` is sent as is; header values are sent as UTF-8 bytes (what a
 * client that does not check them sends); `Host` and `Connection: close` are added unless
 * given.
 */
export function buildRequest(
  method: string,
  target: string,
  headers: ReadonlyArray<readonly [string, string]> = [],
  body?: Buffer | string,
): Buffer {
  const names = new Set(headers.map(([name]) => name.toLowerCase()));
  const lines = [`${method} ${target} HTTP/1.1`];
  if (!names.has('host')) lines.push('Host: 127.0.0.1');
  if (!names.has('connection')) lines.push('Connection: close');
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  if (body !== undefined && !names.has('content-length') && !names.has('transfer-encoding')) {
    lines.push(`Content-Length: ${payload.length}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8'), payload]);
}

/**
 * Sends `request` on a fresh connection to 127.0.0.1:`port` and reads one answer: up to its
 * Content-Length, its last chunk, or the end of the connection. An event stream (and a 101)
 * is read up to its head only, then the connection is dropped. Rejects when no complete
 * answer came within the timeout: for these suites, a hang is a failure.
 */
export function rawRequest(
  port: number,
  request: Buffer,
  options: RawRequestOptions = {},
): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const isHead = request.subarray(0, 5).toString('latin1') === 'HEAD ';
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(
      () => finish(new Error(`no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (outcome: RawResponse | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const tryParse = (isEnd: boolean) => {
      const answer = parseAnswer(received, isHead, isEnd);
      if (answer) finish(answer);
      else if (isEnd) {
        finish(new Error(`connection ended without a complete answer: ${preview(received)}`));
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    socket.on('error', () => tryParse(true));
    socket.write(request);
  });
}

function preview(bytes: Buffer): string {
  return JSON.stringify(bytes.subarray(0, 120).toString('latin1'));
}

/** The answer in `bytes` once it is complete, else undefined. */
function parseAnswer(bytes: Buffer, isHead: boolean, isEnd: boolean): RawResponse | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = bytes.subarray(0, end).toString('latin1');
  const [statusLine = '', ...fieldLines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  const headers = fieldLines.map((line): readonly [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
  const rest = bytes.subarray(end + 4);
  const response = (body: Buffer): RawResponse => ({ status, head, headers, body });
  const find = (name: string) => headers.find(([field]) => field === name)?.[1];
  const contentType = find('content-type') ?? '';
  if (isHead || status === 101 || status === 204 || status === 304)
    return response(Buffer.alloc(0));
  if (contentType.startsWith('text/event-stream')) return response(Buffer.alloc(0));
  const length = find('content-length');
  if (length !== undefined) {
    const size = Number(length);
    return rest.length >= size ? response(rest.subarray(0, size)) : undefined;
  }
  if (find('transfer-encoding')?.toLowerCase() === 'chunked') {
    const body = dechunk(rest);
    return body ? response(body) : undefined;
  }
  return isEnd ? response(rest) : undefined;
}

/** The body of a complete chunked payload, or undefined while its last chunk is missing. */
function dechunk(bytes: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (bytes.length < start + size + 2) return undefined;
    parts.push(bytes.subarray(start, start + size));
    at = start + size + 2;
  }
}

/** Whether `code` is one of the stable error codes. */
export function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * Asserts that `response` is a refusal as README § Errors describes it: a 4xx status and a
 * JSON `{ code, message }` whose code is a known one and maps to that status (`426` is the
 * one exception: a plain GET on the WebSocket endpoint, code `BAD_REQUEST`).
 */
export function expectKnownRefusal(response: RawResponse, context: string): ErrorCode {
  expect(response.status, `${context}: status`).toBeGreaterThanOrEqual(400);
  expect(response.status, `${context}: status`).toBeLessThan(500);
  expect(headerOf(response, 'content-type'), `${context}: content type`).toMatch(
    /^application\/json/,
  );
  const body = parseJsonBody(response, context);
  const { code, message } = body as { code?: unknown; message?: unknown };
  expect(isKnownCode(code), `${context}: known code, got ${String(code)}`).toBe(true);
  expect(typeof message, `${context}: message`).toBe('string');
  const known = code as ErrorCode;
  if (response.status !== 426) {
    expect(response.status, `${context}: status of ${known}`).toBe(ERROR_CODES[known].status);
  }
  return known;
}

/** The JSON body of `response`; fails the test when it is not JSON. */
export function parseJsonBody(response: RawResponse, context: string): unknown {
  const text = response.body.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${context}: body is not JSON (${response.status}): ${text.slice(0, 200)}`);
  }
}

/**
 * Asserts that a response head is well formed: a status line, then `name: value` fields
 * whose names are HTTP tokens and whose values hold no control characters, each line ended
 * by CRLF (no bare CR or LF that could start a field of its own). Returns the header names.
 */
export function expectCleanHead(response: RawResponse, context: string): string[] {
  const lines = response.head.split('\r\n');
  expect(lines[0], `${context}: status line`).toMatch(/^HTTP\/1\.1 \d{3} [^\r\n]*$/);
  for (const line of lines.slice(1)) {
    expect(line, `${context}: header line`).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:/);
    expect(withoutControls(line), `${context}: control characters in a header line`).toBe(line);
  }
  return response.headers.map(([name]) => name);
}

/**
 * `text` without the control characters that a header value may not hold (all of C0 but tab,
 * and DEL): what a client can put in a header that Node's parser accepts.
 */
export function withoutControls(text: string): string {
  let out = '';
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code === 0x09 || (code > 0x1f && code !== 0x7f)) out += char;
  }
  return out;
}
