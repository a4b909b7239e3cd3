// The hub's HTTP API, as the officer page uses it. Same origin, session cookie.
//
// Errors: a 401 is Unauthorized (the page goes back to sign-in); anything else not 2xx is an
// ApiError carrying the hub's own message ({detail}), which the page shows as it is (a 409
// "cannot acknowledge incident INC-...: it is resolved" is written for officers).

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function detailOf(res) {
  try {
    const body = await res.json();
    const { detail } = body;
    if (typeof detail === "string") return detail;
    // FastAPI's 422: [{loc, msg}, ...]
    if (Array.isArray(detail)) return detail.map((d) => d.msg || String(d)).join("; ");
  } catch (_) {
    /* not JSON */
  }
  return res.statusText || `HTTP ${res.status}`;
}

async function request(method, path, { json, body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers } };
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) {
    init.body = body;
  }
  const res = await fetch(path, init);
  if (res.status === 401) throw new Unauthorized("not signed in");
  if (!res.ok) throw new ApiError(res.status, await detailOf(res));
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  return type.includes("json") ? res.json() : null;
}

/** Run ``work`` (calls to the hub and what follows them). If the hub refuses (an ApiError:
 * a 409, a 422...), its message, after ``prefix``, goes in ``box`` for the officer to read;
 * anything else (Unauthorized, no network, a bug) is thrown on. */
export async function showRefusal(box, work, prefix = "") {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    box.textContent = prefix + err.message;
  }
}

/** Query string from an object; arrays repeat the key (severity=a&severity=b). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(key, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, json, headers) => request("POST", path, { json, headers }),
  put: (path, json) => request("PUT", path, { json }),
  del: (path, json) => request("DELETE", path, { json }),
  upload: (path, file) =>
    request("POST", path, { body: file, headers: { "Content-Type": file.type } }),
};

/** A random key for Idempotency-Key: a retried call form opens one incident, not two. */
export function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
