// The REST API under /v1, with the admin token the user signed in with (kept for this tab).

export const TOKEN_KEY = "lc-webhooks-admin-token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || "HTTP " + status);
    this.status = status;
    this.code = body && body.error ? body.error.code : null;
  }
}

export function token() { return sessionStorage.getItem(TOKEN_KEY); }

// `withToken` tries a token other than the stored one (signing in); a 401 then is only an
// error, and does not send the user back to the sign-in page.
export async function api(method, path, body, { withToken } = {}) {
  const headers = {};
  const t = withToken === undefined ? token() : withToken;
  if (t) headers.authorization = "Bearer " + t;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch("/v1" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (res.status === 401 && withToken === undefined) {
    window.dispatchEvent(new CustomEvent("lc-unauthorized", { detail: { hadToken: Boolean(t) } }));
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export async function all(path) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", path + sep + "limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}
