import { describe, expect, it } from 'vitest';
import {
  UPGRADE_RESPONSE_BYTES,
  responseHeadBytes,
  utf8Length,
  webSocketFrameBytes,
} from './wire-bytes.js';

describe('utf8Length', () => {
  it('counts as TextEncoder does, surrogate pairs and lone surrogates included', () => {
    const samples = [
      '',
      'tick',
      'prix: 12,5 €',
      'ünïcödé',
      '漢字',
      'rocket 🚀 ok',
      '\ud800x',
      'x\udc00',
    ];
    for (const text of samples) {
      expect(utf8Length(text), text).toBe(new TextEncoder().encode(text).length);
    }
  });
});

describe('webSocketFrameBytes', () => {
  it('adds the 2-, 4- and 10-byte headers at the RFC 6455 length boundaries', () => {
    expect(webSocketFrameBytes(0)).toBe(2);
    expect(webSocketFrameBytes(125)).toBe(127);
    expect(webSocketFrameBytes(126)).toBe(130);
    expect(webSocketFrameBytes(65_535)).toBe(65_539);
    expect(webSocketFrameBytes(65_536)).toBe(65_546);
  });
});

describe('responseHeadBytes', () => {
  it('counts the status line, each header line and the blank line', () => {
    const head =
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-cache\r\n\r\n';
    const bytes = responseHeadBytes({
      status: 200,
      statusText: 'OK',
      headers: new Headers({ 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' }),
    });
    expect(bytes).toBe(head.length);
  });

  it('knows the size of the 101 answer to an upgrade', () => {
    const accept = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
    const answer =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`;
    expect(UPGRADE_RESPONSE_BYTES).toBe(answer.length);
  });
});
