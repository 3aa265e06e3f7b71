/**
 * Request and reply over a forked child's IPC channel: the bench's servers and its subscriber
 * process each answer a request with one message of a known `type`, or `{ type: 'error' }`.
 */

/**
 * Sends `message` to `child` and resolves with its next message of type `replyType`. Rejects
 * when the child answers `{ type: 'error', message }`, exits first, or takes over `timeoutMs`.
 */
export function request(child, message, replyType, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const onMessage = (reply) => {
      if (reply?.type === replyType) settle(() => resolve(reply));
      else if (reply?.type === 'error') settle(() => reject(new Error(reply.message)));
    };
    const onExit = (code, signal) =>
      settle(() => reject(new Error(`process exited (${signal ?? code}) before '${replyType}'`)));
    const timer = setTimeout(
      () => settle(() => reject(new Error(`no '${replyType}' within ${timeoutMs} ms`))),
      timeoutMs,
    );
    function settle(finish) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      finish();
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
    if (message !== undefined) child.send(message);
  });
}
