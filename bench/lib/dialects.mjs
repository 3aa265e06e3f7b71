/**
 * How one subscriber of the fan-out bench speaks to each server: connect, subscribe, and hand
 * the text of every delivered message to `onText`, whatever wraps the payload (a tidewire
 * envelope, a Socket.IO event, an SSE event). The payload's `"i":…,"t":…` are read from that
 * text later (`readStamp`), so that no dialect parses JSON per message.
 *
 * The load generator holds thousands of these in one process on one core, and the bench
 * measures the servers, not it: per message a dialect does a prefix test and a string
 * decode at most, in listeners created once per connection.
 */
import http from 'node:http';
import { WebSocket } from 'ws';

/** Dialect names, for options and error messages. */
export const DIALECTS = ['ws', 'tidewire-ws', 'socketio', 'sse', 'long-poll'];

/** How long a connection may take to be ready before `connect` rejects. */
const CONNECT_TIMEOUT_MS = 30_000;
/** How long `close()` waits for a WebSocket closing handshake before it cuts the socket. */
const CLOSE_GRACE_MS = 1_000;

const WS_OPTIONS = {
  perMessageDeflate: false,
  // The servers' frames are well formed and the stamps are checked anyway: validating the
  // UTF-8 of every frame would only spend the load generator's core.
  skipUTF8Validation: true,
};

/** tidewire's `message` frames start so (`{"type":"message",…envelope}`, SPEC.md). */
const TIDEWIRE_MESSAGE_PREFIX = '{"type":"message"';
const TIDEWIRE_SUBSCRIBE = JSON.stringify({ type: 'subscribe', channels: ['bench'], ref: '1' });

const OPENERS = {
  ws: openWs,
  'tidewire-ws': openTidewireWs,
  socketio: openSocketIo,
  sse: openSse,
  'long-poll': openLongPoll,
};

/**
 * Opens one subscriber.
 *
 * @param dialect - one of `DIALECTS`.
 * @param url - what the server's `ready` message names (or tidewire's endpoint URL).
 * @param onText - called with the text of each delivered message.
 * @param options - `onClose(error)`: the connection ended without `close()` being called
 *   (server gone, stream ended, bad answer); `timeoutMs`: default 30 000.
 * @returns a promise of `{ close() }`, resolved once the subscriber is ready to receive;
 *   `close()` returns a promise resolved once the connection is gone.
 */
export function connect(dialect, url, onText, options = {}) {
  const open = OPENERS[dialect];
  if (!open) {
    const known = DIALECTS.join(', ');
    return Promise.reject(new TypeError(`unknown dialect ${JSON.stringify(dialect)}: ${known}`));
  }
  const { onClose = () => {}, timeoutMs = CONNECT_TIMEOUT_MS } = options;
  return open(url, onText, { label: `${dialect} ${url}`, onClose, timeoutMs });
}

/**
 * The message index and the publisher's stamp (ms) in a delivered text, or undefined when it
 * holds none (a control event).
 */
export function readStamp(text) {
  const at = text.indexOf('"i":');
  if (at === -1) return undefined;
  const comma = text.indexOf(',"t":', at + 4);
  if (comma <= at + 4) return undefined;
  const i = Number(text.slice(at + 4, comma));
  let end = comma + 5;
  while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
  const t = Number(text.slice(comma + 5, end));
  if (!Number.isInteger(i) || i < 0 || end === comma + 5 || Number.isNaN(t)) return undefined;
  return { i, t };
}

// 0-9 . e E + -
function isNumberChar(code) {
  return (
    (code >= 48 && code <= 57) ||
    code === 46 ||
    code === 101 ||
    code === 69 ||
    code === 43 ||
    code === 45
  );
}

/** Any WebSocket server: every message is the payload itself. */
function openWs(url, onText, context) {
  return openSocket(url, context, (ws, ready) => {
    ws.once('open', ready);
    ws.on('message', (data) => onText(data.toString()));
  });
}

/** tidewire's WebSocket endpoint: subscribe to `bench`, ready on `subscribed`. */
function openTidewireWs(url, onText, context) {
  return openSocket(url, context, (ws, ready, fail) => {
    ws.once('open', () => ws.send(TIDEWIRE_SUBSCRIBE));
    ws.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith(TIDEWIRE_MESSAGE_PREFIX)) {
        onText(text);
        return;
      }
      // Control frames are rare: parsing them costs nothing that counts.
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        return; // a bare `pong`
      }
      if (frame?.type === 'subscribed') ready();
      else if (frame?.type === 'error') fail(`error frame ${frame.code}: ${frame.message}`);
    });
  });
}

/**
 * Socket.IO as its client speaks it, without socket.io-client: Engine.IO v4 packets over a
 * plain WebSocket (`/socket.io/?EIO=4&transport=websocket`). The packet type is the first
 * character: `0` open (then we connect to the main namespace with `40`), `2` ping (answered
 * `3`, or the server drops us after pingTimeout), `4` a Socket.IO packet: `40` connected,
 * `44` refused, `42[…]` an event.
 */
function openSocketIo(url, onText, context) {
  return openSocket(url, context, (ws, ready, fail) => {
    ws.on('message', (data) => {
      const text = data.toString();
      const type = text.charCodeAt(0);
      if (type === 52 /* 4 */) {
        const packet = text.charCodeAt(1);
        if (packet === 50 /* 2 */) onText(text);
        else if (packet === 48 /* 0 */) ready();
        else if (packet === 52 /* 4 */) fail(`connect refused: ${text.slice(2)}`);
      } else if (type === 50 /* 2 */) ws.send('3');
      else if (type === 48 /* 0 */) ws.send('40');
    });
  });
}

/**
 * One `ws` WebSocket with the lifecycle every WebSocket dialect shares; `wire(ws, ready,
 * fail)` adds the dialect's listeners and calls `ready()` once the subscriber receives.
 */
function openSocket(url, { label, onClose, timeoutMs }, wire) {
  const ws = new WebSocket(url, WS_OPTIONS);
  const handle = {
    isClosing: false,
    close() {
      handle.isClosing = true;
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      const closed = new Promise((resolve) => ws.once('close', resolve));
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000);
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      } else ws.terminate();
      return closed;
    },
  };
  const pending = startHandshake(label, timeoutMs, () => ws.terminate());
  wire(
    ws,
    () => pending.settle(handle),
    (reason) => {
      const error = new Error(`${label}: ${reason}`);
      if (pending.fail(error)) return;
      // After the handshake: report this reason, not the close that follows.
      if (!handle.isClosing) {
        handle.isClosing = true;
        onClose(error);
      }
      ws.terminate();
    },
  );
  // An error is always followed by a close: it only explains a failed handshake.
  ws.on('error', (error) => pending.fail(new Error(`${label}: ${error.message}`)));
  ws.once('close', (code, reason) => {
    const error = new Error(`${label}: closed (${code} ${reason.toString()})`);
    if (!pending.fail(error) && !handle.isClosing) onClose(error);
  });
  return pending.promise;
}

/**
 * An SSE stream: ready on a 200 answer; each event's `data` (its `data:` lines joined by
 * `\n`) goes to `onText`. Comments (heartbeats) and events without data are skipped; `id:`,
 * `event:` and `retry:` are not needed here. Lines end in LF or CRLF (every server here; a
 * lone CR, which the spec also allows, is not handled).
 */
function openSse(url, onText, { label, onClose, timeoutMs }) {
  let isClosing = false;
  const req = http.get(url, { headers: { Accept: 'text/event-stream' }, agent: false });
  const handle = {
    close() {
      isClosing = true;
      if (req.destroyed) return Promise.resolve();
      const closed = new Promise((resolve) => req.once('close', resolve));
      req.destroy();
      return closed;
    },
  };
  const pending = startHandshake(label, timeoutMs, () => req.destroy());
  const ended = (error) => {
    if (!pending.fail(error) && !isClosing) {
      isClosing = true;
      onClose(error);
    }
  };
  req.once('error', (error) => ended(new Error(`${label}: ${error.message}`)));
  req.once('response', (res) => {
    // Once the socket is cut (by `close()` too), the response errors with "aborted".
    res.on('error', () => {});
    if (res.statusCode !== 200) {
      res.resume();
      ended(new Error(`${label}: answered ${res.statusCode}, not 200`));
      req.destroy();
      return;
    }
    res.setEncoding('utf8');
    res.on('data', createSseDataReader(onText));
    res.once('close', () => ended(new Error(`${label}: the stream ended`)));
    pending.settle(handle);
  });
  return pending.promise;
}

/** An incremental reader of an event stream: feed it chunks split anywhere. */
function createSseDataReader(onText) {
  let rest = '';
  let data; // the event's data so far; undefined while it has no `data` field
  return (chunk) => {
    const text = rest === '' ? chunk : rest + chunk;
    let start = 0;
    let end;
    while ((end = text.indexOf('\n', start)) !== -1) {
      const lineEnd = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      if (lineEnd === start) {
        // A blank line ends the event.
        if (data !== undefined) onText(data);
        data = undefined;
      } else if (text.startsWith('data', start)) {
        const value = fieldValue(text, start + 4, lineEnd);
        if (value !== undefined) data = data === undefined ? value : `${data}\n${value}`;
      }
      start = end + 1;
    }
    rest = start === text.length ? '' : text.slice(start);
  };
}

/** The value of a field whose name ends at `at`: `name`, `name:value` or `name: value`. */
function fieldValue(text, at, lineEnd) {
  if (at === lineEnd) return '';
  if (text.charCodeAt(at) !== 58 /* : */) return undefined; // another field: `database:`…
  const from = text.charCodeAt(at + 1) === 32 ? at + 2 : at + 1;
  return text.slice(from, lineEnd);
}

/**
 * tidewire long polling: a first poll with `timeout=0` answers at once with where the
 * channel stands (a first long poll without a cursor would hold until the first publish, so
 * the subscriber could not say it is ready); then each poll carries the cursor of the last
 * answer and is sent again as soon as the answer is in. One keep-alive socket per subscriber.
 */
function openLongPoll(url, onText, { label, onClose, timeoutMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const base = new URL(url);
  let isClosing = false;
  let current;
  const shutDown = () => {
    isClosing = true;
    current?.destroy();
    agent.destroy();
  };
  const handle = {
    close() {
      shutDown();
      return Promise.resolve();
    },
  };
  const pending = startHandshake(label, timeoutMs, shutDown);
  const stop = (error) => {
    if (isClosing) return;
    if (!pending.fail(error)) {
      shutDown();
      onClose(error);
    }
  };
  const onAnswer = (status, body) => {
    if (status !== 200)
      return stop(new Error(`${label}: answered ${status}: ${body.slice(0, 200)}`));
    let answer;
    try {
      answer = JSON.parse(body);
    } catch {
      return stop(new Error(`${label}: an answer that is not JSON: ${body.slice(0, 200)}`));
    }
    // Envelopes only: a `{ type: 'gap' }` entry carries no message.
    for (const message of answer.messages) {
      if (message.type !== 'gap') onText(JSON.stringify(message));
    }
    pending.settle(handle);
    const next = new URL(base);
    if (answer.cursor) next.searchParams.set('cursor', answer.cursor);
    poll(next);
  };
  const poll = (target) => {
    if (isClosing) return;
    current = http.get(target, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('error', (error) => stop(new Error(`${label}: ${error.message}`)));
      res.once('end', () => {
        if (!isClosing) onAnswer(res.statusCode, body);
      });
    });
    current.once('error', (error) => stop(new Error(`${label}: ${error.message}`)));
  };
  const first = new URL(base);
  first.searchParams.set('timeout', '0');
  poll(first);
  return pending.promise;
}

/**
 * The not-yet-ready part of a connection: `settle(handle)` resolves it, `fail(error)` rejects
 * it and aborts the connection, a timer fails it. Each returns whether it took effect, so
 * that what happens after the handshake can go to `onClose` instead.
 */
function startHandshake(label, timeoutMs, abort) {
  let resolve;
  let reject;
  const promise = new Promise((yes, no) => {
    resolve = yes;
    reject = no;
  });
  let isSettled = false;
  const fail = (error) => {
    if (isSettled) return false;
    isSettled = true;
    clearTimeout(timer);
    abort();
    reject(error);
    return true;
  };
  const timer = setTimeout(
    () => fail(new Error(`${label}: not ready after ${timeoutMs} ms`)),
    timeoutMs,
  );
  return {
    promise,
    settle(value) {
      if (isSettled) return false;
      isSettled = true;
      clearTimeout(timer);
      resolve(value);
      return true;
    },
    fail,
  };
}
