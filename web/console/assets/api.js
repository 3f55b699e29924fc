// The one door to the control-plane API (`/api/v1`). Every page calls `api()`; how the caller is
// authenticated is decided here and nowhere else:
// - cookie session: the login asks for one (`session_cookie: true`); when the answer names a CSRF token (body
//   `csrf_token`, header `X-CSRF-Token`, or the readable `voicera_csrf` cookie), requests carry the HttpOnly
//   session cookie and unsafe methods the `X-CSRF-Token` header; no token is kept in the page.
// - bearer: otherwise, the access token and refresh token live in sessionStorage (this tab only) and go as
//   `Authorization: Bearer`; a 401 spends the refresh token once and retries.
// Errors become `ApiError` with the API's `{detail, code, field}`.

const PREFIX = "/api/v1";
const STORE = "voicera.session";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An answer that is not 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, body, path) {
    const detail = (body && (typeof body.detail === "string" ? body.detail : body.message)) ||
      (status ? `the server answered HTTP ${status}` : "the server cannot be reached");
    super(detail);
    this.status = status;
    this.detail = detail;
    this.code = (body && body.code) || null;
    this.field = (body && body.field) || null;
    this.path = path;
  }

  /** This node does not serve the route (yet): a page shows its "not available" state, not an error. */
  get unavailable() {
    if (this.status === 405 || this.status === 501) return true;
    if (this.status !== 404) return false;
    return this.code === null || /no such API route/i.test(this.detail);
  }
}

let session = load();
let refreshing = null;

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE)) || {};
  } catch (_) {
    return {};
  }
}

function save() {
  try {
    sessionStorage.setItem(STORE, JSON.stringify(session));
  } catch (_) { /* private mode: the session lasts as long as the page */ }
}

function cookie(name) {
  const found = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

function csrfToken() {
  return session.csrf || cookie("__Host-voicera_csrf") || cookie("voicera_csrf");
}

/** The headers that authenticate a request of `method` (also used for the node's browser-call routes). */
export function authHeaders(method = "GET") {
  const headers = {};
  if (session.mode === "bearer" && session.access_token) headers.Authorization = `Bearer ${session.access_token}`;
  if (session.mode === "cookie" && UNSAFE.has(method)) {
    const csrf = csrfToken();
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  return headers;
}

/** Whether this tab holds a session (a cookie session is only known after `/users/me` answers). */
export function hasSession() {
  return Boolean(session.mode);
}

export function orgId() {
  return session.org_id || "";
}

async function send(path, options) {
  const method = options.method || "GET";
  const headers = { Accept: "application/json", ...authHeaders(method), ...(options.headers || {}) };
  let body = options.body;
  if (body !== undefined && !(body instanceof FormData) && typeof body !== "string") {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  // `node: true`: a route of the node itself (`/browser/...`, `/outbound/call/`), not under the API prefix.
  let url = options.node || path.startsWith("/api/") ? path : PREFIX + path;
  if (options.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const text = q.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  try {
    return await fetch(url, { method, headers, body, credentials: "same-origin", signal: options.signal });
  } catch (err) {
    throw new ApiError(0, { detail: `the server cannot be reached (${err.message})` }, path);
  }
}

async function refresh() {
  if (session.mode !== "bearer" || !session.refresh_token) return false;
  refreshing = refreshing || (async () => {
    const response = await send("/auth/refresh", { method: "POST", body: { refresh_token: session.refresh_token } });
    if (!response.ok) return false;
    adopt(await response.json(), response);
    return true;
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/**
 * One API call. `options`: method, body (object → JSON, FormData as is), query (object), raw (return the
 * Response instead of parsed JSON), headers.
 */
export async function api(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401 && !options.noRefresh && (await refresh())) response = await send(path, options);
  if (response.status === 401 && !options.noRefresh && session.mode) {
    session = {};
    save();
    window.dispatchEvent(new CustomEvent("voicera:signed-out"));
  }
  if (!response.ok) {
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (_) {
      body = { detail: text.trim().slice(0, 300) || null };
    }
    throw new ApiError(response.status, body, path);
  }
  if (options.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function adopt(answer, response) {
  const csrf = response.headers.get("X-CSRF-Token") || answer.csrf_token || cookie("__Host-voicera_csrf") ||
    cookie("voicera_csrf");
  if (csrf) {
    session = { mode: "cookie", csrf, org_id: answer.org_id || session.org_id, refresh_token: answer.refresh_token };
  } else {
    session = {
      mode: "bearer",
      access_token: answer.access_token,
      refresh_token: answer.refresh_token,
      org_id: answer.org_id || session.org_id,
    };
  }
  save();
}

/** Logs in, asking for the cookie session (a server without it answers bearer tokens); returns the account. */
export async function login(email, password) {
  const response = await send("/users/login", { method: "POST", body: { email, password, session_cookie: true } });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, answer, "/users/login");
  adopt(answer, response);
  return me();
}

/** The signed-in account, or null. A cookie session from an earlier visit is found here. */
export async function me() {
  try {
    const account = await api("/users/me", { noRefresh: !session.mode });
    if (!session.mode) session = { mode: "cookie", org_id: account.org_id };
    session.org_id = account.org_id;
    save();
    return account;
  } catch (err) {
    if (err.status === 401) {
      session = {};
      save();
      return null;
    }
    throw err;
  }
}

/** Ends the session on the server (best effort) and forgets it here. */
export async function logout() {
  const body = session.refresh_token ? { refresh_token: session.refresh_token } : {};
  try {
    await api("/auth/logout", { method: "POST", body, noRefresh: true });
  } catch (_) { /* the session ends here either way */ }
  session = {};
  save();
}

/** What the node's health endpoint says (not under the API prefix; no credentials). */
export async function health() {
  const response = await fetch("/health", { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  return { status: response.status, body };
}
