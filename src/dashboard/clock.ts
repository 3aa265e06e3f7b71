/**
 * How far the hub's clock is ahead of this page's, so that a latency is `now + offset − ts`
 * even when the browser runs on another machine. NTP's way: ask the hub for its time, take it
 * as read halfway through the round trip, and trust the sample with the shortest round trip.
 */
export async function measureClockOffset(
  url: string,
  samples = 5,
  fetchTime: (url: string) => Promise<number> = readServerTime,
): Promise<number> {
  let best: { roundTripMs: number; offsetMs: number } | undefined;
  for (let i = 0; i < samples; i++) {
    const sentAt = Date.now();
    const serverNow = await fetchTime(url);
    const receivedAt = Date.now();
    const roundTripMs = receivedAt - sentAt;
    if (!best || roundTripMs < best.roundTripMs) {
      best = { roundTripMs, offsetMs: serverNow - (sentAt + receivedAt) / 2 };
    }
  }
  return best?.offsetMs ?? 0;
}

async function readServerTime(url: string): Promise<number> {
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  const body = (await response.json()) as { now?: unknown };
  if (typeof body.now !== 'number') throw new Error(`${url} did not say what time it is`);
  return body.now;
}
