/**
 * The page at `/` of `tidewire serve`: a placeholder that subscribes with the browser's own
 * `EventSource` and lists what arrives. Self-contained (no CDN), so it works offline.
 */
export function demoPage(basePath: string): string {
  const base = JSON.stringify(basePath);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tidewire</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 52rem; padding: 0 1rem; color: #1b1f24; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  .muted { color: #57606a; }
  #state { display: inline-block; padding: 0 .5rem; border-radius: 1rem; background: #eee; }
  #state.open { background: #dafbe1; } #state.closed { background: #ffebe9; }
  form { margin: 1rem 0; display: flex; gap: .5rem; }
  input { font: inherit; padding: .3rem .5rem; flex: 1; }
  button { font: inherit; padding: .3rem .8rem; }
  ol { font-family: ui-monospace, monospace; font-size: 13px; padding-left: 2.5rem; }
  li { white-space: pre-wrap; word-break: break-all; }
</style>
</head>
<body>
<h1>tidewire</h1>
<p class="muted">Native <code>EventSource</code> on <code id="url"></code> · <span id="state">connecting</span> · <span id="count">0</span> messages</p>
<form id="publish">
  <input id="text" placeholder="publish a message to this channel" autocomplete="off">
  <button>Publish</button>
</form>
<ol id="log" reversed></ol>
<script>
(() => {
  const base = ${base};
  const params = new URLSearchParams(location.search);
  const channel = params.get('channel') || 'demo';
  const url = base + '/sse?channel=' + encodeURIComponent(channel);
  document.getElementById('url').textContent = url;
  const log = document.getElementById('log');
  const state = document.getElementById('state');
  const count = document.getElementById('count');
  let received = 0;
  const show = (type, envelope) => {
    const item = document.createElement('li');
    item.textContent = type + ' ' + JSON.stringify(envelope);
    log.prepend(item);
    while (log.children.length > 200) log.lastChild.remove();
    count.textContent = String(++received);
  };
  const source = new EventSource(url);
  source.onopen = () => { state.textContent = 'open'; state.className = 'open'; };
  source.onerror = () => { state.textContent = 'reconnecting'; state.className = 'closed'; };
  const onEnvelope = (event) => show(event.type, JSON.parse(event.data));
  source.onmessage = onEnvelope;
  for (const type of ['tick', 'gap']) source.addEventListener(type, onEnvelope);
  document.getElementById('publish').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = document.getElementById('text');
    const answer = await fetch(base + '/send', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ channel, event: 'message', data: input.value }),
    });
    if (answer.ok) input.value = '';
    else show('error', await answer.json());
  });
})();
</script>
</body>
</html>
`;
}
