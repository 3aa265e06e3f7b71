/**
 * What a message costs on the wire, counted from what a page can see: the page never sees
 * raw bytes, so the framing around them (WebSocket frame headers, HTTP status lines and
 * headers) is added from the sizes the protocols fix.
 *
 * @module
 */

/** Bytes of `text` in UTF-8, counted without encoding it. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      // A surrogate pair is one code point of 4 bytes.
      bytes += 4;
      i += 1;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Bytes of a server-to-client WebSocket frame carrying `payloadBytes` (RFC 6455 § 5.2):
 * unmasked, with a 2-byte header and a 16- or 64-bit extended length past 125 and 65 535.
 */
export function webSocketFrameBytes(payloadBytes: number): number {
  if (payloadBytes < 126) return payloadBytes + 2;
  return payloadBytes + (payloadBytes < 65_536 ? 4 : 10);
}

/**
 * Bytes of the hub's `101 Switching Protocols` answer: the status line, `Upgrade`,
 * `Connection` and a 28-character `Sec-WebSocket-Accept` (the hub negotiates no extension).
 */
export const UPGRADE_RESPONSE_BYTES =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'.length +
  'Sec-WebSocket-Accept: \r\n'.length +
  28 +
  2;

/** The headers a `Response` shows, in the shape they had on the wire. */
export interface ResponseHead {
  readonly status: number;
  readonly statusText: string;
  readonly headers: { forEach(visit: (value: string, name: string) => void): void };
}

/**
 * Bytes of an HTTP/1.1 response head: status line, one `name: value` line per header and the
 * blank line. Headers a page may not read (`Set-Cookie`) are not counted; the hub sends none.
 */
export function responseHeadBytes(response: ResponseHead): number {
  let bytes = `HTTP/1.1 ${response.status} ${response.statusText}\r\n\r\n`.length;
  response.headers.forEach((value, name) => {
    bytes += name.length + 2 + utf8Length(value) + 2;
  });
  return bytes;
}
