/**
 * The page at `/` of `tidewire serve`: the shell of the live dashboard. Everything it runs
 * is the bundle built from `src/dashboard/` (uPlot and the real `tidewire/client` inside),
 * served by the hub itself from `/assets/`, so the page works offline: no CDN.
 */
export function demoPage(basePath: string): string {
  return `<!doctype html>
<html lang="en" data-theme="light" data-fullscreen="false">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tidewire · live transports</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/dashboard.css">
<script type="module" src="/assets/dashboard.js"></script>
</head>
<body data-base-path="${escapeAttribute(basePath)}">
<header class="bar">
  <div class="brand">
    <h1>tidewire · live transports</h1>
    <p>The hub's demo ticker, 10 ticks a second on channel <code>demo</code>, over each transport side by side.</p>
  </div>
  <span class="total" title="ticks skipped or received twice, all panels: stays 0 through drops, restarts of links and pauses">missed <span id="missed-total">0</span></span>
  <div class="controls">
    <button id="drop-all" type="button" title="The hub closes every connection; every client reconnects and resumes">Server: drop everyone</button>
    <button id="pause" type="button" aria-pressed="false" title="Cut every connection and fail new ones until resumed, as offline">Pause network</button>
    <button id="theme" type="button" title="Every open tab follows, through the hub">Dark theme</button>
    <button id="fullscreen" type="button" title="Every open tab follows, through the hub">Full screen</button>
  </div>
  <p id="notice" class="notice" role="status"></p>
</header>
<main id="panels" class="panels"></main>
<section class="about">
  <p>Each panel is its own <code>tidewire/client</code> held to one transport. The line is the price each tick carried, drawn at the hub's publish time; the dots are each tick's latency from publish to delivery (right axis, log scale). <em>Drop</em> cuts one panel's connection as a lost network would; <em>Server: drop everyone</em> has the hub close every connection; <em>Pause network</em> makes the page offline. Each time, the client reconnects with jittered backoff and resumes from where it stood: <em>missed</em> stays 0. Bytes count what the server sent, headers and framing included; requests count WebSocket upgrades too.</p>
  <p>Theme and full screen are published on channel <code>dashboard</code>: every open tab, on any screen, follows. Publish your own: <code>curl -X POST localhost:8080/rt/publish/demo -H 'Content-Type: application/json' -d '{"hello":"world"}'</code>.</p>
</section>
<noscript><p class="about">The dashboard needs JavaScript.</p></noscript>
</body>
</html>
`;
}

/** The base path goes into an attribute: nothing in it may end the attribute or the tag. */
function escapeAttribute(text: string): string {
  return text.replace(/[&"<>]/g, (char) => `&#${char.charCodeAt(0)};`);
}
