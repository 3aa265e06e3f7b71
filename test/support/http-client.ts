/** A JSON answer: status, headers and parsed body. */
export interface JsonAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** fetch + JSON parse of the body (the hub answers JSON on every endpoint but /rt/sse). */
export async function requestJson<T = Record<string, unknown>>(
  url: string,
  init: RequestInit = {},
): Promise<JsonAnswer<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    throw new Error(`not JSON (${response.status}): ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body };
}

/** `POST /rt/publish/:channel` with a JSON body. */
export function publishHttp(
  baseUrl: string,
  channel: string,
  data: unknown,
  event?: string,
  token?: string,
) {
  const query = event === undefined ? '' : `?event=${encodeURIComponent(event)}`;
  return requestJson<{ id: string; ts: number }>(
    `${baseUrl}/rt/publish/${encodeURIComponent(channel)}${query}`,
    {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(data),
    },
  );
}

export interface PollAnswer {
  messages: Array<Record<string, unknown>>;
  cursor: string;
}

/** `GET /rt/poll` for channels, from a cursor, holding up to `timeout` ms. */
export function poll(baseUrl: string, channels: string[], cursor?: string, timeout = 0) {
  const query = new URLSearchParams();
  for (const channel of channels) query.append('channel', channel);
  if (cursor !== undefined) query.set('cursor', cursor);
  query.set('timeout', String(timeout));
  return requestJson<PollAnswer>(`${baseUrl}/rt/poll?${query}`);
}
